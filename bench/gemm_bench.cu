// bf16 GEMM speed: the engine's GEMM (matmul_cuda, n > 8: the wgmma kernel of ops/gemm_wgmma.cu on sm_90 when built
// for sm_90a, as build_ops_test.sh does, else mma.sync; COSMOS_WGMMA=0 forces mma.sync) against the previous WMMA
// kernel (bench/matmul_wmma.cu), on the Qwen3-VL-8B prefill shapes of bench/README.md. Both round x to bf16 and
// accumulate in f32, so their outputs agree to accumulation order; the bench checks that (max |mma - wmma| / max |wmma|
// <= 1e-3, exit 1 otherwise) before it times anything. Random inputs (never zeros), mean of 10 back-to-back calls after
// a warm-up, CUDA events. Build + run (GPU machine):
//   bash native/test/build_ops_test.sh && native/build/ops_test/gemm_bench
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "../native/src/core/cuda_common.h"
#include "../native/src/core/cuda_pool.h"
#include "../native/src/ops/matmul.h"
#include "matmul_wmma.h"

using namespace cosmos;

namespace {
__global__ void fill_kernel(float* x, long long n, unsigned seed) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    unsigned h = (unsigned)i * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    x[i] = (float)(h & 0xffff) / 32768.f - 1.f;  // uniform in [-1, 1)
  }
}
__global__ void fill_bf16_kernel(__nv_bfloat16* w, long long n, unsigned seed) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    unsigned h = (unsigned)i * 2246822519u ^ seed;
    h ^= h >> 13;
    h *= 2654435761u;
    h ^= h >> 16;
    w[i] = __float2bfloat16_rn(((float)(h & 0xffff) / 32768.f - 1.f) * 0.05f);
  }
}

template <typename F>
double time_ms(F&& f, cudaStream_t s, int reps) {
  f();
  CUDA_CHECK(cudaStreamSynchronize(s));
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  CUDA_CHECK(cudaEventRecord(a, s));
  for (int i = 0; i < reps; ++i) f();
  CUDA_CHECK(cudaEventRecord(b, s));
  CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms / reps;
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, (double)std::fabs(x));
  return m;
}
}  // namespace

int main() {
  struct Shape {
    const char* what;
    int n, k, m;
  };
  const Shape shapes[] = {{"tower qkv", 3520, 1152, 3456},       {"tower proj", 3520, 1152, 1152},
                          {"tower fc1", 3520, 1152, 4304},       {"tower fc2", 3520, 4304, 1152},
                          {"tower vid qkv", 12960, 1152, 3456},  {"tower vid fc2", 12960, 4304, 1152},
                          {"dec 910 q/o", 910, 4096, 4096},      {"dec 910 k/v", 910, 4096, 1024},
                          {"dec 910 gate/up", 910, 4096, 12288}, {"dec 910 down", 910, 12288, 4096},
                          {"dec 3318 q/o", 3318, 4096, 4096},    {"dec 3318 gate/up", 3318, 4096, 12288},
                          {"dec 3318 down", 3318, 12288, 4096}};
  size_t max_x = 0, max_w = 0, max_o = 0;
  for (const Shape& s : shapes) {
    max_x = std::max(max_x, (size_t)s.n * s.k);
    max_w = std::max(max_w, (size_t)s.m * s.k);
    max_o = std::max(max_o, (size_t)s.n * s.m);
  }
  CudaStream stream;
  CudaPool pool;
  const cudaStream_t s = stream.get();
  const CudaContext ctx{s, &pool};  // the GEMM's bf16 copy of x comes from this pool
  DeviceBuffer<float> x(pool, max_x), o_mma(pool, max_o), o_wmma(pool, max_o);
  DeviceBuffer<__nv_bfloat16> w(pool, max_w);
  fill_kernel<<<1024, 256, 0, s>>>(x.get(), (long long)max_x, 17u);
  fill_bf16_kernel<<<1024, 256, 0, s>>>(w.get(), (long long)max_w, 29u);
  CUDA_CHECK_LAUNCH();
  std::printf(
      "| shape (n x k x m) | WMMA | matmul_cuda | speed-up | max|diff| / max|out| |\n|---|---:|---:|---:|---:|\n");
  int fails = 0;
  for (const Shape& sh : shapes) {
    auto mma = [&] { matmul_cuda(o_mma.get(), x.get(), w.get(), WType::BF16, nullptr, sh.n, sh.k, sh.m, ctx); };
    auto wmma = [&] { matmul_wmma_cuda(o_wmma.get(), x.get(), w.get(), nullptr, sh.n, sh.k, sh.m, s); };
    mma();
    wmma();
    CUDA_CHECK(cudaStreamSynchronize(s));
    const size_t no = (size_t)sh.n * sh.m;
    std::vector<float> a(no), b(no);
    CUDA_CHECK(cudaMemcpy(a.data(), o_mma.get(), no * 4, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(b.data(), o_wmma.get(), no * 4, cudaMemcpyDeviceToHost));
    double d = 0;
    for (size_t i = 0; i < no; ++i) d = std::max(d, (double)std::fabs(a[i] - b[i]));
    const double rel = d / std::max(max_abs(b), 1e-30);
    const bool ok = std::isfinite(rel) && rel <= 1e-3;
    fails += !ok;
    const double tw = time_ms(wmma, s, 10), tm = time_ms(mma, s, 10), fl = 2.0 * sh.n * sh.k * sh.m;
    std::printf("| %s %d x %d x %d | %.3f ms = %.0f TFLOP/s | %.3f ms = %.0f | %.2fx | %.1e%s |\n", sh.what, sh.n, sh.k,
                sh.m, tw, fl / (tw * 1e9), tm, fl / (tm * 1e9), tw / tm, rel, ok ? "" : " FAIL");
  }
  std::printf("gemm_bench: %s\n", fails ? "FAIL (mma.sync and WMMA disagree)" : "PASS");
  return fails ? 1 : 0;
}
