// E4m3 copies of a model's linears for its opt-in fp8 paths (issue 14 item 4): each linear's weight quantized once,
// one f32 scale per output row (ops/quantize_fp8.h, as vLLM's `--quantization fp8` makes weights), held beside the
// model's own weights. attach(true) points each Linear's w8 / w8_scale at its copy, so linear_*, mlp_* and
// attention_block_* take their fp8 paths; attach(false) clears them, and the model's own precision is back bit for
// bit (w is never touched here). Users: the Generator's set_fp8 (gen stream; it may then give its sources back) and
// the Qwen3 decoder's set_fp8_prefill (the prefill's layers only; decode keeps its GEMVs).
//   Fp8CopiesCpu: host vectors, from f32 weights (the CPU backend's); Fp8Copies: the model's CUDA pool, from bf16 or
//   f32 weights. The same bytes and scales from the same f32 values (quantize_fp8_rows' twins agree bit for bit).
#pragma once
#include <cstdint>
#include <vector>

#include "linear.h"
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#include "../core/cuda_pool.h"
#endif

namespace cosmos {

class Fp8CopiesCpu {
 public:
  struct Copy {
    Linear* l;
    std::vector<uint8_t> q;    // [out, in] e4m3
    std::vector<float> scale;  // [out]
  };
  // Quantizes the f32 weight of every linear of ls (ModelError for another dtype). Replaces copies made before. The
  // Linears must outlive this object's attach calls.
  void make(const std::vector<Linear*>& ls);
  void attach(bool on);  // points (on) or clears (off) every linear's w8 / w8_scale
  bool empty() const { return copies_.empty(); }
  size_t bytes() const { return bytes_; }
  std::vector<Copy>& copies() { return copies_; }

 private:
  std::vector<Copy> copies_;
  size_t bytes_ = 0;
};

#ifdef COSMOS_CUDA
class Fp8Copies {
 public:
  struct Copy {
    Linear* l;
    DeviceBuffer<uint8_t> q;    // [out, in] e4m3
    DeviceBuffer<float> scale;  // [out]
  };
  // Quantizes the weight (bf16 or f32) of every linear of ls into blocks of pool on ctx's stream, then waits for it.
  // Replaces copies made before. The Linears must outlive this object's attach calls.
  void make(const std::vector<Linear*>& ls, CudaPool& pool, const CudaContext& ctx);
  // Points (on) or clears (off) every linear's w8 / w8_scale; no GPU work (a kernel reads the pointers it was launched
  // with, so switching between launches on one stream is safe).
  void attach(bool on);
  bool empty() const { return copies_.empty(); }
  size_t bytes() const { return bytes_; }
  std::vector<Copy>& copies() { return copies_; }

 private:
  std::vector<Copy> copies_;
  size_t bytes_ = 0;
};
#endif

// A model's fp8 copies attached for one scope (when on) and cleared at its end, exceptions included.
template <typename Copies>
class Fp8Attached {
 public:
  Fp8Attached(Copies& c, bool on) : c_(on ? &c : nullptr) {
    if (c_) c_->attach(true);
  }
  ~Fp8Attached() {
    if (c_) c_->attach(false);
  }
  Fp8Attached(const Fp8Attached&) = delete;
  Fp8Attached& operator=(const Fp8Attached&) = delete;

 private:
  Copies* c_;
};

}  // namespace cosmos
