// CUDA helpers shared by the .cu ops: error checks and launch-size math. CUDA-only (the CPU build
// never includes this), so it carries the cuda_ prefix next to the CPU helper's core/*.h.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace cosmos {
// Throws std::runtime_error naming the call site; the Node binding turns it into a NativeError.
inline void cuda_check(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ") in " +
                             what + " at " + file + ":" + std::to_string(line));
}
inline unsigned int ceil_div(long long a, long long b) { return (unsigned int)((a + b - 1) / b); }
// Grid for a grid-stride elementwise kernel: enough blocks to fill an H100 (132 SMs x 16 blocks of
// 256) but no more, so huge n does not overflow gridDim.x and tiny n launches one block.
inline unsigned int elementwise_blocks(long long n, int threads = 256) {
  long long b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 132 * 16) b = 132 * 16;
  return (unsigned int)b;
}
}  // namespace cosmos

#define CUDA_CHECK(x) ::cosmos::cuda_check((x), #x, __FILE__, __LINE__)
// After a kernel launch: catches bad launch configurations at once (asynchronous faults surface at
// the next synchronising call).
#define CUDA_CHECK_LAUNCH() ::cosmos::cuda_check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
