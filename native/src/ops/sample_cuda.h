// CUDA twin of sample_cpu (declared here, not in sample.h, because sample.h is the CPU helper's file
// and this one is CUDA-only). Include only where COSMOS_CUDA is defined.
#pragma once
#include "../core/cuda_context.h"

#include <cstdint>

#include "sample.h"

// Draws a token from d_logits with sample_cpu's rules, on the GPU; only the token id (4 bytes) comes
// back to the host:
//  * penalties (repetition, presence) in place on d_logits, each distinct history token once;
//  * temperature 0: argmax on the GPU (first maximum wins) — the same id as sample_cpu, bit for bit;
//  * otherwise one block selects the top-k candidates by radix select over 64-bit keys (the f32 value's
//    order bits, then the index, so ties keep the lower index as sample_cpu's sort does), sorts them,
//    and does the softmax, top-p cut and draw in double, in sample_cpu's order. The uniform comes from
//    the same seeded stream as sample_cpu (sample_uniform, one step per token, drawn on the host), so
//    seeded runs repeat exactly on one device. The id usually equals sample_cpu's on the same logits;
//    it need not (exp rounding in the last bit can move a draw at a boundary).
//  * no top-k and top_p >= 1: a draw over the whole vocabulary in index order (the same distribution,
//    a different mapping from the uniform to the id than sample_cpu's sorted order).
//  * no top-k (or top_k > kSampleGpuCandidates) with top_p < 1: the 1024 largest are taken; when their
//    mass reaches top_p (the usual case for a trained model) the cut is exact, else the penalised
//    logits row is copied to `host_buf` (pinned memory of vocab floats, or nullptr for an internal
//    vector) and sample_cpu finishes — the only case where the row crosses to the host.
// d_logits is modified (penalised). d_history: device ints, hist_len of them. d_tmp_int: one device int
// of scratch. Synchronises ctx.stream before returning (no pool needed).
constexpr int kSampleGpuCandidates = 1024;
int sample_cuda(float* d_logits, int vocab, const SamplingParams& p, const int* d_history, int hist_len,
                uint64_t* rng_state, float* host_buf, int* d_tmp_int, const cosmos::CudaContext& ctx);
