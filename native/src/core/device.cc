#include "device.h"

#include <cstdlib>
#include <string>

#ifdef COSMOS_CUDA
#include <cuda_runtime.h>
#endif

namespace cosmos {

bool built_with_cuda() {
#ifdef COSMOS_CUDA
  return true;
#else
  return false;
#endif
}

static DeviceChoice decide() {
  const char* env = std::getenv("COSMOS_DEVICE");
  std::string want = env ? env : "";
  int count = 0;
  std::string cuda_problem;
#ifdef COSMOS_CUDA
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    // On a machine without a driver this is "CUDA driver version is insufficient...": no GPU.
    cuda_problem = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(err);
    count = 0;
    cudaGetLastError();  // clear the sticky-free error so later probes start clean
  } else if (count == 0) {
    cuda_problem = "no CUDA device found";
  }
#else
  cuda_problem = "the native module was built without CUDA (no nvcc or COSMOS_NATIVE_CUDA=0)";
#endif
  if (want == "cpu") return {DeviceKind::CPU, "cpu", "COSMOS_DEVICE=cpu", count};
  if (!want.empty() && want != "cuda")
    return {DeviceKind::CPU, "cpu", "COSMOS_DEVICE='" + want + "' is not cpu or cuda; using cpu", count};
  if (cuda_problem.empty()) {
    // CUDA is built and a device exists. The CPU-side model code is complete; until the CUDA model
    // path lands, the engine runs the CPU backend but reports that CUDA is available.
    return {DeviceKind::CUDA, "cuda",
            want == "cuda" ? "COSMOS_DEVICE=cuda" : std::to_string(count) + " CUDA device(s) found", count};
  }
  return {DeviceKind::CPU, "cpu", (want == "cuda" ? "COSMOS_DEVICE=cuda requested but " : "") + cuda_problem, count};
}

const DeviceChoice& choose_device() {
  static DeviceChoice c = decide();
  return c;
}

}  // namespace cosmos
