// gemm_wgmma (ops/gemm_wgmma.cu) on the GPU: every variant checked against an f64 host reference and against
// matmul_cuda's mma.sync GEMM, then timed next to it on the Cosmos 3 Generator's and the 8B prefill's shapes.
//
//   gemm_wgmma_cuda_test check [variants]   correctness rows (exit 1 if any fails)
//   gemm_wgmma_cuda_test time  [variants]   timing rows, each also checked against the mma path
//   gemm_wgmma_cuda_test dispatch           matmul_cuda as the engine calls it (wgmma when available), timed on the
//                                           same shapes and checked against f64 on sampled rows
//   gemm_wgmma_cuda_test swiglu             the fused SwiGLU MLP (gemm_wgmma_swiglu through matmul_swiglu_cuda, then
//                                           matmul_bf16_cuda) vs the unfused steps, and timed against them
//   gemm_wgmma_cuda_test gelu               the fused GELU MLP (gemm_wgmma_gelu through matmul_gelu_cuda, then
//                                           matmul_bf16_cuda) vs the unfused steps, and timed against them
// In check and time, COSMOS_WGMMA=0 is set first so matmul_cuda is the mma.sync reference.
// variants: comma-separated indices of cosmos::WgmmaVariant (default all), so a variant that faults or hangs can
// be run on its own (tools/device/wgmma_check.sh runs one process per variant).
//
// Inputs are fresh uniform random values (fill_uniform, a new seed per case), never zeros. x is drawn in bf16 and
// handed to matmul_cuda as its exact f32 copy, so both GEMMs multiply the same bf16 operands with f32 accumulation:
// their difference is accumulation order only (~1e-6 relative); the bound is the 1e-3 of bf16-operand GEMMs.
// Outputs are NaN-poisoned before each run and every element must be finite afterwards.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../src/core/cuda_common.h"
#include "../src/core/cuda_pool.h"
#include "../src/ops/fill_uniform.h"
#include "../src/ops/gelu.h"
#include "../src/ops/gemm_wgmma.h"
#include "../src/ops/matmul.h"
#include "../src/ops/swiglu.h"
#include "gemm_test_util.cuh"

namespace {
using bf16 = __nv_bfloat16;
using cosmos::WgmmaVariant;

constexpr double kTol = 1e-3;  // ‖out − ref‖ / ‖ref‖ for bf16 operands, f32 accumulate
int failures = 0;
uint64_t seed = 20261129;
cosmos::CudaPool* pool;
cosmos::CudaContext ctx;

// ---------------------------------------------------------------- device helpers
__global__ void bf16_to_f32_kernel(float* dst, const bf16* src, long long count) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count;
       i += (long long)gridDim.x * blockDim.x)
    dst[i] = __bfloat162float(src[i]);
}
// What matmul_cuda does before its mma kernel (timed apart so the table can show kernel-only times too).
__global__ void f32_to_bf16_kernel(bf16* dst, const float* src, long long count) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count;
       i += (long long)gridDim.x * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}

void poison(float* p, long long count) {  // 0xFF bytes: every f32 is a NaN
  CUDA_CHECK(cudaMemsetAsync(p, 0xFF, (size_t)count * sizeof(float), ctx.stream));
}

// The operands of one problem: x in bf16 and its exact f32 copy, w in bf16, an optional bias.
struct Problem {
  int n, k, m;
  bf16 *xb = nullptr, *w = nullptr;
  float *xf = nullptr, *bias = nullptr;
  Problem(int n_, int k_, int m_, bool with_bias) : n(n_), k(k_), m(m_) {
    xb = (bf16*)pool->alloc((size_t)n * k * 2);
    w = (bf16*)pool->alloc((size_t)m * k * 2);
    xf = (float*)pool->alloc((size_t)n * k * 4);
    fill_uniform_cuda(xb, (long long)n * k, true, seed++, 1.f, 0.f, ctx);
    fill_uniform_cuda(w, (long long)m * k, true, seed++, 1.f / std::sqrt((float)k), 0.f, ctx);
    bf16_to_f32_kernel<<<cosmos::elementwise_blocks((long long)n * k), 256, 0, ctx.stream>>>(xf, xb, (long long)n * k);
    CUDA_CHECK_LAUNCH();
    if (with_bias) {
      bias = (float*)pool->alloc((size_t)m * 4);
      fill_uniform_cuda(bias, m, false, seed++, 0.5f, 0.f, ctx);
    }
  }
  ~Problem() {
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    pool->free(xb);
    pool->free(w);
    pool->free(xf);
    pool->free(bias);
  }
};

