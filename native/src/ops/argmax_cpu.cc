#include "argmax.h"

int argmax_cpu(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;  // strict '>' keeps the first max, like torch.argmax
  return best;
}
