// Sampling on the GPU: penalties, temperature, top-k, top-p and the draw; only the id comes back.
// The rules are sample_cpu's (sample_cpu.cc); see sample_cuda.h for where the two may differ.
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include "sample_cuda.h"

#include <cmath>
#include <vector>

#include "../core/cuda_common.h"
#include "argmax.h"

namespace {
constexpr int kThreads = 1024;  // one block does the whole draw: the vocab row is 600 KB, L2-resident
constexpr int kCap = kSampleGpuCandidates;
static_assert(kCap == kThreads, "the candidate sort gives each thread one slot");
constexpr unsigned kFull = 0xffffffffu;

// One thread per history entry. A token is penalised once however often it occurs (sample_cpu uses
// a `seen` set): the thread of its first occurrence does it, the others find an earlier copy and stop.
// O(hist_len^2 / threads) compares; 4k tokens of history is ~16M compares spread over the GPU.
// The _rn intrinsics keep nvcc from fusing the multiply and subtract: the result must be sample_cpu's.
__global__ void penalty_kernel(float* logits, int vocab, const int* hist, int hist_len, float rep, float presence) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= hist_len) return;
  int t = hist[i];
  if (t < 0 || t >= vocab) return;
  for (int j = 0; j < i; ++j)
    if (hist[j] == t) return;
  float v = logits[t];
  if (rep != 1.0f && rep > 0) v = v > 0 ? __fdiv_rn(v, rep) : __fmul_rn(v, rep);
  logits[t] = __fsub_rn(v, presence);
}

// Order-preserving map of an f32 to u32 (larger float -> larger integer).
__device__ __forceinline__ uint32_t order_bits(float f) {
  uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
// Unique key per token: value first, then the lower index wins a tie (sample_cpu's sort order).
__device__ __forceinline__ uint64_t key_of(float x, int i) {
  return ((uint64_t)order_bits(x) << 32) | (uint64_t)(0xffffffffu - (uint32_t)i);
}
__device__ __forceinline__ int index_of(uint64_t key) { return (int)(0xffffffffu - (uint32_t)key); }

__device__ double block_sum(double v, double* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(kFull, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = red[lane];  // kThreads / 32 == 32 warps
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(kFull, v, o);
    if (lane == 0) red[0] = v;
  }
  __syncthreads();
  return red[0];
}
__device__ float block_max(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(kFull, v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = red[lane];
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(kFull, v, o));
    if (lane == 0) red[0] = v;
  }
  __syncthreads();
  return red[0];
}