std::vector<float> to_host_f32(const bf16* d, size_t count) {
  std::vector<bf16> h(count);
  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  CUDA_CHECK(cudaMemcpy(h.data(), d, count * 2, cudaMemcpyDeviceToHost));
  std::vector<float> f(count);
  for (size_t i = 0; i < count; ++i) f[i] = __bfloat162float(h[i]);
  return f;
}

// f64 reference of the rows in `rows` (all rows for small problems, a sample for large ones), row-major.
std::vector<double> host_reference(const Problem& p, const std::vector<int>& rows) {
  const std::vector<float> x = to_host_f32(p.xb, (size_t)p.n * p.k), w = to_host_f32(p.w, (size_t)p.m * p.k);
  std::vector<float> bias(p.m, 0.f);
  if (p.bias) CUDA_CHECK(cudaMemcpy(bias.data(), p.bias, p.m * 4, cudaMemcpyDeviceToHost));
  std::vector<double> ref;
  ref.reserve(rows.size() * p.m);
  for (int r : rows) {
    const float* xr = &x[(size_t)r * p.k];
    for (int c = 0; c < p.m; ++c) {
      const float* wr = &w[(size_t)c * p.k];
      double s = bias[c];
      for (int i = 0; i < p.k; ++i) s += (double)xr[i] * wr[i];
      ref.push_back(s);
    }
  }
  return ref;
}
// ‖out − ref‖ / ‖ref‖ over the sampled rows; infinite when any of them is not finite.
double host_rel(const std::vector<double>& ref, const float* out_dev, const std::vector<int>& rows, int m) {
  std::vector<float> got(m);
  double d2 = 0, r2 = 0;
  for (size_t j = 0; j < rows.size(); ++j) {
    CUDA_CHECK(cudaMemcpy(got.data(), out_dev + (long long)rows[j] * m, m * 4, cudaMemcpyDeviceToHost));
    for (int c = 0; c < m; ++c) {
      if (!std::isfinite(got[c])) return INFINITY;
      const double s = ref[j * m + c];
      d2 += (got[c] - s) * (got[c] - s);
      r2 += s * s;
    }
  }
  return std::sqrt(d2 / r2);
}

