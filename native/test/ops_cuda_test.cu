// CUDA ops vs their CPU references (native/src/ops/*_cpu.cc): seeded random inputs, one row per
// case with the max-abs-diff, the diff relative to the reference's max |value|, the tolerance, and
// PASS/FAIL. Exit status 1 if any case fails. Build: native/test/build_ops_test.sh; run on a GPU.
//
// Tolerances: f32 kernels 1e-4 relative. bf16 weights: the CPU reference gets the same bf16-rounded
// weights (as f32); the GEMV path keeps x in f32, so it is held to 1e-4 too; the tensor-core GEMM
// also rounds x to bf16, so it is held to 1e-2. Sampling must pick the identical token.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../src/core/cuda_common.h"
#include "../src/core/cuda_pool.h"
#include "../src/layers/attention_block.h"
#include "../src/layers/mlp.h"
#include "../src/layers/norm.h"
#include "../src/models/qwen3_vision_cuda.h"
#include "../src/ops/add.h"
#include "../src/ops/add_layernorm.h"
#include "../src/ops/add_rmsnorm.h"
#include "../src/ops/argmax.h"
#include "../src/ops/attention.h"
#include "../src/ops/attention_fp8.h"
#include "../src/ops/attention_gemm.h"
#include "../src/ops/avg_down.h"
#include "../src/ops/cast_bf16.h"
#include "../src/ops/conv1d.h"
#include "../src/ops/conv3d.h"
#include "../src/ops/conv_transpose1d.h"
#include "../src/ops/dup_up.h"
#include "../src/ops/embedding.h"
#include "../src/ops/fill_uniform.h"
#include "../src/ops/flash_attention.h"
#include "../src/ops/flash_attention_wgmma.h"  // flash_wgmma_dims_read
#include "../src/ops/gather4_add.h"
#include "../src/ops/gelu.h"
#include "../src/ops/gemm_wgmma.h"
#include "../src/ops/gemv_decode.h"
#include "../src/ops/gemv_fp8.h"
#include "../src/ops/gemv_swiglu.h"
#include "../src/ops/layernorm.h"
#include "../src/ops/lincomb.h"
#include "../src/ops/matmul.h"
#include "../src/ops/pixel_patchify.h"
#include "../src/ops/qkv_rope.h"
#include "../src/ops/quantize_fp8.h"
#include "../src/ops/rmsnorm.h"
#include "../src/ops/rope.h"
#include "../src/ops/sample_cuda.h"
#include "../src/ops/scatter_add_rows.h"
#include "../src/ops/set_rows.h"
#include "../src/ops/snake_beta.h"
#include "../src/ops/softmax.h"
#include "../src/ops/swiglu.h"
#include "../src/ops/transpose2d.h"
#include "../src/ops/upsample_nearest.h"
#include "../src/ops/wan_latent_norm.h"
#include "../src/ops/wan_rmsnorm.h"

