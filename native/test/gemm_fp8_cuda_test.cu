// The FP8 path (ops/quantize_fp8.h, ops/gemm_fp8_wgmma.h) on the GPU:
//
//   gemm_fp8_cuda_test check [variants]  CUDA == CPU twin: the e4m3 conversion on a sweep of f32 bit patterns and
//                                        the row quantizer (f32 and bf16 in) bit for bit; the GEMM, every variant,
//                                        vs gemm_fp8_cpu on ragged shapes and on sampled rows of the Generator's;
//                                        gemm_fp8_wgmma_swiglu vs gemm_fp8_cpu + SwiGLU + bf16 rounding
//   gemm_fp8_cuda_test fidelity          the whole fp8 path (quantize x per token and W per channel, FP8 GEMM) vs
//                                        the bf16 path (x cast to bf16, gemm_wgmma) and both vs f64 on the original
//                                        operands, at the Generator's shapes
//   gemm_fp8_cuda_test time [variants]   TFLOP/s of every FP8 variant next to gemm_wgmma bf16 (gemm_wgmma_pick's
//                                        variant) on the Generator's shapes, medians, and the quantizer's time
//                                        next to the f32 -> bf16 cast it replaces; at gate|up also the fused
//                                        SwiGLU GEMM (gemm_fp8_wgmma_swiglu) on the same operands
// variants: comma-separated indices of cosmos::Fp8Variant (default all). Exit 1 on any FAIL row.
//
// Inputs are fresh random values (fill_uniform, a new seed per case), never zeros (but for the deliberate zero
// row). Outputs are NaN-poisoned before each run and every element must be finite afterwards.
//
// GEMM tolerance, CUDA vs CPU twin: both multiply the same e4m3 bytes (products exact in f32) and apply the same
// scales, so only the summation differs: the twin's sequential f32 sum (~1e-5 relative at these k), and the FP8
// tensor cores' own, which keeps fewer bits than f32 (the "fast accumulation" that vLLM's CUTLASS kernels use too;
// DeepSeek-V3's report measured ~14 bits on Hopper). That error grows with k: on the H200 (2026-12-01) 3.0e-5 at
// k 16, 1.1e-4 at 128, 1.1e-3 - 1.2e-3 at 4096, 2.2e-3 - 2.4e-3 at 12288, identical for every tile variant, i.e.
// ~1e-5 - 2.2e-5 x sqrt(k). The bound is 4e-5 x sqrt(k) (4.4e-3 at k 12288), still 10x under the e4m3 quantization
// error the path carries (~3.6e-2, the fidelity rows); a wrong layout, a lost k-tile or a wrong scale gives O(1).
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "../src/core/cuda_common.h"
#include "../src/core/cuda_pool.h"
#include "../src/ops/fill_uniform.h"
#include "../src/ops/gemm_fp8_wgmma.h"
#include "../src/ops/gemm_wgmma.h"
#include "../src/ops/quantize_fp8.h"
#include "gemm_test_util.cuh"

namespace {
using bf16 = __nv_bfloat16;
using cosmos::Fp8Variant;

double gemm_tol(int k) { return 4e-5 * std::sqrt((double)k); }
int failures = 0;
uint64_t seed = 20261201;
cosmos::CudaPool* pool;
cosmos::CudaContext ctx;

void row_result(bool ok) {
  if (!ok) ++failures;
}

// ---------------------------------------------------------------- device helpers
__global__ void f32_to_bf16_kernel(bf16* dst, const float* src, long long count) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count;
       i += (long long)gridDim.x * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}
// out[i] = e4m3(bits i * stride + offset): the conversion the quantizer uses, on a sweep of f32 bit patterns.
__global__ void cvt_sweep_kernel(uint8_t* out, long long count, uint32_t stride, uint32_t offset) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count;
       i += (long long)gridDim.x * blockDim.x)
    out[i] = (uint8_t)__nv_cvt_float_to_fp8(__uint_as_float((uint32_t)i * stride + offset), __NV_SATFINITE, __NV_E4M3);
}
// x[r, c] *= mul for the columns c % every == 0: a few outlier channels, as real activations have.
__global__ void outlier_cols_kernel(float* x, long long rows, int k, int every, float mul) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < rows * k;
       i += (long long)gridDim.x * blockDim.x)
    if ((i % k) % every == 0) x[i] *= mul;
}

void poison(void* p, size_t bytes) {  // 0xFF bytes: every f32 is a NaN, every e4m3 byte a NaN
  CUDA_CHECK(cudaMemsetAsync(p, 0xFF, bytes, ctx.stream));
}

