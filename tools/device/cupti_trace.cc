// A timeline of a CUDA program's GPU work, with no change to the program: loaded by the CUDA driver as an injection
// library (CUDA_INJECTION64_PATH), it records every kernel, memcpy and memset through CUPTI's activity API with its
// start and end on the GPU's clock and writes one line each to $COSMOS_TRACE_OUT when the program exits:
//   K <start ns> <end ns> <stream> <grid x,y,z> <demangled name>
//   C <start ns> <end ns> <stream> <bytes> <copy kind>     (memcpy: 1 host to device, 2 device to host, 8 device to
//   device) S <start ns> <end ns> <stream> <bytes>                  (memset)
// Why: ncu times each kernel alone (serialised, between replays); the tower's run on the device measured ~9 ms longer
// than its kernels' ncu sum (bench/README), and only a timeline of the real run says whether that is gaps between
// kernels or kernels running slower in sequence. Nsight Systems cannot make a report on those machines (the device
// library's KINDS.md). tools/device/trace_summary.py reads the lines.
//
// Built and run on the device (CUPTI ships with the toolkit there; not on the build machines):
//   bash tools/device/cupti_trace.sh build && bash tools/device/cupti_trace.sh run OUT_FILE PROGRAM [ARGS...]
#include <cupti.h>
#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

// The record layouts of the CUPTI it is built against: CUDA 13's (the toolkit on the device), or CUDA 12's (the CUPTI
// of a PyTorch wheel).
#if CUPTI_API_VERSION >= 130200
using KernelRecord = CUpti_ActivityKernel11;
using MemcpyRecord = CUpti_ActivityMemcpy6;
#elif CUPTI_API_VERSION >= 130000
using KernelRecord = CUpti_ActivityKernel10;
using MemcpyRecord = CUpti_ActivityMemcpy6;
#else
using KernelRecord = CUpti_ActivityKernel9;
using MemcpyRecord = CUpti_ActivityMemcpy5;
#endif
using MemsetRecord = CUpti_ActivityMemset4;

namespace {
FILE* g_out = nullptr;
std::mutex g_mu;

void check(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return;
  const char* s = nullptr;
  cuptiGetResultString(r, &s);
  std::fprintf(stderr, "cupti_trace: %s: %s\n", what, s ? s : "?");
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *size = 8u << 20;
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, *size));
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  std::lock_guard<std::mutex> lock(g_mu);
  CUpti_Activity* rec = nullptr;
  while (g_out && cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS) {
    if (rec->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || rec->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
      const auto* k = reinterpret_cast<const KernelRecord*>(rec);
      int status = 0;
      char* dm = abi::__cxa_demangle(k->name, nullptr, nullptr, &status);
      std::fprintf(g_out, "K %llu %llu %u %d,%d,%d %s\n", (unsigned long long)k->start, (unsigned long long)k->end,
                   k->streamId, k->gridX, k->gridY, k->gridZ, status == 0 && dm ? dm : k->name);
      std::free(dm);
    } else if (rec->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
      const auto* c = reinterpret_cast<const MemcpyRecord*>(rec);
      std::fprintf(g_out, "C %llu %llu %u %llu %u\n", (unsigned long long)c->start, (unsigned long long)c->end,
                   c->streamId, (unsigned long long)c->bytes, (unsigned)c->copyKind);
    } else if (rec->kind == CUPTI_ACTIVITY_KIND_MEMSET) {
      const auto* m = reinterpret_cast<const MemsetRecord*>(rec);
      std::fprintf(g_out, "S %llu %llu %u %llu\n", (unsigned long long)m->start, (unsigned long long)m->end,
                   m->streamId, (unsigned long long)m->bytes);
    }
  }
  std::free(buffer);
}

void at_exit() {
  check(cuptiActivityFlushAll(1), "flush");
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_out) std::fclose(g_out);
  g_out = nullptr;
}
}  // namespace

// Called by the CUDA driver at cuInit when CUDA_INJECTION64_PATH names this library.
extern "C" int InitializeInjection(void) {
  const char* path = std::getenv("COSMOS_TRACE_OUT");
  g_out = std::fopen(path ? path : "cupti_trace.txt", "w");
  if (!g_out) {
    std::fprintf(stderr, "cupti_trace: cannot write %s\n", path ? path : "cupti_trace.txt");
    return 0;
  }
  check(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed), "register callbacks");
  check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "enable kernels");
  check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY), "enable memcpy");
  check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET), "enable memset");
  std::atexit(at_exit);
  return 1;
}
