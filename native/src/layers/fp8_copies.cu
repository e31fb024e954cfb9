#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "fp8_copies.h"

#include "../core/cuda_common.h"
#include "../ops/quantize_fp8.h"

namespace cosmos {

void Fp8Copies::make(const std::vector<Linear*>& ls, CudaPool& pool, const CudaContext& ctx) {
  attach(false);  // no Linear keeps pointing at copies about to be freed
  copies_.clear();
  bytes_ = 0;
  for (Linear* l : ls) {
    Copy c{l, DeviceBuffer<uint8_t>(pool, (size_t)l->out * l->in), DeviceBuffer<float>(pool, l->out)};
    if (l->wt == WType::BF16)
      quantize_fp8_rows_bf16_cuda(c.q.get(), c.scale.get(), l->w, l->out, l->in, ctx);
    else
      quantize_fp8_rows_cuda(c.q.get(), c.scale.get(), static_cast<const float*>(l->w), l->out, l->in, ctx);
    bytes_ += c.q.bytes() + c.scale.bytes();
    copies_.push_back(std::move(c));
  }
  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
}

}  // namespace cosmos