namespace {
std::mt19937 rng(1234);
int failures = 0;
cosmos::CudaPool* pool;
cudaStream_t st;
cosmos::CudaContext ctx;  // {st, pool}: every op under test runs on st, its workspaces from pool

std::vector<float> randv(size_t n, float scale = 1.f) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
// Host -> device, complete on return. A plain cudaMemcpy from pageable memory may return before its last bytes
// land, and st is a non-blocking stream that does not wait for the legacy stream: a kernel launched next could read
// them half-copied (2026-12-02: one row of a re-uploaded input failed that way on the H200).
void h2d(void* d, const void* h, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaDeviceSynchronize());
}
// Inputs go up through h2d, st drained first: a block the pool hands out here may have been an op's workspace
// that a kernel on st still reads (the pool's one-stream rule).
float* up(const std::vector<float>& h) {
  CUDA_CHECK(cudaStreamSynchronize(st));
  float* d = (float*)pool->alloc(h.size() * sizeof(float) + 16);
  h2d(d, h.data(), h.size() * sizeof(float));
  return d;
}
int* upi(const std::vector<int>& h) {
  CUDA_CHECK(cudaStreamSynchronize(st));
  int* d = (int*)pool->alloc(h.size() * sizeof(int) + 16);
  h2d(d, h.data(), h.size() * sizeof(int));
  return d;
}
std::vector<float> down(const float* d, size_t n) {
  CUDA_CHECK(cudaStreamSynchronize(st));
  std::vector<float> h(n);
  CUDA_CHECK(cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
  return h;
}
void report(const char* op, const std::string& cs, const std::vector<float>& ref, const std::vector<float>& got,
            double tol) {
  double mad = 0, mref = 0;
  bool bad = false;
  for (size_t i = 0; i < ref.size(); ++i) {
    double d = std::fabs((double)ref[i] - got[i]);
    if (!(d == d)) bad = true;  // NaN
    mad = std::max(mad, d);
    mref = std::max(mref, (double)std::fabs(ref[i]));
  }
  double rel = mad / std::max(mref, 1e-30);
  bool ok = !bad && rel <= tol;
  if (!ok) ++failures;
  std::printf("| %-10s | %-44s | %10.3e | %10.3e | %7.0e | %s |\n", op, cs.c_str(), mad, rel, tol,
              ok ? "PASS" : "FAIL");
}
void report_exact(const char* op, const std::string& cs, bool ok, const std::string& detail) {
  if (!ok) ++failures;
  std::printf("| %-10s | %-44s | %-32s | %s |\n", op, cs.c_str(), detail.c_str(), ok ? "PASS" : "FAIL");
}
uint16_t f2bf(float f) {  // round to nearest even, as __float2bfloat16_rn
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}
float bf2f(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
std::string shape(const char* fmt, int a, int b = 0, int c = 0, int d = 0) {
  char buf[96];
  std::snprintf(buf, sizeof buf, fmt, a, b, c, d);
  return buf;
}

void test_matmul(int n, int k, int m, bool bf16, bool bias) {
  auto x = randv((size_t)n * k), w = randv((size_t)m * k, 0.05f), b = randv(m);
  std::vector<uint16_t> wb;
  if (bf16) {
    wb.resize(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      wb[i] = f2bf(w[i]);
      w[i] = bf2f(wb[i]);
    }
  }
  std::vector<float> ref((size_t)n * m);
  matmul_cpu(ref.data(), x.data(), w.data(), bias ? b.data() : nullptr, n, k, m, cosmos::CpuContext{});
  float* dx = up(x);
  float* db = bias ? up(b) : nullptr;
  void* dw;
  if (bf16) {
    dw = pool->alloc(wb.size() * 2);
    h2d(dw, wb.data(), wb.size() * 2);
  } else {
    dw = up(w);
  }
  float* dout = (float*)pool->alloc(ref.size() * 4);
  matmul_cuda(dout, dx, dw, bf16 ? WType::BF16 : WType::F32, db, n, k, m, ctx);
  auto got = down(dout, ref.size());
  bool tc = bf16 && n > 8 && k % 8 == 0;  // tensor-core path rounds x to bf16
  report(bf16 ? "matmul_bf16" : "matmul_f32",
         shape("n=%d k=%d m=%d", n, k, m) + (bias ? " +bias" : "") + (n <= 8 ? " gemv" : (tc ? " mma" : " simt")), ref,
         got, tc ? 1e-2 : 1e-4);
  pool->free(dx);
  pool->free(dw);
  pool->free(dout);
  if (db) pool->free(db);
}

void test_rmsnorm(int rows, int dim) {
  auto x = randv((size_t)rows * dim, 3.f), w = randv(dim);
  std::vector<float> ref(x.size());
  rmsnorm_cpu(ref.data(), x.data(), w.data(), rows, dim, 1e-6f);
  float *dx = up(x), *dw = up(w), *dout = (float*)pool->alloc(x.size() * 4);
  rmsnorm_cuda(dout, dx, dw, rows, dim, 1e-6f, ctx);
  report("rmsnorm", shape("rows=%d dim=%d", rows, dim), ref, down(dout, ref.size()), 1e-4);
  pool->free(dx);
  pool->free(dw);
  pool->free(dout);
}

void test_layernorm(int rows, int dim, bool affine) {
  auto x = randv((size_t)rows * dim, 2.f), w = randv(dim), b = randv(dim);
  for (auto& v : x) v += 5.f;  // a large mean: exercises the two-pass variance
  std::vector<float> ref(x.size());
  layernorm_cpu(ref.data(), x.data(), affine ? w.data() : nullptr, affine ? b.data() : nullptr, rows, dim, 1e-6f);
  float *dx = up(x), *dw = up(w), *db = up(b), *dout = (float*)pool->alloc(x.size() * 4);
  layernorm_cuda(dout, dx, affine ? dw : nullptr, affine ? db : nullptr, rows, dim, 1e-6f, ctx);
  report("layernorm", shape("rows=%d dim=%d", rows, dim) + (affine ? " w,b" : " no w,b"), ref, down(dout, ref.size()),
         1e-4);
  pool->free(dx);
  pool->free(dw);
  pool->free(db);
  pool->free(dout);
}

void test_rope(int tokens, int heads, int hd, float theta, std::vector<int> section, bool inter) {
  std::vector<int> pos3(3 * tokens);
  std::uniform_int_distribution<int> pd(0, 5000);
  for (auto& p : pos3) p = pd(rng);
  std::vector<float> c((size_t)tokens * hd), s((size_t)tokens * hd);
  mrope_tables_cpu(c.data(), s.data(), pos3.data(), tokens, hd, theta, section.data(), inter);
  int* dp = upi(pos3);
  float* dc = (float*)pool->alloc(c.size() * 4);
  float* ds = (float*)pool->alloc(s.size() * 4);
  mrope_tables_cuda(dc, ds, dp, tokens, hd, theta, section.data(), inter, ctx);
  std::string cs =
      shape("tok=%d hd=%d sec=%d,%d", tokens, hd, section[0], section[1]) + (inter ? " interleaved" : " chunked");
  report("mrope_tab", cs + " cos", c, down(dc, c.size()), 1e-4);
  report("mrope_tab", cs + " sin", s, down(ds, s.size()), 1e-4);
  auto x = randv((size_t)tokens * heads * hd);
  float* dx = up(x);
  rope_apply_cpu(x.data(), c.data(), s.data(), tokens, heads, hd);
  rope_apply_cuda(dx, dc, ds, tokens, heads, hd, ctx);  // CUDA tables: also checks they compose
  report("rope_apply", shape("tok=%d heads=%d hd=%d", tokens, heads, hd), x, down(dx, x.size()), 1e-4);
  pool->free(dp);
  pool->free(dc);
  pool->free(ds);
  pool->free(dx);
}

// tol 1e-4: the exact f32 kernels. tol 1e-2: the tensor-core path (n_q >= 128, head_dim 64..128), which
// rounds Q, K, V and the probabilities P to bf16 (f32 scores, softmax and accumulation); compared with the
// unrounded f32 reference, as bf16 attention is used by the model (numpy emulation of that rounding on
// these shapes: 2e-3 .. 6e-3 relative).
void test_attention(int n_q, int n_kv, int qh, int kvh, int hd, int q_off, bool causal, double tol = 1e-4) {
  auto q = randv((size_t)n_q * qh * hd), k = randv((size_t)n_kv * kvh * hd), v = randv((size_t)n_kv * kvh * hd);
  float scale = 1.0f / std::sqrt((float)hd);
  std::vector<float> ref((size_t)n_q * qh * hd);
  attention_cpu(ref.data(), q.data(), k.data(), v.data(), n_q, n_kv, qh, kvh, hd, q_off, causal, scale,
                cosmos::CpuContext{});
  float *dq = up(q), *dk = up(k), *dv = up(v), *dout = (float*)pool->alloc(ref.size() * 4);
  attention_cuda(dout, dq, dk, dv, n_q, n_kv, qh, kvh, hd, q_off, causal, scale, ctx);
  char buf[96];
  std::snprintf(buf, sizeof buf, "nq=%d nkv=%d h=%d/%d hd=%d off=%d %s%s", n_q, n_kv, qh, kvh, hd, q_off,
                causal ? "causal" : "full", tol > 1e-4 ? " mma" : "");
  report("attention", buf, ref, down(dout, ref.size()), tol);
  pool->free(dq);
  pool->free(dk);
  pool->free(dv);
  pool->free(dout);
}

void test_elementwise(int n) {
  auto a = randv(n, 3.f), b = randv(n, 3.f);
  float *da = up(a), *db = up(b), *dout = (float*)pool->alloc(n * 4);
  std::vector<float> ref(n);
  swiglu_cpu(ref.data(), a.data(), b.data(), n);
  swiglu_cuda(dout, da, db, n, ctx);
  report("swiglu", shape("n=%d", n), ref, down(dout, n), 1e-4);
  add_cpu(ref.data(), a.data(), b.data(), n);
  add_cuda(dout, da, db, n, ctx);
  report("add", shape("n=%d", n), ref, down(dout, n), 1e-4);
  add_cuda(da, da, db, n, ctx);  // aliasing out == a
  report("add", shape("n=%d out aliases a", n), ref, down(da, n), 1e-4);
  {  // one float in: no 16-byte alignment, so the one-float kernel alone (the others: float4s, then the tail)
    CUDA_CHECK(cudaMemsetAsync(dout, 0, (size_t)n * 4, st));
    add_cuda(dout + 1, db + 1, db + 1, n - 1, ctx);
    std::vector<float> r1(n, 0.f);
    for (int i = 1; i < n; ++i) r1[i] = b[i] + b[i];
    report("add", shape("n=%d, 4-byte aligned", n - 1), r1, down(dout, n), 1e-6);
  }
  h2d(da, a.data(), n * 4);
  ref = a;
  gelu_tanh_cpu(ref.data(), n);
  gelu_tanh_cuda(da, n, ctx);
  report("gelu_tanh", shape("n=%d", n), ref, down(da, n), 1e-4);
  h2d(da, a.data(), n * 4);
  ref = a;
  gelu_erf_cpu(ref.data(), n);
  gelu_erf_cuda(da, n, ctx);
  report("gelu_erf", shape("n=%d", n), ref, down(da, n), 1e-4);
  pool->free(da);
  pool->free(db);
  pool->free(dout);
}

void test_softmax(int rows, int cols) {
  auto x = randv((size_t)rows * cols, 4.f);
  float* dx = up(x);
  softmax_cpu(x.data(), rows, cols);
  softmax_cuda(dx, rows, cols, ctx);
  report("softmax", shape("rows=%d cols=%d", rows, cols), x, down(dx, x.size()), 1e-4);
  pool->free(dx);
}

void test_embedding(int vocab, int dim, int n) {
  auto t = randv((size_t)vocab * dim);
  std::vector<int> ids(n);
  std::uniform_int_distribution<int> d(0, vocab - 1);
  for (auto& i : ids) i = d(rng);
  std::vector<float> ref((size_t)n * dim);
  embedding_cpu(ref.data(), t.data(), ids.data(), n, dim);
  float *dt = up(t), *dout = (float*)pool->alloc(ref.size() * 4);
  int* di = upi(ids);
  embedding_cuda(dout, dt, di, n, dim, ctx);
  report("embedding", shape("vocab=%d dim=%d n=%d", vocab, dim, n), ref, down(dout, ref.size()), 0);
  pool->free(dt);
  pool->free(dout);
  pool->free(di);
}

// bf16 embedding table: rows must equal embedding_cpu on the same bf16 values exactly.
void test_embedding_bf16(int vocab, int dim, int n) {
  auto t = randv((size_t)vocab * dim);
  std::vector<uint16_t> tb(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    tb[i] = f2bf(t[i]);
    t[i] = bf2f(tb[i]);
  }
  std::vector<int> ids(n);
  std::uniform_int_distribution<int> d(0, vocab - 1);
  for (auto& i : ids) i = d(rng);
  std::vector<float> ref((size_t)n * dim);
  embedding_cpu(ref.data(), t.data(), ids.data(), n, dim);
  void* dt = pool->alloc(tb.size() * 2);
  h2d(dt, tb.data(), tb.size() * 2);
  float* dout = (float*)pool->alloc(ref.size() * 4);
  int* di = upi(ids);
  embedding_bf16_cuda(dout, dt, di, n, dim, ctx);
  report("embed_bf16", shape("vocab=%d dim=%d n=%d", vocab, dim, n), ref, down(dout, ref.size()), 0);
  pool->free(dt);
  pool->free(dout);
  pool->free(di);
}

// Fused gate|up GEMV + SwiGLU vs gemv_swiglu_cpu (matmul_cpu + swiglu_cpu), and vs the unfused CUDA
// pair (matmul_cuda n = 1, swiglu_cuda), which it is meant to reproduce.
void test_gemv_swiglu(int k, int inter, bool bf16) {
  auto x = randv(k), w = randv((size_t)2 * inter * k, 0.05f);
  std::vector<uint16_t> wb;
  if (bf16) {
    wb.resize(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      wb[i] = f2bf(w[i]);
      w[i] = bf2f(wb[i]);
    }
  }
  std::vector<float> ref(inter);
  gemv_swiglu_cpu(ref.data(), x.data(), w.data(), k, inter, cosmos::CpuContext{});
  float* dx = up(x);
  void* dw;
  if (bf16) {
    dw = pool->alloc(wb.size() * 2);
    h2d(dw, wb.data(), wb.size() * 2);
  } else {
    dw = up(w);
  }
  float *dout = (float*)pool->alloc(inter * 4), *dgu = (float*)pool->alloc(2 * inter * 4);
  WType wt = bf16 ? WType::BF16 : WType::F32;
  gemv_swiglu_cuda(dout, dx, dw, wt, k, inter, ctx);
  auto got = down(dout, inter);
  report("gemv_swiglu", shape(bf16 ? "k=%d inter=%d bf16" : "k=%d inter=%d f32", k, inter), ref, got, 1e-4);
  matmul_cuda(dgu, dx, dw, wt, nullptr, 1, k, 2 * inter, ctx);
  swiglu_cuda(dgu, dgu, dgu + inter, inter, ctx);
  report("gemv_swiglu", shape("k=%d inter=%d vs matmul+swiglu", k, inter), down(dgu, inter), got, 1e-6);
  pool->free(dx);
  pool->free(dw);
  pool->free(dout);
  pool->free(dgu);
}

// Decode GEMV (8 loads in flight per lane) vs matmul_cpu, and identical to matmul_cuda's GEMV (n = 1).
void test_gemv_decode(int k, int m, bool bf16) {
  auto x = randv(k), w = randv((size_t)m * k, 0.05f);
  std::vector<uint16_t> wb;
  if (bf16) {
    wb.resize(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      wb[i] = f2bf(w[i]);
      w[i] = bf2f(wb[i]);
    }
  }
  std::vector<float> ref(m);
  matmul_cpu(ref.data(), x.data(), w.data(), nullptr, 1, k, m, cosmos::CpuContext{});
  float* dx = up(x);
  void* dw;
  if (bf16) {
    dw = pool->alloc(wb.size() * 2);
    h2d(dw, wb.data(), wb.size() * 2);
  } else {
    dw = up(w);
  }
  float *dout = (float*)pool->alloc(m * 4), *dmm = (float*)pool->alloc(m * 4);
  WType wt = bf16 ? WType::BF16 : WType::F32;
  gemv_decode_cuda(dout, dx, dw, wt, k, m, ctx);
  auto got = down(dout, m);
  report("gemv_dec", shape(bf16 ? "k=%d m=%d bf16" : "k=%d m=%d f32", k, m), ref, got, 1e-4);
  matmul_cuda(dmm, dx, dw, wt, nullptr, 1, k, m, ctx);
  report("gemv_dec", shape("k=%d m=%d vs matmul_cuda gemv", k, m), down(dmm, m), got, 0);
  pool->free(dx);
  pool->free(dw);
  pool->free(dout);
  pool->free(dmm);
}

// Weight-only fp8 decode GEMVs (ops/gemv_fp8.h) vs their CPU twins: the same e4m3 bytes and scales (quantize_fp8_rows
// of random weights), f32 x; only the summation order differs. Odd m and odd inter (the last warp's one row / pair), a
// bias, chunk counts off the 4-chunk loop, the 8B decoder's shapes.
void test_gemv_fp8(int k, int m, bool bias, bool swiglu) {
  auto x = randv(k), w = randv((size_t)m * k, 0.05f), b = randv(m);
  std::vector<uint8_t> w8(w.size());
  std::vector<float> sc(m);
  quantize_fp8_rows_cpu(w8.data(), sc.data(), w.data(), m, k);
  const int outs = swiglu ? m / 2 : m;
  std::vector<float> ref(outs);
  if (swiglu)
    gemv_fp8_swiglu_cpu(ref.data(), x.data(), w8.data(), sc.data(), k, outs);
  else
    gemv_fp8_cpu(ref.data(), x.data(), w8.data(), sc.data(), bias ? b.data() : nullptr, k, m);
  float *dx = up(x), *dsc = up(sc), *db = up(b), *dout = (float*)pool->alloc((size_t)outs * 4);
  auto* dw = (uint8_t*)pool->alloc(w8.size());
  h2d(dw, w8.data(), w8.size());
  if (swiglu)
    gemv_fp8_swiglu_cuda(dout, dx, dw, dsc, k, outs, ctx);
  else
    gemv_fp8_cuda(dout, dx, dw, dsc, bias ? db : nullptr, k, m, ctx);
  report("gemv_fp8",
         shape(swiglu ? "swiglu k=%d inter=%d"
               : bias ? "k=%d m=%d bias"
                      : "k=%d m=%d",
               k, outs),
         ref, down(dout, outs), 1e-4);
  bool threw = false;
  try {
    gemv_fp8_cuda(dout, dx, dw, dsc, nullptr, k - 8, m, ctx);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  report_exact("gemv_fp8", shape("k=%d: an invalid_argument", k - 8), threw, threw ? "thrown" : "not thrown");
  pool->free(dx);
  pool->free(dsc);
  pool->free(db);
  pool->free(dout);
  pool->free(dw);
}

// The flash kernel's persistent launch (the default: one block an SM, each looping over its work items) against one
// item a block (COSMOS_FLASH_PERSISTENT=0): `launch` writes got.size() floats at dout; run again that way, it must
// write the bits of `got`, the persistent launch's output (an item's arithmetic is the same wherever it runs).
template <class F>
void check_one_item_a_block(const char* row, const std::string& what, const std::vector<float>& got, float* dout,
                            F launch) {
  setenv("COSMOS_FLASH_PERSISTENT", "0", 1);
  CUDA_CHECK(cudaMemset(dout, 0xff, got.size() * 4));
  launch();
  unsetenv("COSMOS_FLASH_PERSISTENT");
  report_exact(row, what, std::memcmp(down(dout, got.size()).data(), got.data(), got.size() * 4) == 0,
               "== one item a block (bits)");
}

// flash_attention_cuda (ops/flash_attention.h, the Generator's tensor-core attention) vs attention_cpu on
// random q/k/v of std 1: bf16 rounding of q, k, v and P against the unrounded f32 reference, bound 2e-2 of
// max|ref| (the same rounding measured 2e-3 .. 6e-3 on attention.cu's mma path). Rows "flash", labelled with the
// kernel that ran (flash_attention_path). A call the wgmma kernel takes runs a second time with COSMOS_FLASH=mma,
// so both kernels are checked on every row they serve; on an sm_90 device full attention at head_dim 128 must take
// the wgmma kernel (row "flash path": a build without its sm_90a object would silently keep mma.sync); so must
// head dims 72..128 in steps of 8, causal or not (zero-padded to 128 there).
void test_flash_attention(int n_q, int n_kv, int qh, int kvh, int hd, int q_off, bool causal) {
  auto q = randv((size_t)n_q * qh * hd), k = randv((size_t)n_kv * kvh * hd), v = randv((size_t)n_kv * kvh * hd);
  const float scale = 1.0f / std::sqrt((float)hd);
  std::vector<float> ref((size_t)n_q * qh * hd);
  attention_cpu(ref.data(), q.data(), k.data(), v.data(), n_q, n_kv, qh, kvh, hd, q_off, causal, scale,
                cosmos::CpuContext{});
  float *dq = up(q), *dk = up(k), *dv = up(v), *dout = (float*)pool->alloc(ref.size() * 4);
  auto run = [&] {
    const std::string path = flash_attention_path(n_q, n_kv, hd, causal, ctx.stream);
    CUDA_CHECK(cudaMemset(dout, 0xff, ref.size() * 4));  // NaN: an output element never written fails the row
    flash_attention_cuda(dout, dq, dk, dv, n_q, n_kv, qh, kvh, hd, q_off, causal, scale, ctx);
    char buf[128];
    std::snprintf(buf, sizeof buf, "nq=%d nkv=%d h=%d/%d hd=%d off=%d %s [%s]", n_q, n_kv, qh, kvh, hd, q_off,
                  causal ? "causal" : "full", path.c_str());
    report("flash", buf, ref, down(dout, ref.size()), 2e-2);
    return path;
  };
  const std::string path = run();
  int dev = 0, major = 0, minor = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  if (major == 9 && minor == 0 && hd > 64 && hd <= 128 && hd % 8 == 0 && flash_attention_supported(n_q, n_kv, hd))
    report_exact("flash path", "hd 72..128 on sm_90", path == "wgmma", "ran " + path);
  if (path == "wgmma") {
    char what[96];
    std::snprintf(what, sizeof what, "nq=%d nkv=%d h=%d/%d hd=%d %s", n_q, n_kv, qh, kvh, hd,
                  causal ? "causal" : "full");
    check_one_item_a_block("flash persistent", what, down(dout, ref.size()), dout, [&] {
      flash_attention_cuda(dout, dq, dk, dv, n_q, n_kv, qh, kvh, hd, q_off, causal, scale, ctx);
    });
    setenv("COSMOS_FLASH", "mma", 1);
    run();
    unsetenv("COSMOS_FLASH");
  }
  pool->free(dq);
  pool->free(dk);
  pool->free(dv);
  pool->free(dout);
}
// flash_attention_segments_cuda (the tower's frames in one launch) vs attention_cpu segment by segment; the segments
// get different inputs, so a segment reading another's operands or writing another's rows fails the row.
void test_flash_attention_segments(int seg_len, int segments, int qh, int kvh, int hd, bool causal) {
  const size_t qs = (size_t)seg_len * qh * hd, ks = (size_t)seg_len * kvh * hd;
  auto q = randv(qs * segments), k = randv(ks * segments), v = randv(ks * segments);
  const float scale = 1.0f / std::sqrt((float)hd);
  std::vector<float> ref(qs * segments);
  for (int z = 0; z < segments; ++z)
    attention_cpu(ref.data() + z * qs, q.data() + z * qs, k.data() + z * ks, v.data() + z * ks, seg_len, seg_len, qh,
                  kvh, hd, 0, causal, scale, cosmos::CpuContext{});
  float *dq = up(q), *dk = up(k), *dv = up(v), *dout = (float*)pool->alloc(ref.size() * 4);
  CUDA_CHECK(cudaMemset(dout, 0xff, ref.size() * 4));
  flash_attention_segments_cuda(dout, dq, dk, dv, seg_len, segments, qh, kvh, hd, causal, scale, ctx);
  char buf[128];
  std::snprintf(buf, sizeof buf, "%d x %d rows h=%d/%d hd=%d %s [%s]", segments, seg_len, qh, kvh, hd,
                causal ? "causal" : "full", flash_attention_path(seg_len, seg_len, hd, causal, ctx.stream));
  const std::vector<float> got = down(dout, ref.size());
  report("flash segments", buf, ref, got, 2e-2);
  check_one_item_a_block("flash persistent", buf, got, dout, [&] {
    flash_attention_segments_cuda(dout, dq, dk, dv, seg_len, segments, qh, kvh, hd, causal, scale, ctx);
  });
  pool->free(dq);
  pool->free(dk);
  pool->free(dv);
  pool->free(dout);
}
// attention_fp8_cuda (ops/attention_fp8.h, the Generator's fp8 attention) vs its CPU twin attention_fp8_cpu (the same
// 8-bit operands: q and k int8, v e4m3; the same tiles and P rounding). The scores are exact integers on both; they
// differ by f32 sum order, ex2.approx and the tensor cores' fp8 accumulation of P V (~14 bits kept: DeepSeek-V3's
// report), and each difference that moves a probability across an e4m3 rounding boundary changes it by a whole e4m3
// step (6-12%): on the H200 (2026-12-01) 3.6e-4 - 3.7e-3 of max|ref| on the worst element, relative L2 1.3e-4 -
// 1.1e-3, so the rows bound them at 2e-2 and 5e-3 ("attn fp8 l2"). Then vs the f32 attention_cpu, what the 8 bits
// cost (row "fp8 vs f32": 3.6e-2 - 5.7e-2 of max|ref| at std 1, bound 7e-2; 9.8e-2 on peaked rows, bound 0.2; with q
// and k in e4m3 these were 7.2e-2 - 9.4e-2 and 0.33). A single key is exact up to f32 rounding on both: the output is
// v's e4m3 value times its scale (p = 256 exactly).
void test_attention_fp8(int n_q, int n_kv, int qh, int kvh, int hd, int q_off, bool causal, float qk_scale = 1.f) {
  if (!attention_fp8_cuda_supported(n_kv, hd, ctx.stream)) {
    report_exact("attn fp8", "supported on this device", false, "no sm_90a fp8 attention");
    return;
  }
  auto q = randv((size_t)n_q * qh * hd, qk_scale), k = randv((size_t)n_kv * kvh * hd, qk_scale),
       v = randv((size_t)n_kv * kvh * hd);
  const float scale = 1.0f / std::sqrt((float)hd);
  std::vector<float> twin((size_t)n_q * qh * hd), ref(twin.size());
  attention_fp8_cpu(twin.data(), q.data(), k.data(), v.data(), n_q, n_kv, qh, kvh, hd, q_off, causal, scale,
                    cosmos::CpuContext{});
  attention_cpu(ref.data(), q.data(), k.data(), v.data(), n_q, n_kv, qh, kvh, hd, q_off, causal, scale,
                cosmos::CpuContext{});
  float *dq = up(q), *dk = up(k), *dv = up(v), *dout = (float*)pool->alloc(twin.size() * 4);
  CUDA_CHECK(cudaMemset(dout, 0xff, twin.size() * 4));  // NaN: an output element never written fails the row
  attention_fp8_cuda(dout, dq, dk, dv, n_q, n_kv, qh, kvh, hd, q_off, causal, scale, ctx);
  const std::vector<float> got = down(dout, twin.size());
  char buf[128];
  std::snprintf(buf, sizeof buf, "nq=%d nkv=%d h=%d/%d hd=%d off=%d %s x%.0f", n_q, n_kv, qh, kvh, hd, q_off,
                causal ? "causal" : "full", qk_scale);
  report("attn fp8", buf, twin, got, n_kv == 1 ? 1e-5 : 2e-2);
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < got.size(); ++i)
    d2 += ((double)got[i] - twin[i]) * ((double)got[i] - twin[i]), r2 += (double)twin[i] * twin[i];
  const double l2 = std::sqrt(d2 / std::max(r2, 1e-30));
  const bool l2_ok = l2 <= 5e-3;
  if (!l2_ok) ++failures;
  std::printf("| %-10s | %-44s | rel l2 %10.3e (tol 5e-3)        | %s |\n", "attn fp8 l2", buf, l2,
              l2_ok ? "PASS" : "FAIL");
  report("fp8 vs f32", buf, ref, got, qk_scale > 1.f ? 0.2 : n_kv == 1 ? 0.1 : 7e-2);
  // The same keys in two parts ([und | gen]: the first third, then the rest, read in place): the same bits.
  const int na = n_kv / 3;
  const size_t kvrow = (size_t)kvh * hd;
  CUDA_CHECK(cudaMemset(dout, 0xff, twin.size() * 4));
  attention_fp8_cuda(dout, dq, dk, dv, na, dk + na * kvrow, dv + na * kvrow, n_kv - na, n_q, qh, kvh, hd, q_off, causal,
                     scale, ctx);
  const std::vector<float> split = down(dout, twin.size());
  report_exact("attn fp8 split", buf, std::memcmp(split.data(), got.data(), got.size() * 4) == 0,
               "k/v in two parts == one tensor (bits)");
  check_one_item_a_block("attn fp8 persistent", buf, got, dout, [&] {
    attention_fp8_cuda(dout, dq, dk, dv, n_q, n_kv, qh, kvh, hd, q_off, causal, scale, ctx);
  });
  pool->free(dq);
  pool->free(dk);
  pool->free(dv);
  pool->free(dout);
}
void test_flash_attention_rows() {
  test_flash_attention_segments(300, 3, 16, 16, 72, false);  // the tower's head dim, ragged segment tails
  test_flash_attention_segments(200, 2, 8, 2, 128, true);    // causal, GQA
  test_flash_attention_segments(100, 2, 4, 2, 16, false);    // a head dim the mma.sync kernel serves: one call each
  test_flash_attention(300, 300, 4, 2, 16, 0, false);        // full, GQA 4/2, hd 16, ragged tails (300 = 2x128 + 44)
  test_flash_attention(300, 300, 4, 2, 16, 0, true);         // causal
  test_flash_attention(300, 300, 32, 8, 128, 0, false);      // the Generator's heads, full
  test_flash_attention(300, 300, 32, 8, 128, 0, true);
  test_flash_attention(512, 1100, 32, 8, 128, 0, false);   // [und | gen] keys: more keys than queries, ragged
  test_flash_attention(512, 1100, 32, 8, 128, 588, true);  // q_offset > 0 causal: the last 512 of 1100 positions
  test_flash_attention(200, 1000, 4, 2, 64, 777, true);    // hd 64, q_offset, 72 rows in the last query tile
  test_flash_attention(130, 70, 4, 4, 72, 0, true);        // queries past the cache end (see all 70 keys); hd 72 -> 80
  test_flash_attention(64, 64, 2, 1, 96, 0, false);        // exactly one key tile, half a query tile, hd 96
  test_flash_attention(100, 90, 3, 3, 30, 5, true);        // hd 30 (padded to 32, odd dims), q_offset 5
  test_flash_attention(40, 300, 4, 2, 128, 260, true);     // n_q < 64: falls back to attention_cuda
  // The wgmma kernel's edges (128 x 128 tiles): one whole tile; a single key (127 of 128 masked); many key tiles
  // through both stages several times, GQA 4, ragged query tile; the offset is ignored by full attention.
  test_flash_attention(128, 128, 1, 1, 128, 0, false);
  test_flash_attention(200, 1, 2, 1, 128, 0, false);
  test_flash_attention(1000, 2500, 8, 2, 128, 17, false);
  // Causal on the wgmma kernel: the Qwen3 prefill (q_offset 0, 910 = 7 x 128 + 14); a cached prefix whose length is
  // no multiple of 128 (the diagonal crosses two key tiles of every query tile); more queries than keys (rows past
  // the cache see every key). The Qwen3-VL tower's frame: hd 72 (padded to 128), 1620 patches, full. hd 80, causal.
  test_flash_attention(910, 910, 32, 8, 128, 0, true);
  test_flash_attention(300, 1000, 8, 2, 128, 700, true);
  test_flash_attention(260, 130, 2, 2, 128, 0, true);
  test_flash_attention(1620, 1620, 16, 16, 72, 0, false);
  test_flash_attention(257, 257, 4, 2, 80, 3, true);
  // fp8: the Generator's heads ([und | gen] keys, ragged tiles), GQA 4, causal with an offset, hd 64 (the mini
  // Generator's, zero-padded to 128), one key, larger scores (q and k x 3: peaked rows), many key tiles, hd 72.
  test_attention_fp8(300, 300, 32, 8, 128, 0, false);
  test_attention_fp8(512, 1100, 32, 8, 128, 0, false);
  test_attention_fp8(512, 1100, 32, 8, 128, 588, true);
  test_attention_fp8(200, 1000, 4, 2, 64, 777, true);
  test_attention_fp8(200, 1, 2, 1, 128, 0, false);
  test_attention_fp8(300, 700, 8, 2, 128, 0, false, 3.f);
  test_attention_fp8(1000, 2500, 8, 2, 128, 17, false);
  test_attention_fp8(50, 130, 3, 3, 72, 0, false);
  test_attention_fp8(1000, 1100, 32, 8, 128, 0, false);  // 256 items: the persistent blocks loop
}

// Device-length decode attention (the CUDA graph's kernel): vs attention_cpu and bit-identical to
// attention_cuda(n_q = 1, q_offset = n_kv - 1), for cache lengths from 1 to max_kv (split plans of
// 1 .. max splits, surplus z-blocks exiting).
void test_attention_decode(int max_kv, int qh, int kvh, int hd, std::vector<int> lens) {
  auto q = randv((size_t)qh * hd), k = randv((size_t)max_kv * kvh * hd), v = randv((size_t)max_kv * kvh * hd);
  float scale = 1.0f / std::sqrt((float)hd);
  float *dq = up(q), *dk = up(k), *dv = up(v), *dout = (float*)pool->alloc(qh * hd * 4),
        *dref = (float*)pool->alloc(qh * hd * 4);
  float* part = (float*)pool->alloc(std::max<size_t>(attention_decode_workspace(max_kv, qh, kvh, hd), 1) * 4);
  int* dn = upi({0});
  double worst = 0;
  bool same = true;
  std::vector<float> ref((size_t)qh * hd);
  for (int n : lens) {
    attention_cpu(ref.data(), q.data(), k.data(), v.data(), 1, n, qh, kvh, hd, n - 1, true, scale,
                  cosmos::CpuContext{});
    h2d(dn, &n, 4);
    attention_decode_cuda(dout, dq, dk, dv, dn, max_kv, qh, kvh, hd, scale, part, ctx);
    auto got = down(dout, ref.size());
    attention_cuda(dref, dq, dk, dv, 1, n, qh, kvh, hd, n - 1, true, scale, ctx);
    auto eager = down(dref, ref.size());
    same = same && std::memcmp(got.data(), eager.data(), got.size() * 4) == 0;
    double mad = 0, mref = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      mad = std::max(mad, (double)std::fabs(ref[i] - got[i]));
      mref = std::max(mref, (double)std::fabs(ref[i]));
    }
    if (!(mad / std::max(mref, 1e-30) <= worst)) worst = mad / std::max(mref, 1e-30);  // NaN sticks
    if (!(worst <= 1e-4)) break;
  }
  char buf[96];
  const int cl = attention_decode_cluster(qh, kvh, hd);  // which kernel ran: 0 = split + combine
  char kern[24];
  if (cl)
    std::snprintf(kern, sizeof kern, "cluster %d", cl);
  else
    std::snprintf(kern, sizeof kern, "split");
  std::snprintf(buf, sizeof buf, "max_kv=%d h=%d/%d hd=%d, %zu lengths, %s", max_kv, qh, kvh, hd, lens.size(), kern);
  report_exact("att_decode", buf, worst <= 1e-4 && same,
               (same ? std::string("== attention_cuda, rel ") : std::string("DIFFERS from attention_cuda, rel ")) +
                   std::to_string(worst));
  pool->free(dq);
  pool->free(dk);
  pool->free(dv);
  pool->free(dout);
  pool->free(dref);
  pool->free(part);
  pool->free(dn);
}

// offset: x starts that many floats into its buffer (1: not 16-byte aligned, the kernel's scalar path). nan_inf: NaN
// and -inf scattered through x (NaN never wins; see argmax_cpu).
void test_argmax(int n, bool tie, int offset = 0, bool nan_inf = false) {
  auto x = randv(n + offset);
  if (tie) {  // equal maxima: the first must win (in different float4 groups and lanes, and in one group)
    for (int i : {n / 3, 2 * n / 3, n - 1, n / 3 + 1}) x[offset + i] = 100.f;
  }
  if (nan_inf)
    for (int i = 0; i < n; i += 7) x[offset + i] = i % 2 ? NAN : -INFINITY;
  int ref = argmax_cpu(x.data() + offset, n);
  float* dx = up(x);
  int* di = (int*)pool->alloc(4);
  argmax_cuda(di, dx + offset, n, ctx);
  CUDA_CHECK(cudaStreamSynchronize(st));  // st is non-blocking: the plain cudaMemcpy below does not wait for it
  int got = -1;
  CUDA_CHECK(cudaMemcpy(&got, di, 4, cudaMemcpyDeviceToHost));
  report_exact("argmax",
               shape("n=%d", n) + (tie ? " tie" : "") + (offset ? " unaligned" : "") + (nan_inf ? " nan/-inf" : ""),
               got == ref, "cpu " + std::to_string(ref) + " cuda " + std::to_string(got));
  pool->free(dx);
  pool->free(di);
}

// CUDA sampler vs sample_cpu on 20 random rows. Greedy (with or without penalties) must give the same
// id bit for bit. Sampled: the same seed must repeat run to run on the GPU, the PRNG must advance as on
// the CPU (one step per token), and the ids usually agree with the CPU's (reported; sample_cuda.h says
// when they may not).
void test_sample(int vocab, SamplingParams p, const char* name) {
  std::vector<int> hist(300);
  std::uniform_int_distribution<int> d(0, vocab - 1);
  for (auto& h : hist) h = d(rng) % 500;  // repeats: each token must be penalised once
  int same = 0, repeat = 0, draws = 20;
  uint64_t s_cpu = 42, s_gpu = 42, s_gpu2 = 42;
  int* dh = upi(hist);
  int* dtmp = (int*)pool->alloc(4);
  std::string first;
  for (int r = 0; r < draws; ++r) {
    auto x = randv(vocab, 2.f);
    float* dx = up(x);
    float* dx2 = up(x);
    int a = sample_cpu(x.data(), vocab, p, hist.data(), (int)hist.size(), &s_cpu);
    int b = sample_cuda(dx, vocab, p, dh, (int)hist.size(), &s_gpu, nullptr, dtmp, ctx);
    int c = sample_cuda(dx2, vocab, p, dh, (int)hist.size(), &s_gpu2, nullptr, dtmp, ctx);
    same += a == b;
    repeat += b == c;
    if (r == 0) first = std::to_string(a) + "/" + std::to_string(b);
    pool->free(dx);
    pool->free(dx2);
  }
  const bool greedy = !(p.temperature > 0);
  const bool ok = repeat == draws && s_cpu == s_gpu && s_gpu == s_gpu2 && (!greedy || same == draws);
  report_exact("sample", std::string(name), ok,
               std::to_string(same) + "/" + std::to_string(draws) + " = cpu, " + std::to_string(repeat) + "/" +
                   std::to_string(draws) + " repeat (first " + first + ")");
  pool->free(dh);
  pool->free(dtmp);
}

// A forced distribution over 5 tokens (every other logit -1e4) drawn `n` times on the GPU and by
// sample_cpu: both frequency vectors must match the probabilities the rules give (temperature, top-k,
// top-p renormalised), within 5 standard errors + 0.002. vocab 151936 (the real row) or small.
void test_sample_distribution(int vocab, SamplingParams p, const std::vector<double>& want, const char* name, int n,
                              int n_cpu) {
  const double base[5] = {0.4, 0.3, 0.15, 0.1, 0.05};
  const int where[5] = {vocab / 2, 7, vocab - 1, 0, vocab / 3};  // scattered: index order != value order
  std::vector<float> x(vocab, -1e4f);
  for (int i = 0; i < 5; ++i) x[where[i]] = (float)std::log(base[i]);
  float* dx = up(x);
  int* dtmp = (int*)pool->alloc(4);
  std::vector<int> gpu(5, 0), cpu(5, 0);
  int stray = 0;
  uint64_t sg = 777, sc = 777;
  for (int r = 0; r < n; ++r) {
    int g = sample_cuda(dx, vocab, p, nullptr, 0, &sg, nullptr, dtmp, ctx);
    bool fg = false;
    for (int i = 0; i < 5; ++i)
      if (g == where[i]) gpu[i]++, fg = true;
    stray += !fg;
  }
  std::vector<float> h(vocab);
  for (int r = 0; r < n_cpu; ++r) {  // fewer: sample_cpu sorts the whole row when there is no top-k
    h = x;
    int c = sample_cpu(h.data(), vocab, p, nullptr, 0, &sc);
    bool fc = false;
    for (int i = 0; i < 5; ++i)
      if (c == where[i]) cpu[i]++, fc = true;
    stray += !fc;
  }
  double worst = 0;
  bool ok = stray == 0;
  for (int i = 0; i < 5; ++i) {
    const double tg = 5 * std::sqrt(want[i] * (1 - want[i]) / n) + 0.002;
    const double tc = 5 * std::sqrt(want[i] * (1 - want[i]) / n_cpu) + 0.002;
    const double eg = std::fabs((double)gpu[i] / n - want[i]), ec = std::fabs((double)cpu[i] / n_cpu - want[i]);
    worst = std::max(worst, std::max(eg / tg, ec / tc));
    ok &= eg <= tg && ec <= tc;
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "gpu %.3f/%.3f/%.3f/%.3f/%.3f, worst %.2f tol", (double)gpu[0] / n, (double)gpu[1] / n,
                (double)gpu[2] / n, (double)gpu[3] / n, (double)gpu[4] / n, worst);
  report_exact("sample dist", shape("V=%d n=%d ", vocab, n) + name, ok, buf);
  pool->free(dx);
  pool->free(dtmp);
}

// Penalties change exactly the tokens of the history, once each, as sample_cpu does (bitwise), and
// top-k 1 / a vanishing temperature / a tiny top-p give the argmax.
void test_sample_rules(int vocab) {
  std::mt19937 g(99);
  std::normal_distribution<float> nd(0.f, 2.f);
  std::vector<float> x(vocab);
  for (auto& v : x) v = nd(g);
  x[vocab / 5] = 12.f;  // a clear maximum (a vanishing temperature must find it)
  std::vector<int> hist = {3, 3, 17, vocab - 1, 17, 40000 % vocab, 5};
  int* dh = upi(hist);
  int* dtmp = (int*)pool->alloc(4);
  {
    SamplingParams p{0.f, 0, 1.f, 1.7f, 0.25f};
    float* dx = up(x);
    std::vector<float> h = x;
    uint64_t s1 = 1, s2 = 1;
    int a = sample_cpu(h.data(), vocab, p, hist.data(), (int)hist.size(), &s1);
    int b = sample_cuda(dx, vocab, p, dh, (int)hist.size(), &s2, nullptr, dtmp, ctx);
    auto got = down(dx, vocab);
    int changed = 0;
    bool only_hist = true, bitwise = std::memcmp(got.data(), h.data(), sizeof(float) * vocab) == 0;
    for (int t = 0; t < vocab; ++t)
      if (got[t] != x[t]) {
        ++changed;
        only_hist &= std::find(hist.begin(), hist.end(), t) != hist.end();
      }
    report_exact("sample rules", shape("V=%d penalties rep 1.7 presence 0.25", vocab),
                 a == b && bitwise && only_hist && changed == 5,
                 "changed " + std::to_string(changed) + " (5 distinct), " + (bitwise ? "== cpu bitwise" : "DIFFERS"));
    pool->free(dx);
  }
  const int best = argmax_cpu(x.data(), vocab);
  float* dx = up(x);
  struct Case {
    SamplingParams p;
    const char* what;
  };
  const Case cases[] = {{{0.8f, 1, 1.f, 1.f, 0.f}, "top_k 1 == argmax"},
                        {{1e-3f, 0, 1.f, 1.f, 0.f}, "T 1e-3 == argmax"},
                        {{1e-3f, 20, 0.9f, 1.f, 0.f}, "T 1e-3 top_k 20 == argmax"},
                        {{1.f, 0, 1e-6f, 1.f, 0.f}, "top_p 1e-6 == argmax"}};
  for (const auto& c : cases) {
    int hits = 0;
    uint64_t s = 5;
    for (int r = 0; r < 50; ++r) hits += sample_cuda(dx, vocab, c.p, nullptr, 0, &s, nullptr, dtmp, ctx) == best;
    report_exact("sample rules", shape("V=%d ", vocab) + c.what, hits == 50, std::to_string(hits) + "/50");
  }
  pool->free(dx);
  pool->free(dh);
  pool->free(dtmp);
}

// Device time of one draw on the 151936 row (the loop's per-token cost at the default settings).
void bench_sample(SamplingParams p, const char* name) {
  const int vocab = 151936;
  auto x = randv(vocab, 2.f);
  float* dx = up(x);
  int* dtmp = (int*)pool->alloc(4);
  uint64_t s = 3;
  sample_cuda(dx, vocab, p, nullptr, 0, &s, nullptr, dtmp, ctx);
  const int reps = 200;
  auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) sample_cuda(dx, vocab, p, nullptr, 0, &s, nullptr, dtmp, ctx);
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / reps;
  std::vector<float> h = x;
  t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < 20; ++r) {
    h = x;
    sample_cpu(h.data(), vocab, p, nullptr, 0, &s);
  }
  double cpu_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 20;
  std::printf(
      "sample time V=151936 %s: GPU %.1f us per draw (launch to id on the host), sample_cpu %.1f us (+ the row's "
      "copy)\n",
      name, us, cpu_us);
  pool->free(dx);
  pool->free(dtmp);
}
}  // namespace

