// Device choice. COSMOS_DEVICE=cpu|cuda forces one; cuda is only possible when the addon was built with
// CUDA (COSMOS_CUDA) and cudaGetDeviceCount() > 0. Otherwise CPU, with the reason in words.
#pragma once
#include <string>

#include "tensor.h"

namespace cosmos {

struct DeviceChoice {
  DeviceKind kind;
  std::string name;    // "cpu" or "cuda"
  std::string reason;  // why this device was chosen
  int cuda_devices;    // cudaGetDeviceCount result (0 when not built with CUDA or it failed)
};

// Decided once per process (cached): the env var is read on the first call.
const DeviceChoice& choose_device();
bool built_with_cuda();

}  // namespace cosmos
