#include "lincomb.h"

#include <stdexcept>
#include <string>

void lincomb_cpu(float* out, const float* const* x, const float* c, int n_terms, long long n) {
  if (n_terms < 1 || n_terms > kLincombMaxTerms)
    throw std::invalid_argument("lincomb: n_terms " + std::to_string(n_terms) + " outside 1.." +
                                std::to_string(kLincombMaxTerms));
  for (long long i = 0; i < n; ++i) {
    // Each product rounded on its own, then added: no fused multiply-add (x86-64 without -mfma has
    // none; the CUDA twin uses __fmul_rn / __fadd_rn for the same bits).
    float acc = c[0] * x[0][i];
    for (int k = 1; k < n_terms; ++k) {
      const float p = c[k] * x[k][i];
      acc = acc + p;
    }
    out[i] = acc;
  }
}