// ---- Ops moved out of the models (issue 11 item 2) and the shared layers' CUDA paths vs their CPU twins.

// qkv_rope: decoder prefill (separate q/k/v, in place, k/v to cache rows, GQA), the tower's split (fused
// rows, no norm), and the decode graph's step (fused row, cache row read from device memory).
void test_qkv_rope(int n, int heads, int kv, int hd, int row0, bool norm, bool fused, bool row_dev) {
  const int QH = heads * hd, KH = kv * hd, W = QH + 2 * KH;
  auto proj = randv((size_t)n * W), cs = randv((size_t)n * hd), sn = randv((size_t)n * hd);
  auto qw = randv(hd), kw = randv(hd);
  const size_t q_off = 0, k_off = fused ? QH : (size_t)n * QH, v_off = fused ? QH + KH : (size_t)n * (QH + KH);
  const int qs = fused ? W : QH, kvs = fused ? W : KH;
  const bool inplace = !fused || n == 1;
  std::vector<float> rin = proj, rq((size_t)n * QH), rk((size_t)(row0 + n) * KH, 0.f), rv = rk;
  float* rqo = inplace ? rin.data() : rq.data();
  qkv_rope_cpu(rqo, rk.data(), rv.data(), rin.data() + q_off, rin.data() + k_off, rin.data() + v_off, qs, kvs,
               norm ? qw.data() : nullptr, norm ? kw.data() : nullptr, cs.data(), sn.data(), n, heads, kv, hd, 1e-6f,
               row0);
  std::vector<float> refq(rqo, rqo + (size_t)n * QH);
  float* dp = up(proj);
  float* dq = inplace ? dp : up(rq);
  float* dk = up(std::vector<float>(rk.size(), 0.f));
  float* dv = up(std::vector<float>(rv.size(), 0.f));
  int* drow = row_dev ? upi({row0}) : nullptr;
  qkv_rope_cuda(dq, dk, dv, dp + q_off, dp + k_off, dp + v_off, qs, kvs, norm ? up(qw) : nullptr,
                norm ? up(kw) : nullptr, up(cs), up(sn), n, heads, kv, hd, 1e-6f, row_dev ? 0 : row0, drow, ctx);
  const std::string c = shape("n=%d h=%d/%d hd=%d", n, heads, kv, hd) + (norm ? " norm" : "") +
                        (fused ? " fused" : "") + shape(" row0=%d", row0) + (row_dev ? " (on device)" : "");
  report("qkv_rope", c + " q", refq, down(dq, refq.size()), 1e-4);
  report("qkv_rope", c + " k", rk, down(dk, rk.size()), 1e-4);
  report("qkv_rope", c + " v", rv, down(dv, rv.size()), 0);
}

// qkv_rope_int8q_cuda: q written straight as the 8-bit attention's int8 operand. Against qkv_rope_cuda's f32 q:
// the bytes and scales are that q rounded as attention_fp8.h says (int8_scale_for_absmax of each (row, head)'s
// absmax, int8_bits of each value over it; the padding rows zero with the floor scale), k and v the same bits, and
// the attention over [extra | own] keys the same output bits as attention_fp8_cuda from the f32 q.
void test_qkv_rope_int8q(int n, int heads, int kv, int n_extra, bool fused) {
  const int hd = 128, QH = heads * hd, KH = kv * hd, W = QH + 2 * KH;
  auto proj = randv((size_t)n * W), cs = randv((size_t)n * hd), sn = randv((size_t)n * hd);
  auto qw = randv(hd), kw = randv(hd), ke = randv((size_t)n_extra * KH), ve = randv((size_t)n_extra * KH);
  const size_t k_off = fused ? QH : (size_t)n * QH, v_off = fused ? QH + KH : (size_t)n * (QH + KH);
  const int qs = fused ? W : QH, kvs = fused ? W : KH;
  float *dp = up(proj), *dqw = up(qw), *dkw = up(kw), *dcs = up(cs), *dsn = up(sn), *dke = up(ke), *dve = up(ve);
  float *dq = up(std::vector<float>((size_t)n * QH, 0.f)), *dk1 = up(std::vector<float>((size_t)n * KH, 0.f)),
        *dv1 = up(std::vector<float>((size_t)n * KH, 0.f)), *dk2 = up(std::vector<float>((size_t)n * KH, 0.f)),
        *dv2 = up(std::vector<float>((size_t)n * KH, 0.f));
  qkv_rope_cuda(dq, dk1, dv1, dp, dp + k_off, dp + v_off, qs, kvs, dqw, dkw, dcs, dsn, n, heads, kv, hd, 1e-6f, 0,
                nullptr, ctx);
  const int pad = attention_fp8_rows_pad(n);
  auto* dq8 = (uint8_t*)pool->alloc((size_t)heads * pad * 128);
  auto* dq8s = (float*)pool->alloc((size_t)heads * pad * 4);
  CUDA_CHECK(cudaMemsetAsync(dq8, 0x5a, (size_t)heads * pad * 128, st));  // the padding rows must be written
  CUDA_CHECK(cudaMemsetAsync(dq8s, 0x5a, (size_t)heads * pad * 4, st));
  const bool ran = qkv_rope_int8q_cuda(Int8QHeads{dq8, dq8s}, dk2, dv2, dp, dp + k_off, dp + v_off, qs, kvs, dqw, dkw,
                                       dcs, dsn, n, heads, kv, hd, 1e-6f, 0, ctx);
  const std::string c = shape("n=%d h=%d/%d extra=%d", n, heads, kv, n_extra) + (fused ? " fused" : "");
  report_exact("qkv_rope_i8q", c + " runs", ran, "head_dim 128, both norms");
  const std::vector<float> q = down(dq, (size_t)n * QH), s = down(dq8s, (size_t)heads * pad);
  std::vector<uint8_t> q8((size_t)heads * pad * 128);
  CUDA_CHECK(cudaMemcpyAsync(q8.data(), dq8, q8.size(), cudaMemcpyDeviceToHost, st));
  CUDA_CHECK(cudaStreamSynchronize(st));
  bool same = true;
  for (int h = 0; h < heads; ++h)
    for (int r = 0; r < pad; ++r) {
      float m = 0.f;
      for (int d = 0; r < n && d < hd; ++d) m = std::max(m, std::fabs(q[((size_t)r * heads + h) * hd + d]));
      const float sc = int8_scale_for_absmax(m);
      const size_t row = (size_t)h * pad + r;
      same = same && s[row] == sc;
      for (int d = 0; d < hd; ++d)
        same = same && q8[row * 128 + d] == (r < n ? (uint8_t)int8_bits(q[((size_t)r * heads + h) * hd + d] / sc) : 0);
    }
  report_exact("qkv_rope_i8q", c + " q bytes, scales", same,
               "== qkv_rope_cuda's q rounded to int8 (padding: 0, floor)");
  report("qkv_rope_i8q", c + " k (bits)", down(dk1, (size_t)n * KH), down(dk2, (size_t)n * KH), 0);
  report("qkv_rope_i8q", c + " v (bits)", down(dv1, (size_t)n * KH), down(dv2, (size_t)n * KH), 0);
  float *o1 = (float*)pool->alloc((size_t)n * QH * 4), *o2 = (float*)pool->alloc((size_t)n * QH * 4);
  const float scale = 1.f / std::sqrt((float)hd);
  attention_fp8_cuda(o1, dq, dke, dve, n_extra, dk1, dv1, n, n, heads, kv, hd, n_extra, false, scale, ctx);
  attention_fp8_cuda(o2, Int8QHeads{dq8, dq8s}, dke, dve, n_extra, dk2, dv2, n, n, heads, kv, hd, n_extra, false, scale,
                     ctx);
  report("qkv_rope_i8q", c + " attention out (bits)", down(o1, (size_t)n * QH), down(o2, (size_t)n * QH), 0);
  for (void* b : {(void*)dq8, (void*)dq8s, (void*)o1, (void*)o2}) pool->free(b);
}

void test_add_rmsnorm(int rows, int dim) {
  auto x = randv((size_t)rows * dim), h = randv((size_t)rows * dim), w = randv(dim);
  float *dx = up(x), *dh = up(h), *dw = up(w);
  add_rmsnorm_cpu(h.data(), x.data(), h.data(), w.data(), rows, dim, 1e-6f);
  add_rmsnorm_cuda(dh, dx, dh, dw, rows, dim, 1e-6f, ctx);
  report("add_rmsnrm", shape("rows=%d dim=%d x", rows, dim), x, down(dx, x.size()), 1e-6);
  report("add_rmsnrm", shape("rows=%d dim=%d out (aliases h)", rows, dim), h, down(dh, h.size()), 1e-4);
}

// add_rmsnorm_fp8_cuda: the x, bytes and scales of add_rmsnorm_cuda then quantize_fp8_rows_cuda, bit for bit (the same
// reductions in the same order, the f32 rows never written), and the CPU twin's values within one e4m3 step (the
// CUDA and CPU sums of squares differ in order, so a value on a rounding boundary may round the other way: a step is
// 1/16 .. 1/8 of the value, at most 32/448 = 0.071 of the largest).
void test_add_rmsnorm_fp8(int rows, int dim) {
  auto x = randv((size_t)rows * dim), h = randv((size_t)rows * dim), w = randv(dim);
  for (int i = 0; i < dim; ++i) x[i] *= 40.f;  // one row far larger than the others
  float *dx1 = up(x), *dx2 = up(x), *dh = up(h), *dw = up(w), *dout = (float*)pool->alloc((size_t)rows * dim * 4);
  auto* dq1 = (uint8_t*)pool->alloc((size_t)rows * dim);
  auto* dq2 = (uint8_t*)pool->alloc((size_t)rows * dim);
  float *ds1 = (float*)pool->alloc((size_t)rows * 4), *ds2 = (float*)pool->alloc((size_t)rows * 4);
  add_rmsnorm_cuda(dout, dx1, dh, dw, rows, dim, 1e-6f, ctx);
  quantize_fp8_rows_cuda(dq1, ds1, dout, rows, dim, ctx);
  add_rmsnorm_fp8_cuda(dq2, ds2, dx2, dh, dw, rows, dim, 1e-6f, ctx);
  std::vector<uint8_t> q1((size_t)rows * dim), q2(q1.size());
  CUDA_CHECK(cudaMemcpyAsync(q1.data(), dq1, q1.size(), cudaMemcpyDeviceToHost, st));
  CUDA_CHECK(cudaMemcpyAsync(q2.data(), dq2, q2.size(), cudaMemcpyDeviceToHost, st));
  const std::vector<float> s1 = down(ds1, rows), s2 = down(ds2, rows), x1 = down(dx1, x.size()),
                           x2 = down(dx2, x.size());
  const std::string c = shape("rows=%d dim=%d", rows, dim);
  report_exact("add_rmsnorm_fp8", c, q1 == q2 && s1 == s2 && x1 == x2,
               "x, e4m3 bytes and scales == add_rmsnorm + quantize_fp8_rows (bits)");
  std::vector<uint8_t> qc(q1.size());
  std::vector<float> sc(rows), xc = x;
  add_rmsnorm_fp8_cpu(qc.data(), sc.data(), xc.data(), h.data(), w.data(), rows, dim, 1e-6f);
  std::vector<float> ref(q1.size()), got(q1.size());
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < dim; ++i) {
      const size_t k = (size_t)r * dim + i;
      ref[k] = fp8_e4m3_to_float(qc[k]) * sc[r];
      got[k] = fp8_e4m3_to_float(q2[k]) * s2[r];
    }
  report("add_rmsnorm_fp8", c + " vs the cpu twin (dequantized)", ref, got, 0.08);
  report("add_rmsnorm_fp8", c + " x vs the cpu twin", xc, x2, 1e-6);
  for (void* b :
       {(void*)dx1, (void*)dx2, (void*)dh, (void*)dw, (void*)dout, (void*)dq1, (void*)dq2, (void*)ds1, (void*)ds2})
    pool->free(b);
}

void test_add_rmsnorm_fp8_rows() {
  test_add_rmsnorm_fp8(300, 4096);  // the Generator's width (the vector kernel, 2 float4s a thread)
  test_add_rmsnorm_fp8(5, 1000);    // 250 float4s: the vector kernel with idle threads
}

// The add + RMSNorm kernels' other forms (added after the vector kernel, and run last: the rows above keep their
// random inputs).
void test_add_rmsnorm_forms() {
  test_add_rmsnorm(3, 998);        // a width no vector divides: the scalar kernel
  test_add_rmsnorm(2, 20000);      // wider than the vector kernel's 8 float4s x 512 threads: the scalar kernel
  test_add_rmsnorm(2, 16384);      // 8 float4s a thread
  test_add_rmsnorm_fp8(5, 1002);   // the scalar kernel
  test_add_rmsnorm_fp8(2, 16384);  // 8 float4s a thread
}

// add_layernorm in its scalar form (COSMOS_LAYERNORM_VEC=0) and its vector form (the default) where the row fits one.
void test_add_layernorm(int rows, int dim, bool affine) {
  auto x = randv((size_t)rows * dim), h = randv((size_t)rows * dim), w = randv(dim), b = randv(dim);
  for (int i = 0; i < dim; ++i) x[i] += 300.f;  // a row with a large mean: the centred variance pass
  float *dw = up(w), *db = up(b);
  std::vector<float> rx = x, rh = h;
  add_layernorm_cpu(rh.data(), rx.data(), rh.data(), affine ? w.data() : nullptr, affine ? b.data() : nullptr, rows,
                    dim, 1e-6f);
  for (const char* vec : {"0", "1"}) {
    setenv("COSMOS_LAYERNORM_VEC", vec, 1);
    float *dx = up(x), *dh = up(h);
    add_layernorm_cuda(dh, dx, dh, affine ? dw : nullptr, affine ? db : nullptr, rows, dim, 1e-6f, ctx);
    const std::string form = vec[0] == '0' ? " [COSMOS_LAYERNORM_VEC=0]" : "";
    report("add_layernm", shape("rows=%d dim=%d x", rows, dim) + form, rx, down(dx, x.size()), 1e-6);
    report("add_layernm",
           shape(affine ? "rows=%d dim=%d out (aliases h)" : "rows=%d dim=%d out, no w / b", rows, dim) + form, rh,
           down(dh, h.size()), 1e-4);
  }
  unsetenv("COSMOS_LAYERNORM_VEC");
}

void test_scatter_gather(int n, int dim, int table_rows) {
  auto x = randv((size_t)n * dim), add = randv((size_t)3 * dim);
  std::vector<int> rows = {n - 1, 0, n / 2};
  float* dx = up(x);
  scatter_add_rows_cpu(x.data(), rows.data(), add.data(), 3, dim);
  scatter_add_rows_cuda(dx, upi(rows), up(add), 3, dim, ctx);
  report("scatter_add", shape("n=%d dim=%d 3 rows", n, dim), x, down(dx, x.size()), 0);
  auto table = randv((size_t)table_rows * dim), y = randv((size_t)n * dim), wt = randv((size_t)4 * n);
  std::vector<int> idx(4 * (size_t)n);
  for (auto& i : idx) i = (int)(rng() % table_rows);
  float* dy = up(y);
  gather4_add_cpu(y.data(), table.data(), idx.data(), wt.data(), n, dim);
  gather4_add_cuda(dy, up(table), upi(idx), up(wt), n, dim, ctx);
  report("gather4_add", shape("n=%d dim=%d table=%d (bitwise)", n, dim, table_rows), y, down(dy, y.size()), 0);
}

void test_fill_uniform(long long n) {
  std::vector<float> ref(n);
  fill_uniform_cpu(ref.data(), n, 99, 0.3f, 0.5f);
  float* d = (float*)pool->alloc(n * 4);
  fill_uniform_cuda(d, n, false, 99, 0.3f, 0.5f, ctx);
  report("fill_unif", shape("n=%d f32 (bitwise)", (int)n), ref, down(d, n), 0);
  uint16_t* b = (uint16_t*)pool->alloc(n * 2);
  fill_uniform_cuda(b, n, true, 99, 0.3f, 0.5f, ctx);
  CUDA_CHECK(cudaStreamSynchronize(st));
  std::vector<uint16_t> hb(n);
  CUDA_CHECK(cudaMemcpy(hb.data(), b, n * 2, cudaMemcpyDeviceToHost));
  std::vector<float> got(n), rb(n);
  for (long long i = 0; i < n; ++i) got[i] = bf2f(hb[i]), rb[i] = bf2f(f2bf(ref[i]));
  report("fill_unif", shape("n=%d bf16 = rounded f32", (int)n), rb, got, 0);
}

// lincomb (the flow samplers' tensor updates): every term count, in place; bitwise the CPU twin (no FMA).
void test_lincomb(long long n) {
  std::vector<std::vector<float>> xs;
  const float c[kLincombMaxTerms] = {0.75f, -1.5f, 2.25f, -0.125f, 3.f, -0.6f};
  const float* hp[kLincombMaxTerms];
  const float* dp[kLincombMaxTerms];
  for (int k = 0; k < kLincombMaxTerms; ++k) xs.push_back(randv(n));
  for (int k = 0; k < kLincombMaxTerms; ++k) hp[k] = xs[k].data(), dp[k] = up(xs[k]);
  for (int terms = 1; terms <= kLincombMaxTerms; ++terms) {
    std::vector<float> ref(n);
    lincomb_cpu(ref.data(), hp, c, terms, n);
    float* d = (float*)pool->alloc(n * 4);
    lincomb_cuda(d, dp, c, terms, n, ctx);
    report("lincomb", shape("n=%d terms=%d (bitwise)", (int)n, terms), ref, down(d, n), 0);
  }
  std::vector<float> ref(n);
  lincomb_cpu(ref.data(), hp, c, 3, n);
  lincomb_cuda(const_cast<float*>(dp[1]), dp, c, 3, n, ctx);  // out aliases an input
  report("lincomb", shape("n=%d terms=3 out = x[1] (bitwise)", (int)n), ref, down(dp[1], n), 0);
}

// set_rows: zero / copy rows of [outer, rows, inner] with one 2D memset / memcpy; bitwise the CPU twin.
void test_set_rows(int outer, int rows, int inner, int r0, int r1) {
  const long long n = (long long)outer * rows * inner;
  const auto a = randv(n), b = randv(n);
  std::vector<float> z = a, cp = a;
  set_rows_cpu(z.data(), nullptr, outer, rows, inner, r0, r1);
  set_rows_cpu(cp.data(), b.data(), outer, rows, inner, r0, r1);
  float* dz = up(a);
  float* dc = up(a);
  float* db = up(b);
  set_rows_cuda(dz, nullptr, outer, rows, inner, r0, r1, ctx);
  set_rows_cuda(dc, db, outer, rows, inner, r0, r1, ctx);
  report("set_rows", shape("[%d,%d,%d] zero rows from %d (bitwise)", outer, rows, inner, r0), z, down(dz, n), 0);
  report("set_rows", shape("[%d,%d,%d] copy rows from %d (bitwise)", outer, rows, inner, r0), cp, down(dc, n), 0);
}

// transpose2d: the sound stream's [sound_dim, T] <-> [T, sound_dim]; bitwise the CPU twin (a copy).
void test_transpose2d(int rows, int cols) {
  const auto x = randv((size_t)rows * cols);
  std::vector<float> ref(x.size());
  transpose2d_cpu(ref.data(), x.data(), rows, cols);
  float* d = (float*)pool->alloc(x.size() * 4);
  transpose2d_cuda(d, up(x), rows, cols, ctx);
  report("transpose", shape("[%d,%d] (bitwise)", rows, cols), ref, down(d, x.size()), 0);
}

