#include "fill_uniform.h"

namespace {
float hash_uniform(uint64_t i, uint64_t seed) {
  uint64_t z = i + seed * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (float)(z >> 40) * (2.0f / 16777216.0f) - 1.0f;
}
}  // namespace

void fill_uniform_cpu(float* p, long long n, uint64_t seed, float a, float c) {
  for (long long i = 0; i < n; ++i) p[i] = a != 0.f ? a * hash_uniform((uint64_t)i, seed) + c : c;
}
