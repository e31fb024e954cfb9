// Process-wide memory accounting: every Buffer reports its bytes here, per device, so JS can show
// bytes in use and the peak. Atomic: buffers are created on worker threads.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor.h"

namespace cosmos {

struct MemoryStats {
  int64_t bytes_in_use;
  int64_t peak_bytes;
};

void memory_track_alloc(DeviceKind dev, size_t bytes);
void memory_track_free(DeviceKind dev, size_t bytes);
MemoryStats memory_stats(DeviceKind dev);
void memory_reset_peak(DeviceKind dev);  // peak := current

}  // namespace cosmos