// The attention block (layers/attention_block.h) on the GPU vs the CPU, f32 weights: a Qwen3 stream prefilled
// in two calls over a KV cache with extra K/V from another stream (GQA, q/k norm, causal), the tower's
// case (fused GEMM, no norm, MHA, two full segments), and a decode step with the row and length on the
// device (the graph's) vs the same step on the host values.
struct BlockWeights {
  std::vector<float> wqkv, wo, qn, kn, bqkv, bo;
  cosmos::AttentionBlock cpu, gpu;
};
BlockWeights make_block(int width, int heads, int kv, int hd, bool norm, bool bias, bool fused) {
  BlockWeights b;
  const int W = (heads + 2 * kv) * hd;
  b.wqkv = randv((size_t)W * width, 0.2f);
  b.wo = randv((size_t)width * heads * hd, 0.2f);
  b.qn = randv(hd, 0.2f);
  b.kn = randv(hd, 0.2f);
  b.bqkv = randv(W);
  b.bo = randv(width);
  for (auto& v : b.qn) v += 1.f;
  for (auto& v : b.kn) v += 1.f;
  auto fill = [&](cosmos::AttentionBlock& a, bool dev) {
    auto p = [&](std::vector<float>& h) -> float* { return dev ? up(h) : h.data(); };
    a.qkv = cosmos::Linear{p(b.wqkv), WType::F32, bias ? p(b.bqkv) : nullptr, width, W};
    a.o = cosmos::Linear{p(b.wo), WType::F32, bias ? p(b.bo) : nullptr, heads * hd, width};
    a.q_norm = norm ? p(b.qn) : nullptr;
    a.k_norm = norm ? p(b.kn) : nullptr;
    a.heads = heads;
    a.kv_heads = kv;
    a.head_dim = hd;
    a.fused_prefill_gemm = fused;
  };
  fill(b.cpu, false);
  fill(b.gpu, true);
  return b;
}

void test_attention_block_stream() {
  const int width = 96, heads = 8, kv = 2, hd = 32, KH = kv * hd, ne = 40, cap = 64;
  BlockWeights b = make_block(width, heads, kv, hd, true, false, false);
  auto ek = randv((size_t)ne * KH), ev = randv((size_t)ne * KH);
  const int n = 37, first = 30;
  auto x = randv((size_t)n * width), cs = randv((size_t)n * hd), sn = randv((size_t)n * hd);
  std::vector<float> kc((size_t)cap * KH), vc((size_t)cap * KH), y((size_t)n * width);
  float *dkc = up(kc), *dvc = up(vc), *dx = up(x), *dcs = up(cs), *dsn = up(sn), *dek = up(ek), *dev = up(ev);
  float* dy = up(y);
  cosmos::KvCache hc{kc.data(), vc.data(), cap, 0}, gc{dkc, dvc, cap, 0};
  for (int done = 0; done < n;) {
    const int m = done == 0 ? first : n - first;
    auto call = [&](cosmos::KvCache* c, const float* cs_, const float* sn_, const float* k, const float* v) {
      cosmos::AttentionCall a;
      a.n = m;
      a.cos = cs_ + (size_t)done * hd;
      a.sin = sn_ + (size_t)done * hd;
      a.cache = c;
      a.extra = cosmos::ExtraKv{k, v, ne};
      return a;
    };
    std::vector<float> hs(cosmos::attention_scratch_floats(b.cpu, m, true));
    cosmos::attention_block_cpu(y.data() + (size_t)done * width, x.data() + (size_t)done * width, b.cpu,
                                call(&hc, cs.data(), sn.data(), ek.data(), ev.data()), hs.data(), cosmos::CpuContext{});
    float* ds = (float*)pool->alloc(sizeof(float) * cosmos::attention_scratch_floats(b.gpu, m, true));
    cosmos::attention_block_cuda(dy + (size_t)done * width, dx + (size_t)done * width, b.gpu,
                                 call(&gc, dcs, dsn, dek, dev), ds, ctx);
    done += m;
    hc.n_past = gc.n_past = done;
  }
  report("attn_block", "30 + 7 tokens over a KV cache, extra K/V 40, GQA 8/2 hd 32", y, down(dy, y.size()), 1e-4);
  report("attn_block", "  the cache's K rows", kc, down(dkc, kc.size()), 1e-4);
}

// The tower's case: segments (frames) of a fused-GEMM, no-norm, MHA block. f32 at hd 16 (attention_cuda, tol 1e-4); on
// tensor cores at the tower's hd 72, where a wgmma device writes q, k, v straight as the flash kernel's bf16 operands
// (qkv_rope_flash_segments_cuda) and, with COSMOS_ATTENTION_BF16_QKV=0, through f32 and flash_attention_segments_cuda's
// conversion; runs of equal segments and a shorter last one.
void test_attention_block_segments(int width, int heads, int hd, const std::vector<int>& seg, bool tensor_cores) {
  const int n = seg.back();
  BlockWeights b = make_block(width, heads, heads, hd, false, true, true);
  auto x = randv((size_t)n * width), cs = randv((size_t)n * hd), sn = randv((size_t)n * hd);
  cosmos::AttentionCall a;
  a.n = n;
  a.causal = false;
  a.segments = seg.data();
  a.n_segments = (int)seg.size() - 1;
  a.tensor_core_attention = tensor_cores;
  std::vector<float> y((size_t)n * width), hs(cosmos::attention_scratch_floats(b.cpu, n, false));
  a.cos = cs.data();
  a.sin = sn.data();
  cosmos::attention_block_cpu(y.data(), x.data(), b.cpu, a, hs.data(), cosmos::CpuContext{});
  a.cos = up(cs);
  a.sin = up(sn);
  float* ds = (float*)pool->alloc(sizeof(float) * cosmos::attention_scratch_floats(b.gpu, n, false));
  std::string segs;
  for (size_t i = 1; i < seg.size(); ++i) segs += (i > 1 ? ", " : "") + std::to_string(seg[i] - seg[i - 1]);
  const std::string what = shape("tower: %d segments (", a.n_segments) + segs +
                           shape("), MHA %d hd %d, biases", heads, hd) + (tensor_cores ? ", tensor cores" : "");
  // Tensor cores: both paths against the f32 CPU block (bf16 q, k, v and P at this block's logits: 2.0e-2 measured on
  // an H100, tol 5e-2), and the direct path against the converted one: the same bf16 operands but where the rotary's
  // f32 rounding (fma contraction) tips a value to the other bf16 neighbour, ~1e-3 on an output (tol 5e-3; a misplaced
  // row or dim is O(1)).
  std::vector<std::vector<float>> outs;
  for (const char* bf16_qkv : tensor_cores ? std::vector<const char*>{"1", "0"} : std::vector<const char*>{"1"}) {
    setenv("COSMOS_ATTENTION_BF16_QKV", bf16_qkv, 1);
    float* dx = up(x);
    cosmos::attention_block_cuda(dx, dx, b.gpu, a, ds, ctx);  // y aliases x
    const bool direct = tensor_cores && std::strcmp(bf16_qkv, "1") == 0 &&
                        std::strcmp(flash_attention_path(seg[1], seg[1], hd, false, ctx.stream), "wgmma") == 0;
    outs.push_back(down(dx, y.size()));
    report("attn_block",
           what + (tensor_cores ? (direct ? " [q/k/v straight to bf16]" : " [f32 q/k/v, converted]") : ""), y,
           outs.back(), tensor_cores ? 5e-2 : 1e-4);
    pool->free(dx);
  }
  if (tensor_cores) report("attn_block", what + ": straight vs converted", outs[1], outs[0], 5e-3);
  unsetenv("COSMOS_ATTENTION_BF16_QKV");
}

void test_attention_block_decode_graph() {
  const int width = 128, heads = 8, kv = 4, hd = 32, KH = kv * hd, cap = 300, past = 257;
  BlockWeights b = make_block(width, heads, kv, hd, true, false, false);
  auto kc = randv((size_t)cap * KH), vc = randv((size_t)cap * KH), x = randv(width), cs = randv(hd), sn = randv(hd);
  float *k1 = up(kc), *v1 = up(vc), *k2 = up(kc), *v2 = up(vc), *dx = up(x), *dcs = up(cs), *dsn = up(sn);
  cosmos::KvCache c1{k1, v1, cap, past}, c2{k2, v2, cap, past};
  cosmos::AttentionCall a;
  a.n = 1;
  a.cos = dcs;
  a.sin = dsn;
  a.cache = &c1;
  float* y1 = up(std::vector<float>(width));
  float* y2 = up(std::vector<float>(width));
  float* s1 = (float*)pool->alloc(sizeof(float) * cosmos::attention_scratch_floats(b.gpu, 1, true));
  float* s2 = (float*)pool->alloc(sizeof(float) * cosmos::attention_scratch_floats(b.gpu, 1, true));
  cosmos::attention_block_cuda(y1, dx, b.gpu, a, s1, ctx);
  int* step = upi({past, past + 1});
  float* part =
      (float*)pool->alloc(sizeof(float) * std::max<size_t>(attention_decode_workspace(cap, heads, kv, hd), 1));
  a.cache = &c2;
  a.row_dev = step;
  a.n_kv_dev = step + 1;
  a.decode_part = part;
  c2.n_past = 0;  // the host value is ignored: the row and the length come from step
  cosmos::attention_block_cuda(y2, dx, b.gpu, a, s2, ctx);
  report("attn_block", "decode, row and length on the device vs host (bitwise)", down(y1, width), down(y2, width), 0);
  std::vector<float> ref(width), hs(cosmos::attention_scratch_floats(b.cpu, 1, true));
  cosmos::KvCache hc{kc.data(), vc.data(), cap, past};
  cosmos::AttentionCall h;
  h.n = 1;
  h.cos = cs.data();
  h.sin = sn.data();
  h.cache = &hc;
  cosmos::attention_block_cpu(ref.data(), x.data(), b.cpu, h, hs.data(), cosmos::CpuContext{});
  report("attn_block", "decode at 257 cached keys vs CPU", ref, down(y1, width), 1e-4);
}

void test_mlp_layers(int n) {
  const int width = 200, inter = 300;
  auto gu = randv((size_t)2 * inter * width, 0.1f), dn = randv((size_t)width * inter, 0.1f),
       x = randv((size_t)n * width);
  auto b1 = randv(inter), b2 = randv(width);
  cosmos::SwiGluMlp hc{{gu.data(), WType::F32, nullptr, width, 2 * inter},
                       {dn.data(), WType::F32, nullptr, inter, width}};
  cosmos::SwiGluMlp gc{{up(gu), WType::F32, nullptr, width, 2 * inter}, {up(dn), WType::F32, nullptr, inter, width}};
  std::vector<float> y((size_t)n * width), hs(cosmos::mlp_scratch_floats(hc, n));
  cosmos::mlp_cpu(y.data(), x.data(), hc, n, hs.data(), cosmos::CpuContext{});
  float* dx = up(x);
  float* ds = (float*)pool->alloc(sizeof(float) * cosmos::mlp_scratch_floats(gc, n));
  cosmos::mlp_cuda(dx, dx, gc, n, ds, ctx);
  report("mlp_swiglu", shape(n == 1 ? "n=%d (fused GEMV)" : "n=%d", n), y, down(dx, y.size()), 1e-4);
  cosmos::GeluMlp hg{
      {gu.data(), WType::F32, b1.data(), width, inter}, {dn.data(), WType::F32, b2.data(), inter, width}, true};
  cosmos::GeluMlp gg{{up(gu), WType::F32, up(b1), width, inter}, {up(dn), WType::F32, up(b2), inter, width}, true};
  cosmos::mlp_cpu(y.data(), x.data(), hg, n, hs.data(), cosmos::CpuContext{});
  dx = up(x);
  cosmos::mlp_cuda(dx, dx, gg, n, ds, ctx);
  report("mlp_gelu", shape("n=%d tanh, biases", n), y, down(dx, y.size()), 1e-4);
}

// --- bf16 GEMM inputs written by their producers (the tower's default; COSMOS_TOWER_BF16_INPUTS=0 off): each against
// the f32 rows and the cast it replaces, bit for bit, and the bf16 norm against its CPU twin.
std::vector<uint16_t> down16(const void* d, size_t n) {
  CUDA_CHECK(cudaStreamSynchronize(st));
  std::vector<uint16_t> h(n);
  CUDA_CHECK(cudaMemcpy(h.data(), d, n * 2, cudaMemcpyDeviceToHost));
  return h;
}
std::vector<float> widen(const std::vector<uint16_t>& b) {
  std::vector<float> f(b.size());
  for (size_t i = 0; i < b.size(); ++i) f[i] = bf2f(b[i]);
  return f;
}
__nv_bfloat16* alloc_bf16(size_t n) {
  CUDA_CHECK(cudaStreamSynchronize(st));
  return static_cast<__nv_bfloat16*>(pool->alloc(n * 2 + 16));
}
// bf16 weights on the device, and their values as f32 (what the CPU side would use).
const void* up_bf16(const std::vector<float>& h) {
  std::vector<uint16_t> b(h.size());
  for (size_t i = 0; i < h.size(); ++i) b[i] = f2bf(h[i]);
  auto* d = alloc_bf16(h.size());
  h2d(d, b.data(), b.size() * 2);
  return d;
}

void test_add_layernorm_bf16(int rows, int dim, bool affine) {
  const size_t n = (size_t)rows * dim;
  auto x = randv(n), h = randv(n), w = randv(dim), b = randv(dim);
  for (int i = 0; i < dim; ++i) x[i] += 300.f;  // a row with a large mean, as test_add_layernorm
  std::vector<uint16_t> ref(n);
  std::vector<float> rx = x;
  add_layernorm_bf16_cpu(ref.data(), rx.data(), h.data(), affine ? w.data() : nullptr, affine ? b.data() : nullptr,
                         rows, dim, 1e-6f);
  const float *dw = affine ? up(w) : nullptr, *db = affine ? up(b) : nullptr;
  for (const char* vec : {"0", "1"}) {  // the scalar form, and the vector form where the row fits one
    setenv("COSMOS_LAYERNORM_VEC", vec, 1);
    const std::string form = vec[0] == '0' ? " [COSMOS_LAYERNORM_VEC=0]" : "";
    float *dx1 = up(x), *dx2 = up(x), *dh = up(h), *dy = up(std::vector<float>(n));
    __nv_bfloat16 *cast = alloc_bf16(n), *direct = alloc_bf16(n);
    add_layernorm_cuda(dy, dx1, dh, dw, db, rows, dim, 1e-6f, ctx);
    cast_bf16_cuda(cast, dy, n, ctx);
    add_layernorm_bf16_cuda(direct, dx2, dh, dw, db, rows, dim, 1e-6f, ctx);
    const auto want = down16(cast, n), got = down16(direct, n);
    const bool same_x = down(dx1, n) == down(dx2, n);
    report_exact("add_ln_bf16", shape(affine ? "rows=%d dim=%d" : "rows=%d dim=%d, no w / b", rows, dim) + form,
                 got == want && same_x, "== add_layernorm + cast_bf16, x too");
    // h null: x already holds the sum: both outputs bit for bit, x untouched.
    const std::vector<float> sum = down(dx2, n);
    float *dx3 = up(sum), *dy3 = up(std::vector<float>(n));
    __nv_bfloat16* no_add = alloc_bf16(n);
    add_layernorm_cuda(dy3, dx3, nullptr, dw, db, rows, dim, 1e-6f, ctx);
    add_layernorm_bf16_cuda(no_add, dx3, nullptr, dw, db, rows, dim, 1e-6f, ctx);
    report_exact("add_ln_bf16", shape("rows=%d dim=%d, h null", rows, dim) + form,
                 down(dy3, n) == down(dy, n) && down16(no_add, n) == want && down(dx3, n) == sum,
                 "== the add's f32 and bf16 rows, x not written");
    // vs the CPU twin: the f32 values differ in their last bits (reduction order), which tips a few to the next bf16
    // value: one bf16 step of the largest value at most (2^-8 = 3.9e-3 relative).
    report("add_ln_bf16", shape("rows=%d dim=%d vs CPU (one bf16 step)", rows, dim) + form, widen(ref), widen(got),
           4e-3);
    report("add_ln_bf16", shape("rows=%d dim=%d x vs CPU", rows, dim) + form, rx, down(dx2, n), 1e-6);
  }
  unsetenv("COSMOS_LAYERNORM_VEC");
}

// qkv_rope_bf16q_cuda: q written straight as the wgmma flash kernel's bf16 operand (the decoder's prefill). Against
// qkv_rope_cuda's f32 q: each value rounded to nearest even at [head][row][dim], the padding rows zero; k and v the
// same bits (written after 5 cached rows); and the causal attention over [cached | own] keys the same output bits as
// flash_attention_bf16_out_cuda from the f32 q.
void test_qkv_rope_bf16q(int n, int heads, int kv, bool fused) {
  const int hd = 128, QH = heads * hd, KH = kv * hd, W = QH + 2 * KH, past = 5, rows = past + n;
  auto proj = randv((size_t)n * W), cs = randv((size_t)n * hd), sn = randv((size_t)n * hd);
  auto qw = randv(hd), kw = randv(hd), cache = randv((size_t)rows * KH);
  const size_t k_off = fused ? QH : (size_t)n * QH, v_off = fused ? QH + KH : (size_t)n * (QH + KH);
  const int qs = fused ? W : QH, kvs = fused ? W : KH;
  float *dp = up(proj), *dqw = up(qw), *dkw = up(kw), *dcs = up(cs), *dsn = up(sn);
  float *dq = up(std::vector<float>((size_t)n * QH, 0.f)), *dk1 = up(cache), *dv1 = up(cache), *dk2 = up(cache),
        *dv2 = up(cache);
  qkv_rope_cuda(dq, dk1, dv1, dp, dp + k_off, dp + v_off, qs, kvs, dqw, dkw, dcs, dsn, n, heads, kv, hd, 1e-6f, past,
                nullptr, ctx);
  const int pad = flash_wgmma_rows_pad(n);
  __nv_bfloat16* dqb = alloc_bf16((size_t)heads * pad * 128);
  CUDA_CHECK(cudaMemsetAsync(dqb, 0x5a, (size_t)heads * pad * 128 * 2, st));  // the padding rows must be written
  const bool ran = qkv_rope_bf16q_cuda(dqb, pad, dk2, dv2, dp, dp + k_off, dp + v_off, qs, kvs, dqw, dkw, dcs, dsn, n,
                                       heads, kv, hd, 1e-6f, past, ctx);
  const std::string c = shape("n=%d h=%d/%d", n, heads, kv) + (fused ? " fused" : "");
  report_exact("qkv_rope_b16q", c + " runs", ran, "head_dim 128, both norms");
  const std::vector<float> q = down(dq, (size_t)n * QH);
  const std::vector<uint16_t> qb = down16(dqb, (size_t)heads * pad * 128);
  bool same = true;
  for (int h = 0; h < heads; ++h)
    for (int r = 0; r < pad; ++r)
      for (int d = 0; d < hd; ++d)
        same = same && qb[((size_t)h * pad + r) * 128 + d] == (r < n ? f2bf(q[((size_t)r * heads + h) * hd + d]) : 0);
  report_exact("qkv_rope_b16q", c + " q operand", same, "== qkv_rope_cuda's q rounded to bf16 (padding rows 0)");
  report("qkv_rope_b16q", c + " k (bits)", down(dk1, (size_t)rows * KH), down(dk2, (size_t)rows * KH), 0);
  report("qkv_rope_b16q", c + " v (bits)", down(dv1, (size_t)rows * KH), down(dv2, (size_t)rows * KH), 0);
  if (std::strcmp(flash_attention_path(n, rows, hd, true, st), "wgmma") == 0) {
    __nv_bfloat16 *o1 = alloc_bf16((size_t)n * QH), *o2 = alloc_bf16((size_t)n * QH);
    const float scale = 1.f / std::sqrt((float)hd);
    flash_attention_bf16_out_cuda(o1, dq, dk1, dv1, n, rows, heads, kv, hd, past, true, scale, ctx);
    flash_attention_bf16q_cuda(o2, dqb, dk2, dv2, n, rows, heads, kv, hd, past, true, scale, ctx);
    report_exact("qkv_rope_b16q", c + " causal flash out", down16(o1, (size_t)n * QH) == down16(o2, (size_t)n * QH),
                 "from the bf16 q == from the f32 q (bits)");
  }
}

// --- The bf16 KV cache (layers/attention_block.h KvCache::k_bf16): every op that writes or reads it against its f32
// form. Writes: the bf16 rows are the f32 form's values rounded to nearest even, bit for bit, q untouched. Reads: the
// result is the f32 form's on the widened rows, bit for bit (the kernels widen as they read and compute alike).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}
bool rounds_to(const std::vector<float>& f32, const std::vector<uint16_t>& b16) {
  if (f32.size() != b16.size()) return false;
  for (size_t i = 0; i < f32.size(); ++i)
    if (f2bf(f32[i]) != b16[i]) return false;
  return true;
}
// qkv_rope_cuda (the warp kernel at hd 64 / 128, the block kernel at other head dims, the no-norm kernel; the row from
// the host or the device) and qkv_rope_bf16q_cuda.
void test_kv_bf16_writes(int n, int heads, int kv, int hd, int row0, bool norm, bool row_dev) {
  const int QH = heads * hd, KH = kv * hd, W = QH + 2 * KH, rows = row0 + n;
  auto proj = randv((size_t)n * W), cs = randv((size_t)n * hd), sn = randv((size_t)n * hd);
  auto qw = randv(hd), kw = randv(hd);
  float *dcs = up(cs), *dsn = up(sn), *dqw = norm ? up(qw) : nullptr, *dkw = norm ? up(kw) : nullptr;
  float* dp1 = up(proj);  // read by every call below (q goes to dq1 / dq2, not over its projection rows)
  float *dq1 = up(std::vector<float>((size_t)n * QH, 0.f)), *dq2 = up(std::vector<float>((size_t)n * QH, 0.f));
  float *dk = up(std::vector<float>((size_t)rows * KH, 0.f)), *dv = up(std::vector<float>((size_t)rows * KH, 0.f));
  __nv_bfloat16 *dk16 = alloc_bf16((size_t)rows * KH), *dv16 = alloc_bf16((size_t)rows * KH);
  CUDA_CHECK(cudaMemsetAsync(dk16, 0, (size_t)rows * KH * 2, st));
  CUDA_CHECK(cudaMemsetAsync(dv16, 0, (size_t)rows * KH * 2, st));
  int* drow = row_dev ? upi({row0}) : nullptr;
  const int r0 = row_dev ? 0 : row0;
  qkv_rope_cuda(dq1, dk, dv, dp1, dp1 + QH, dp1 + QH + KH, W, W, dqw, dkw, dcs, dsn, n, heads, kv, hd, 1e-6f, r0, drow,
                ctx);
  qkv_rope_cuda(dq2, dk16, dv16, dp1, dp1 + QH, dp1 + QH + KH, W, W, dqw, dkw, dcs, dsn, n, heads, kv, hd, 1e-6f, r0,
                drow, ctx);
  const std::string c =
      shape("n=%d h=%d/%d hd=%d", n, heads, kv, hd) + (norm ? " norm" : "") + (row_dev ? " (row on device)" : "");
  const bool q_same = same_bits(down(dq1, (size_t)n * QH), down(dq2, (size_t)n * QH));
  const bool k_ok = rounds_to(down(dk, (size_t)rows * KH), down16(dk16, (size_t)rows * KH));
  const bool v_ok = rounds_to(down(dv, (size_t)rows * KH), down16(dv16, (size_t)rows * KH));
  report_exact("kv_bf16 qkv_rope", c, q_same && k_ok && v_ok,
               std::string(q_same ? "q same bits" : "q DIFFERS") + (k_ok ? ", k rounded" : ", k NOT the rounding") +
                   (v_ok ? ", v rounded" : ", v NOT the rounding"));
  if (hd == 128 && norm && !row_dev) {  // the prefill's form: q straight to the flash operand
    const int pad = flash_wgmma_rows_pad(n);
    __nv_bfloat16 *qb1 = alloc_bf16((size_t)heads * pad * 128), *qb2 = alloc_bf16((size_t)heads * pad * 128);
    __nv_bfloat16 *k2 = alloc_bf16((size_t)rows * KH), *v2 = alloc_bf16((size_t)rows * KH);
    CUDA_CHECK(cudaMemsetAsync(k2, 0, (size_t)rows * KH * 2, st));
    CUDA_CHECK(cudaMemsetAsync(v2, 0, (size_t)rows * KH * 2, st));
    const bool ran1 = qkv_rope_bf16q_cuda(qb1, pad, dk, dv, dp1, dp1 + QH, dp1 + QH + KH, W, W, dqw, dkw, dcs, dsn, n,
                                          heads, kv, hd, 1e-6f, row0, ctx);
    const bool ran2 = qkv_rope_bf16q_cuda(qb2, pad, k2, v2, dp1, dp1 + QH, dp1 + QH + KH, W, W, dqw, dkw, dcs, dsn, n,
                                          heads, kv, hd, 1e-6f, row0, ctx);
    const size_t qn = (size_t)heads * pad * 128;
    const bool ok = ran1 && ran2 && down16(qb1, qn) == down16(qb2, qn) &&
                    rounds_to(down(dk, (size_t)rows * KH), down16(k2, (size_t)rows * KH)) &&
                    rounds_to(down(dv, (size_t)rows * KH), down16(v2, (size_t)rows * KH));
    report_exact("kv_bf16 qkv_rope_bf16q", c, ok, "q operand same bits, k / v the f32 form's rounded");
  }
}