std::vector<WgmmaVariant> parse_variants(const char* s) {
  std::vector<WgmmaVariant> v;
  if (!s) {
    for (int i = 0; i < cosmos::kWgmmaVariantCount; ++i) v.push_back((WgmmaVariant)i);
    return v;
  }
  for (const char* p = s; *p;) {
    v.push_back((WgmmaVariant)std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return v;
}

// ---------------------------------------------------------------- correctness
void check_case(const std::vector<WgmmaVariant>& variants, int n, int k, int m, bool with_bias) {
  Problem p(n, k, m, with_bias);
  const long long count = (long long)n * m;
  float* ref = (float*)pool->alloc(count * 4);
  float* out = (float*)pool->alloc(count * 4);
  poison(ref, count);
  matmul_cuda(ref, p.xf, p.w, WType::BF16, p.bias, n, k, m, ctx);
  // Small problems: every row against f64; large: 8 rows (first, last, the last full tile's edge, random).
  std::vector<int> rows;
  if ((long long)n * k * m <= 400000000LL) {
    for (int r = 0; r < n; ++r) rows.push_back(r);
  } else {
    rows = {0, n - 1, (n / 128) * 128 - 1, n / 2, n / 3 + 7, (n * 5) / 7, 129, n - 130};
  }
  const std::vector<double> f64ref = host_reference(p, rows);
  const double mma_rel = host_rel(f64ref, ref, rows, m);
  for (WgmmaVariant v : variants) {
    poison(out, count);
    cosmos::gemm_wgmma(out, p.xb, p.w, p.bias, n, k, m, v, ctx);
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    const Diff d = device_diff(out, ref, count, ctx);
    const double f64 = host_rel(f64ref, out, rows, m);
    const bool ok = d.bad == 0 && d.rel <= kTol && f64 <= kTol;
    if (!ok) ++failures;
    std::printf(
        "check | %-30s | n=%5d k=%5d m=%5d bias=%d | vs f64 (%zu rows) %.2e (mma %.2e) | vs mma %.2e | "
        "non-finite %llu | %s\n",
        cosmos::wgmma_variant_name(v), n, k, m, with_bias ? 1 : 0, rows.size(), f64, mma_rel, d.rel, d.bad,
        ok ? "PASS" : "FAIL");
    std::fflush(stdout);
  }
  pool->free(ref);
  pool->free(out);
}

int run_checks(const std::vector<WgmmaVariant>& variants) {
  struct Case {
    int n, k, m;
    bool bias;
  };
  const Case cases[] = {
      {128, 64, 128, false},
      {200, 128, 136, true},
      {300, 256, 999, true},
      {129, 512, 256, false},
      {1000, 1024, 640, true},
      {257, 192, 384, true},
      {1000, 4096, 1024, true},
      {1000, 4096, 4096, false},
      {1000, 4096, 6144, true},
      {1000, 12288, 4096, false},
      {1000, 4096, 12288, true},
      {1000, 4096, 24576, false},
      {4100, 12288, 4096, true},
      // k not a multiple of 64: the last k-tile is zero-filled by TMA (k < 64 entirely; the Qwen3-VL tower's fc2).
      {300, 72, 256, true},
      {257, 200, 384, false},
      {1000, 4304, 1152, true},
  };
  for (const Case& c : cases) check_case(variants, c.n, c.k, c.m, c.bias);
  std::printf("checks: %s (%d failing rows)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}

// ---------------------------------------------------------------- timing

struct Row {
  std::string name;
  int n, k, m;
  double mma_ms, cast_ms;
  std::vector<double> ms, rel;
};

Row time_shape(const std::vector<WgmmaVariant>& variants, const char* name, int n, int k, int m) {
  // kSets operand sets, rotated, so the weights (>= 8 MiB, mostly > 50 MiB) are not served from L2 every call.
  std::vector<Problem*> sets;
  for (int s = 0; s < kSets; ++s) sets.push_back(new Problem(n, k, m, s == 0));
  const long long count = (long long)n * m;
  float* ref = (float*)pool->alloc(count * 4);
  float* out = (float*)pool->alloc(count * 4);
  bf16* cast_dst = (bf16*)pool->alloc((size_t)n * k * 2);
  Row row{name, n, k, m, 0, 0, {}, {}};
  row.mma_ms = median_ms(
      ctx, [&](int s) { matmul_cuda(ref, sets[s]->xf, sets[s]->w, WType::BF16, sets[0]->bias, n, k, m, ctx); });
  row.cast_ms = median_ms(ctx, [&](int s) {
    f32_to_bf16_kernel<<<cosmos::elementwise_blocks((long long)n * k), 256, 0, ctx.stream>>>(cast_dst, sets[s]->xf,
                                                                                             (long long)n * k);
  });
  poison(ref, count);
  matmul_cuda(ref, sets[0]->xf, sets[0]->w, WType::BF16, sets[0]->bias, n, k, m, ctx);
  for (WgmmaVariant v : variants) {
    const double t = median_ms(
        ctx, [&](int s) { cosmos::gemm_wgmma(out, sets[s]->xb, sets[s]->w, sets[0]->bias, n, k, m, v, ctx); });
    poison(out, count);
    cosmos::gemm_wgmma(out, sets[0]->xb, sets[0]->w, sets[0]->bias, n, k, m, v, ctx);
    const Diff d = device_diff(out, ref, count, ctx);
    const bool ok = d.bad == 0 && d.rel <= kTol;
    if (!ok) ++failures;
    row.ms.push_back(t);
    row.rel.push_back(ok ? d.rel : INFINITY);
    std::printf("time | %-10s n=%5d k=%5d m=%5d | %-30s %8.3f ms %6.1f TFLOP/s | vs mma %.2e %s\n", name, n, k, m,
                cosmos::wgmma_variant_name(v), t, 2.0 * n * k * m / (t * 1e9), d.rel, ok ? "" : "FAIL");
    std::fflush(stdout);
  }
  std::printf("time | %-10s n=%5d k=%5d m=%5d | %-30s %8.3f ms %6.1f TFLOP/s (incl. cast %.3f ms)\n", name, n, k, m,
              "mma.sync (matmul_cuda)", row.mma_ms, 2.0 * n * k * m / (row.mma_ms * 1e9), row.cast_ms);
  pool->free(ref);
  pool->free(out);
  pool->free(cast_dst);
  for (Problem* p : sets) delete p;
  pool->release_cached();
  return row;
}

struct Shape {
  const char* name;
  int n, k, m;
};
// Generator (Nano: hidden 4096, q/k/v 4096/1024/1024, MLP 12288 with gate|up fused as one [24576, 4096] weight)
// at 480p x 189 frames: 19232 tokens. Qwen3-VL-8B prefill: same widths, 1024 and 4096 tokens, and 3318 (a 16-frame
// 480p video's, "8b video"); its vision tower's four GEMMs at that video (12960 patches, "tower"), and its fc1 / fc2
// with the MLP width 4304 padded to 4352 (128-byte aligned rows).
const Shape kShapes[] = {
    {"gen qkv", 19232, 4096, 6144},
    {"gen o", 19232, 4096, 4096},
    {"gen gateup", 19232, 4096, 24576},
    {"gen down", 19232, 12288, 4096},
    {"8b qkv", 1024, 4096, 6144},
    {"8b gateup", 1024, 4096, 24576},
    {"8b down", 1024, 12288, 4096},
    {"8b qkv", 4096, 4096, 6144},
    {"8b o", 4096, 4096, 4096},
    {"8b gateup", 4096, 4096, 24576},
    {"8b down", 4096, 12288, 4096},
    {"tower qkv", 12960, 1152, 3456},
    {"tower o", 12960, 1152, 1152},
    {"tower fc1", 12960, 1152, 4304},
    {"tower fc2", 12960, 4304, 1152},
    {"8b video qkv", 3318, 4096, 6144},
    {"8b video o", 3318, 4096, 4096},
    {"8b video gateup", 3318, 4096, 24576},
    {"8b video down", 3318, 12288, 4096},
    {"tower fc1 m4352", 12960, 1152, 4352},
    {"tower fc2 k4352", 12960, 4352, 1152},
};
// GEMM_SHAPES=a,b,...: only the shapes whose name holds one of them (GEMM_SHAPES=tower: the tower's four).
bool shape_selected(const Shape& s) {
  const char* f = std::getenv("GEMM_SHAPES");
  if (!f) return true;
  const std::string list = std::string(f) + ",";
  for (size_t a = 0, b; (b = list.find(',', a)) != std::string::npos; a = b + 1)
    if (b > a && std::strstr(s.name, list.substr(a, b - a).c_str())) return true;
  return false;
}

int run_timing(const std::vector<WgmmaVariant>& variants) {
  std::vector<Row> rows;
  for (const Shape& s : kShapes)
    if (shape_selected(s)) rows.push_back(time_shape(variants, s.name, s.n, s.k, s.m));
  // Summary last: TFLOP/s per variant (kernel only; the mma column includes its f32 -> bf16 cast of x, given
  // apart so the kernels compare like for like: mma kernel ≈ mma - cast).
  std::printf("\n%-10s %5s %5s %5s | %13s %7s", "shape", "n", "k", "m", "mma(+cast)", "cast ms");
  for (WgmmaVariant v : variants) std::printf(" | v%d TFLOP/s", (int)v);
  std::printf("\n");
  for (const Row& r : rows) {
    const double fl = 2.0 * r.n * r.k * r.m / 1e9;
    std::printf("%-10s %5d %5d %5d | %6.1f (%5.0f) %7.3f", r.name.c_str(), r.n, r.k, r.m, fl / (r.mma_ms - r.cast_ms),
                fl / r.mma_ms, r.cast_ms);
    for (size_t i = 0; i < r.ms.size(); ++i)
      std::printf(" | %8.1f%s", std::isfinite(r.rel[i]) ? fl / r.ms[i] : 0.0, std::isfinite(r.rel[i]) ? "  " : " X");
    std::printf("\n");
  }
  for (WgmmaVariant v : variants) std::printf("v%d = %s\n", (int)v, cosmos::wgmma_variant_name(v));
  std::printf("timing checks: %s\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}

// matmul_cuda with whatever path it picks (f32 x in, so the time includes its cast), vs f64 on 8 sampled rows.
int run_dispatch() {
  for (const Shape& sh : kShapes) {
    if (!shape_selected(sh)) continue;
    std::vector<Problem*> sets;
    for (int s = 0; s < kSets; ++s) sets.push_back(new Problem(sh.n, sh.k, sh.m, s == 0));
    const long long count = (long long)sh.n * sh.m;
    float* out = (float*)pool->alloc(count * 4);
    const double t = median_ms(ctx, [&](int s) {
      matmul_cuda(out, sets[s]->xf, sets[s]->w, WType::BF16, sets[0]->bias, sh.n, sh.k, sh.m, ctx);
    });
    poison(out, count);
    matmul_cuda(out, sets[0]->xf, sets[0]->w, WType::BF16, sets[0]->bias, sh.n, sh.k, sh.m, ctx);
    const int n = sh.n;
    const std::vector<int> rows = {0, n - 1, n / 2, n / 3 + 7, (n * 5) / 7, 129, n - 130, 777};
    const std::vector<double> ref = host_reference(*sets[0], rows);
    const Diff d = device_diff(out, out, count, ctx);  // only counts non-finite elements here
    const double rel = host_rel(ref, out, rows, sh.m);
    const bool ok = d.bad == 0 && rel <= kTol;
    if (!ok) ++failures;
    std::printf(
        "dispatch | %-10s n=%5d k=%5d m=%5d | matmul_cuda %8.3f ms %6.1f TFLOP/s (incl. cast) | vs f64 %.2e | "
        "non-finite %llu | %s | %s\n",
        sh.name, sh.n, sh.k, sh.m, t, 2.0 * sh.n * sh.k * sh.m / (t * 1e9), rel, d.bad, ok ? "PASS" : "FAIL",
        cosmos::wgmma_variant_name(cosmos::gemm_wgmma_pick(sh.n, sh.k, sh.m)));
    std::fflush(stdout);
    pool->free(out);
    for (Problem* p : sets) delete p;
    pool->release_cached();
  }
  std::printf("dispatch: %s\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}
}  // namespace

// silu(g) * u of the unfused f32 projections gu [n, 2 inter] (gate columns first), rounded to bf16: the fused
// epilogue's reference, and what swiglu_cuda + the down projection's cast computed.
__global__ void swiglu_ref_kernel(bf16* h, const float* gu, int n, int inter) {
  const long long count = (long long)n * inter;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count;
       i += (long long)gridDim.x * blockDim.x) {
    const long long r = i / inter, c = i - r * inter;
    const float g = gu[r * 2 * inter + c], u = gu[r * 2 * inter + inter + c];
    h[i] = __float2bfloat16_rn(g / (1.f + expf(-g)) * u);
  }
}

// The fused SwiGLU MLP (matmul_swiglu_cuda, then matmul_bf16_cuda for the down projection) vs the unfused steps on the
// same bf16 operands (gemm_wgmma's f32 gate and up, silu(g) * u rounded to bf16, the down projection): h and y.
// Then at the Generator's 480p MLP shape, the fused MLP vs the engine's unfused one (matmul_cuda x 2, swiglu_cuda,
// matmul_cuda), both timed.
int run_swiglu() {
  struct S {
    const char* name;
    int n, k, inter, out;
  };
  const S cases[] = {{"ragged n, 3 column tiles", 300, 256, 384, 256},
                     {"the smallest", 128, 64, 128, 128},
                     {"x in 3 cast chunks", 6000, 12288, 256, 192},
                     {"Generator 480p MLP", 18720, 4096, 12288, 4096}};
  for (const S& c : cases) {
    Problem p(c.n, c.k, 2 * c.inter, false);
    bf16* wd = (bf16*)pool->alloc((size_t)c.out * c.inter * 2);
    fill_uniform_cuda(wd, (long long)c.out * c.inter, true, seed++, 1.f / std::sqrt((float)c.inter), 0.f, ctx);
    const long long nh = (long long)c.n * c.inter, ny = (long long)c.n * c.out;
    bf16 *h = (bf16*)pool->alloc(nh * 2), *href = (bf16*)pool->alloc(nh * 2);
    float *gu = (float*)pool->alloc((long long)c.n * 2 * c.inter * 4), *y = (float*)pool->alloc(ny * 4),
          *yref = (float*)pool->alloc(ny * 4), *hf = (float*)pool->alloc(nh * 4), *hreff = (float*)pool->alloc(nh * 4);
    const bool supported = matmul_swiglu_supported(p.xf, p.w, WType::BF16, c.n, c.k, c.inter, ctx);
    poison(y, ny);
    matmul_swiglu_cuda(h, p.xf, p.w, c.n, c.k, c.inter, ctx);
    matmul_bf16_cuda(y, h, wd, nullptr, c.n, c.inter, c.out, ctx);
    cosmos::gemm_wgmma(gu, p.xb, p.w, nullptr, c.n, c.k, 2 * c.inter, cosmos::gemm_wgmma_pick(c.n, c.k, 2 * c.inter),
                       ctx);
    swiglu_ref_kernel<<<cosmos::elementwise_blocks(nh), 256, 0, ctx.stream>>>(href, gu, c.n, c.inter);
    CUDA_CHECK_LAUNCH();
    cosmos::gemm_wgmma(yref, href, wd, nullptr, c.n, c.inter, c.out, cosmos::gemm_wgmma_pick(c.n, c.inter, c.out), ctx);
    bf16_to_f32_kernel<<<cosmos::elementwise_blocks(nh), 256, 0, ctx.stream>>>(hf, h, nh);
    bf16_to_f32_kernel<<<cosmos::elementwise_blocks(nh), 256, 0, ctx.stream>>>(hreff, href, nh);
    CUDA_CHECK_LAUNCH();
    // The two h differ by the order of the f32 sums only: a rare element rounds to the next bf16.
    const Diff dh = device_diff(hf, hreff, nh, ctx), dy = device_diff(y, yref, ny, ctx);
    const bool ok = supported && dh.bad == 0 && dy.bad == 0 && dh.rel <= 2e-3 && dy.rel <= 2e-3;
    if (!ok) ++failures;
    std::printf(
        "swiglu | %-26s n=%5d k=%5d inter=%5d out=%5d | supported %d | h vs unfused %.2e | y vs unfused %.2e "
        "| non-finite %llu | %s\n",
        c.name, c.n, c.k, c.inter, c.out, supported ? 1 : 0, dh.rel, dy.rel, dh.bad + dy.bad, ok ? "PASS" : "FAIL");
    std::fflush(stdout);
    if (c.n >= 18720) {
      float* g = gu;
      float* u = gu + (long long)c.n * c.inter;
      const double fused = median_ms(ctx, [&](int) {
        matmul_swiglu_cuda(h, p.xf, p.w, c.n, c.k, c.inter, ctx);
        matmul_bf16_cuda(y, h, wd, nullptr, c.n, c.inter, c.out, ctx);
      });
      const double unfused = median_ms(ctx, [&](int) {
        matmul_cuda(g, p.xf, p.w, WType::BF16, nullptr, c.n, c.k, c.inter, ctx);
        matmul_cuda(u, p.xf, p.w + (long long)c.inter * c.k, WType::BF16, nullptr, c.n, c.k, c.inter, ctx);
        swiglu_cuda(g, g, u, c.n * c.inter, ctx);
        matmul_cuda(y, g, wd, WType::BF16, nullptr, c.n, c.inter, c.out, ctx);
      });
      const double flop = 2.0 * c.n * c.k * 2 * c.inter + 2.0 * c.n * c.inter * c.out;
      std::printf("swiglu time | %s | fused %.3f ms (%.0f TFLOP/s) | unfused %.3f ms (%.0f TFLOP/s) | %.2fx\n", c.name,
                  fused, flop / (fused * 1e9), unfused, flop / (unfused * 1e9), unfused / fused);
      std::fflush(stdout);
    }
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    for (void* q : {(void*)wd, (void*)h, (void*)href, (void*)gu, (void*)y, (void*)yref, (void*)hf, (void*)hreff})
      pool->free(q);
    pool->release_cached();
  }
  std::printf("swiglu: %s\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}

// The fused GELU MLP (matmul_gelu_cuda: fc1 + bias + GELU in the epilogue, bf16 out; then matmul_bf16_cuda for fc2)
// vs the unfused steps on the same bf16 operands (gemm_wgmma's f32 fc1 with bias, gelu_*_cuda, rounded to bf16, fc2):
// h and y. Then at the Qwen3-VL tower's video shape, the fused MLP vs the engine's unfused one, both timed.
int run_gelu() {
  struct G {
    const char* name;
    int n, k, inter, out;
    bool tanh;
  };
  const G cases[] = {{"ragged n and m, erf", 300, 256, 392, 256, false},
                     {"k not a multiple of 64", 257, 200, 128, 136, true},
                     {"x in 3 cast chunks", 6000, 12288, 256, 192, true},
                     {"Qwen3-VL merger, erf", 880, 4608, 4608, 4096, false},
                     {"Qwen3-VL tower, video", 12960, 1152, 4304, 1152, true},
                     // Its MLP width padded to 4352 (zero weight rows and columns): fc1's output rows and fc2's
                     // operand rows 128-byte aligned (8704 bytes; 4304's 8608 are not), the same tiles and k-steps.
                     {"Qwen3-VL tower, inter padded", 12960, 1152, 4352, 1152, true}};
  for (const G& c : cases) {
    Problem p(c.n, c.k, c.inter, true);  // fc1 with its bias
    bf16* w2 = (bf16*)pool->alloc((size_t)c.out * c.inter * 2);
    fill_uniform_cuda(w2, (long long)c.out * c.inter, true, seed++, 1.f / std::sqrt((float)c.inter), 0.f, ctx);
    const long long nh = (long long)c.n * c.inter, ny = (long long)c.n * c.out;
    bf16 *h = (bf16*)pool->alloc(nh * 2), *href = (bf16*)pool->alloc(nh * 2);
    float *f1 = (float*)pool->alloc(nh * 4), *y = (float*)pool->alloc(ny * 4), *yref = (float*)pool->alloc(ny * 4),
          *hf = (float*)pool->alloc(nh * 4);
    const bool supported = matmul_gelu_supported(p.xf, p.w, WType::BF16, c.n, c.k, c.inter, ctx);
    poison(y, ny);
    setenv("COSMOS_GELU_TANH_APPROX", "0", 1);  // the tanh form on tanhf, as ops/gelu.cu's unfused pass
    matmul_gelu_cuda(h, p.xf, p.w, p.bias, c.n, c.k, c.inter, c.tanh, ctx);
    matmul_bf16_cuda(y, h, w2, nullptr, c.n, c.inter, c.out, ctx);
    cosmos::gemm_wgmma(f1, p.xb, p.w, p.bias, c.n, c.k, c.inter, cosmos::gemm_wgmma_pick(c.n, c.k, c.inter), ctx);
    if (c.tanh)
      gelu_tanh_cuda(f1, (int)nh, ctx);
    else
      gelu_erf_cuda(f1, (int)nh, ctx);
    f32_to_bf16_kernel<<<cosmos::elementwise_blocks(nh), 256, 0, ctx.stream>>>(href, f1, nh);
    CUDA_CHECK_LAUNCH();
    cosmos::gemm_wgmma(yref, href, w2, nullptr, c.n, c.inter, c.out, cosmos::gemm_wgmma_pick(c.n, c.inter, c.out), ctx);
    bf16_to_f32_kernel<<<cosmos::elementwise_blocks(nh), 256, 0, ctx.stream>>>(hf, h, nh);
    bf16_to_f32_kernel<<<cosmos::elementwise_blocks(nh), 256, 0, ctx.stream>>>(f1, href, nh);
    CUDA_CHECK_LAUNCH();
    // The two h differ by the order of the f32 sums only: a rare element rounds to the next bf16.
    const Diff dh = device_diff(hf, f1, nh, ctx), dy = device_diff(y, yref, ny, ctx);
    // The default tanh form, on tanh.approx (COSMOS_GELU_TANH_APPROX unset): h within bf16's rounding of tanhf's,
    // every element written (href NaN-poisoned first).
    unsetenv("COSMOS_GELU_TANH_APPROX");
    Diff da{};
    if (c.tanh) {
      CUDA_CHECK(cudaMemsetAsync(href, 0xff, nh * 2, ctx.stream));
      matmul_gelu_cuda(href, p.xf, p.w, p.bias, c.n, c.k, c.inter, c.tanh, ctx);
      bf16_to_f32_kernel<<<cosmos::elementwise_blocks(nh), 256, 0, ctx.stream>>>(f1, href, nh);
      CUDA_CHECK_LAUNCH();
      da = device_diff(f1, hf, nh, ctx);
    }
    const bool ok =
        supported && dh.bad == 0 && dy.bad == 0 && dh.rel <= 2e-3 && dy.rel <= 2e-3 && da.bad == 0 && da.rel <= 2e-3;
    if (!ok) ++failures;
    std::printf(
        "gelu | %-24s n=%5d k=%5d inter=%5d out=%5d %s | supported %d | h vs unfused %.2e | y vs unfused %.2e "
        "| h tanh.approx (default) vs tanhf %.2e | non-finite %llu | %s\n",
        c.name, c.n, c.k, c.inter, c.out, c.tanh ? "tanh" : "erf ", supported ? 1 : 0, dh.rel, dy.rel, da.rel,
        dh.bad + dy.bad + da.bad, ok ? "PASS" : "FAIL");
    std::fflush(stdout);
    if (c.n >= 12960) {
      const double fused = median_ms(ctx, [&](int) {
        matmul_gelu_cuda(h, p.xf, p.w, p.bias, c.n, c.k, c.inter, c.tanh, ctx);
        matmul_bf16_cuda(y, h, w2, nullptr, c.n, c.inter, c.out, ctx);
      });
      const double unfused = median_ms(ctx, [&](int) {
        matmul_cuda(f1, p.xf, p.w, WType::BF16, p.bias, c.n, c.k, c.inter, ctx);
        gelu_tanh_cuda(f1, (int)nh, ctx);
        matmul_cuda(y, f1, w2, WType::BF16, nullptr, c.n, c.inter, c.out, ctx);
      });
      const double flop = 2.0 * c.n * c.k * c.inter + 2.0 * c.n * c.inter * c.out;
      std::printf("gelu time | %s | fused %.3f ms (%.0f TFLOP/s) | unfused %.3f ms (%.0f TFLOP/s) | %.2fx\n", c.name,
                  fused, flop / (fused * 1e9), unfused, flop / (unfused * 1e9), unfused / fused);
      // fc1 alone, by epilogue (the same tiles and main loop): what the GELU costs over writing bf16, and bf16 over
      // f32.
      const bool tanh = c.tanh;
      setenv("COSMOS_GELU_TANH_APPROX", "0", 1);
      const double fc1_gelu =
          median_ms(ctx, [&](int) { cosmos::gemm_wgmma_gelu(h, p.xb, p.w, p.bias, c.n, c.k, c.inter, tanh, ctx); });
      unsetenv("COSMOS_GELU_TANH_APPROX");
      const double fc1_approx =
          median_ms(ctx, [&](int) { cosmos::gemm_wgmma_gelu(h, p.xb, p.w, p.bias, c.n, c.k, c.inter, tanh, ctx); });
      const double fc1_bf16 =
          median_ms(ctx, [&](int) { cosmos::gemm_wgmma_bf16_out(h, p.xb, p.w, p.bias, c.n, c.k, c.inter, ctx); });
      const double fc1_f32 = median_ms(ctx, [&](int) {
        cosmos::gemm_wgmma(f1, p.xb, p.w, p.bias, c.n, c.k, c.inter, cosmos::gemm_wgmma_pick(c.n, c.k, c.inter), ctx);
      });
      const double f1flop = 2.0 * c.n * c.k * c.inter;
      std::printf(
          "gelu time | %s | fc1 epilogues: gelu on tanhf bf16 %.3f ms (%.0f TFLOP/s), gelu on tanh.approx (the "
          "default) "
          "%.3f (%.0f), bf16 %.3f (%.0f), f32 %.3f (%.0f)\n",
          c.name, fc1_gelu, f1flop / (fc1_gelu * 1e9), fc1_approx, f1flop / (fc1_approx * 1e9), fc1_bf16,
          f1flop / (fc1_bf16 * 1e9), fc1_f32, f1flop / (fc1_f32 * 1e9));
      std::fflush(stdout);
    }
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    for (void* q : {(void*)w2, (void*)h, (void*)href, (void*)f1, (void*)y, (void*)yref, (void*)hf}) pool->free(q);
    pool->release_cached();
  }
  std::printf("gelu: %s\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "check";
  const std::vector<WgmmaVariant> variants = parse_variants(argc > 2 ? argv[2] : nullptr);
  if (mode != "dispatch" && mode != "swiglu" && mode != "gelu")
    setenv("COSMOS_WGMMA", "0", 1);  // matmul_cuda: the mma.sync reference
  try {
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device %s, sm_%d%d, %d SMs, L2 %d MiB; wgmma available: %d\n", prop.name, prop.major, prop.minor,
                prop.multiProcessorCount, prop.l2CacheSize >> 20, cosmos::gemm_wgmma_available() ? 1 : 0);
    if (!cosmos::gemm_wgmma_available()) {
      std::printf("FAIL: no sm_90a wgmma kernels for this device\n");
      return 1;
    }
    cosmos::CudaPool p;
    pool = &p;
    CUDA_CHECK(cudaStreamCreate(&ctx.stream));
    ctx.pool = pool;
    const int rc = mode == "time"       ? run_timing(variants)
                   : mode == "dispatch" ? run_dispatch()
                   : mode == "swiglu"   ? run_swiglu()
                   : mode == "gelu"     ? run_gelu()
                                        : run_checks(variants);
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    return rc;
  } catch (const std::exception& e) {
    std::printf("FAIL: exception: %s\n", e.what());
    return 1;
  }
}
