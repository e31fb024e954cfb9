// CUDA twin of sample_cpu (declared here, not in sample.h, because sample.h is the CPU helper's file
// and this one is CUDA-only). Include only where COSMOS_CUDA is defined.
#pragma once
#include "../core/cuda_context.h"

#include <cstdint>

#include "sample.h"

// Same result as sample_cpu on the same logits, history and rng state (bit for bit: the penalties
// and the temperature divide are the same f32 operations, done on the GPU over d_logits; the draw
// then runs sample_cpu on a host copy).
//  * temperature 0: penalties on the GPU, argmax on the GPU, one int copied back.
//  * otherwise: penalties and 1/temperature on the GPU, then the [vocab] logits are copied to
//    `host_buf` (pinned memory of vocab floats, or nullptr to use an internal std::vector) and
//    sample_cpu does top-k / top-p / the draw with temperature 1 and penalties off. Copying 600 KB
//    (Qwen3 vocab) costs ~30-60 us over PCIe, small next to a decode step; a GPU top-k/top-p would
//    remove it.
// d_logits is modified (penalised, divided by temperature). d_history: device ints, hist_len of them.
// d_tmp_int: one device int of scratch. Synchronises ctx.stream before returning (no pool needed).
int sample_cuda(float* d_logits, int vocab, const SamplingParams& p, const int* d_history, int hist_len,
                uint64_t* rng_state, float* host_buf, int* d_tmp_int, const cosmos::CudaContext& ctx);