// attention_decode_cuda (device length) and attention_cuda (n_q = 1: the same kernel; n_q > 1: the split kernel, and
// attention.cu's mma.sync flash kernel from kFlashMinQ queries), flash_attention_cuda / _bf16_out / _bf16q (wgmma or
// mma.sync), each over bf16 rows against the f32 form over the same rows widened.
void test_kv_bf16_reads(int n_kv, int qh, int kvh, int hd) {
  const float scale = 1.0f / std::sqrt((float)hd);
  auto kf = randv((size_t)n_kv * kvh * hd), vf = randv((size_t)n_kv * kvh * hd);
  std::vector<uint16_t> kb(kf.size()), vb(vf.size());
  for (size_t i = 0; i < kf.size(); ++i) kb[i] = f2bf(kf[i]), kf[i] = bf2f(kb[i]);
  for (size_t i = 0; i < vf.size(); ++i) vb[i] = f2bf(vf[i]), vf[i] = bf2f(vb[i]);
  float *dk = up(kf), *dv = up(vf);
  auto* dk16 = alloc_bf16(kb.size());
  auto* dv16 = alloc_bf16(vb.size());
  h2d(dk16, kb.data(), kb.size() * 2);
  h2d(dv16, vb.data(), vb.size() * 2);
  const std::string c = shape("n_kv=%d h=%d/%d hd=%d", n_kv, qh, kvh, hd);
  {  // decode at the last row, and at a shorter length
    auto q = randv((size_t)qh * hd);
    float *dq = up(q), *o1 = up(q), *o2 = up(q), *o3 = up(q);
    float* part = (float*)pool->alloc(std::max<size_t>(attention_decode_workspace(n_kv, qh, kvh, hd), 1) * 4);
    bool ok = true;
    for (int n : {n_kv, n_kv / 2 + 1}) {
      int* dn = upi({n});
      attention_decode_cuda(o1, dq, dk, dv, dn, n_kv, qh, kvh, hd, scale, part, ctx);
      const auto f32 = down(o1, q.size());
      attention_decode_cuda(o2, dq, dk16, dv16, dn, n_kv, qh, kvh, hd, scale, part, ctx);
      attention_cuda(o3, dq, dk16, dv16, 1, n, qh, kvh, hd, n - 1, true, scale, ctx);
      ok = ok && same_bits(f32, down(o2, q.size())) && same_bits(f32, down(o3, q.size()));
    }
    const int cl = attention_decode_cluster(qh, kvh, hd);
    report_exact("kv_bf16 decode", c + (cl ? " (cluster)" : " (split)"), ok,
                 "graph and eager decode over bf16 rows == f32 over the widened rows (bits)");
  }
  for (int n_q : {7, std::min(n_kv, 200)}) {  // prefill-shaped: causal, the queries the cache's last rows
    auto q = randv((size_t)n_q * qh * hd);
    float *dq = up(q), *o1 = up(q), *o2 = up(q);
    const int off = n_kv - n_q;
    attention_cuda(o1, dq, dk, dv, n_q, n_kv, qh, kvh, hd, off, true, scale, ctx);
    attention_cuda(o2, dq, dk16, dv16, n_q, n_kv, qh, kvh, hd, off, true, scale, ctx);
    report_exact("kv_bf16 attention_cuda", c + shape(" n_q=%d", n_q), same_bits(down(o1, q.size()), down(o2, q.size())),
                 "== f32 over the widened rows (bits)");
    if (n_q < 64) continue;
    flash_attention_cuda(o1, dq, dk, dv, n_q, n_kv, qh, kvh, hd, off, true, scale, ctx);
    flash_attention_cuda(o2, dq, dk16, dv16, n_q, n_kv, qh, kvh, hd, off, true, scale, ctx);
    const char* path = flash_attention_path(n_q, n_kv, hd, true, st);
    report_exact("kv_bf16 flash", c + shape(" n_q=%d ", n_q) + path, same_bits(down(o1, q.size()), down(o2, q.size())),
                 "== f32 over the widened rows (bits)");
    if (std::strcmp(path, "wgmma") != 0 || hd != 128) continue;
    __nv_bfloat16 *b1 = alloc_bf16(q.size()), *b2 = alloc_bf16(q.size());
    flash_attention_bf16_out_cuda(b1, dq, dk, dv, n_q, n_kv, qh, kvh, hd, off, true, scale, ctx);
    flash_attention_bf16_out_cuda(b2, dq, dk16, dv16, n_q, n_kv, qh, kvh, hd, off, true, scale, ctx);
    bool ok = down16(b1, q.size()) == down16(b2, q.size());
    // bf16 q from the rotary's operand layout: zeros in the padding rows, the rows rounded as the conversion does
    const int pad = flash_wgmma_rows_pad(n_q);
    std::vector<uint16_t> qb((size_t)qh * pad * 128, 0);
    for (int h = 0; h < qh; ++h)
      for (int r = 0; r < n_q; ++r)
        for (int d = 0; d < hd; ++d) qb[((size_t)h * pad + r) * 128 + d] = f2bf(q[((size_t)r * qh + h) * hd + d]);
    auto* dqb = alloc_bf16(qb.size());
    h2d(dqb, qb.data(), qb.size() * 2);
    flash_attention_bf16q_cuda(b1, dqb, dk, dv, n_q, n_kv, qh, kvh, hd, off, true, scale, ctx);
    flash_attention_bf16q_cuda(b2, dqb, dk16, dv16, n_q, n_kv, qh, kvh, hd, off, true, scale, ctx);
    ok = ok && down16(b1, q.size()) == down16(b2, q.size());
    report_exact("kv_bf16 flash bf16 out / q", c + shape(" n_q=%d", n_q), ok, "== f32 over the widened rows (bits)");
  }
}

// add_rmsnorm_bf16_cuda: add_rmsnorm_cuda's rows cast (cast_bf16_cuda) and its x, bit for bit, in the vector form
// (dim % 4 == 0) and the scalar one.
void test_add_rmsnorm_bf16(int rows, int dim) {
  const size_t n = (size_t)rows * dim;
  auto x = randv(n), h = randv(n), w = randv(dim);
  std::vector<uint16_t> ref(n);
  std::vector<float> rx = x;
  add_rmsnorm_bf16_cpu(ref.data(), rx.data(), h.data(), w.data(), rows, dim, 1e-6f);
  float *dx1 = up(x), *dx2 = up(x), *dh = up(h), *dw = up(w), *dy = up(std::vector<float>(n));
  __nv_bfloat16 *cast = alloc_bf16(n), *direct = alloc_bf16(n);
  add_rmsnorm_cuda(dy, dx1, dh, dw, rows, dim, 1e-6f, ctx);
  cast_bf16_cuda(cast, dy, n, ctx);
  add_rmsnorm_bf16_cuda(direct, dx2, dh, dw, rows, dim, 1e-6f, ctx);
  const auto want = down16(cast, n), got = down16(direct, n);
  const std::string form = dim % 4 == 0 ? " (vector form)" : " (scalar form)";
  report_exact("add_rms_bf16", shape("rows=%d dim=%d", rows, dim) + form, got == want && down(dx1, n) == down(dx2, n),
               "== add_rmsnorm + cast_bf16, x too");
  // h null: x already holds the sum (the residual add rode in a GEMM's epilogue): both outputs bit for bit, x
  // untouched.
  const std::vector<float> sum = down(dx2, n);
  float *dx3 = up(sum), *dy3 = up(std::vector<float>(n));
  __nv_bfloat16* no_add = alloc_bf16(n);
  add_rmsnorm_cuda(dy3, dx3, nullptr, dw, rows, dim, 1e-6f, ctx);
  add_rmsnorm_bf16_cuda(no_add, dx3, nullptr, dw, rows, dim, 1e-6f, ctx);
  report_exact("add_rms_bf16", shape("rows=%d dim=%d, h null", rows, dim) + form,
               down(dy3, n) == down(dy, n) && down16(no_add, n) == want && down(dx3, n) == sum,
               "== the add's f32 and bf16 rows, x not written");
  // vs the CPU twin: one bf16 step at most (the f32 values differ in their last bits: reduction order)
  report("add_rms_bf16", shape("rows=%d dim=%d vs CPU (one bf16 step)", rows, dim) + form, widen(ref), widen(got),
         4e-3);
}

// A layer's residual add in its last GEMM's epilogue (AttentionCall::residual, mlp_cuda's residual): run(y) adds into
// y; against y + the plain output (add_cuda), bit for bit.
template <class Run>
void check_residual(const std::string& what, const float* plain, size_t len, Run&& run) {
  const auto y0 = randv(len);
  float *got = up(y0), *want = up(y0);
  add_cuda(want, want, plain, (int)len, ctx);
  run(got);
  report("residual", what + " (bitwise)", down(want, len), down(got, len), 0);
}

// linear_bf16_add_cuda (gemm_wgmma_add) against linear_bf16_cuda + add_cuda on both tiles gemm_wgmma_pick takes, with
// and without a bias, an odd and a partial last column tile.
void test_linear_bf16_add(int n, int k, int m, bool bias) {
  cosmos::Linear l{up_bf16(randv((size_t)m * k, 0.05f)), WType::BF16, bias ? up(randv(m)) : nullptr, k, m};
  if (!cosmos::linear_bf16_add_runs(l, n, ctx)) {
    std::printf("| residual   | skipped: linear_bf16_add_runs is false here (no wgmma GEMM) |\n");
    return;
  }
  __nv_bfloat16* xb = alloc_bf16((size_t)n * k);
  cast_bf16_cuda(xb, up(randv((size_t)n * k)), (size_t)n * k, ctx);
  float* plain = up(std::vector<float>((size_t)n * m));
  cosmos::linear_bf16_cuda(plain, xb, l, n, ctx);
  check_residual(shape("linear_bf16_add n=%d k=%d m=%d", n, k, m) + (bias ? " +bias, " : ", ") +
                     cosmos::wgmma_variant_name(cosmos::gemm_wgmma_pick(n, k, m)),
                 plain, (size_t)n * m, [&](float* y) { cosmos::linear_bf16_add_cuda(y, xb, l, n, ctx); });
}

// The bf16 residual stream (the decoder prefill's, COSMOS_PREFILL_BF16_RESIDUAL): linear_bf16_add_bf16_cuda
// (gemm_wgmma_add_bf16) against linear_bf16_cuda's f32 values added to the old bf16 rows widened, in f32 on the host,
// and rounded once: bit for bit, on both tiles gemm_wgmma_pick takes, with and without a bias (no bias: the per-tile
// path without the bias registers), m not a multiple of 8 (pairs, no 16-byte rows) and a partial last column tile.
void test_linear_bf16_add_bf16(int n, int k, int m, bool bias) {
  cosmos::Linear l{up_bf16(randv((size_t)m * k, 0.05f)), WType::BF16, bias ? up(randv(m)) : nullptr, k, m};
  const std::string cs = shape("linear_bf16_add_bf16 n=%d k=%d m=%d", n, k, m) + (bias ? " +bias, " : ", ") +
                         cosmos::wgmma_variant_name(cosmos::gemm_wgmma_pick(n, k, m));
  if (!cosmos::linear_bf16_out_runs(l, n, ctx)) {
    std::printf("| resid_bf16 | skipped: linear_bf16_out_runs is false here (no wgmma GEMM) |\n");
    return;
  }
  __nv_bfloat16* xb = alloc_bf16((size_t)n * k);
  cast_bf16_cuda(xb, up(randv((size_t)n * k)), (size_t)n * k, ctx);
  const size_t len = (size_t)n * m;
  float* plain = up(std::vector<float>(len));
  cosmos::linear_bf16_cuda(plain, xb, l, n, ctx);
  const auto prod = down(plain, len);
  std::vector<uint16_t> y0(len), want(len);
  auto stream = randv(len, 4.f);
  for (size_t i = 0; i < len; ++i) y0[i] = f2bf(stream[i]);
  for (size_t i = 0; i < len; ++i) want[i] = f2bf(bf2f(y0[i]) + prod[i]);
  __nv_bfloat16* y = alloc_bf16(len);
  h2d(y, y0.data(), len * 2);
  cosmos::linear_bf16_add_bf16_cuda(y, xb, l, n, ctx);
  const auto got = down16(y, len);
  size_t off = 0;
  for (size_t i = 0; i < len; ++i) off += got[i] != want[i];
  report_exact("resid_bf16", cs, off == 0, shape("%zu of %zu values differ from widen + add + round", off, len));
}

// The decoder prefill's bf16 stream (the default; COSMOS_PREFILL_BF16_RESIDUAL=0: f32): widen_bf16_cuda against its CPU
// twin (bit for bit, inf, NaN, -0 and a denormal included), rmsnorm_bf16_rows_cuda against add_rmsnorm_bf16_cuda with
// h null on the same rows widened (bit for bit) and against its CPU twin (one bf16 step).
void test_rmsnorm_bf16_rows(int rows, int dim) {
  const size_t n = (size_t)rows * dim;
  auto xf = randv(n, 3.f), w = randv(dim);
  std::vector<uint16_t> x16(n), ref(n);
  for (size_t i = 0; i < n; ++i) x16[i] = f2bf(xf[i]);
  rmsnorm_bf16_rows_cpu(ref.data(), x16.data(), w.data(), rows, dim, 1e-6f);
  __nv_bfloat16* dx16 = alloc_bf16(n);
  h2d(dx16, x16.data(), n * 2);
  float *wide = up(std::vector<float>(n)), *dw = up(w);
  widen_bf16_cuda(wide, dx16, n, ctx);
  std::vector<float> wide_cpu(n);
  widen_bf16_cpu(wide_cpu.data(), x16.data(), n);
  const std::vector<uint16_t> specials = {0x7f80, 0xff80, 0x7fc1, 0x8000, 0x0001};  // inf, -inf, NaN, -0, denormal
  __nv_bfloat16* ds = alloc_bf16(specials.size());
  h2d(ds, specials.data(), specials.size() * 2);
  float* dsw = up(std::vector<float>(specials.size()));
  widen_bf16_cuda(dsw, ds, specials.size(), ctx);
  std::vector<float> sw(specials.size());
  widen_bf16_cpu(sw.data(), specials.data(), specials.size());
  const auto gsw = down(dsw, specials.size());
  report_exact("widen_bf16", shape("rows=%d dim=%d, and inf, NaN, -0, a denormal", rows, dim),
               std::memcmp(down(wide, n).data(), wide_cpu.data(), n * 4) == 0 &&
                   std::memcmp(gsw.data(), sw.data(), sw.size() * 4) == 0,
               "== widen_bf16_cpu bit for bit");
  __nv_bfloat16 *got = alloc_bf16(n), *want = alloc_bf16(n);
  rmsnorm_bf16_rows_cuda(got, dx16, dw, rows, dim, 1e-6f, ctx);
  add_rmsnorm_bf16_cuda(want, wide, nullptr, dw, rows, dim, 1e-6f, ctx);
  const auto g = down16(got, n);
  report_exact("rms_bf16_rows", shape("rows=%d dim=%d", rows, dim), g == down16(want, n) && down16(dx16, n) == x16,
               "== add_rmsnorm_bf16 on the widened rows");
  report("rms_bf16_rows", shape("rows=%d dim=%d vs CPU (one bf16 step)", rows, dim), widen(ref), widen(g), 4e-3);
}

// scatter_add_rows_bf16_cuda (the deepstack features into the prefill's bf16 stream) against its CPU twin, bit for bit
// (widen, one f32 add, round), the rows it skips untouched.
void test_scatter_add_rows_bf16(int total, int dim) {
  const std::vector<int> rows = {3, 0, total - 1, 7};
  const int nr = (int)rows.size();
  auto xf = randv((size_t)total * dim, 2.f), add = randv((size_t)nr * dim, 0.1f);
  std::vector<uint16_t> x16(xf.size());
  for (size_t i = 0; i < xf.size(); ++i) x16[i] = f2bf(xf[i]);
  std::vector<uint16_t> want = x16;
  scatter_add_rows_bf16_cpu(want.data(), rows.data(), add.data(), nr, dim);
  __nv_bfloat16* dx = alloc_bf16(x16.size());
  h2d(dx, x16.data(), x16.size() * 2);
  int* drows = static_cast<int*>(pool->alloc(sizeof(int) * nr));
  h2d(drows, rows.data(), sizeof(int) * nr);
  scatter_add_rows_bf16_cuda(dx, drows, up(add), nr, dim, ctx);
  size_t changed = 0;
  for (size_t i = 0; i < want.size(); ++i) changed += want[i] != x16[i];
  report_exact("scatter_bf16", shape("%d of %d rows, dim=%d", nr, total, dim), down16(dx, want.size()) == want,
               shape("== the CPU twin bit for bit (%zu values changed)", changed));
}

// linear_add_cuda from f32 rows (the Generator's o and down, whose inputs stay f32 or e4m3): on the fp8 GEMM
// (gemm_fp8_wgmma_add, the weight's e4m3 copy with a scale per row) and on the bf16 wgmma GEMM (x rounded in row
// chunks: matmul_add_cuda), against linear_cuda + add_cuda. No bias on the fp8 GEMM (the Generator's), so its common
// tiles run.
void test_linear_add(int n, int k, int m, bool fp8) {
  cosmos::Linear l{up_bf16(randv((size_t)m * k, 0.05f)), WType::BF16, fp8 ? nullptr : up(randv(m)), k, m};
  if (fp8) {
    auto* w8 = (uint8_t*)pool->alloc((size_t)m * k);
    auto* ws = (float*)pool->alloc(sizeof(float) * m);
    quantize_fp8_rows_cuda(w8, ws, up(randv((size_t)m * k, 0.05f)), m, k, ctx);
    l.w8 = w8;
    l.w8_scale = ws;
  }
  const std::string path = fp8 ? "fp8" : "bf16";
  if (!cosmos::linear_add_runs(l, n, ctx) || cosmos::linear_fp8_runs(l, n, ctx) != fp8) {
    std::printf("| residual   | linear_add %s: skipped, no such GEMM here |\n", path.c_str());
    return;
  }
  float *x = up(randv((size_t)n * k)), *plain = up(std::vector<float>((size_t)n * m));
  cosmos::linear_cuda(plain, x, l, n, ctx);
  check_residual(shape("linear_add n=%d k=%d m=%d, ", n, k, m) + path + " GEMM", plain, (size_t)n * m,
                 [&](float* y) { cosmos::linear_add_cuda(y, x, l, n, ctx); });
}

