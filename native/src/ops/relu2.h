// Squared ReLU, in place: x = max(x, 0)^2 — the MLP activation of Nemotron backbones (hidden_act "relu2",
// the Cosmos 3 Edge Generator: down(relu(up(x))^2), no gate).
#pragma once
#ifdef COSMOS_CUDA
#include "../core/cuda_context.h"
#endif

void relu2_cpu(float* x, long long n);

#ifdef COSMOS_CUDA
void relu2_cuda(float* x, long long n, const cosmos::CudaContext& ctx);
#endif
