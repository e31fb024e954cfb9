// domain_linear: the Cosmos 3 Generator's DomainAwareLinear (one weight/bias pair per embodiment domain):
//   y[i, :] = x[i, :] · W[d_i] + b[d_i] (+ extra), W[d] = w[d] viewed as [in, out] (the fc embedding row of
//   in*out values, row-major: torch's .view(in, out)), b [domains, out], extra [out] or null (a modality
//   embedding added to every row, as action_modality_embed after action_proj_in).
// Callers check 0 <= d_i < domains. Accumulation in f32, in k order, on both twins.
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void domain_linear_cpu(float* y, const float* x, const float* w, const float* b, const float* extra, const int* domain,
                       int n, int in, int out);

#ifdef COSMOS_CUDA
// Device pointers (domain too).
void domain_linear_cuda(float* y, const float* x, const float* w, const float* b, const float* extra, const int* domain,
                        int n, int in, int out, const cosmos::CudaContext& ctx);
#endif
