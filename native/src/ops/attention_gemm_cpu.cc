#include "attention_gemm.h"

#include "attention.h"

void attention_gemm_cpu(float* out, const float* q, const float* k, const float* v, int n_q, int n_kv, int hd,
                        float scale, const cosmos::CpuContext& ctx) {
  attention_cpu(out, q, k, v, n_q, n_kv, 1, 1, hd, 0, false, scale, ctx);
}
