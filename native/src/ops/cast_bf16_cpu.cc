#include <cstring>

#include "cast_bf16.h"

namespace {
// Round to nearest, ties to even; NaN stays NaN (the device writes its canonical one; tests compare NaN-ness).
// Branch-free, so the compiler vectorizes the 8-wide steps below at -O2 (a branch per value kept it scalar: 80 MB in
// 21 ms against 7.5 on one core here; the same bits for all 2^32 inputs).
inline uint16_t bf16_bits(uint32_t u) {
  const uint16_t rounded = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  return (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)0x7fff : rounded;
}
}  // namespace

void cast_bf16_cpu(uint16_t* out, const float* x, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint32_t u[8];
    uint16_t o[8];
    std::memcpy(u, x + i, sizeof u);
    for (int j = 0; j < 8; ++j) o[j] = bf16_bits(u[j]);
    std::memcpy(out + i, o, sizeof o);
  }
  for (; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    out[i] = bf16_bits(u);
  }
}

void widen_bf16_cpu(float* out, const uint16_t* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t u = (uint32_t)x[i] << 16;
    std::memcpy(out + i, &u, 4);
  }
}
