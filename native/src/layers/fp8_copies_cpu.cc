#include "../core/errors.h"
#include "../ops/quantize_fp8.h"
#include "fp8_copies.h"

namespace cosmos {

void Fp8CopiesCpu::make(const std::vector<Linear*>& ls) {
  attach(false);  // no Linear keeps pointing at copies about to be freed
  copies_.clear();
  bytes_ = 0;
  for (Linear* l : ls) {
    if (l->wt != WType::F32) throw ModelError("fp8 copies: the CPU backend's matmul weights must be f32");
    Copy c{l, std::vector<uint8_t>((size_t)l->out * l->in), std::vector<float>(l->out)};
    quantize_fp8_rows_cpu(c.q.data(), c.scale.data(), static_cast<const float*>(l->w), l->out, l->in);
    bytes_ += c.q.size() + c.scale.size() * sizeof(float);
    copies_.push_back(std::move(c));
  }
}

}  // namespace cosmos
