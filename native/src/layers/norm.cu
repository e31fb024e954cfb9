#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "../ops/add_layernorm.h"
#include "../ops/add_rmsnorm.h"
#include "../ops/layernorm.h"
#include "../ops/rmsnorm.h"
#include "norm.h"

namespace cosmos {

void norm_cuda(float* y, const float* x, const RmsNorm& n, int rows, const CudaContext& ctx) {
  rmsnorm_cuda(y, x, n.w, rows, n.dim, n.eps, ctx);
}
void norm_cuda(float* y, const float* x, const LayerNorm& n, int rows, const CudaContext& ctx) {
  layernorm_cuda(y, x, n.w, n.b, rows, n.dim, n.eps, ctx);
}
void add_norm_cuda(float* y, float* x, const float* h, const RmsNorm& n, int rows, const CudaContext& ctx) {
  add_rmsnorm_cuda(y, x, h, n.w, rows, n.dim, n.eps, ctx);
}
void add_norm_cuda(float* y, float* x, const float* h, const LayerNorm& n, int rows, const CudaContext& ctx) {
  add_layernorm_cuda(y, x, h, n.w, n.b, rows, n.dim, n.eps, ctx);
}
void add_norm_bf16_cuda(__nv_bfloat16* y, float* x, const float* h, const RmsNorm& n, int rows,
                        const CudaContext& ctx) {
  add_rmsnorm_bf16_cuda(y, x, h, n.w, rows, n.dim, n.eps, ctx);
}
void add_norm_bf16_cuda(__nv_bfloat16* y, float* x, const float* h, const LayerNorm& n, int rows,
                        const CudaContext& ctx) {
  add_layernorm_bf16_cuda(y, x, h, n.w, n.b, rows, n.dim, n.eps, ctx);
}
void norm_bf16_rows_cuda(__nv_bfloat16* y, const __nv_bfloat16* x, const RmsNorm& n, int rows, const CudaContext& ctx) {
  rmsnorm_bf16_rows_cuda(y, x, n.w, rows, n.dim, n.eps, ctx);
}

}  // namespace cosmos