// out: the id, or -1 when the host must finish (see sample_cuda.h). Every sum runs in a fixed order,
// so the same logits and uniform give the same id on every run.
__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* logits, int vocab, float temperature, int top_k, float top_p, double u, int* out) {
  __shared__ unsigned hist[256];
  __shared__ uint64_t cand[kCap];
  __shared__ double pr[kCap];
  __shared__ double dred[32];
  __shared__ float fred[32];
  __shared__ uint64_t s_prefix;
  __shared__ int s_remaining, s_exact, s_count, s_out;
  const int tid = threadIdx.x, lane = tid & 31;
  const bool top_p_on = top_p > 0 && top_p < 1;
  int k = (top_k > 0 && top_k < vocab) ? top_k : vocab;
  if (k > kCap && k < vocab) {  // a large explicit top-k: the host does it
    if (tid == 0) *out = -1;
    return;
  }

  if (k == vocab && !top_p_on) {
    // The whole vocabulary, no cut: each thread sums a contiguous chunk, the chunks are scanned in
    // index order, and the thread whose chunk holds u * total finds the id.
    float mx = -INFINITY;
    for (int i = tid; i < vocab; i += kThreads) mx = fmaxf(mx, logits[i] / temperature);
    mx = block_max(mx, fred);
    const int chunk = (vocab + kThreads - 1) / kThreads;
    const int lo = min(vocab, tid * chunk), hi = min(vocab, lo + chunk);
    double own = 0;
    for (int i = lo; i < hi; ++i) own += exp((double)(logits[i] / temperature) - mx);
    pr[tid] = own;
    if (tid == 0) s_out = -1;
    __syncthreads();
    if (tid == 0) {
      double c = 0;
      for (int t = 0; t < kThreads; ++t) {
        double v = pr[t];
        pr[t] = c;  // exclusive prefix
        c += v;
      }
      dred[0] = c;
    }
    __syncthreads();
    const double target = u * dred[0];
    double c = pr[tid];
    if (target >= c && target < c + own) {
      for (int i = lo; i < hi; ++i) {
        c += exp((double)(logits[i] / temperature) - mx);
        if (target < c) {
          s_out = i;
          break;
        }
      }
    }
    __syncthreads();
    if (tid == 0) *out = s_out;  // -1 only if rounding put the target past every chunk: host finishes
    return;
  }

  // Top-k candidates (k <= kCap): radix select of the k-th largest key, 8 bits per pass from the top,
  // stopping as soon as one bin holds exactly the keys still needed.
  const bool capped = k > kCap;  // no top-k, top-p on: the 1024 largest, checked below
  if (capped) k = kCap;
  uint64_t prefix = 0;
  int shift = 56;
  if (tid == 0) s_remaining = k;
  for (;; shift -= 8) {
    if (tid < 256) hist[tid] = 0;
    __syncthreads();
    for (int base = 0; base < vocab; base += kThreads) {
      const int i = base + tid;
      const bool valid = i < vocab;
      const uint64_t key = valid ? key_of(logits[i] / temperature, i) : 0;
      const bool in = valid && (shift == 56 || (key >> (shift + 8)) == prefix);
      const unsigned active = __ballot_sync(kFull, in);
      if (in) {
        // Lanes with the same bin add once: the top bins hold most of the row.
        const unsigned bin = (unsigned)(key >> shift) & 255u;
        const unsigned peers = __match_any_sync(active, bin);
        if (lane == __ffs(peers) - 1) atomicAdd(&hist[bin], (unsigned)__popc(peers));
      }
    }
    __syncthreads();
    if (tid == 0) {
      int need = s_remaining, b = 255, above = 0;
      for (; b > 0; --b) {
        if (above + (int)hist[b] >= need) break;
        above += hist[b];
      }
      need -= above;
      s_remaining = need;
      s_exact = (int)hist[b] == need;
      s_prefix = (prefix << 8) | (uint64_t)b;
    }
    __syncthreads();
    prefix = s_prefix;
    if (s_exact || shift == 0) break;
    __syncthreads();  // everyone has read s_exact before thread 0 may rewrite it
  }
  const uint64_t threshold = prefix << shift;  // keep exactly the keys >= threshold (k of them)

  // Gather (in any order), then a bitonic sort puts them in sample_cpu's order; empty slots are 0.
  cand[tid] = 0;
  if (tid == 0) s_count = 0;
  __syncthreads();
  for (int i = tid; i < vocab; i += kThreads) {
    const uint64_t key = key_of(logits[i] / temperature, i);
    if (key >= threshold) {
      const int slot = atomicAdd(&s_count, 1);
      if (slot < kCap) cand[slot] = key;
    }
  }
  __syncthreads();
  for (int size = 2; size <= kCap; size <<= 1)
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      const int other = tid ^ stride;
      if (other > tid) {
        const bool descending = (tid & size) == 0;
        const uint64_t a = cand[tid], b = cand[other];
        if (descending ? a < b : a > b) {
          cand[tid] = b;
          cand[other] = a;
        }
      }
      __syncthreads();
    }

  // Softmax over the sorted candidates, as sample_cpu: max = the first, exp in double.
  const float mx = logits[index_of(cand[0])] / temperature;
  if (tid < k) pr[tid] = exp((double)(logits[index_of(cand[tid])] / temperature) - mx);
  double z_all = 0;
  if (capped) {  // the whole row's mass, to normalise as sample_cpu does over every token
    double own = 0;
    for (int i = tid; i < vocab; i += kThreads) own += exp((double)(logits[i] / temperature) - mx);
    z_all = block_sum(own, dred);
  }
  __syncthreads();
  if (tid != 0) return;
  double sum = 0;
  for (int i = 0; i < k; ++i) sum += pr[i];
  if (capped) sum = z_all;
  for (int i = 0; i < k; ++i) pr[i] /= sum;
  int keep = k;
  if (top_p_on) {
    double c = 0;
    int n = 0;
    while (n < keep) {
      c += pr[n++];
      if (c >= top_p) break;  // smallest prefix whose mass reaches top_p
    }
    if (capped && c < top_p) {  // the cut lies past the 1024 largest: the host does it
      *out = -1;
      return;
    }
    keep = n;
    double s2 = 0;
    for (int i = 0; i < keep; ++i) s2 += pr[i];
    for (int i = 0; i < keep; ++i) pr[i] /= s2;
  }
  double c = 0;
  for (int i = 0; i < keep; ++i) {
    c += pr[i];
    if (u < c) {
      *out = index_of(cand[i]);
      return;
    }
  }
  *out = index_of(cand[keep - 1]);
}
}  // namespace

int sample_cuda(float* d_logits, int vocab, const SamplingParams& p, const int* d_history, int hist_len,
                uint64_t* rng_state, float* host_buf, int* d_tmp_int, const cosmos::CudaContext& ctx) {
  const cudaStream_t stream = ctx.stream;
  bool rep_on = p.repetition_penalty != 1.0f && p.repetition_penalty > 0;
  if ((rep_on || p.presence_penalty != 0.0f) && hist_len > 0) {
    penalty_kernel<<<cosmos::ceil_div(hist_len, 256), 256, 0, stream>>>(
        d_logits, vocab, d_history, hist_len, rep_on ? p.repetition_penalty : 1.0f, p.presence_penalty);
    CUDA_CHECK_LAUNCH();
  }
  if (!(p.temperature > 0)) {
    argmax_cuda(d_tmp_int, d_logits, vocab, ctx);
  } else {
    const uint64_t before = *rng_state;
    const double u = sample_uniform(rng_state);
    sample_kernel<<<1, kThreads, 0, stream>>>(d_logits, vocab, p.temperature, p.top_k, p.top_p, u, d_tmp_int);
    CUDA_CHECK_LAUNCH();
    int idx = 0;
    CUDA_CHECK(cudaMemcpyAsync(&idx, d_tmp_int, sizeof(int), cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    if (idx >= 0) return idx;
    // The host finishes (sample_cuda.h says when): the penalised row, sample_cpu with penalties off,
    // from the same PRNG state, so the stream advances by one step as on every other path.
    *rng_state = before;
    std::vector<float> local;
    float* h = host_buf;
    if (!h) {
      local.resize(vocab);
      h = local.data();
    }
    CUDA_CHECK(cudaMemcpyAsync(h, d_logits, sizeof(float) * vocab, cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    SamplingParams rest = p;
    rest.repetition_penalty = 1.0f;
    rest.presence_penalty = 0.0f;
    return sample_cpu(h, vocab, rest, nullptr, 0, rng_state);
  }
  int idx = 0;
  CUDA_CHECK(cudaMemcpyAsync(&idx, d_tmp_int, sizeof(int), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return idx;
}
