#include "transpose2d.h"

void transpose2d_cpu(float* out, const float* x, long long rows, long long cols) {
  for (long long r = 0; r < rows; ++r)
    for (long long c = 0; c < cols; ++c) out[c * rows + r] = x[r * cols + c];
}