void test_bf16_input_layers(int n) {
  // The tower's head dim (72: the bf16 flash path, whose output then goes to o in bf16 too); o takes heads * hd.
  const int width = 256, heads = 4, hd = 72, QH = heads * hd, inter = 512, W = 3 * QH;
  if (!cosmos::gemm_wgmma_available(st)) {
    std::printf("| bf16_in    | skipped: the fused bf16 GEMMs need an sm_90a build on an sm_90 device |\n");
    return;
  }
  auto x = randv((size_t)n * width);
  float* dx = up(x);
  __nv_bfloat16* xb = alloc_bf16((size_t)n * width);
  cast_bf16_cuda(xb, dx, (size_t)n * width, ctx);
  // Linear: bf16 rows vs f32 rows cast inside linear_cuda.
  cosmos::Linear l{up_bf16(randv((size_t)W * width, 0.05f)), WType::BF16, up(randv(W)), width, W};
  float *y1 = up(std::vector<float>((size_t)n * W)), *y2 = up(std::vector<float>((size_t)n * W));
  cosmos::linear_cuda(y1, dx, l, n, ctx);
  cosmos::linear_bf16_cuda(y2, xb, l, n, ctx);
  report("bf16_in", shape("linear n=%d %d -> %d (bitwise)", n, width, W), down(y1, (size_t)n * W),
         down(y2, (size_t)n * W), 0);
  // bf16 out of the GEMM: linear_bf16_cuda's values cast, bit for bit.
  const bool bf16_out = cosmos::linear_bf16_out_runs(l, n, ctx);
  report_exact("bf16_in", shape("linear_bf16_out_runs n=%d", n), bf16_out, "the wgmma GEMM, out even");
  if (bf16_out) {
    __nv_bfloat16 *cast = alloc_bf16((size_t)n * W), *direct = alloc_bf16((size_t)n * W);
    cast_bf16_cuda(cast, y2, (size_t)n * W, ctx);
    cosmos::linear_bf16_out_cuda(direct, xb, l, n, ctx);
    report_exact("bf16_in", shape("linear_bf16_out n=%d %d -> %d", n, width, W),
                 down16(direct, (size_t)n * W) == down16(cast, (size_t)n * W), "== linear_bf16 + cast_bf16");
    // qkv_rope_flash from those bf16 q|k|v against the same values widened to f32: the operands bit for bit.
    std::vector<float> wide = widen(down16(direct, (size_t)n * W));
    float* dwide = up(wide);
    float *cs = up(randv((size_t)n * hd)), *sn = up(randv((size_t)n * hd));
    const int len = n / 2, pad = flash_wgmma_rows_pad(len);
    const size_t ops = (size_t)2 * heads * pad * 128;  // 2 segments; q, k and v^T are each this size
    std::vector<std::vector<uint16_t>> got[2];
    for (int form = 0; form < 2; ++form) {
      __nv_bfloat16 *qb = alloc_bf16(ops), *kb = alloc_bf16(ops), *vt = alloc_bf16(ops);
      for (__nv_bfloat16* b : {qb, kb, vt}) CUDA_CHECK(cudaMemset(b, 0xff, ops * 2));  // bf16 NaN: what is not written
      if (form == 0)
        qkv_rope_flash_segments_cuda(qb, kb, vt, dwide, dwide + QH, dwide + 2 * QH, W, W, cs, sn, len, 2, pad, heads,
                                     heads, hd, ctx);
      else
        qkv_rope_flash_segments_cuda(qb, kb, vt, direct, direct + QH, direct + 2 * QH, W, W, cs, sn, len, 2, pad, heads,
                                     heads, hd, ctx);
      got[form] = {down16(qb, ops), down16(kb, ops), down16(vt, ops)};
    }
    report_exact("bf16_in", shape("qkv_rope_flash n=%d, 2 frames, hd %d: bf16 in", n, hd), got[0] == got[1],
                 "== the f32 form on the same values (q, k, v^T)");
    // The operands' padding: rows past the segment and dims [hd, flash_wgmma_dims_read(hd)) zero, the dims past those
    // (v^T's rows) left as they were; the values finite.
    const int dims = cosmos::flash_wgmma_dims_read(hd);
    long long wrong = 0;
    for (int which = 0; which < 3; ++which)
      for (size_t i = 0; i < ops; ++i) {  // q, k [.][row][128]; v^T [.][dim][row]
        const size_t row = which < 2 ? i / 128 % pad : i % pad, dim = which < 2 ? i % 128 : i / pad % 128;
        const uint16_t v = got[0][which][i];
        const bool unwritten = (int)dim >= dims, zero = (int)dim >= hd || (int)row >= len;
        if (unwritten ? v != 0xffff : zero ? v != 0 : !std::isfinite(bf2f(v))) ++wrong;
      }
    report_exact("bf16_in", shape("qkv_rope_flash n=%d, 2 frames, hd %d: padding", n, hd), wrong == 0,
                 shape("rows from %d and dims %d..%d zero, ", len, hd, dims - 1) +
                     shape("dims from %d not written: %d wrong", dims, (int)wrong));
  }
  // GELU MLP: fc1 + GELU on the fused GEMM from the bf16 rows; x not read (null).
  cosmos::GeluMlp g{{up_bf16(randv((size_t)inter * width, 0.05f)), WType::BF16, up(randv(inter)), width, inter},
                    {up_bf16(randv((size_t)width * inter, 0.05f)), WType::BF16, up(randv(width)), inter, width},
                    true};
  float* scratch = (float*)pool->alloc(sizeof(float) * std::max(cosmos::mlp_scratch_floats(g, n), (size_t)n * W * 2));
  const bool mlp_runs = cosmos::mlp_bf16_input_runs(g, xb, n, ctx);
  report_exact("bf16_in", shape("mlp_bf16_input_runs n=%d", n), mlp_runs, "fc1 + GELU fused");
  if (mlp_runs) {
    cosmos::mlp_cuda(y1, dx, g, n, scratch, ctx);
    cosmos::mlp_cuda(y2, nullptr, g, n, scratch, ctx, xb);
    report("bf16_in", shape("gelu mlp n=%d (bitwise)", n), down(y1, (size_t)n * width), down(y2, (size_t)n * width), 0);
    check_residual(shape("gelu mlp n=%d, fc2's epilogue", n), y2, (size_t)n * width,
                   [&](float* y) { cosmos::mlp_cuda(y, nullptr, g, n, scratch, ctx, xb, true); });
  }
  // The decoder's SwiGLU MLP: gate|up + SwiGLU on the fused GEMM from the bf16 rows; x not read (null).
  cosmos::SwiGluMlp sg{{up_bf16(randv((size_t)2 * inter * width, 0.05f)), WType::BF16, nullptr, width, 2 * inter},
                       {up_bf16(randv((size_t)width * inter, 0.05f)), WType::BF16, nullptr, inter, width}};
  const bool swiglu_runs = cosmos::mlp_bf16_input_runs(sg, xb, n, ctx);
  report_exact("bf16_in", shape("mlp_bf16_input_runs (SwiGLU) n=%d", n), swiglu_runs, "gate|up + SwiGLU fused");
  if (swiglu_runs) {
    float* ss = (float*)pool->alloc(sizeof(float) * cosmos::mlp_scratch_floats(sg, n));
    cosmos::mlp_cuda(y1, dx, sg, n, ss, ctx);
    cosmos::mlp_cuda(y2, nullptr, sg, n, ss, ctx, {}, xb);
    report("bf16_in", shape("swiglu mlp n=%d (bitwise)", n), down(y1, (size_t)n * width), down(y2, (size_t)n * width),
           0);
    check_residual(shape("swiglu mlp n=%d, down's epilogue", n), y2, (size_t)n * width,
                   [&](float* y) { cosmos::mlp_cuda(y, nullptr, sg, n, ss, ctx, {}, xb, true); });
    // One row (the GEMV path): the residual through a workspace and add_cuda.
    cosmos::mlp_cuda(y1, dx, sg, 1, ss, ctx);
    check_residual("swiglu mlp n=1, workspace + add", y1, width,
                   [&](float* y) { cosmos::mlp_cuda(y, dx, sg, 1, ss, ctx, {}, nullptr, true); });
  }
  // The decoder's prefill attention block: head dim 128, GQA, causal, q / k norms, a KV cache holding 37 earlier
  // rows; q|k|v from the bf16 rows and the flash kernel's output to o in bf16 (x null).
  {
    const int dh = 128, qh = 4, kvh = 2, past = 37, cap = past + n;
    cosmos::AttentionBlock db;
    db.qkv = cosmos::Linear{up_bf16(randv((size_t)(qh + 2 * kvh) * dh * width, 0.05f)), WType::BF16, nullptr, width,
                            (qh + 2 * kvh) * dh};
    db.o = cosmos::Linear{up_bf16(randv((size_t)width * qh * dh, 0.05f)), WType::BF16, nullptr, qh * dh, width};
    db.q_norm = up(randv(dh));
    db.k_norm = up(randv(dh));
    db.heads = qh;
    db.kv_heads = kvh;
    db.head_dim = dh;
    const auto k0 = randv((size_t)cap * kvh * dh), v0 = randv((size_t)cap * kvh * dh);
    float *kc[2] = {up(k0), up(k0)}, *vc[2] = {up(v0), up(v0)};
    cosmos::AttentionCall dc;
    dc.n = n;
    dc.causal = true;
    dc.tensor_core_attention = true;
    dc.cos = up(randv((size_t)n * dh));
    dc.sin = up(randv((size_t)n * dh));
    const bool runs = cosmos::attention_qkv_bf16_runs(db, n, ctx);
    report_exact("bf16_in", shape("attention_qkv_bf16_runs n=%d, hd 128, cache", n), runs, "q|k|v on the bf16 GEMM");
    if (runs) {
      float* as = (float*)pool->alloc(sizeof(float) * cosmos::attention_scratch_floats(db, n, true));
      cosmos::KvCache c0{kc[0], vc[0], cap, past}, c1{kc[1], vc[1], cap, past};
      dc.cache = &c0;
      cosmos::attention_block_cuda(y1, dx, db, dc, as, ctx);
      dc.cache = &c1;
      dc.xb = reinterpret_cast<const uint16_t*>(xb);
      cosmos::attention_block_cuda(y2, nullptr, db, dc, as, ctx);
      const bool flash = std::strcmp(flash_attention_path(n, past + n, dh, true, st), "wgmma") == 0;
      report("bf16_in",
             shape("causal attention block n=%d after %d cached rows, hd 128", n, past) +
                 (flash ? " (bitwise; flash out in bf16)" : " (bitwise; not the flash path)"),
             down(y1, (size_t)n * width), down(y2, (size_t)n * width), 0);
      report_exact("bf16_in", shape("causal attention block n=%d: the cache rows written", n),
                   down(kc[0], (size_t)cap * kvh * dh) == down(kc[1], (size_t)cap * kvh * dh) &&
                       down(vc[0], (size_t)cap * kvh * dh) == down(vc[1], (size_t)cap * kvh * dh),
                   "k and v bit for bit");
      dc.residual = true;  // (the same cache rows written again)
      check_residual(shape("causal attention block n=%d, o's epilogue", n), y2, (size_t)n * width,
                     [&](float* y) { cosmos::attention_block_cuda(y, nullptr, db, dc, as, ctx); });
      dc.residual = false;
    }
  }
  // The tower's attention block: q|k|v from the bf16 rows (x null), two frames on the flash path.
  cosmos::AttentionBlock ab;
  ab.qkv = l;
  ab.o = cosmos::Linear{up_bf16(randv((size_t)width * QH, 0.05f)), WType::BF16, up(randv(width)), QH, width};
  ab.heads = ab.kv_heads = heads;
  ab.head_dim = hd;
  ab.fused_prefill_gemm = true;
  const std::vector<int> seg = {0, n / 2, n};
  cosmos::AttentionCall a;
  a.n = n;
  a.causal = false;
  a.segments = seg.data();
  a.n_segments = 2;
  a.tensor_core_attention = true;
  a.cos = up(randv((size_t)n * hd));
  a.sin = up(randv((size_t)n * hd));
  const bool attn_runs = cosmos::attention_qkv_bf16_runs(ab, n, ctx);
  report_exact("bf16_in", shape("attention_qkv_bf16_runs n=%d", n), attn_runs, "q|k|v on the bf16 GEMM");
  if (attn_runs) {
    float* as = (float*)pool->alloc(sizeof(float) * cosmos::attention_scratch_floats(ab, n, false));
    cosmos::attention_block_cuda(y1, dx, ab, a, as, ctx);
    a.xb = reinterpret_cast<const uint16_t*>(xb);
    setenv("COSMOS_QKV_BF16_OUT", "0", 1);  // q|k|v in f32 from the GEMM, as from x
    cosmos::attention_block_cuda(y2, nullptr, ab, a, as, ctx);
    const bool flash = std::strcmp(flash_attention_path(n / 2, n / 2, hd, false, st), "wgmma") == 0;
    report("bf16_in",
           shape("attention block n=%d, 2 frames, hd %d, f32 q|k|v", n, hd) +
               (flash ? " (bitwise; flash out in bf16)" : " (bitwise; not the flash path)"),
           down(y1, (size_t)n * width), down(y2, (size_t)n * width), 0);
    a.residual = true;
    check_residual(shape("attention block n=%d, 2 frames, o's epilogue", n), y2, (size_t)n * width,
                   [&](float* y) { cosmos::attention_block_cuda(y, nullptr, ab, a, as, ctx); });
    a.residual = false;
    // COSMOS_QKV_BF16_OUT=1: q|k|v in bf16 from the GEMM (linear_bf16_out and qkv_rope_flash's bf16 form, each bit for
    // bit above): q and k rounded before the rotary as well as after, 4.9e-3 and 9.3e-3 rel l2 on the output for two
    // random draws (the tower test below allows 2e-2 too; a misplaced row, head or part is O(1)).
    float* y3 = up(std::vector<float>((size_t)n * width));
    setenv("COSMOS_QKV_BF16_OUT", "1", 1);
    cosmos::attention_block_cuda(y3, nullptr, ab, a, as, ctx);
    unsetenv("COSMOS_QKV_BF16_OUT");
    report("bf16_in",
           shape("attention block n=%d, 2 frames, hd %d, bf16 q|k|v from the GEMM", n, hd) +
               (flash && bf16_out ? " vs f32 q|k|v" : " (not that path: bitwise)"),
           down(y1, (size_t)n * width), down(y3, (size_t)n * width), flash && bf16_out ? 2e-2 : 0);
  }
  // An f32 weight takes no bf16 rows: a ModelError naming the call, nothing run.
  cosmos::Linear f32{up(randv((size_t)W * width)), WType::F32, nullptr, width, W};
  bool threw = false;
  try {
    cosmos::linear_bf16_cuda(y2, xb, f32, n, ctx);
  } catch (const cosmos::ModelError&) {
    threw = true;
  }
  report_exact("bf16_in", "linear_bf16_cuda on f32 weights", threw, "ModelError");
}

// The tower end to end (random bf16 weights, 2 blocks, 2 frames of 16 x 16 patches, head dim 72):
// the bf16 inputs (the default: pixels staged in bf16, the norms writing bf16 rows) give the same outputs bit for bit
// as the f32 rows and casts (COSMOS_TOWER_BF16_INPUTS=0).
void test_tower_bf16_inputs() {
  cosmos::Qwen3VisionConfig c;
  c.depth = 2;
  c.hidden_size = 288;  // 4 heads of 72: the 8B tower's head dim, on the bf16 flash path (its output to o in bf16)
  c.intermediate_size = 512;
  c.num_heads = 4;
  c.out_hidden_size = 128;
  c.num_position_embeddings = 64;
  c.deepstack_visual_indexes = {0};
  auto tower = cosmos::Qwen3VisionCuda::random(c, WType::BF16, 5);
  const std::vector<cosmos::Qwen3VisionGrid> grids = {{2, 16, 16}};
  auto px = randv((size_t)2 * 16 * 16 * c.patch_dim());
  const bool wgmma = cosmos::gemm_wgmma_available(st);
  for (const char* vec : {"0", "1"}) {  // add_layernorm's scalar and vector forms
    setenv("COSMOS_LAYERNORM_VEC", vec, 1);
    const std::string form = vec[0] == '0' ? " [COSMOS_LAYERNORM_VEC=0]" : "";
    cosmos::Qwen3VisionOutput f32_out, bf16_out, qkv_out;
    setenv("COSMOS_QKV_BF16_OUT", "0", 1);  // q|k|v in f32 from the GEMM in both, as before the bf16 inputs
    setenv("COSMOS_TOWER_BF16_INPUTS", "0", 1);
    tower->forward(px.data(), px.size(), grids, f32_out);
    const bool off = !tower->last_phases().bf16_inputs;
    unsetenv("COSMOS_TOWER_BF16_INPUTS");
    tower->forward(px.data(), px.size(), grids, bf16_out);
    const bool on = tower->last_phases().bf16_inputs;
    unsetenv("COSMOS_QKV_BF16_OUT");
    report_exact("tower_bf16", "512 patches, 2 blocks: the run's inputs" + form, off && on == wgmma,
                 wgmma ? "f32 with =0, bf16 by default" : "f32 both (no fused bf16 GEMMs)");
    report("tower_bf16", "embeds, bf16 inputs vs f32 + casts (bitwise)" + form, f32_out.embeds, bf16_out.embeds, 0);
    report("tower_bf16", "deepstack 0, bf16 inputs vs f32 + casts (bitwise)" + form, f32_out.deepstack.at(0),
           bf16_out.deepstack.at(0), 0);
    // COSMOS_QKV_BF16_OUT=1: q|k|v in bf16 from the GEMM as well (q and k rounded before the rotary too: ~1e-3 a
    // block, test_bf16_input_layers); a wiring slip would be O(1).
    setenv("COSMOS_QKV_BF16_OUT", "1", 1);
    tower->forward(px.data(), px.size(), grids, qkv_out);
    unsetenv("COSMOS_QKV_BF16_OUT");
    report("tower_bf16", "embeds, bf16 q|k|v from the GEMM vs f32 + casts" + form, f32_out.embeds, qkv_out.embeds,
           wgmma ? 2e-2 : 0);
    // The residual adds in the norms (COSMOS_RESIDUAL_IN_GEMM=0) against the default, in o's and fc2's epilogue.
    cosmos::Qwen3VisionOutput in_norm;
    const bool in_gemm = tower->last_phases().residual_in_gemm;  // (the run before: the default)
    setenv("COSMOS_RESIDUAL_IN_GEMM", "0", 1);
    setenv("COSMOS_QKV_BF16_OUT", "0", 1);  // as bf16_out's run
    tower->forward(px.data(), px.size(), grids, in_norm);
    const bool norm_adds = !tower->last_phases().residual_in_gemm;
    unsetenv("COSMOS_QKV_BF16_OUT");
    unsetenv("COSMOS_RESIDUAL_IN_GEMM");
    report_exact("tower_bf16", "the residual adds: in the GEMMs by default, in the norms with =0" + form,
                 norm_adds && in_gemm == wgmma, wgmma ? "both as said" : "the norms both times (no wgmma GEMM)");
    report("tower_bf16", "embeds, residual in the GEMMs vs in the norms (bitwise)" + form, in_norm.embeds,
           bf16_out.embeds, 0);
    report("tower_bf16", "deepstack 0, residual in the GEMMs vs in the norms (bitwise)" + form, in_norm.deepstack.at(0),
           bf16_out.deepstack.at(0), 0);
  }
  unsetenv("COSMOS_LAYERNORM_VEC");
  // A run keeps the blocks it used (COSMOS_TOWER_KEEP_BLOCKS=0: it gives back all): the next run of the same grids
  // makes no cudaMalloc and gives the same outputs.
  cosmos::Qwen3VisionOutput first, again;
  setenv("COSMOS_TOWER_KEEP_BLOCKS", "0", 1);
  tower->forward(px.data(), px.size(), grids, first);
  const bool emptied = tower->pool().bytes_cached() == 0;
  unsetenv("COSMOS_TOWER_KEEP_BLOCKS");
  tower->forward(px.data(), px.size(), grids, again);
  const size_t kept = tower->pool().bytes_cached();
  tower->forward(px.data(), px.size(), grids, again);
  const size_t mallocs = tower->last_phases().mallocs;
  report_exact("tower_keep", shape("blocks kept: %zu B, the next run's cudaMalloc calls: %zu", kept, mallocs),
               emptied && kept > 0 && mallocs == 0, "0 B cached with =0, > 0 by default, then no cudaMalloc");
  report("tower_keep", "embeds, a run on kept blocks vs one on fresh blocks (bitwise)", first.embeds, again.embeds, 0);
  setenv("COSMOS_TOWER_KEEP_BLOCKS", "0", 1);
  tower->forward(px.data(), px.size(), grids, first);
  unsetenv("COSMOS_TOWER_KEEP_BLOCKS");
  report_exact("tower_keep", "COSMOS_TOWER_KEEP_BLOCKS=0 again: the run ends with the cache empty",
               tower->pool().bytes_cached() == 0, "0 B cached");
}

// The blocks' MLP width padded at load (Qwen3VisionCuda::pad_mlp_widths, gelu_mlp_pad_width_cuda): a tower of width
// 520 (not a multiple of 64) against the same random weights kept at 520 (COSMOS_TOWER_MLP_PAD=0), bit for bit, with
// bf16 and with f32 GEMM inputs; the weight bytes say the padding happened (fc1's 56 zero rows and bias entries, fc2's
// 56 zero columns a block).
void test_tower_mlp_pad() {
  cosmos::Qwen3VisionConfig c;
  c.depth = 2;
  c.hidden_size = 288;
  c.intermediate_size = 520;
  c.num_heads = 4;
  c.out_hidden_size = 128;
  c.num_position_embeddings = 64;
  c.deepstack_visual_indexes = {1};
  setenv("COSMOS_TOWER_MLP_PAD", "0", 1);
  auto kept = cosmos::Qwen3VisionCuda::random(c, WType::BF16, 9);
  unsetenv("COSMOS_TOWER_MLP_PAD");
  auto padded = cosmos::Qwen3VisionCuda::random(c, WType::BF16, 9);
  const size_t extra = (size_t)c.depth * 56 * (2 * c.hidden_size * 2 + 4);
  report_exact("tower_mlp_pad",
               shape("weight bytes %zu padded vs %zu kept", padded->weight_bytes(), kept->weight_bytes()),
               padded->weight_bytes() == kept->weight_bytes() + extra, shape("%zu more (520 -> 576)", extra));
  const std::vector<cosmos::Qwen3VisionGrid> grids = {{2, 16, 16}};
  auto px = randv((size_t)2 * 16 * 16 * c.patch_dim());
  for (const char* bf16_inputs : {"1", "0"}) {
    setenv("COSMOS_TOWER_BF16_INPUTS", bf16_inputs, 1);
    const std::string form = bf16_inputs[0] == '0' ? " [COSMOS_TOWER_BF16_INPUTS=0]" : "";
    cosmos::Qwen3VisionOutput a, b;
    kept->forward(px.data(), px.size(), grids, a);
    padded->forward(px.data(), px.size(), grids, b);
    report("tower_mlp_pad", "embeds, width 576 vs 520 (bitwise)" + form, a.embeds, b.embeds, 0);
    report("tower_mlp_pad", "deepstack 0, width 576 vs 520 (bitwise)" + form, a.deepstack.at(0), b.deepstack.at(0), 0);
  }
  unsetenv("COSMOS_TOWER_BF16_INPUTS");
}

// The tower's head (qwen3_vision_cuda.cu, tower_head_plan): a run of several frames runs its first quarter of frames
// through the first blocks while the rest's pixels are staged, then the rest through them, then every row on. The
// outputs against COSMOS_TOWER_HEAD=0, bit for bit, with bf16 and with f32 GEMM inputs, for a video and a mixed list
// of grids; the phases say the head ran, and that two 8x8 frames (parts of 64 rows) ran without one.
// Three blocks of 4 heads of 72 (as test_tower_bf16_inputs), mergers after blocks 1 and 2: a 4-frame video's head
// stops before block 1 (its merger reads every row).
cosmos::Qwen3VisionConfig three_block_tower() {
  cosmos::Qwen3VisionConfig c;
  c.depth = 3;
  c.hidden_size = 288;
  c.intermediate_size = 512;
  c.num_heads = 4;
  c.out_hidden_size = 128;
  c.num_position_embeddings = 64;
  c.deepstack_visual_indexes = {1, 2};
  return c;
}

void test_tower_head() {
  const cosmos::Qwen3VisionConfig c = three_block_tower();
  auto tower = cosmos::Qwen3VisionCuda::random(c, WType::BF16, 7);
  struct Case {
    const char* what;
    std::vector<cosmos::Qwen3VisionGrid> grids;
    int head_rows, head_layers;
  };
  const Case cases[] = {{"a video of 4 frames", {{4, 16, 16}}, 256, 1},
                        {"grids 1x16x16, 1x8x8, 2x16x16", {{1, 16, 16}, {1, 8, 8}, {2, 16, 16}}, 256, 1},
                        // 64 rows a part: under the 128 rows the GEMMs of the whole run need, so no head
                        {"a video of 2 8x8 frames", {{2, 8, 8}}, 0, 0}};
  for (const Case& k : cases) {
    const auto px = randv((size_t)cosmos::qwen3_vision_num_patches(k.grids) * c.patch_dim());
    for (const char* bf16 : {"1", "0"}) {
      setenv("COSMOS_TOWER_BF16_INPUTS", bf16, 1);
      const std::string cs = std::string(k.what) + (bf16[0] == '1' ? "" : " [f32 inputs]");
      cosmos::Qwen3VisionOutput whole, headed;
      setenv("COSMOS_TOWER_HEAD", "0", 1);
      tower->forward(px.data(), px.size(), k.grids, whole);
      const auto off = tower->last_phases();
      unsetenv("COSMOS_TOWER_HEAD");
      tower->forward(px.data(), px.size(), k.grids, headed);
      const auto on = tower->last_phases();
      report_exact("tower_head", cs + ": the phases",
                   off.head_layers == 0 && on.head_layers == k.head_layers && on.head_rows == k.head_rows,
                   shape("head %d rows, %d block(s); =0: %d", on.head_rows, on.head_layers, off.head_layers));
      report("tower_head", cs + ": embeds (bitwise)", whole.embeds, headed.embeds, 0);
      for (size_t d = 0; d < whole.deepstack.size(); ++d)
        report("tower_head", cs + shape(": deepstack %d (bitwise)", (int)d), whole.deepstack[d], headed.deepstack.at(d),
               0);
    }
    unsetenv("COSMOS_TOWER_BF16_INPUTS");
  }
}

