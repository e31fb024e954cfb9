// A run's work between its host steps as CUDA graphs: segments recorded on a shape's second run and launched on its
// later ones (Qwen3VisionCuda's blocks, COSMOS_TOWER_GRAPH). CUDA-only.
//
// A segment is a list of pieces (host functions that enqueue work on one stream) ended by close():
//   kGraphEager     each piece runs as it is added; close() does nothing.
//   kGraphCaptured  the pieces are recorded (relaxed capture: a pool may cudaMalloc meanwhile) and close()
//                   instantiates the graph, keeps it in `execs` and launches it.
//   kGraphReplayed  nothing is enqueued per piece; close() launches the next graph of `execs`.
// Recording never costs the run its result: where a piece throws while recorded (a call that capture cannot record,
// such as a stream sync in a pool's out-of-memory path), or ending or instantiating the capture fails, the capture is
// dropped and the segment's pieces run again eagerly, and so does the rest of the run (failed()). A piece whose error
// is real throws again there. A run that throws between segments ends its capture in the destructor (the stream
// usable again).
#pragma once
#include <cuda_runtime.h>

#include <functional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cuda_common.h"

namespace cosmos {

enum GraphUse : int { kGraphEager = 0, kGraphCaptured = 1, kGraphReplayed = 2 };

class CudaGraphSegments {
 public:
  CudaGraphSegments(GraphUse use, cudaStream_t s, std::vector<cudaGraphExec_t>& execs)
      : use_(use), s_(s), execs_(execs) {}
  ~CudaGraphSegments() { drop_capture(); }
  CudaGraphSegments(const CudaGraphSegments&) = delete;
  CudaGraphSegments& operator=(const CudaGraphSegments&) = delete;

  void add(std::function<void()> piece) {
    if (use_ == kGraphEager) return piece();
    open_ = true;
    if (use_ == kGraphReplayed) return;
    if (!capturing_) {
      if (cudaStreamBeginCapture(s_, cudaStreamCaptureModeRelaxed) != cudaSuccess) {
        cudaGetLastError();
        fall_back();
        return piece();
      }
      capturing_ = true;
    }
    pieces_.push_back(piece);
    try {
      piece();
    } catch (const std::exception&) {
      drop_capture();
      fall_back();  // (this piece among them: a real error throws again, eagerly)
    }
  }
  // Ends the open segment (if any): its graph launched, recorded now or the shape's next one.
  void close() {
    if (!open_) return;
    open_ = false;
    if (use_ == kGraphReplayed) {
      if (next_ >= execs_.size()) throw std::runtime_error("CUDA graph segments: the shape's graphs ran out");
      CUDA_CHECK(cudaGraphLaunch(execs_[next_++], s_));
      return;
    }
    if (use_ != kGraphCaptured) return;
    capturing_ = false;
    cudaGraph_t g = nullptr;
    cudaGraphExec_t ex = nullptr;
    bool ok = cudaStreamEndCapture(s_, &g) == cudaSuccess && g;
    ok = ok && cudaGraphInstantiate(&ex, g, 0) == cudaSuccess;
    if (g) cudaGraphDestroy(g);
    if (!ok) {
      cudaGetLastError();  // clear the capture's error: the pieces run eagerly
      return fall_back();
    }
    execs_.push_back(ex);
    pieces_.clear();
    CUDA_CHECK(cudaGraphLaunch(ex, s_));
  }
  // Whether recording failed this run (its segments from there on ran eagerly).
  bool failed() const { return failed_; }

 private:
  void drop_capture() {
    if (!capturing_) return;
    capturing_ = false;
    cudaGraph_t g = nullptr;
    cudaStreamEndCapture(s_, &g);
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();
  }
  void fall_back() {
    failed_ = true;
    use_ = kGraphEager;
    std::vector<std::function<void()>> pieces = std::move(pieces_);
    pieces_.clear();
    for (auto& p : pieces) p();
  }
  GraphUse use_;
  cudaStream_t s_;
  std::vector<cudaGraphExec_t>& execs_;
  std::vector<std::function<void()>> pieces_;  // the open segment's, while recording (run again if it fails)
  size_t next_ = 0;
  bool open_ = false, capturing_ = false, failed_ = false;
};

}  // namespace cosmos
