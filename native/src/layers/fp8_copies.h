// E4m3 copies of a model's linears for its opt-in fp8 paths (issue 14 item 4): each linear's weight quantized once,
// one f32 scale per output row (ops/quantize_fp8.h, as vLLM's `--quantization fp8` makes weights), held beside the
// model's own weights. attach(true) points each Linear's w8 / w8_scale at its copy, so linear_*, mlp_* and
// attention_block_* take their fp8 paths; attach(false) clears them, and the model's own precision is back bit for
// bit (w is never touched here). Users: the Generator's set_fp8 (gen stream; it may then give its sources back) and
// the Qwen3 decoder's set_fp8_prefill (the prefill's layers only; decode keeps its GEMVs).
// Fp8CopiesCpu: host vectors, from f32 weights (the CPU backend's); Fp8Copies: the model's CUDA pool, from bf16 or f32
// weights; both an Fp8CopySet. The same bytes and scales from the same f32 values (quantize_fp8_rows' twins agree bit
// for bit).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "linear.h"
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#include "../core/cuda_pool.h"
#endif

namespace cosmos {

// The copies and the switch, over host vectors or device buffers (Bytes / Floats: std::vector or DeviceBuffer).
template <typename Bytes, typename Floats>
class Fp8CopySet {
 public:
  struct Copy {
    Linear* l;
    Bytes q;       // [out, in] e4m3
    Floats scale;  // [out]
  };
  // Points (on) or clears (off) every linear's w8 / w8_scale. No GPU work: a CUDA kernel reads the pointers it was
  // launched with, so switching between launches on one stream is safe; the caller makes sure no other thread runs a
  // forward on these Linears meanwhile.
  void attach(bool on) {
    for (Copy& c : copies_) {
      c.l->w8 = on ? data_of(c.q) : nullptr;
      c.l->w8_scale = on ? data_of(c.scale) : nullptr;
    }
  }
  bool empty() const { return copies_.empty(); }
  size_t bytes() const { return bytes_; }
  std::vector<Copy>& copies() { return copies_; }

 protected:
  std::vector<Copy> copies_;
  size_t bytes_ = 0;

 private:
  template <typename T>
  static T* data_of(std::vector<T>& v) {
    return v.data();
  }
#ifdef COSMOS_CUDA
  template <typename T>
  static T* data_of(DeviceBuffer<T>& b) {
    return b.get();
  }
#endif
};

class Fp8CopiesCpu : public Fp8CopySet<std::vector<uint8_t>, std::vector<float>> {
 public:
  // Quantizes the f32 weight of every linear of ls (ModelError for another dtype). Replaces copies made before. The
  // Linears must outlive this object's attach calls.
  void make(const std::vector<Linear*>& ls);
};

#ifdef COSMOS_CUDA
class Fp8Copies : public Fp8CopySet<DeviceBuffer<uint8_t>, DeviceBuffer<float>> {
 public:
  // Quantizes the weight (bf16 or f32) of every linear of ls into blocks of pool on ctx's stream, then waits for it.
  // Replaces copies made before. The Linears must outlive this object's attach calls.
  void make(const std::vector<Linear*>& ls, CudaPool& pool, const CudaContext& ctx);
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
