#include "fill_normal.h"

#include <cmath>

namespace {
// splitmix64 finaliser of (index, seed): fill_uniform's hash, 24 high bits.
uint32_t hash24(uint64_t i, uint64_t seed) {
  uint64_t z = i + seed * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (uint32_t)(z >> 40);
}
}  // namespace

void fill_normal_cpu(float* p, long long n, uint64_t seed, float mean, float std) {
  const double two_pi = 6.283185307179586476925286766559;
  for (long long i = 0; i < n; ++i) {
    const double u1 = ((double)hash24(2 * (uint64_t)i, seed) + 1.0) / 16777216.0;  // (0, 1]
    const double u2 = (double)hash24(2 * (uint64_t)i + 1, seed) / 16777216.0;      // [0, 1)
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2);
    p[i] = (float)(mean + std * z);
  }
}
