// CPU twin of quantize_fp8 (see quantize_fp8.h): the same bytes and scales as the CUDA op.
#include <cmath>
#include <cstring>

#include "quantize_fp8.h"

uint8_t fp8_e4m3_from_float(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  const uint8_t sign = (uint8_t)((u >> 24) & 0x80);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return 0x7f;          // NaN, of either sign: the canonical 0x7f
  if (a >= 0x43e00000u) return sign | 0x7e;  // |v| >= 448, inf included: saturate (satfinite)
  if (a < 0x3c800000u) {                     // |v| < 2^-6: e4m3 subnormals, k * 2^-9 for k = 0..8
    // |v| * 512 is exact (a power of two; f32 subnormal inputs only grow), and rounding it to an integer with
    // ties to even is e4m3's rounding here. k = 8 is 2^-6, whose byte 0x08 (exponent 1, mantissa 0) is k itself.
    float f;
    std::memcpy(&f, &a, 4);
    const float s = f * 512.f;
    float r = std::floor(s);
    const float frac = s - r;  // exact: s < 8 has at most 24 significant bits and r is its integer part
    if (frac > 0.5f || (frac == 0.5f && std::fmod(r, 2.f) != 0.f)) r += 1.f;
    return sign | (uint8_t)r;
  }
  // Normal: keep 3 of the 23 mantissa bits, rounding at bit 20 to nearest even; a carry moves into the exponent,
  // which the re-bias below absorbs (1.111.. * 2^e -> 1.000 * 2^(e+1)). Inputs under 448 round to at most 448.
  const uint32_t r = (a + 0x7ffffu + ((a >> 20) & 1u)) >> 20;  // (f32 exponent << 3) | mantissa3
  const uint32_t e = (r >> 3) - 127 + 7;
  return sign | (uint8_t)((e << 3) | (r & 7u));
}

float fp8_e4m3_to_float(uint8_t b) {
  const int e = (b >> 3) & 15, m = b & 7;
  if (e == 15 && m == 7) return NAN;  // either sign: the positive NaN, as cuda_fp8.h's decode gives
  float v;
  if (e == 0)
    v = std::ldexp((float)m, -9);
  else
    v = std::ldexp(1.f + m / 8.f, e - 7);
  return (b & 0x80) ? -v : v;
}

namespace {
inline float bf16_bits_to_float(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

template <class Load>
void quantize_rows(uint8_t* q, float* scale, int rows, int k, Load load) {
  for (int r = 0; r < rows; ++r) {
    float amax = 0.f;
    for (int i = 0; i < k; ++i) amax = std::fmax(amax, std::fabs(load((size_t)r * k + i)));
    const float s = fp8_scale_for_absmax(amax);
    scale[r] = s;
    for (int i = 0; i < k; ++i) q[(size_t)r * k + i] = fp8_e4m3_from_float(load((size_t)r * k + i) / s);
  }
}
}  // namespace

void quantize_fp8_rows_cpu(uint8_t* q, float* scale, const float* x, int rows, int k) {
  quantize_rows(q, scale, rows, k, [x](size_t i) { return x[i]; });
}

void quantize_fp8_rows_bf16_cpu(uint8_t* q, float* scale, const uint16_t* x, int rows, int k) {
  quantize_rows(q, scale, rows, k, [x](size_t i) { return bf16_bits_to_float(x[i]); });
}
