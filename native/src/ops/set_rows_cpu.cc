#include "set_rows.h"

#include <cstring>

void set_rows_cpu(float* dst, const float* src, long long outer, long long rows, long long inner, long long r0,
                  long long r1) {
  if (r0 < 0) r0 = 0;
  if (r1 > rows) r1 = rows;
  if (r1 <= r0 || outer <= 0 || inner <= 0) return;
  const size_t bytes = (size_t)((r1 - r0) * inner) * sizeof(float);
  for (long long o = 0; o < outer; ++o) {
    const long long off = (o * rows + r0) * inner;
    if (src)
      std::memmove(dst + off, src + off, bytes);
    else
      std::memset(dst + off, 0, bytes);
  }
}