template <class T>
std::vector<T> to_host(const T* d, size_t count) {
  std::vector<T> h(count);
  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  CUDA_CHECK(cudaMemcpy(h.data(), d, count * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}
template <class T>
T* to_device(const std::vector<T>& h) {
  T* d = (T*)pool->alloc(h.size() * sizeof(T));
  CUDA_CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaDeviceSynchronize());  // a pageable copy may still be landing; the ops run on a non-blocking stream
  return d;
}

// ‖got − ref‖ / ‖ref‖; infinite when got has a non-finite element.
template <class R>
double host_rel(const std::vector<float>& got, const std::vector<R>& ref) {
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    const double d = (double)got[i] - (double)ref[i];
    d2 += d * d;
    r2 += (double)ref[i] * ref[i];
  }
  return r2 > 0 ? std::sqrt(d2 / r2) : (d2 > 0 ? INFINITY : 0.0);
}

std::vector<Fp8Variant> parse_variants(const char* s) {
  std::vector<Fp8Variant> v;
  if (!s) {
    for (int i = 0; i < cosmos::kFp8VariantCount; ++i) v.push_back((Fp8Variant)i);
    return v;
  }
  for (const char* p = s; *p;) {
    v.push_back((Fp8Variant)std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return v;
}

// ---------------------------------------------------------------- check: conversion and quantizer
void check_conversion() {
  // A sweep of f32 bit patterns (stride 61 covers every exponent, both signs, NaN / inf patterns and many
  // mantissas), then the hand-picked edges: ties at each e4m3 step, the subnormal range, 448 and past it.
  const uint32_t stride = 61;
  const long long count = (1LL << 32) / stride;
  uint8_t* d = (uint8_t*)pool->alloc(count);
  long long mism = 0, nan_mism = 0;
  for (uint32_t offset : {0u, 17u}) {
    cvt_sweep_kernel<<<132 * 8, 256, 0, ctx.stream>>>(d, count, stride, offset);
    CUDA_CHECK_LAUNCH();
    const std::vector<uint8_t> h = to_host(d, count);
    for (long long i = 0; i < count; ++i) {
      const uint32_t u = (uint32_t)i * stride + offset;
      float f;
      std::memcpy(&f, &u, 4);
      const uint8_t c = fp8_e4m3_from_float(f);
      if (c != h[i]) {
        if ((c & 0x7f) == 0x7f && (h[i] & 0x7f) == 0x7f) {
          ++nan_mism;
          continue;
        }
        if (mism < 5) std::printf("  cvt mismatch: f32 bits %08x (%g): cpu %02x cuda %02x\n", u, f, c, h[i]);
        ++mism;
      }
    }
  }
  pool->free(d);
  std::vector<float> edges = {0.f,
                              -0.f,
                              448.f,
                              -448.f,
                              449.f,
                              463.9f,
                              464.f,
                              480.f,
                              1e30f,
                              INFINITY,
                              -INFINITY,
                              NAN,
                              -NAN,
                              1.f / 512,
                              1.f / 1024,
                              3.f / 2048,
                              1.f / 64,
                              15.f / 1024,
                              0.0625f * 1.0625f,
                              1.0625f,
                              1.1875f,
                              240.f,
                              232.f,
                              248.f,
                              1e-30f,
                              -1e-30f,
                              5e-39f};
  for (float b = 1.f / 1024; b < 512; b *= 2)
    for (int j = 0; j < 16; ++j) edges.push_back(b * (1.f + j / 16.f));  // every half step: ties
  uint8_t* qe = (uint8_t*)pool->alloc(edges.size());
  // the edges through the same device conversion, one pattern each (stride 0, offset = the value's bits)
  std::vector<uint8_t> he(edges.size());
  for (size_t i = 0; i < edges.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &edges[i], 4);
    cvt_sweep_kernel<<<1, 1, 0, ctx.stream>>>(qe + i, 1, 0, u);
    CUDA_CHECK_LAUNCH();
  }
  he = to_host(qe, edges.size());
  long long edge_mism = 0;
  for (size_t i = 0; i < edges.size(); ++i)
    if (fp8_e4m3_from_float(edges[i]) != he[i]) {
      if (edge_mism < 5)
        std::printf("  cvt edge mismatch: %g: cpu %02x cuda %02x\n", edges[i], fp8_e4m3_from_float(edges[i]), he[i]);
      ++edge_mism;
    }
  pool->free(qe);
  const bool ok = mism == 0 && nan_mism == 0 && edge_mism == 0;
  row_result(ok);
  std::printf(
      "check | e4m3 conversion | %lld f32 patterns + %zu edges | mismatches %lld (NaN sign only %lld, edges %lld) | "
      "%s\n",
      2 * count, edges.size(), mism, nan_mism, edge_mism, ok ? "PASS" : "FAIL");
  // decode table vs cuda_fp8.h's host decode (what the GEMM's CPU twin reads)
  long long dec_mism = 0;
  for (int b = 0; b < 256; ++b) {
    __nv_fp8_e4m3 h;
    h.__x = (__nv_fp8_storage_t)b;
    const float want = (float)h, got = fp8_e4m3_to_float((uint8_t)b);
    if (!(want == got || (std::isnan(want) && std::isnan(got))) || std::signbit(want) != std::signbit(got)) ++dec_mism;
  }
  row_result(dec_mism == 0);
  std::printf("check | e4m3 decode | 256 bytes vs cuda_fp8.h | mismatches %lld | %s\n", dec_mism,
              dec_mism == 0 ? "PASS" : "FAIL");
}

// One quantizer case: x [rows, k] random (f32 or bf16) with special rows, CUDA vs CPU bytes and scales.
void check_quantizer(int rows, int k, bool bf16_in, const char* what) {
  const long long count = (long long)rows * k;
  float* xf = (float*)pool->alloc(count * 4);
  fill_uniform_cuda(xf, count, false, seed++, 3.f, 0.f, ctx);
  std::vector<float> x = to_host(xf, count);
  // row 0 all zero (the scale floor), row 1 magnitudes from 2^-30 to 2^4 (subnormal bytes and flushes to zero),
  // row 2 one outlier 1000x, row 3 exact e4m3 ties after scaling (absmax 448, halves of steps).
  if (rows > 4) {
    std::fill(x.begin(), x.begin() + k, 0.f);
    for (int i = 0; i < k; ++i)
      x[(size_t)k + i] = ((i & 1) ? -1.f : 1.f) * std::ldexp(1.f + (i % 7) / 8.f, -30 + (i % 35));
    x[2 * (size_t)k + k / 2] *= 1000.f;
    for (int i = 0; i < k; ++i)
      x[3 * (size_t)k + i] = i == 0 ? 448.f : std::ldexp(1.f + (2 * (i % 8) + 1) / 16.f, (i % 12) - 6);
  }
  std::vector<uint8_t> q_cpu(count);
  std::vector<float> s_cpu(rows);
  uint8_t* q = (uint8_t*)pool->alloc(count);
  float* s = (float*)pool->alloc(rows * 4);
  poison(q, count);
  poison(s, rows * 4);
  if (bf16_in) {
    std::vector<uint16_t> xb(count);
    for (long long i = 0; i < count; ++i) {
      const bf16 v = __float2bfloat16_rn(x[i]);
      std::memcpy(&xb[i], &v, 2);
    }
    uint16_t* dxb = to_device(xb);
    quantize_fp8_rows_bf16_cuda(q, s, dxb, rows, k, ctx);
    quantize_fp8_rows_bf16_cpu(q_cpu.data(), s_cpu.data(), xb.data(), rows, k);
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    pool->free(dxb);
  } else {
    CUDA_CHECK(cudaMemcpy(xf, x.data(), count * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());
    quantize_fp8_rows_cuda(q, s, xf, rows, k, ctx);
    quantize_fp8_rows_cpu(q_cpu.data(), s_cpu.data(), x.data(), rows, k);
  }
  const std::vector<uint8_t> qh = to_host(q, count);
  const std::vector<float> sh = to_host(s, rows);
  long long qm = 0, sm = 0, subn = 0;
  for (long long i = 0; i < count; ++i) {
    qm += qh[i] != q_cpu[i];
    subn += (q_cpu[i] & 0x78) == 0 && (q_cpu[i] & 7) != 0;
  }
  for (int r = 0; r < rows; ++r) sm += std::memcmp(&sh[r], &s_cpu[r], 4) != 0;
  // and the quantization itself: dequantized rows within e4m3's half step (2^-4 relative) of x
  double worst = 0;
  for (long long i = 0; i < std::min<long long>(count, 1 << 22); ++i) {
    const float xv = bf16_in ? __bfloat162float(__float2bfloat16_rn(x[i])) : x[i];
    const double dq = (double)fp8_e4m3_to_float(q_cpu[i]) * s_cpu[i / k];
    const double tol = std::fabs(xv) / 16 + s_cpu[i / k] * std::ldexp(1.0, -10);  // + half a subnormal step
    worst = std::max(worst, std::fabs(dq - xv) / tol);
  }
  const bool ok = qm == 0 && sm == 0 && worst <= 1.0;
  row_result(ok);
  std::printf(
      "check | quantize %-24s rows=%5d k=%5d %s | bytes differing %lld, scales differing %lld | subnormal "
      "bytes %lld | |dequant - x| / half step %.3f | %s\n",
      what, rows, k, bf16_in ? "bf16" : "f32 ", qm, sm, subn, worst, ok ? "PASS" : "FAIL");
  std::fflush(stdout);
  pool->free(xf);
  pool->free(q);
  pool->free(s);
}

// ---------------------------------------------------------------- check: GEMM vs CPU twin
struct Fp8Operands {  // e4m3 a [m, k], b [n, k] with their scales, from random f32 through the CUDA quantizer
  int m, n, k;
  uint8_t *a = nullptr, *b = nullptr;
  float *sa = nullptr, *sb = nullptr, *bias = nullptr;
  Fp8Operands(int m_, int n_, int k_, bool with_bias) : m(m_), n(n_), k(k_) {
    float* x = (float*)pool->alloc((size_t)std::max(m, n) * k * 4);
    a = (uint8_t*)pool->alloc((size_t)m * k);
    b = (uint8_t*)pool->alloc((size_t)n * k);
    sa = (float*)pool->alloc((size_t)m * 4);
    sb = (float*)pool->alloc((size_t)n * 4);
    fill_uniform_cuda(x, (long long)m * k, false, seed++, 2.f, 0.f, ctx);
    quantize_fp8_rows_cuda(a, sa, x, m, k, ctx);
    fill_uniform_cuda(x, (long long)n * k, false, seed++, 1.f / std::sqrt((float)k), 0.f, ctx);
    quantize_fp8_rows_cuda(b, sb, x, n, k, ctx);
    if (with_bias) {
      bias = (float*)pool->alloc((size_t)n * 4);
      fill_uniform_cuda(bias, n, false, seed++, 0.5f, 0.f, ctx);
    }
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    pool->free(x);
  }
  ~Fp8Operands() {
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    pool->free(a);
    pool->free(b);
    pool->free(sa);
    pool->free(sb);
    pool->free(bias);
  }
};

// The CPU twin on the rows in `rows` (all when empty), against the device output of every variant.
void check_gemm(const std::vector<Fp8Variant>& variants, int m, int n, int k, bool with_bias, bool sample) {
  Fp8Operands p(m, n, k, with_bias);
  const std::vector<uint8_t> ha = to_host(p.a, (size_t)m * k), hb = to_host(p.b, (size_t)n * k);
  const std::vector<float> hsa = to_host(p.sa, m), hsb = to_host(p.sb, n);
  std::vector<float> hbias = p.bias ? to_host(p.bias, n) : std::vector<float>();
  std::vector<int> rows;
  if (sample)
    rows = {0, m - 1, (m / 128) * 128 - 1, m / 2, m / 3 + 7, (m * 5) / 7, 129, m - 130};
  else
    for (int r = 0; r < m; ++r) rows.push_back(r);
  std::vector<float> ref(rows.size() * (size_t)n);
  if (sample) {
    for (size_t j = 0; j < rows.size(); ++j)
      gemm_fp8_cpu(&ref[j * n], &ha[(size_t)rows[j] * k], hb.data(), &hsa[rows[j]], hsb.data(),
                   p.bias ? hbias.data() : nullptr, 1, n, k);
  } else {
    gemm_fp8_cpu(ref.data(), ha.data(), hb.data(), hsa.data(), hsb.data(), p.bias ? hbias.data() : nullptr, m, n, k);
  }
  float* y = (float*)pool->alloc((size_t)m * n * 4);
  for (Fp8Variant v : variants) {
    poison(y, (size_t)m * n * 4);
    cosmos::gemm_fp8_wgmma(y, p.a, p.b, p.sa, p.sb, p.bias, m, n, k, v, ctx);
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    const Diff all = device_diff(y, y, (long long)m * n, ctx);  // counts non-finite (unwritten) elements only
    std::vector<float> got(rows.size() * (size_t)n);
    for (size_t j = 0; j < rows.size(); ++j)
      CUDA_CHECK(cudaMemcpy(&got[j * n], y + (size_t)rows[j] * n, (size_t)n * 4, cudaMemcpyDeviceToHost));
    const double rel = host_rel(got, ref);
    const bool ok = all.bad == 0 && rel <= gemm_tol(k);
    row_result(ok);
    std::printf(
        "check | %-27s | m=%5d n=%5d k=%5d bias=%d | vs cpu twin (%zu rows) %.2e (bound %.1e) | non-finite %llu | "
        "%s\n",
        cosmos::fp8_variant_name(v), m, n, k, with_bias ? 1 : 0, rows.size(), rel, gemm_tol(k), all.bad,
        ok ? "PASS" : "FAIL");
    std::fflush(stdout);
  }
  pool->free(y);
}

// bf16 round to nearest even, as __floats2bfloat162_rn (finite values).
float bf16_round(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&v, &u, 4);
  return v;
}

// gemm_fp8_wgmma_swiglu (b: the gate rows, then the up rows) vs its CPU twin: gemm_fp8_cpu to [rows, 2 inter],
// silu(g) * u, rounded to bf16. The bound: twice the GEMM's (g and u each carry it) plus bf16's rounding, whose
// half-ulp steps land differently where the f32 values differ.
void check_swiglu(int m, int inter, int k, bool sample) {
  const int n = 2 * inter;
  Fp8Operands p(m, n, k, false);
  const std::vector<uint8_t> ha = to_host(p.a, (size_t)m * k), hb = to_host(p.b, (size_t)n * k);
  const std::vector<float> hsa = to_host(p.sa, m), hsb = to_host(p.sb, n);
  std::vector<int> rows;
  if (sample)
    rows = {0, m - 1, (m / 128) * 128 - 1, m / 2, m / 3 + 7, 129, m - 130};
  else
    for (int r = 0; r < m; ++r) rows.push_back(r);
  std::vector<float> ref(rows.size() * (size_t)inter), gu(n);
  for (size_t j = 0; j < rows.size(); ++j) {
    gemm_fp8_cpu(gu.data(), &ha[(size_t)rows[j] * k], hb.data(), &hsa[rows[j]], hsb.data(), nullptr, 1, n, k);
    for (int c = 0; c < inter; ++c) {
      const float g = gu[c], u = gu[inter + c];
      ref[j * inter + c] = bf16_round(g / (1.f + std::exp(-g)) * u);
    }
  }
  bf16* y = (bf16*)pool->alloc((size_t)m * inter * 2);
  poison(y, (size_t)m * inter * 2);
  cosmos::gemm_fp8_wgmma_swiglu(y, p.a, p.b, p.sa, p.sb, m, k, inter, ctx);
  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  std::vector<uint16_t> all = to_host(reinterpret_cast<const uint16_t*>(y), (size_t)m * inter);
  unsigned long long bad = 0;
  for (uint16_t v : all) bad += (v & 0x7f80u) == 0x7f80u;  // inf / NaN (0xFFFF poison included)
  std::vector<float> got(rows.size() * (size_t)inter);
  for (size_t j = 0; j < rows.size(); ++j)
    for (int c = 0; c < inter; ++c) {
      const uint32_t u = (uint32_t)all[(size_t)rows[j] * inter + c] << 16;
      std::memcpy(&got[j * inter + c], &u, 4);
    }
  const double rel = host_rel(got, ref), bound = 2 * gemm_tol(k) + 2e-3;
  const bool ok = bad == 0 && rel <= bound;
  row_result(ok);
  std::printf(
      "check | %-27s | m=%5d inter=%5d k=%5d | vs cpu twin (%zu rows) %.2e (bound %.1e) | non-finite %llu | %s\n",
      "fp8 swiglu 128x256", m, inter, k, rows.size(), rel, bound, bad, ok ? "PASS" : "FAIL");
  std::fflush(stdout);
  pool->free(y);
}

int run_checks(const std::vector<Fp8Variant>& variants) {
  check_conversion();
  check_quantizer(18720, 4096, false, "x (Generator, 480p)");
  check_quantizer(1000, 12288, false, "x (down proj input)");
  check_quantizer(6144, 4096, true, "W qkv (per channel)");
  check_quantizer(300, 37, false, "ragged k (scalar path)");
  check_quantizer(257, 4100, true, "ragged k (vector path)");
  struct Case {
    int m, n, k;
    bool bias, sample;
  };
  const Case cases[] = {
      {128, 128, 128, false, false},      // one tile exactly
      {300, 200, 272, true, false},       // ragged m, n, k (k % 128 = 16: a zero-filled last k-tile)
      {257, 385, 4096, true, false},      // n odd: the scalar store path
      {1000, 1100, 4096, false, false},   // several persistent waves on few SMs' worth of tiles
      {129, 4096, 12288, true, false},    // the down projection's k
      {18720, 6144, 4096, true, true},    // the Generator's qkv (sampled rows)
      {18720, 4096, 12288, false, true},  // the Generator's down (sampled rows)
      {100, 72, 16, false, false},        // last (a fault here hides no other row): everything smaller than one
                                          // box, k a single 16-byte unit
  };
  for (const Case& c : cases) {
    try {
      check_gemm(variants, c.m, c.n, c.k, c.bias, c.sample);
    } catch (const std::invalid_argument& e) {  // a shape the op refuses: a failing row, the others still run
      row_result(false);
      std::printf("check | m=%5d n=%5d k=%5d | exception: %s | FAIL\n", c.m, c.n, c.k, e.what());
    } catch (const std::runtime_error& e) {  // e.g. a tensor map the driver will not encode
      row_result(false);
      std::printf("check | m=%5d n=%5d k=%5d | exception: %s | FAIL\n", c.m, c.n, c.k, e.what());
    }
  }
  struct SwiCase {
    int m, inter, k;
    bool sample;
  };
  const SwiCase swiglu_cases[] = {
      {128, 128, 128, false},      // one tile exactly
      {300, 256, 272, false},      // ragged m and k (a zero-filled last k-tile), two column tiles
      {1000, 384, 4096, false},    // several persistent waves
      {18720, 12288, 4096, true},  // the Generator's gate|up (sampled rows)
  };
  for (const SwiCase& c : swiglu_cases) {
    try {
      check_swiglu(c.m, c.inter, c.k, c.sample);
    } catch (const std::exception& e) {
      row_result(false);
      std::printf("check | fp8 swiglu m=%5d inter=%5d k=%5d | exception: %s | FAIL\n", c.m, c.inter, c.k, e.what());
    }
  }
  std::printf("checks: %s (%d failing rows)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}

// ---------------------------------------------------------------- fidelity and timing: the two paths
struct Shape {
  const char* name;
  int m, n, k;
};
// The Generator at 480p: 18720 tokens, hidden 4096; qkv 6144, o 4096, gate|up 2 x 12288, down from 12288.
const Shape kShapes[] = {{"gen qkv", 18720, 6144, 4096},
                         {"gen o", 18720, 4096, 4096},
                         {"gen gateup", 18720, 24576, 4096},
                         {"gen down", 18720, 4096, 12288}};

// Both paths' operands from one f32 x [m, k] and one bf16 W [n, k] (the checkpoint's weights are bf16).
struct Paths {
  int m, n, k;
  float* xf = nullptr;
  bf16 *xb = nullptr, *w = nullptr;
  uint8_t *xq = nullptr, *wq = nullptr;
  float *sx = nullptr, *sw = nullptr;
  Paths(int m_, int n_, int k_, int outlier_every) : m(m_), n(n_), k(k_) {
    xf = (float*)pool->alloc((size_t)m * k * 4);
    xb = (bf16*)pool->alloc((size_t)m * k * 2);
    w = (bf16*)pool->alloc((size_t)n * k * 2);
    xq = (uint8_t*)pool->alloc((size_t)m * k);
    wq = (uint8_t*)pool->alloc((size_t)n * k);
    sx = (float*)pool->alloc((size_t)m * 4);
    sw = (float*)pool->alloc((size_t)n * 4);
    fill_uniform_cuda(xf, (long long)m * k, false, seed++, 1.f, 0.f, ctx);
    if (outlier_every > 0) {
      outlier_cols_kernel<<<cosmos::elementwise_blocks((long long)m * k), 256, 0, ctx.stream>>>(xf, m, k, outlier_every,
                                                                                                30.f);
      CUDA_CHECK_LAUNCH();
    }
    fill_uniform_cuda(w, (long long)n * k, true, seed++, 1.f / std::sqrt((float)k), 0.f, ctx);
    f32_to_bf16_kernel<<<cosmos::elementwise_blocks((long long)m * k), 256, 0, ctx.stream>>>(xb, xf, (long long)m * k);
    CUDA_CHECK_LAUNCH();
    quantize_fp8_rows_cuda(xq, sx, xf, m, k, ctx);
    quantize_fp8_rows_bf16_cuda(wq, sw, w, n, k, ctx);
  }
  ~Paths() {
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    for (void* p : {(void*)xf, (void*)xb, (void*)w, (void*)xq, (void*)wq, (void*)sx, (void*)sw}) pool->free(p);
  }
};

int run_fidelity() {
  for (int outliers : {0, 64}) {
    for (const Shape& sh : kShapes) {
      Paths p(sh.m, sh.n, sh.k, outliers);
      const long long count = (long long)sh.m * sh.n;
      float* y16 = (float*)pool->alloc(count * 4);
      float* y8 = (float*)pool->alloc(count * 4);
      poison(y16, count * 4);
      poison(y8, count * 4);
      cosmos::gemm_wgmma(y16, p.xb, p.w, nullptr, sh.m, sh.k, sh.n, cosmos::gemm_wgmma_pick(sh.m, sh.k, sh.n), ctx);
      cosmos::gemm_fp8_wgmma(y8, p.xq, p.wq, p.sx, p.sw, nullptr, sh.m, sh.n, sh.k, ctx);
      const Diff d = device_diff(y8, y16, count, ctx);
      // f64 on 8 sampled rows from the original operands (x f32, W bf16)
      const std::vector<int> rows = {0, sh.m - 1, sh.m / 2, sh.m / 3 + 7, (sh.m * 5) / 7, 129, sh.m - 130, 777};
      std::vector<double> ref;
      std::vector<float> g16, g8;
      std::vector<float> wf(sh.n * (size_t)sh.k);
      {
        const std::vector<bf16> wh = to_host(p.w, (size_t)sh.n * sh.k);
        for (size_t i = 0; i < wf.size(); ++i) wf[i] = __bfloat162float(wh[i]);
      }
      std::vector<float> xr(sh.k), row(sh.n);
      for (int r : rows) {
        CUDA_CHECK(cudaMemcpy(xr.data(), p.xf + (size_t)r * sh.k, sh.k * 4, cudaMemcpyDeviceToHost));
        for (int c = 0; c < sh.n; ++c) {
          double s = 0;
          const float* wr = &wf[(size_t)c * sh.k];
          for (int i = 0; i < sh.k; ++i) s += (double)xr[i] * wr[i];
          ref.push_back(s);
        }
        CUDA_CHECK(cudaMemcpy(row.data(), y16 + (size_t)r * sh.n, sh.n * 4, cudaMemcpyDeviceToHost));
        g16.insert(g16.end(), row.begin(), row.end());
        CUDA_CHECK(cudaMemcpy(row.data(), y8 + (size_t)r * sh.n, sh.n * 4, cudaMemcpyDeviceToHost));
        g8.insert(g8.end(), row.begin(), row.end());
      }
      const double r16 = host_rel(g16, ref), r8 = host_rel(g8, ref);
      // The fp8 path's error is e4m3's 3-bit mantissa on both operands (~2^-4 / sqrt(3) relative rms each, the
      // dot product averaging neither away in relative terms): a few percent. Fail only on what is not that.
      const bool ok = d.bad == 0 && d.rel < 0.1 && r16 < 1e-2;
      row_result(ok);
      std::printf(
          "fidelity | %-10s m=%5d n=%5d k=%5d | x %-22s | fp8 vs bf16 %.3e | vs f64 (8 rows): fp8 %.3e, "
          "bf16 %.3e | non-finite %llu | %s\n",
          sh.name, sh.m, sh.n, sh.k, outliers ? "uniform, 1/64 cols x30" : "uniform", d.rel, r8, r16, d.bad,
          ok ? "PASS" : "FAIL");
      std::fflush(stdout);
      pool->free(y16);
      pool->free(y8);
    }
    pool->release_cached();
  }
  std::printf("fidelity: %s\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}

int run_timing(const std::vector<Fp8Variant>& variants) {
  struct Row {
    const Shape* sh;
    double bf16_ms, cast_ms, quant_ms;
    std::vector<double> ms;
  };
  std::vector<Row> table;
  for (const Shape& sh : kShapes) {
    // kSets operand sets, rotated, so the weights are not served from L2 every call.
    std::vector<Paths*> sets;
    for (int s = 0; s < kSets; ++s) sets.push_back(new Paths(sh.m, sh.n, sh.k, 0));
    const long long count = (long long)sh.m * sh.n;
    float* y16 = (float*)pool->alloc(count * 4);
    float* y8 = (float*)pool->alloc(count * 4);
    bf16* cast_dst = (bf16*)pool->alloc((size_t)sh.m * sh.k * 2);
    uint8_t* q_dst = (uint8_t*)pool->alloc((size_t)sh.m * sh.k);
    float* s_dst = (float*)pool->alloc((size_t)sh.m * 4);
    const cosmos::WgmmaVariant bv = cosmos::gemm_wgmma_pick(sh.m, sh.k, sh.n);
    Row row{&sh, 0, 0, 0, {}};
    row.bf16_ms = median_ms(
        ctx, [&](int s) { cosmos::gemm_wgmma(y16, sets[s]->xb, sets[s]->w, nullptr, sh.m, sh.k, sh.n, bv, ctx); });
    row.cast_ms = median_ms(ctx, [&](int s) {
      f32_to_bf16_kernel<<<cosmos::elementwise_blocks((long long)sh.m * sh.k), 256, 0, ctx.stream>>>(
          cast_dst, sets[s]->xf, (long long)sh.m * sh.k);
    });
    row.quant_ms = median_ms(ctx, [&](int s) { quantize_fp8_rows_cuda(q_dst, s_dst, sets[s]->xf, sh.m, sh.k, ctx); });
    const double fl = 2.0 * sh.m * sh.n * sh.k / 1e9;
    std::printf("time | %-10s m=%5d n=%5d k=%5d | %-30s %8.3f ms %6.1f TFLOP/s\n", sh.name, sh.m, sh.n, sh.k,
                cosmos::wgmma_variant_name(bv), row.bf16_ms, fl / row.bf16_ms);
    poison(y16, count * 4);
    cosmos::gemm_wgmma(y16, sets[0]->xb, sets[0]->w, nullptr, sh.m, sh.k, sh.n, bv, ctx);
    for (Fp8Variant v : variants) {
      const double t = median_ms(ctx, [&](int s) {
        cosmos::gemm_fp8_wgmma(y8, sets[s]->xq, sets[s]->wq, sets[s]->sx, sets[s]->sw, nullptr, sh.m, sh.n, sh.k, v,
                               ctx);
      });
      poison(y8, count * 4);
      cosmos::gemm_fp8_wgmma(y8, sets[0]->xq, sets[0]->wq, sets[0]->sx, sets[0]->sw, nullptr, sh.m, sh.n, sh.k, v, ctx);
      const Diff d = device_diff(y8, y16, count, ctx);
      const bool ok = d.bad == 0 && d.rel < 0.1;
      row_result(ok);
      row.ms.push_back(ok ? t : INFINITY);
      std::printf("time | %-10s m=%5d n=%5d k=%5d | %-30s %8.3f ms %6.1f TFLOP/s | vs bf16 %.2e %s\n", sh.name, sh.m,
                  sh.n, sh.k, cosmos::fp8_variant_name(v), t, fl / t, d.rel, ok ? "" : "FAIL");
      std::fflush(stdout);
    }
    if (sh.n % 256 == 0 && sh.n >= 8192) {  // gate|up: the same operands through the fused SwiGLU GEMM (bf16 out)
      const double t = median_ms(ctx, [&](int s) {
        cosmos::gemm_fp8_wgmma_swiglu(reinterpret_cast<bf16*>(y8), sets[s]->xq, sets[s]->wq, sets[s]->sx, sets[s]->sw,
                                      sh.m, sh.k, sh.n / 2, ctx);
      });
      std::printf("time | %-10s m=%5d n=%5d k=%5d | %-30s %8.3f ms %6.1f TFLOP/s\n", sh.name, sh.m, sh.n, sh.k,
                  "fp8 swiglu 128x256 (fused)", t, fl / t);
      std::fflush(stdout);
    }
    table.push_back(row);
    for (void* p : {(void*)y16, (void*)y8, (void*)cast_dst, (void*)q_dst, (void*)s_dst}) pool->free(p);
    for (Paths* p : sets) delete p;
    pool->release_cached();
  }
  // Summary last. GEMM kernels alone; the activation's preparation apart (bf16 cast vs fp8 quantize of x f32).
  std::printf("\n%-10s %5s %5s %5s | %9s %8s | %8s %8s", "shape", "m", "n", "k", "bf16 TF/s", "bf16 ms", "cast ms",
              "quant ms");
  for (Fp8Variant v : variants) std::printf(" | v%d TF/s", (int)v);
  std::printf(" | best fp8/bf16\n");
  for (const Row& r : table) {
    const double fl = 2.0 * r.sh->m * r.sh->n * r.sh->k / 1e9;
    std::printf("%-10s %5d %5d %5d | %9.1f %8.3f | %8.3f %8.3f", r.sh->name, r.sh->m, r.sh->n, r.sh->k, fl / r.bf16_ms,
                r.bf16_ms, r.cast_ms, r.quant_ms);
    double best = INFINITY;
    for (double t : r.ms) {
      std::printf(" | %7.1f", std::isfinite(t) ? fl / t : 0.0);
      best = std::min(best, t);
    }
    std::printf(" | %.2fx\n", r.bf16_ms / best);
  }
  for (Fp8Variant v : variants) std::printf("v%d = %s\n", (int)v, cosmos::fp8_variant_name(v));
  std::printf("timing: %s\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "check";
  const std::vector<Fp8Variant> variants = parse_variants(argc > 2 ? argv[2] : nullptr);
  try {
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device %s, sm_%d%d, %d SMs; fp8 wgmma available: %d, bf16 wgmma available: %d\n", prop.name,
                prop.major, prop.minor, prop.multiProcessorCount, cosmos::gemm_fp8_wgmma_available() ? 1 : 0,
                cosmos::gemm_wgmma_available() ? 1 : 0);
    if (!cosmos::gemm_fp8_wgmma_available() || !cosmos::gemm_wgmma_available()) {
      std::printf("FAIL: no sm_90a wgmma kernels for this device\n");
      return 1;
    }
    cosmos::CudaPool p;
    pool = &p;
    CUDA_CHECK(cudaStreamCreate(&ctx.stream));
    ctx.pool = pool;
    const int rc = mode == "time" ? run_timing(variants) : mode == "fidelity" ? run_fidelity() : run_checks(variants);
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    return rc;
  } catch (const std::exception& e) {
    std::printf("FAIL: exception: %s\n", e.what());
    return 1;
  }
}
