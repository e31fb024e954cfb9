#include "wan_latent_norm.h"

void wan_latent_norm_cpu(float* x, long long rows, int c, const float* mean, const float* std, bool inverse) {
  for (long long r = 0; r < rows; ++r)
    for (int i = 0; i < c; ++i) {
      const float inv_std = 1.0f / std[i];
      float& v = x[r * c + i];
      v = inverse ? v / inv_std + mean[i] : (v - mean[i]) * inv_std;
    }
}
