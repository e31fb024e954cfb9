#include "weights.h"

#include <cmath>
#include <cstring>

#include "../core/errors.h"
#include "../ops/fill_uniform.h"

namespace cosmos {

size_t numel_of(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (auto d : shape) n *= (size_t)d;
  return n;
}

namespace {
bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}
}  // namespace

void* HostWeightStore::alloc(size_t count, bool bf16) {
  if (bf16) throw ModelError("the CPU backend holds f32 weights only");
  blocks_.emplace_back(count * sizeof(float));
  bytes_ += count * sizeof(float);
  return blocks_.back().data();
}
void HostWeightStore::put(void* dst, const float* src, size_t count, bool) {
  std::memcpy(dst, src, count * sizeof(float));
}
void HostWeightStore::fill(void* dst, size_t count, bool, uint64_t seed, float a, float c) {
  fill_uniform_cpu(static_cast<float*>(dst), (long long)count, seed, a, c);
}

WeightBinder::WeightBinder(const Checkpoint& ck, WeightStore& store, std::string config_name)
    : ck_(&ck), store_(store), config_name_(std::move(config_name)) {}

WeightBinder::WeightBinder(uint64_t seed, float std, WeightStore& store)
    : store_(store), seed_(seed), amp_(std * std::sqrt(3.0f)) {}  // uniform [-a, a] has std a / sqrt(3)

bool WeightBinder::has(const std::string& name) const { return !ck_ || ck_->has(name); }

void WeightBinder::check_shape(const std::string& name, const std::vector<int64_t>& shape) const {
  if (!ck_) return;
  const TensorInfo& ti = ck_->info(name);  // throws SafetensorsError (Missing) naming the tensor
  if (ti.shape != shape) {
    Tensor got, want;
    got.shape = ti.shape;
    want.shape = shape;
    throw ModelError("tensor '" + name + "' has shape " + got.shape_str() + ", " + config_name_ + " expects " +
                     want.shape_str());
  }
}

void WeightBinder::write(void* dst, const std::string& name, const std::vector<int64_t>& shape, bool bf16,
                         bool is_param) {
  const size_t n = numel_of(shape);
  if (!ck_) {
    float a = amp_, c = 0.f;
    if (is_param && shape.size() == 1 && ends_with(name, "weight"))
      a = 0.f, c = 1.f;  // norm gains
    else if (is_param && ends_with(name, "bias") && name.find("norm") != std::string::npos)
      a = 0.f;  // norm shifts
    store_.fill(dst, n, bf16, ++seed_, a, c);
    return;
  }
  host_.resize(n);
  ck_->read_f32(name, host_.data(), n);
  store_.put(dst, host_.data(), n, bf16);
}

const float* WeightBinder::param(const std::string& name, const std::vector<int64_t>& shape) {
  check_shape(name, shape);
  void* p = store_.alloc(numel_of(shape), false);
  write(p, name, shape, false, true);
  return static_cast<const float*>(p);
}

Linear WeightBinder::linear(const std::vector<LinearPart>& parts) {
  if (parts.empty()) throw ModelError("WeightBinder::linear: no parts");
  Linear l;
  l.wt = store_.matmul_type();
  const bool bf = l.wt == WType::BF16;
  const size_t esize = bf ? 2 : 4;
  int64_t rows = 0, in = -1;
  for (const auto& p : parts) {
    check_shape(p.weight, p.shape);
    const int64_t pin = (int64_t)(numel_of(p.shape) / (size_t)p.shape[0]);
    if (in >= 0 && pin != in) throw ModelError("WeightBinder::linear: parts of " + p.weight + " differ in width");
    if (p.bias.empty() != parts[0].bias.empty())
      throw ModelError("WeightBinder::linear: some parts have a bias, some not");
    in = pin;
    rows += p.shape[0];
  }
  void* w = store_.alloc((size_t)rows * in, bf);
  float* b = parts[0].bias.empty() ? nullptr : static_cast<float*>(store_.alloc((size_t)rows, false));
  int64_t r = 0;
  for (const auto& p : parts) {
    write(static_cast<char*>(w) + (size_t)r * in * esize, p.weight, p.shape, bf, false);
    if (b) {
      check_shape(p.bias, {p.shape[0]});
      write(b + r, p.bias, {p.shape[0]}, false, true);
    }
    r += p.shape[0];
  }
  l.w = w;
  l.b = b;
  l.in = (int)in;
  l.out = (int)rows;
  return l;
}

std::vector<float> WeightBinder::values(const std::string& name, const std::vector<int64_t>& shape, bool is_param) {
  check_shape(name, shape);
  const size_t n = numel_of(shape);
  std::vector<float> v(n);
  if (ck_) {
    ck_->read_f32(name, v.data(), n);
  } else {
    float a = amp_, c = 0.f;
    if (is_param && shape.size() == 1 && ends_with(name, "weight"))
      a = 0.f, c = 1.f;
    else if (is_param && ends_with(name, "bias") && name.find("norm") != std::string::npos)
      a = 0.f;
    fill_uniform_cpu(v.data(), (long long)n, ++seed_, a, c);
  }
  return v;
}

Linear WeightBinder::linear_from_values(const float* w, int rows, int in, const float* bias) {
  Linear l;
  l.wt = store_.matmul_type();
  const bool bf = l.wt == WType::BF16;
  void* dst = store_.alloc((size_t)rows * in, bf);
  store_.put(dst, w, (size_t)rows * in, bf);
  float* b = nullptr;
  if (bias) {
    b = static_cast<float*>(store_.alloc((size_t)rows, false));
    store_.put(b, bias, (size_t)rows, false);
  }
  l.w = dst;
  l.b = b;
  l.in = in;
  l.out = rows;
  return l;
}

const void* WeightBinder::table(const std::string& name, const std::vector<int64_t>& shape, bool* bf16) {
  check_shape(name, shape);
  const bool stored_bf16 = ck_ ? ck_->info(name).dtype == StDType::BF16 : store_.matmul_type() == WType::BF16;
  *bf16 = stored_bf16 && store_.bf16_tables();
  void* p = store_.alloc(numel_of(shape), *bf16);
  write(p, name, shape, *bf16, false);
  return p;
}

}  // namespace cosmos
