// Where the Qwen3-VL tower's pixel staging goes (bench/README "The prefill's last layer on the logits row alone"): the
// video case spends ~3.0 ms and the image ~1.4 ms of host time staging its f32 pixels as bf16 in page-locked memory and
// uploading them (Qwen3VisionCuda::run's stage_and_upload: 1 Mi values a chunk over parallel_for's threads, each
// enqueueing its chunk's copy), before the GPU can start. This probe times the pieces on their own, at both cases'
// sizes (20,643,840 and 5,406,720 values), median of 7:
//   copy      one cudaMemcpyAsync of the bf16 bytes from page-locked memory, then a sync (the link's rate);
//   cast T    cast_bf16_cpu into the page-locked buffer on T threads (parallel_for), no copy;
//   stage T   what the tower does: T threads, each casting its chunks and enqueueing their copies, then a sync;
//   spawn     parallel_for over 16 empty chunks whose threads call cudaSetDevice (the per-call thread cost);
// and where a thread's time goes (session 53): the cast into pageable memory, a plain memcpy of the f32 values into
// page-locked and pageable memory, on 1 and 16 threads; the f32 bytes sent up from page-locked memory, straight from
// the caller's pageable vector, and from that vector page-locked in place (cudaHostRegister, its cost included).
// One JSON line per row. Build: nvcc -std=c++17 -O3 -Inative/src bench/h2d_stage_probe.cu native/src/core/parallel.cc
// native/src/ops/cast_bf16_cpu.cc -o h2d_stage_probe (no GPU kernel: any arch).
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "core/parallel.h"
#include "ops/cast_bf16.h"

namespace {
#define CHECK(x)                                                                        \
  do {                                                                                  \
    cudaError_t e_ = (x);                                                               \
    if (e_ != cudaSuccess) {                                                            \
      std::fprintf(stderr, "%s: %s (line %d)\n", #x, cudaGetErrorString(e_), __LINE__); \
      std::exit(1);                                                                     \
    }                                                                                   \
  } while (0)

double median_ms(const std::function<void()>& f) {
  std::vector<double> t;
  f();  // warm-up
  for (int r = 0; r < 7; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void row(const char* what, const char* size, int threads, double ms, size_t bytes) {
  std::printf("{\"row\":\"%s\",\"case\":\"%s\",\"threads\":%d,\"ms\":%.3f,\"gb_per_s\":%.1f}\n", what, size, threads,
              ms, bytes / (ms * 1e6));
}
}  // namespace

int main() {
  const size_t chunk = (size_t)1 << 20;
  cudaStream_t s;
  CHECK(cudaStreamCreate(&s));
  const std::pair<const char*, size_t> cases[] = {{"video", 20643840}, {"image", 5406720}};
  for (const auto& c : cases) {
    const char* name = c.first;
    const size_t n = c.second;
    std::vector<float> px(n);
    for (size_t i = 0; i < n; ++i) px[i] = (float)((i * 2654435761u) % 2001) / 1000.f - 1.f;
    uint16_t* pin = nullptr;
    void* dev = nullptr;
    CHECK(cudaHostAlloc(&pin, n * 2, cudaHostAllocDefault));
    CHECK(cudaMalloc(&dev, n * 2));
    const size_t bytes = n * 2;
    row("copy", name, 1, median_ms([&] {
          CHECK(cudaMemcpyAsync(dev, pin, bytes, cudaMemcpyHostToDevice, s));
          CHECK(cudaStreamSynchronize(s));
        }),
        bytes);
    const int chunks = (int)((n + chunk - 1) / chunk);
    for (int t : {1, 4, 8, 16}) {
      const cosmos::CpuContext ctx{t};
      row("cast", name, t, median_ms([&] {
            cosmos::parallel_for(ctx, chunks, 1, [&](int b, int e) {
              for (int i = b; i < e; ++i) {
                const size_t o = (size_t)i * chunk;
                cast_bf16_cpu(pin + o, px.data() + o, std::min(chunk, n - o));
              }
            });
          }),
          n * 4);
      row("stage", name, t, median_ms([&] {
            cosmos::parallel_for(ctx, chunks, 1, [&](int b, int e) {
              CHECK(cudaSetDevice(0));
              for (int i = b; i < e; ++i) {
                const size_t o = (size_t)i * chunk, len = std::min(chunk, n - o);
                cast_bf16_cpu(pin + o, px.data() + o, len);
                CHECK(cudaMemcpyAsync(static_cast<uint16_t*>(dev) + o, pin + o, len * 2, cudaMemcpyHostToDevice, s));
              }
            });
            CHECK(cudaStreamSynchronize(s));
          }),
          bytes);
    }
    // Where a thread's time goes (the header's second list); the destinations already touched.
    std::vector<uint16_t> heap16(n, 1);
    std::vector<float> heap32(n, 1.f);
    float* pin32 = nullptr;
    void* dev32 = nullptr;
    CHECK(cudaHostAlloc(&pin32, n * 4, cudaHostAllocDefault));
    CHECK(cudaMalloc(&dev32, n * 4));
    std::fill(pin32, pin32 + n, 1.f);
    for (int t : {1, 16}) {
      const cosmos::CpuContext ctx{t};
      auto over_chunks = [&](const std::function<void(size_t, size_t)>& f) {
        cosmos::parallel_for(ctx, chunks, 1, [&](int b, int e) {
          for (int i = b; i < e; ++i) f((size_t)i * chunk, std::min(chunk, n - (size_t)i * chunk));
        });
      };
      row("cast_pageable", name, t, median_ms([&] {
            over_chunks([&](size_t o, size_t len) { cast_bf16_cpu(heap16.data() + o, px.data() + o, len); });
          }),
          n * 4);
      row("memcpy_f32_pinned", name, t, median_ms([&] {
            over_chunks([&](size_t o, size_t len) { std::memcpy(pin32 + o, px.data() + o, len * 4); });
          }),
          n * 4);
      row("memcpy_f32_pageable", name, t, median_ms([&] {
            over_chunks([&](size_t o, size_t len) { std::memcpy(heap32.data() + o, px.data() + o, len * 4); });
          }),
          n * 4);
    }
    row("copy_f32_pinned", name, 1, median_ms([&] {
          CHECK(cudaMemcpyAsync(dev32, pin32, n * 4, cudaMemcpyHostToDevice, s));
          CHECK(cudaStreamSynchronize(s));
        }),
        n * 4);
    row("copy_f32_pageable", name, 1, median_ms([&] {
          CHECK(cudaMemcpyAsync(dev32, px.data(), n * 4, cudaMemcpyHostToDevice, s));
          CHECK(cudaStreamSynchronize(s));
        }),
        n * 4);
    row("register_copy_unregister", name, 1, median_ms([&] {
          CHECK(cudaHostRegister(px.data(), n * 4, cudaHostRegisterDefault));
          CHECK(cudaMemcpyAsync(dev32, px.data(), n * 4, cudaMemcpyHostToDevice, s));
          CHECK(cudaStreamSynchronize(s));
          CHECK(cudaHostUnregister(px.data()));
        }),
        n * 4);
    CHECK(cudaFreeHost(pin32));
    CHECK(cudaFree(dev32));
    CHECK(cudaFreeHost(pin));
    CHECK(cudaFree(dev));
  }
  row("spawn", "-", 16,
      median_ms([] { cosmos::parallel_for(cosmos::CpuContext{16}, 16, 1, [](int, int) { CHECK(cudaSetDevice(0)); }); }),
      0);
  return 0;
}