// The tower's blocks as CUDA graphs per shape (qwen3_vision_cuda.cu, COSMOS_TOWER_GRAPH): a shape's first run is eager,
// its second records the graphs, later ones replay them. Every run's outputs against the eager runs
// (COSMOS_TOWER_GRAPH=0) of the same pixels, bit for bit (the same kernels in the same order), with new pixels in each
// run (a replay reads them from the buffers the graphs were recorded on), for a video with a head and for one image,
// through the host and into device buffers at other addresses each run; a replay makes no cudaMalloc once the blocks
// the mergers take are cached; other grids or another COSMOS_* value run eagerly and let go of the graphs; an abort
// is seen between segments and leaves the graphs in place; another pool out of memory takes the graphs' blocks.
void test_tower_graph() {
  const cosmos::Qwen3VisionConfig c = three_block_tower();  // three segments a run: the head's, then to each merger
  auto tower = cosmos::Qwen3VisionCuda::random(c, WType::BF16, 11);
  using G = cosmos::Qwen3VisionCuda;
  const char* use_name[] = {"eager", "captured", "replayed"};
  struct Case {
    const char* what;
    std::vector<cosmos::Qwen3VisionGrid> grids;
    bool to_device;
  };
  const Case cases[] = {{"a video of 4 frames (head), host outputs", {{4, 16, 16}}, false},
                        {"one image, host outputs", {{1, 16, 16}}, false},
                        {"a video of 4 frames (head), device outputs", {{4, 16, 16}}, true}};
  const size_t base_in_use = tower->pool().bytes_in_use();
  for (const Case& k : cases) {
    const size_t n_px = (size_t)cosmos::qwen3_vision_num_patches(k.grids) * c.patch_dim();
    const int T = (int)(cosmos::qwen3_vision_num_patches(k.grids) / c.merge_unit());
    const size_t n_out = (size_t)T * c.out_hidden_size;
    const std::vector<float> px[2] = {randv(n_px), randv(n_px)};
    // One run: its embeds and deepstack outputs, through the host or through device buffers (new ones each run, so
    // at other addresses while the earlier runs' are still held).
    std::vector<std::vector<cosmos::DeviceBuffer<float>>> kept_outputs;
    auto run = [&](const std::vector<float>& x) {
      std::vector<std::vector<float>> o;
      if (!k.to_device) {
        cosmos::Qwen3VisionOutput out;
        tower->forward(x.data(), x.size(), k.grids, out);
        o.push_back(out.embeds);
        for (auto& d : out.deepstack) o.push_back(d);
        return o;
      }
      std::vector<cosmos::DeviceBuffer<float>> bufs;
      for (size_t i = 0; i <= c.deepstack_visual_indexes.size(); ++i) bufs.emplace_back(tower->pool(), n_out);
      std::vector<float*> ds;
      for (size_t i = 1; i < bufs.size(); ++i) ds.push_back(bufs[i].get());
      tower->forward_device(x.data(), x.size(), k.grids, bufs[0].get(), ds);
      for (auto& b : bufs) {
        std::vector<float> h(n_out);
        CUDA_CHECK(cudaMemcpy(h.data(), b.get(), sizeof(float) * n_out, cudaMemcpyDeviceToHost));
        o.push_back(std::move(h));
      }
      kept_outputs.push_back(std::move(bufs));
      return o;
    };
    setenv("COSMOS_TOWER_GRAPH", "0", 1);
    const std::vector<std::vector<float>> ref[2] = {run(px[0]), run(px[1])};
    const bool off_eager = tower->last_phases().graph == cosmos::kGraphEager && !tower->graph_held();
    setenv("COSMOS_TOWER_GRAPH", "1", 1);  // (whatever the default)
    const cosmos::GraphUse want[] = {cosmos::kGraphEager, cosmos::kGraphCaptured, cosmos::kGraphReplayed,
                                     cosmos::kGraphReplayed, cosmos::kGraphReplayed};
    std::string uses;
    bool uses_ok = off_eager;
    int segments = 0;
    size_t last_mallocs = 1;
    for (int r = 0; r < 5; ++r) {
      const int which = r % 2;  // new pixels every run
      const auto got = run(px[which]);
      const G::Phases ph = tower->last_phases();
      uses += std::string(r ? ", " : "") + use_name[ph.graph];
      uses_ok = uses_ok && ph.graph == want[r];
      if (ph.graph != cosmos::kGraphEager) segments = ph.graph_segments;
      last_mallocs = ph.mallocs;
      for (size_t o = 0; o < got.size(); ++o)
        report("tower_graph", std::string(k.what) + shape(": run %d, output %d vs eager (bitwise)", r + 1, (int)o),
               ref[which].at(o), got[o], 0);
    }
    const int want_segments = c.depth == 3 && k.grids[0].t > 1 ? 3 : 2;  // (with a head: its own segment)
    report_exact("tower_graph", std::string(k.what) + ": how runs 1-5 ran",
                 uses_ok && segments == want_segments && tower->graph_held(), uses + shape(" (%d segments)", segments));
    report_exact("tower_graph", std::string(k.what) + ": run 5's cudaMalloc calls", last_mallocs == 0,
                 shape("%d", (int)last_mallocs));
  }
  // Another COSMOS_* value: an eager run, the graphs let go (their blocks back to the pool), then recorded again.
  const std::vector<cosmos::Qwen3VisionGrid> image = {{1, 16, 16}};
  const auto px = randv((size_t)256 * c.patch_dim());
  cosmos::Qwen3VisionOutput o1, o2, o3;
  setenv("COSMOS_TOWER_HEAD", "1", 1);  // (the default value: only the key differs)
  tower->forward(px.data(), px.size(), image, o1);
  const bool switched = tower->last_phases().graph == cosmos::kGraphEager && !tower->graph_held();
  tower->forward(px.data(), px.size(), image, o2);
  const bool recorded = tower->last_phases().graph == cosmos::kGraphCaptured && tower->graph_held();
  unsetenv("COSMOS_TOWER_HEAD");
  report_exact("tower_graph", "a COSMOS_* value set: eager, then recorded again", switched && recorded,
               "eager + let go, then captured");
  // An abort (seen at the run's start and between segments) leaves the graphs: the next run replays them.
  tower->forward(px.data(), px.size(), image, o1);  // (another key: eager)
  tower->forward(px.data(), px.size(), image, o1);  // captured
  std::atomic<bool> stop{true};
  tower->set_abort_flag(&stop);
  bool aborted = false;
  try {
    tower->forward(px.data(), px.size(), image, o2);
  } catch (const cosmos::AbortedError&) {
    aborted = true;
  }
  tower->set_abort_flag(nullptr);
  const bool kept = tower->graph_held();
  tower->forward(px.data(), px.size(), image, o3);
  report_exact("tower_graph", "abort flag set on a held shape: AbortedError, graphs kept",
               aborted && kept && tower->last_phases().graph == cosmos::kGraphReplayed,
               aborted ? "thrown" : "not thrown");
  report("tower_graph", "the replay after the abort vs the captured run (bitwise)", o1.embeds, o3.embeds, 0);
  // drop_graph: the pool back to the weights (and what the tests' device outputs above no longer hold).
  tower->drop_graph();
  report_exact("tower_graph", "drop_graph: bytes in use back to the weights'",
               !tower->graph_held() && tower->pool().bytes_in_use() == base_in_use,
               shape("%d KiB over", (int)((tower->pool().bytes_in_use() - base_in_use) >> 10)));
  // Another pool out of memory takes a held graph's blocks (the reclaim hook): a tower of 8 frames of 64 x 64
  // patches holds some hundred MB; ask another pool for the free memory plus half of that.
  const std::vector<cosmos::Qwen3VisionGrid> big = {{8, 64, 64}};
  const auto bpx = randv((size_t)cosmos::qwen3_vision_num_patches(big) * c.patch_dim(), 0.5f);
  cosmos::Qwen3VisionOutput bo;
  tower->forward(bpx.data(), bpx.size(), big, bo);
  tower->forward(bpx.data(), bpx.size(), big, bo);
  const size_t held = tower->pool().bytes_in_use() - base_in_use;
  const bool had = tower->graph_held();
  CUDA_CHECK(cudaStreamSynchronize(st));
  pool->release_cached();
  tower->pool().release_cached();
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  const size_t ask = (free_b + held / 2) / (1 << 20) * (1 << 20);
  bool made = false;
  {
    cosmos::CudaPool other;
    try {
      void* p = other.alloc(ask);
      made = p != nullptr;
      other.free(p);
    } catch (const std::exception&) {
    }
  }
  report_exact("tower_graph", shape("out of memory elsewhere: the graph's %d MiB taken", (int)(held >> 20)),
               had && held > (64u << 20) && made && !tower->graph_held(),
               made ? "allocation made, graph let go" : "allocation failed");
  unsetenv("COSMOS_TOWER_GRAPH");
}

void test_bf16_inputs() {
  test_add_rmsnorm_bf16(5, 4096);           // the decoder's width
  test_add_rmsnorm_bf16(3, 998);            // dim % 4 != 0: the scalar form
  test_add_layernorm_bf16(7, 1152, true);   // the vector form: one float4 a thread
  test_add_layernorm_bf16(5, 100, false);   // the vector form, threads past the row
  test_add_layernorm_bf16(3, 998, true);    // dim % 4 != 0: the scalar form
  test_add_layernorm_bf16(2, 4096, false);  // 2 float4s a thread
  test_bf16_input_layers(300);
  test_linear_bf16_add(300, 1152, 1152, true);    // k <= 2048: ping-pong tiles
  test_linear_bf16_add(1024, 4096, 4096, false);  // 256 x 128 tiles
  test_linear_bf16_add(200, 256, 1001, true);     // odd m: the per-element path, a partial last column tile
  test_linear_bf16_add(130, 512, 4000, false);    // a partial last column tile, pairs
  test_linear_add(300, 1024, 1000, false);        // f32 rows on the bf16 GEMM, bias
  test_linear_add(300, 1024, 1000, true);         // the fp8 GEMM: its common tiles and a partial column tile
  test_linear_add(40, 512, 257, true);            // fp8, odd m: the per-element path
  test_tower_bf16_inputs();
  test_tower_head();
  test_tower_mlp_pad();
  test_tower_graph();
  test_linear_bf16_add_bf16(300, 1152, 1152, true);    // k 1152: ping-pong tiles, 16-byte rows
  test_linear_bf16_add_bf16(1024, 4352, 1152, true);   // k 4352, ping-pong tiles
  test_linear_bf16_add_bf16(1024, 4096, 4096, false);  // 256 x 128 tiles, no bias
  test_linear_bf16_add_bf16(200, 256, 1002, true);     // m % 8 != 0: pairs, a partial last column tile
  test_linear_bf16_add_bf16(130, 512, 4000, false);    // a partial last column tile, no bias
  test_rmsnorm_bf16_rows(5, 4096);                     // the decoder's width: the vector form
  test_rmsnorm_bf16_rows(3, 998);                      // dim % 4 != 0: the scalar form
  test_scatter_add_rows_bf16(12, 4096);
}

// --- Wan VAE ops vs their CPU twins.
void test_conv3d(const char* name, Conv3dDims d, int n_hist, bool hist, int t, int h, int w, bool bf16) {
  auto x = randv((size_t)t * h * w * d.cin), hs = randv((size_t)std::max(n_hist, 1) * h * w * d.cin);
  auto wt = randv((size_t)d.cout * d.k(), 0.1f), b = randv(d.cout);
  std::vector<uint16_t> wb;
  if (bf16) {
    wb.resize(wt.size());
    for (size_t i = 0; i < wt.size(); ++i) {
      wb[i] = f2bf(wt[i]);
      wt[i] = bf2f(wb[i]);
    }
  }
  const size_t n = (size_t)d.out_t(n_hist, t) * d.out_h(h) * d.out_w(w) * d.cout;
  std::vector<float> ref(n);
  conv3d_cpu(ref.data(), hist ? hs.data() : nullptr, n_hist, x.data(), t, h, w, wt.data(), b.data(), d,
             cosmos::CpuContext{});
  float *dx = up(x), *dh = up(hs), *db = up(b), *dout = (float*)pool->alloc(n * 4);
  void* dw;
  if (bf16) {
    dw = pool->alloc(wb.size() * 2);
    h2d(dw, wb.data(), wb.size() * 2);
  } else {
    dw = up(wt);
  }
  conv3d_cuda(dout, hist ? dh : nullptr, n_hist, dx, t, h, w, dw, bf16 ? WType::BF16 : WType::F32, db, d, ctx);
  report("conv3d", std::string(name) + shape(" t=%d %dx%d cin=%d", t, h, w, d.cin) + (bf16 ? " bf16" : " f32"), ref,
         down(dout, n), bf16 ? 1e-2 : 1e-4);
  pool->free(dx);
  pool->free(dh);
  pool->free(db);
  pool->free(dout);
  pool->free(dw);
}
void test_wan_vae_elementwise() {
  // wan_rmsnorm (+ SiLU), in place too: dims 256, 1024 and 640 (five float4 a lane) take the warp-per-row kernel,
  // 96 the block-per-row one. Its bf16 form: the f32 op's output rounded, bit for
  // bit (cast_bf16_cuda of it), and the CPU twin's bits within one bf16 step (the sums' order differs).
  for (int dim : {256, 1024, 640, 96}) {
    const int rows = dim == 1024 ? 777 : 1000;
    auto x = randv((size_t)rows * dim), g = randv(dim);
    for (int i = 0; i < dim; ++i) x[(size_t)5 * dim + i] = 0.f;  // a zero row stays zero
    for (int silu = 0; silu < 2; ++silu) {
      std::vector<float> ref(x.size());
      wan_rmsnorm_cpu(ref.data(), x.data(), g.data(), rows, dim, silu);
      float *dx = up(x), *dg = up(g);
      wan_rmsnorm_cuda(dx, dx, dg, rows, dim, silu, ctx);
      const std::vector<float> got = down(dx, ref.size());
      report("wan_rmsnorm", shape("rows=%d dim=%d in place", rows, dim) + (silu ? " +silu" : ""), ref, got, 1e-5);
      // x again, ordered on the test's stream (a plain cudaMemcpy from pageable memory may still be landing when a
      // kernel on a non-blocking stream starts)
      CUDA_CHECK(cudaMemcpyAsync(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice, st));
      uint16_t *db = (uint16_t*)pool->alloc(x.size() * 2), *dc = (uint16_t*)pool->alloc(x.size() * 2);
      float* df = (float*)pool->alloc(x.size() * 4);
      wan_rmsnorm_bf16_cuda(db, dx, dg, rows, dim, silu, ctx);
      wan_rmsnorm_cuda(df, dx, dg, rows, dim, silu, ctx);
      cast_bf16_cuda(dc, df, x.size(), ctx);
      CUDA_CHECK(cudaStreamSynchronize(st));
      std::vector<uint16_t> b(x.size()), c(x.size()), twin(x.size());
      CUDA_CHECK(cudaMemcpy(b.data(), db, b.size() * 2, cudaMemcpyDeviceToHost));
      CUDA_CHECK(cudaMemcpy(c.data(), dc, c.size() * 2, cudaMemcpyDeviceToHost));
      wan_rmsnorm_bf16_cpu(twin.data(), x.data(), g.data(), rows, dim, silu);
      report_exact("wan_rmsnorm", shape("bf16 out, dim=%d", dim) + (silu ? " +silu" : "") + " == f32 op's, cast",
                   b == c, "bitwise");
      std::vector<float> bf(b.size()), tf(b.size());
      for (size_t i = 0; i < b.size(); ++i) bf[i] = bf2f(b[i]), tf[i] = bf2f(twin[i]);
      report("wan_rmsnorm", shape("bf16 out, dim=%d", dim) + (silu ? " +silu" : "") + " vs cpu twin", tf, bf, 8e-3);
      for (void* p : {(void*)dx, (void*)dg, (void*)db, (void*)dc, (void*)df}) pool->free(p);
    }
  }
  {  // upsample to bf16: 16-byte loads (c % 4 == 0, strided rows) and the scalar kernel (c = 6), vs the CPU twin
    for (int c : {40, 6}) {
      const int f = 3, h = 17, w = 9;
      auto x = randv((size_t)f * h * w * 2 * c);
      std::vector<uint16_t> ref((size_t)f * 4 * h * w * c), got(ref.size());
      upsample_nearest2x_bf16_cpu(ref.data(), x.data() + c, f, h, w, c, (long long)h * w * 2 * c, 2 * c);
      float* dx = up(x);
      void* dout = pool->alloc(ref.size() * 2);
      upsample_nearest2x_bf16_cuda(dout, dx + c, f, h, w, c, (long long)h * w * 2 * c, 2 * c, ctx);
      CUDA_CHECK(cudaStreamSynchronize(st));
      CUDA_CHECK(cudaMemcpy(got.data(), dout, got.size() * 2, cudaMemcpyDeviceToHost));
      report_exact("upsample2x", shape("bf16 out, f=%d %dx%d c=%d strided", f, h, w, c), got == ref, "bitwise");
      pool->free(dx);
      pool->free(dout);
    }
  }
  {  // upsample of the second half of [.., 2c] rows
    const int f = 3, h = 17, w = 9, c = 40;
    auto x = randv((size_t)f * h * w * 2 * c);
    std::vector<float> ref((size_t)f * 4 * h * w * c);
    upsample_nearest2x_cpu(ref.data(), x.data() + c, f, h, w, c, (long long)h * w * 2 * c, 2 * c);
    float *dx = up(x), *dout = (float*)pool->alloc(ref.size() * 4);
    upsample_nearest2x_cuda(dout, dx + c, f, h, w, c, (long long)h * w * 2 * c, 2 * c, ctx);
    report_exact("upsample2x", shape("f=%d %dx%d c=%d strided", f, h, w, c), down(dout, ref.size()) == ref, "bitwise");
    pool->free(dx);
    pool->free(dout);
  }
  {  // pixel patchify / unpatchify (+ clamp)
    const int c = 3, F = 5, H = 32, W = 48, p = 2, f0 = 1, nf = 4;
    auto v = randv((size_t)c * F * H * W, 1.5f);
    std::vector<float> ref((size_t)nf * H * W * c);
    pixel_patchify_cpu(ref.data(), v.data(), c, F, f0, nf, H, W, p);
    float *dv = up(v), *dp = (float*)pool->alloc(ref.size() * 4);
    pixel_patchify_cuda(dp, dv, c, F, f0, nf, H, W, p, ctx);
    report_exact("patchify_px", "3x5x32x48 frames 1..4 p=2", down(dp, ref.size()) == ref, "bitwise");
    std::vector<float> back = v;
    pixel_unpatchify_cpu(back.data(), ref.data(), c, F, f0, nf, H / p, W / p, p, true);
    pixel_unpatchify_cuda(dv, dp, c, F, f0, nf, H / p, W / p, p, true, ctx);
    report_exact("unpatch_px", "3x5x32x48 frames 1..4 p=2 clamp", down(dv, v.size()) == back, "bitwise");
    pool->free(dv);
    pool->free(dp);
  }
  {  // avg_down_add / dup_up_add at Wan2.2's folds
    const int t = 4, h = 8, w = 6, cin = 16, cout = 32;
    auto x = randv((size_t)t * h * w * cin), base = randv((size_t)2 * 4 * 3 * cout);
    auto ref = base;
    avg_down_add_cpu(ref.data(), x.data(), t, h, w, cin, cout, 2, 2);
    float *dx = up(x), *db = up(base);
    avg_down_add_cuda(db, dx, t, h, w, cin, cout, 2, 2, ctx);
    report("avg_down", "t=4 8x6 16->32 ft=2 fs=2", ref, down(db, ref.size()), 1e-6);
    pool->free(dx);
    pool->free(db);
    const int t2 = 2, cin2 = 32, cout2 = 16, skip = 1;
    auto x2 = randv((size_t)t2 * h * w * cin2), base2 = randv((size_t)(t2 * 2 - skip) * 4 * h * w * cout2);
    auto ref2 = base2;
    dup_up_add_cpu(ref2.data(), x2.data(), t2, h, w, cin2, cout2, 2, 2, skip);
    float *dx2 = up(x2), *db2 = up(base2);
    dup_up_add_cuda(db2, dx2, t2, h, w, cin2, cout2, 2, 2, skip, ctx);
    report_exact("dup_up", "t=2 8x6 32->16 ft=2 fs=2 skip 1", down(db2, ref2.size()) == ref2, "bitwise");
    pool->free(dx2);
    pool->free(db2);
    // cout % 4 != 0: the one-element kernel (above: four channels a thread)
    const int cin3 = 12, cout3 = 6;
    auto x3 = randv((size_t)t2 * h * w * cin3), base3 = randv((size_t)t2 * 2 * 4 * h * w * cout3);
    auto ref3 = base3;
    dup_up_add_cpu(ref3.data(), x3.data(), t2, h, w, cin3, cout3, 2, 2, 0);
    float *dx3 = up(x3), *db3 = up(base3);
    dup_up_add_cuda(db3, dx3, t2, h, w, cin3, cout3, 2, 2, 0, ctx);
    report_exact("dup_up", "t=2 8x6 12->6 ft=2 fs=2", down(db3, ref3.size()) == ref3, "bitwise");
    pool->free(dx3);
    pool->free(db3);
  }
  {  // latent normalisation both ways
    const int rows = 300, c = 48;
    auto x = randv((size_t)rows * c), mean = randv(c), sd = randv(c);
    for (auto& e : sd) e = 0.3f + std::fabs(e);
    for (int inv = 0; inv < 2; ++inv) {
      auto ref = x;
      wan_latent_norm_cpu(ref.data(), rows, c, mean.data(), sd.data(), inv);
      float *dx = up(x), *dm = up(mean), *ds = up(sd);
      wan_latent_norm_cuda(dx, rows, c, dm, ds, inv, ctx);
      report("latent_norm", inv ? "inverse 300x48" : "forward 300x48", ref, down(dx, ref.size()), 1e-6);
      pool->free(dx);
      pool->free(dm);
      pool->free(ds);
    }
  }
}
void test_attention_gemm(int n_q, int n_kv, int hd) {
  auto q = randv((size_t)n_q * hd), k = randv((size_t)n_kv * hd), v = randv((size_t)n_kv * hd);
  std::vector<float> ref((size_t)n_q * hd);
  const float scale = 1.0f / std::sqrt((float)hd);
  attention_gemm_cpu(ref.data(), q.data(), k.data(), v.data(), n_q, n_kv, hd, scale, cosmos::CpuContext{});
  float *dq = up(q), *dk = up(k), *dv = up(v), *dout = (float*)pool->alloc(ref.size() * 4);
  attention_gemm_cuda(dout, dq, dk, dv, n_q, n_kv, hd, scale, ctx);
  report("attn_gemm", shape("n_q=%d n_kv=%d hd=%d", n_q, n_kv, hd), ref, down(dout, ref.size()), 1e-4);
  pool->free(dq);
  pool->free(dk);
  pool->free(dv);
  pool->free(dout);
}

// --- Cosmos 3 AVAE (audio decoder) ops vs their CPU twins.
void* up_weight(std::vector<float>& w,
                bool bf16) {  // bf16: w rounded in place so the CPU reference sees the same values
  if (!bf16) return up(w);
  std::vector<uint16_t> wb(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    wb[i] = f2bf(w[i]);
    w[i] = bf2f(wb[i]);
  }
  void* d = pool->alloc(wb.size() * 2);
  h2d(d, wb.data(), wb.size() * 2);
  return d;
}
void test_conv1d(const char* name, Conv1dDims d, int t, bool bf16) {
  auto x = randv((size_t)t * d.cin), w = randv((size_t)d.cout * d.cols(), 0.1f), b = randv(d.cout);
  void* dw = up_weight(w, bf16);
  const size_t n = (size_t)d.out_t(t) * d.cout;
  std::vector<float> ref(n);
  conv1d_cpu(ref.data(), x.data(), t, w.data(), b.data(), d, cosmos::CpuContext{});
  float *dx = up(x), *db = up(b), *dout = (float*)pool->alloc(n * 4);
  conv1d_cuda(dout, dx, t, dw, bf16 ? WType::BF16 : WType::F32, db, d, ctx);
  report("conv1d", std::string(name) + shape(" t=%d cin=%d cout=%d", t, d.cin, d.cout) + (bf16 ? " bf16" : " f32"), ref,
         down(dout, n), bf16 ? 1e-2 : 1e-4);
  pool->free(dx);
  pool->free(db);
  pool->free(dout);
  pool->free(dw);
}
void test_conv_transpose1d(int cin, int cout, int s, int t, bool bf16) {
  ConvTranspose1dDims d{cin, cout, 2 * s, s, (s + 1) / 2, s % 2};  // the decoder's blocks
  auto x = randv((size_t)t * cin), w = randv((size_t)cin * cout * d.k, 0.1f), b = randv(cout);
  std::vector<float> packed(w.size());
  conv_transpose1d_pack_weight(packed.data(), w.data(), cin, cout, d.k);
  void* dw = up_weight(packed, bf16);
  const size_t n = (size_t)d.out_t(t) * cout;
  std::vector<float> ref(n);
  conv_transpose1d_cpu(ref.data(), x.data(), t, packed.data(), b.data(), d, cosmos::CpuContext{});
  float *dx = up(x), *db = up(b), *dout = (float*)pool->alloc(n * 4);
  conv_transpose1d_cuda(dout, dx, t, dw, bf16 ? WType::BF16 : WType::F32, db, d, ctx);
  report("conv_t1d", shape("s=%d t=%d cin=%d cout=%d", s, t, cin, cout) + (bf16 ? " bf16" : " f32"), ref, down(dout, n),
         bf16 ? 1e-2 : 1e-4);
  pool->free(dx);
  pool->free(db);
  pool->free(dout);
  pool->free(dw);
}
void test_snake_beta(long long rows, int c) {
  auto x = randv((size_t)rows * c, 2.f), la = randv(c, 0.5f), lb = randv(c, 0.5f);
  std::vector<float> ref(x.size());
  snake_beta_cpu(ref.data(), x.data(), la.data(), lb.data(), rows, c);
  float *dx = up(x), *da = up(la), *dbeta = up(lb);
  snake_beta_cuda(dx, dx, da, dbeta, rows, c, ctx);
  report("snake_beta", shape("rows=%d c=%d in place", (int)rows, c), ref, down(dx, ref.size()), 1e-5);
  pool->free(dx);
  pool->free(da);
  pool->free(dbeta);
}

// `ops_cuda_test flash`: only the flash_attention rows and the tower's tensor-core attention block (the full run takes
// > 90 s); `ops_cuda_test add_rmsnorm_fp8`: only that op's rows.
int main(int argc, char** argv) {
  const bool flash_only = argc > 1 && std::strcmp(argv[1], "flash") == 0;
  const bool fp8norm_only = argc > 1 && std::strcmp(argv[1], "add_rmsnorm_fp8") == 0;
  const bool bf16_inputs_only = argc > 1 && std::strcmp(argv[1], "bf16_inputs") == 0;
  if (cosmos::cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d)\n\n", prop.name, prop.major, prop.minor);
  cosmos::CudaPool p;
  pool = &p;
  cosmos::CudaStream stream;
  st = stream.get();
  ctx = {st, pool};
  std::printf(
      "| op         | case                                         | max-abs-diff | rel (/max|ref|) | tol | result "
      "|\n");
  std::printf("|---|---|---|---|---|---|\n");
  if (fp8norm_only) {
    test_add_rmsnorm_fp8_rows();
    test_add_rmsnorm_forms();
    std::printf("%s: %d failing case(s)\n", failures ? "FAIL" : "OK", failures);
    return failures ? 1 : 0;
  }
  if (bf16_inputs_only) {
    test_bf16_inputs();
    std::printf("%s: %d failing case(s)\n", failures ? "FAIL" : "OK", failures);
    return failures ? 1 : 0;
  }
  if (flash_only) {
    test_flash_attention_rows();
    test_attention_block_segments(128, 4, 72, {0, 200, 400, 530}, true);
    test_attention_block_segments(128, 3, 72, {0, 200, 330}, true);  // 3 heads: qkv_rope_flash's one-head blocks
    std::printf("%s: %d failing case(s)\n", failures ? "FAIL" : "OK", failures);
    return failures ? 1 : 0;
  }
  // matmul: GEMV (n<=8), tensor-core GEMM (bf16, n>8), SIMT GEMM (f32 or odd k), scalar GEMV (odd k)
  test_matmul(1, 64, 1426, false, false);
  test_matmul(1, 4096, 4096, false, false);
  test_matmul(5, 4096, 1000, false, true);
  test_matmul(37, 136, 200, false, true);
  test_matmul(130, 1152, 1000, false, false);
  test_matmul(3, 13, 17, false, true);
  test_matmul(1, 4096, 4096, true, false);
  test_matmul(8, 12288, 1024, true, true);
  test_matmul(9, 1024, 777, true, false);
  test_matmul(100, 512, 300, true, true);
  test_matmul(257, 4096, 1000, true, false);
  // mma.sync GEMM: ragged edges in every dimension (n, m not multiples of 128, k not a multiple of the
  // 64-wide k-tile, k shorter than one tile), odd m (scalar epilogue), several full waves, and an x
  // taller than the 64 MiB bf16 workspace (two row chunks).
  test_matmul(129, 72, 129, true, true);
  test_matmul(300, 1000, 517, true, true);
  test_matmul(1030, 4104, 1100, true, false);
  test_matmul(64, 8, 130, true, true);
  test_matmul(200, 24, 256, true, false);
  test_matmul(2048, 1152, 1152, true, true);
  test_matmul(4200, 8192, 136, true, false);
  test_matmul(20, 13, 33, true, false);
  test_rmsnorm(7, 4096);
  test_rmsnorm(3, 64);
  test_rmsnorm(5, 16);
  test_layernorm(5, 1152, true);
  test_layernorm(3, 100, false);
  test_rope(50, 8, 128, 5e6f, {24, 20, 20}, true);
  test_rope(33, 4, 16, 5e6f, {4, 2, 2}, true);
  test_rope(20, 2, 64, 1e4f, {16, 8, 8}, false);
  test_attention(77, 77, 8, 2, 128, 0, true);
  test_attention(1, 300, 32, 8, 128, 299, true);
  test_attention(20, 60, 32, 8, 128, 40, true);
  test_attention(100, 100, 16, 16, 72, 0, false);
  test_attention(13, 13, 4, 2, 16, 0, true);
  test_attention(5, 40, 4, 1, 256, 35, true);
  test_attention(3, 10, 2, 2, 64, 20, true);
  test_attention(1, 1152, 32, 8, 128, 1151, true);  // split-KV (flash-decoding) path
  test_attention(1, 500, 32, 8, 128, 100, true);    // split-KV, later splits see no key
  test_attention(4, 1000, 8, 8, 64, 996, true);     // split-KV, several queries
  test_attention(2, 700, 4, 4, 16, 0, false);       // split-KV, non-causal, tiny head_dim
  // Tensor-core (bf16 mma) path: n_q >= 128 and 64 <= head_dim <= 128.
  test_attention(300, 300, 8, 2, 128, 0, true, 1e-2);      // prefill: causal, GQA 4:1, ragged last tile
  test_attention(200, 1000, 32, 8, 128, 800, true, 1e-2);  // second prefill chunk: q_offset into the cache
  test_attention(257, 700, 4, 2, 64, 443, true, 1e-2);     // hd 64, q_offset, 1 row in the last tile
  test_attention(160, 90, 4, 2, 128, 0, true, 1e-2);       // queries past the cache end see all 90 keys
  test_attention(333, 333, 16, 16, 72, 0, false, 1e-2);    // vision tower: full, hd 72 padded to 80
  test_attention(1000, 1000, 4, 4, 72, 0, false, 1e-2);    // a longer vision frame
  test_attention(150, 100, 2, 2, 96, 0, false, 1e-2);      // full, fewer keys than queries, hd 96
  test_attention(129, 129, 2, 1, 66, 0, true, 1e-2);       // hd % 4 != 0: scalar loads, padded to 80
  test_attention(128, 64, 3, 3, 112, 5, true,
                 1e-2);  // one exact tile of each, hd 112  // queries past the cache end: sees all 10 keys
  test_elementwise(100003);
  test_elementwise(7);
  test_softmax(4, 151936);
  test_softmax(3, 17);
  test_embedding(1426, 64, 19);
  test_embedding(151936, 4096, 5);
  test_argmax(151936, false);
  test_argmax(151936, true);
  test_argmax(5, false);
  test_argmax(151937, true);            // a scalar tail after the float4 groups
  test_argmax(151936, true, 1);         // not 16-byte aligned
  test_argmax(4 * 1024 * 9 + 3, true);  // one full round of loads in flight, then the one-at-a-time loop and the tail
  test_argmax(151936, false, 0, true);
  test_sample(151936, {0.f, 0, 1.f, 1.f, 0.f}, "greedy");
  test_sample(151936, {0.f, 0, 1.f, 1.3f, 0.5f}, "greedy + rep 1.3 + presence 0.5");
  test_sample(151936, {0.7f, 20, 0.8f, 1.0f, 0.f}, "T=0.7 top_k=20 top_p=0.8");
  test_sample(151936, {1.0f, 0, 0.95f, 1.1f, 1.5f}, "T=1 top_p=0.95 rep 1.1 presence 1.5");
  test_sample(1426, {0.6f, 0, 1.f, 1.0f, 0.f}, "T=0.6 full vocab");
  // Decode-graph ops (added last so the cases above keep their random inputs).
  test_embedding_bf16(151936, 4096, 5);
  test_embedding_bf16(1426, 64, 19);
  test_gemv_swiglu(4096, 3000, true);
  test_gemv_swiglu(64, 200, false);
  test_gemv_swiglu(4096, 1000, false);
  test_gemv_swiglu(13, 33, true);       // scalar path
  test_gemv_decode(12288, 1000, true);  // down-projection k: the 8-load loop, then the tails
  test_gemv_decode(4096, 777, true);
  test_gemv_decode(64, 1426, false);  // the tiny fixture's lm_head shape, f32
  test_gemv_decode(4096, 500, false);
  test_gemv_decode(1000, 300, true);         // chunks = 125: every loop's tail
  test_gemv_decode(13, 33, true);            // scalar fallback (matmul's)
  test_gemv_fp8(4096, 6144, false, false);   // 8B q|k|v
  test_gemv_fp8(12288, 4096, false, false);  // 8B down: 24 chunks a lane
  test_gemv_fp8(4096, 24576, false, true);   // 8B gate|up + SwiGLU
  test_gemv_fp8(1040, 777, true, false);     // 65 chunks: the loop's tail; odd m; bias
  test_gemv_fp8(64, 256, false, true);       // the tiny fixture's gate|up: fewer chunks than lanes
  test_attention_decode(2048, 32, 8, 128, {1, 2, 31, 32, 33, 64, 65, 100, 300, 1152, 2047, 2048});
  test_attention_decode(300, 4, 2, 16, {1, 17, 64, 65, 129, 256, 299});
  // Ops moved out of the models and the shared layers (added last: the rows above keep their inputs).
  test_qkv_rope(47, 4, 2, 16, 10, true, false, false);    // decoder prefill into cache rows
  test_qkv_rope(1, 32, 8, 128, 300, true, true, true);    // decode step, row from the device
  test_qkv_rope(500, 16, 16, 72, 0, false, true, false);  // tower split, no norm
  test_qkv_rope(300, 32, 8, 128, 0, true, false, false);  // the warp kernel over many tokens (the Generator's shape)
  test_qkv_rope(129, 8, 4, 64, 5, true, true, false);     // the warp kernel at head_dim 64, fused rows, cache rows
  test_add_rmsnorm(7, 4096);
  test_add_layernorm(7, 1152, true);  // the Qwen3-VL tower's width (the vector form since 2026-12-05)
  test_add_layernorm(5, 100, false);
  test_add_rmsnorm(1, 64);
  test_add_rmsnorm_fp8_rows();
  test_scatter_gather(33, 1152, 2304);
  test_fill_uniform(100003);
  test_attention_block_stream();
  test_attention_block_segments(64, 4, 16, {0, 20, 50}, false);
  test_attention_block_segments(128, 4, 72, {0, 200, 400, 530}, true);
  test_attention_block_segments(128, 3, 72, {0, 200, 330}, true);  // 3 heads: qkv_rope_flash's one-head blocks
  test_attention_block_decode_graph();
  test_mlp_layers(1);
  test_mlp_layers(9);
  test_lincomb(1000003);
  test_set_rows(48, 11, 44 * 80, 0, 2);
  test_set_rows(17, 24, 1, 7, 24);
  // The GPU sampler (issue 11 item 3): the rules on a forced distribution, penalties, greedy limits.
  // Token probabilities 0.4/0.3/0.15/0.1/0.05 at scattered ids, every other logit -1e4.
  test_sample_distribution(151936, {1.f, 0, 1.f, 1.f, 0.f}, {0.4, 0.3, 0.15, 0.1, 0.05}, "T=1 full vocab", 20000, 400);
  test_sample_distribution(151936, {1.f, 3, 1.f, 1.f, 0.f}, {0.4 / 0.85, 0.3 / 0.85, 0.15 / 0.85, 0, 0}, "T=1 top_k=3",
                           20000, 4000);
  test_sample_distribution(151936, {1.f, 0, 0.8f, 1.f, 0.f}, {0.4 / 0.85, 0.3 / 0.85, 0.15 / 0.85, 0, 0},
                           "T=1 top_p=0.8", 20000, 400);
  test_sample_distribution(151936, {0.5f, 20, 0.95f, 1.f, 0.f}, {0.16 / 0.2725, 0.09 / 0.2725, 0.0225 / 0.2725, 0, 0},
                           "T=0.5 top_k=20 top_p=0.95", 20000, 4000);
  {
    const double r[5] = {std::sqrt(0.4), std::sqrt(0.3), std::sqrt(0.15), std::sqrt(0.1), std::sqrt(0.05)};
    const double z = r[0] + r[1] + r[2] + r[3] + r[4];
    test_sample_distribution(1426, {2.f, 0, 1.f, 1.f, 0.f}, {r[0] / z, r[1] / z, r[2] / z, r[3] / z, r[4] / z},
                             "T=2 full vocab", 20000, 20000);
  }
  test_sample_rules(151936);
  test_sample_rules(1426);
  bench_sample({0.7f, 20, 0.8f, 1.f, 0.f}, "T=0.7 top_k=20 top_p=0.8 (reasoner default)");
  bench_sample({0.6f, 20, 0.95f, 1.f, 0.f}, "T=0.6 top_k=20 top_p=0.95");
  bench_sample({1.f, 0, 1.f, 1.f, 0.f}, "T=1 full vocab");
  bench_sample({1.f, 0, 0.95f, 1.f, 0.f}, "T=1 top_p=0.95 (no top-k)");
  // Wan VAE ops (added last: the rows above keep their random inputs).
  {
    Conv3dDims causal{40, 24, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1}, down2d{32, 32, 1, 3, 3, 1, 2, 2, 0, 1, 0, 1},
        time_down{32, 32, 3, 1, 1, 2, 1, 1, 0, 0, 0, 0}, up_time{16, 32, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0},
        point{48, 48, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, conv_in{12, 160, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    test_conv3d("causal 3x3x3 zero hist", causal, 2, false, 4, 20, 30, false);
    test_conv3d("causal 3x3x3 hist", causal, 2, true, 1, 17, 9, false);
    test_conv3d("causal 3x3x3 hist", causal, 2, true, 4, 20, 30, true);
    test_conv3d("down 3x3 s2 pad r/b", down2d, 0, false, 2, 22, 14, false);
    test_conv3d("time kt3 s2", time_down, 1, true, 4, 11, 13, false);
    test_conv3d("time kt3 up 2C", up_time, 2, true, 2, 11, 13, false);
    test_conv3d("pointwise", point, 0, false, 3, 4, 6, false);
    test_conv3d("conv_in 12->160 (k=324)", conv_in, 2, true, 4, 60, 104, true);
  }
  test_wan_vae_elementwise();
  test_attention_gemm(96, 96, 24);
  test_attention_gemm(700, 700, 1024);
  test_attention_gemm(1000, 20000, 64);  // scores in query blocks (838 rows each)
  // AVAE audio decoder ops (added last: the rows above keep their random inputs). Kernel 7 dilations 1 / 9,
  // pointwise, the decoder's strides 8 / 5 / 2, a transposed conv long enough for several Y blocks.
  test_conv1d("k7 d1 pad 3", Conv1dDims{320, 320, 7, 1, 1, 3, 3}, 3000, false);
  test_conv1d("k7 d9 pad 27", Conv1dDims{64, 96, 7, 1, 9, 27, 27}, 1001, false);
  test_conv1d("k7 d3 pad 9", Conv1dDims{640, 640, 7, 1, 3, 9, 9}, 2000, true);
  test_conv1d("pointwise", Conv1dDims{320, 320, 1, 1, 1, 0, 0}, 4097, false);
  test_conv1d("latents in 64->5120", Conv1dDims{64, 5120, 7, 1, 1, 3, 3}, 197, true);
  test_conv_transpose1d(5120, 2560, 8, 197, false);
  test_conv_transpose1d(1280, 640, 5, 301, false);
  test_conv_transpose1d(320, 320, 2, 60000, false);  // Y 77M floats: two blocks
  test_conv_transpose1d(640, 320, 4, 3000, true);
  test_snake_beta(100003, 320);
  test_flash_attention_rows();
  test_transpose2d(64, 197);  // the sound stream's layout change (added last)
  test_transpose2d(1000, 33);
  // Decode attention on the cluster kernel (ops/attention.cu: one thread-block cluster per KV head; added last).
  // Lengths below, at and above the cluster size (splits of 0 or 1 key, then ragged chunks), GQA 1 / 2 / 4 / 8, every
  // head dim it serves (16: the tiny fixture; 128: Qwen3), and shapes left to the split kernel (hd 72, GQA 8 at hd
  // 128).
  test_attention_decode(1200, 8, 8, 128, {1, 3, 15, 16, 17, 31, 33, 191, 192, 193, 1152, 1200});  // GQA 1
  test_attention_decode(700, 16, 2, 64, {1, 2, 9, 100, 513, 700});                                // GQA 8
  test_attention_decode(400, 8, 4, 32, {1, 7, 8, 65, 400});
  test_attention_decode(300, 4, 2, 256, {1, 17, 100, 300});
  test_attention_decode(520, 16, 4, 16, {1, 5, 16, 17, 33, 255, 520});  // GQA 4 at the tiny head dim
  test_attention_decode(300, 64, 8, 128, {1, 100, 300});                // GQA 8 x hd 128: the split kernel
  test_attention_decode(200, 4, 2, 72, {1, 65, 200});                   // hd 72: the split kernel
  test_attention(1, 40, 8, 8, 16, 0, false);                            // n_q = 1 full attention: every key
  test_attention(1, 999, 32, 8, 128, 5, true);                          // causal, 6 of 999 keys visible
  {
    // The Qwen3 shape must take the cluster kernel on Hopper (unless COSMOS_DECODE_ATTN=old asks for the old one).
    int dev = 0, major = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    const char* e = std::getenv("COSMOS_DECODE_ATTN");
    const bool old = e && std::strcmp(e, "old") == 0;
    const int cl = attention_decode_cluster(32, 8, 128);
    report_exact("att_decode kernel", "32/8 hd 128 on sm_90", major < 9 || old || cl >= 2,
                 "cluster " + std::to_string(cl));
  }
  test_add_rmsnorm_forms();  // the scalar and wide forms beside the vector kernel (added last)
  if (attention_fp8_cuda_supported(1, 128, st)) {
    test_qkv_rope_int8q(300, 8, 2, 77, true);  // the Generator's form: fused q|k|v rows, [text | own] keys
    test_qkv_rope_int8q(256, 4, 4, 0, false);  // whole tiles (no padding rows), separate q / k / v
  }
  test_qkv_rope_bf16q(300, 8, 2, true);       // the decoder's prefill: fused q|k|v rows, padding rows (added last)
  test_qkv_rope_bf16q(256, 4, 4, false);      // whole tiles, separate q / k / v
  test_gemv_fp8(1040, 2 * 777, false, true);  // odd inter: the fp8 SwiGLU's last warp has one pair (added last)
  test_add_layernorm(3, 1150, true);  // dim % 4 != 0: add_layernorm's scalar form (the rows above: the vector form)
  // bf16 GEMM inputs from their producers (the tower's COSMOS_TOWER_BF16_INPUTS; added last).
  test_bf16_inputs();
  // The bf16 KV cache (added last): its writes (every qkv_rope kernel, the prefill's bf16 q form) and its reads
  // (decode on the cluster and the split kernel, attention_cuda's split and mma.sync flash kernels, the flash paths).
  test_kv_bf16_writes(1, 32, 8, 128, 37, true, true);   // decode: the warp kernel, the row from the device
  test_kv_bf16_writes(300, 8, 2, 128, 5, true, false);  // prefill after 5 cached rows (+ qkv_rope_bf16q)
  test_kv_bf16_writes(9, 4, 2, 64, 3, true, false);     // the warp kernel at hd 64
  test_kv_bf16_writes(5, 4, 2, 80, 2, true, true);      // the block kernel
  test_kv_bf16_writes(6, 4, 2, 16, 1, false, false);    // no norm
  test_kv_bf16_reads(1100, 32, 8, 128);                 // Qwen3-8B's heads: the cluster kernel
  test_kv_bf16_reads(300, 64, 8, 128);                  // GQA 8 x hd 128: the split kernel
  test_kv_bf16_reads(150, 4, 2, 80);                    // hd 80: split decode, mma.sync flash
  std::printf("\npool: in use %zu B, peak %zu B, cached %zu B\n", p.bytes_in_use(), p.peak_bytes(), p.bytes_cached());
  std::printf("%s: %d failing case(s)\n", failures ? "FAIL" : "OK", failures);
  return failures ? 1 : 0;
}
