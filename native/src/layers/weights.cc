#include "weights.h"

#include <cmath>
#include <cstring>
#include <map>

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

namespace {
std::mutex g_shared_mu;
std::map<std::string, std::weak_ptr<WeightBlock>> g_shared;
size_t g_sweep_at = 64;  // drop expired entries when the map grows past this (then twice the live count)

void sweep_expired() {
  for (auto it = g_shared.begin(); it != g_shared.end();) it = it->second.expired() ? g_shared.erase(it) : ++it;
  g_sweep_at = std::max<size_t>(64, 2 * g_shared.size());
}

// The host's shared block: a tracked Buffer, so memory reports count it once however many hold it.
class HostWeightBlock : public WeightBlock {
 public:
  explicit HostWeightBlock(size_t bytes) : buf_(bytes) {
    data_ = buf_.data();
    bytes_ = bytes;
  }

 private:
  Buffer buf_;
};
}  // namespace

std::shared_ptr<WeightBlock> SharedWeights::acquire(const std::string& key,
                                                    const std::function<std::shared_ptr<WeightBlock>()>& make,
                                                    const std::function<void(void*)>& fill) {
  std::shared_ptr<WeightBlock> b;
  std::unique_lock<std::mutex> first;  // held while the new block is written
  {
    std::lock_guard<std::mutex> l(g_shared_mu);
    auto it = g_shared.find(key);
    if (it != g_shared.end()) b = it->second.lock();
    if (!b) {
      b = make();
      first = std::unique_lock<std::mutex>(b->fill_mu_);  // before anyone else can find it
      g_shared[key] = b;
      if (g_shared.size() > g_sweep_at) sweep_expired();
    }
  }
  std::unique_lock<std::mutex> l = first.owns_lock() ? std::move(first) : std::unique_lock<std::mutex>(b->fill_mu_);
  if (!b->filled_) {  // new, or its first writer failed
    fill(b->data());
    b->filled_ = true;
  }
  return b;
}

size_t SharedWeights::live_blocks() {
  std::lock_guard<std::mutex> l(g_shared_mu);
  size_t n = 0;
  for (auto& [k, w] : g_shared) n += w.expired() ? 0 : 1;
  return n;
}

size_t SharedWeights::live_bytes() {
  std::lock_guard<std::mutex> l(g_shared_mu);
  size_t n = 0;
  for (auto& [k, w] : g_shared)
    if (auto b = w.lock()) n += b->bytes();
  return n;
}

void* WeightStore::shared(const std::vector<std::string>& sources, size_t count, bool bf16,
                          const std::function<void(void*)>& write) {
  // Length-prefixed fields: no source string can make two different lists one key.
  std::string key = device() + (bf16 ? "|bf16|" : "|f32|");
  for (const auto& s : sources) key += std::to_string(s.size()) + ":" + s;
  auto b = SharedWeights::acquire(
      key, [&] { return new_block(count, bf16); }, write);
  if (b->bytes() != count * (bf16 ? 2 : 4))  // a key names its tensors' shapes, so this is a broken invariant
    throw ModelError("shared weight block of " + sources.front() + " has another size than asked");
  for (Held& h : held_)
    if (h.block == b) {
      ++h.uses;
      return b->data();
    }
  bytes_ += b->bytes();
  shared_bytes_ += b->bytes();
  held_.push_back({b, 1});
  return b->data();
}

size_t WeightStore::release(const void* data) {
  for (auto it = held_.begin(); it != held_.end(); ++it) {
    if (it->block->data() != data) continue;
    if (--it->uses > 0) return 0;
    const size_t bytes = it->block->bytes();
    bytes_ -= bytes;
    shared_bytes_ -= bytes;
    held_.erase(it);  // the block itself goes with its last holder (another model may still hold it)
    return bytes;
  }
  const size_t bytes = release_own(data);
  bytes_ -= bytes;
  return bytes;
}

std::shared_ptr<WeightBlock> HostWeightStore::new_block(size_t count, bool bf16) {
  if (bf16) throw ModelError("the CPU backend holds f32 weights only");
  return std::make_shared<HostWeightBlock>(count * sizeof(float));
}

void* HostWeightStore::alloc(size_t count, bool bf16) {
  if (bf16) throw ModelError("the CPU backend holds f32 weights only");
  blocks_.emplace_back(count * sizeof(float));
  bytes_ += count * sizeof(float);
  return blocks_.back().data();
}
size_t HostWeightStore::release_own(const void* data) {
  for (auto it = blocks_.begin(); it != blocks_.end(); ++it)
    if (it->data() == data) {
      const size_t bytes = it->bytes();
      blocks_.erase(it);
      return bytes;
    }
  return 0;
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

void* WeightBinder::block(const std::vector<std::string>& names, size_t count, bool bf16,
                          const std::function<void(void*)>& write) {
  if (ck_) {
    std::vector<std::string> sources;
    for (const auto& n : names) sources.push_back(ck_->source_of(n));
    return store_.shared(sources, count, bf16, write);
  }
  void* p = store_.alloc(count, bf16);
  write(p);
  return p;
}

const float* WeightBinder::param(const std::string& name, const std::vector<int64_t>& shape) {
  check_shape(name, shape);
  return static_cast<const float*>(
      block({name}, numel_of(shape), false, [&](void* p) { write(p, name, shape, false, true); }));
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
  std::vector<std::string> weights, biases;
  for (const auto& p : parts) {
    weights.push_back(p.weight);
    if (!p.bias.empty()) {
      check_shape(p.bias, {p.shape[0]});
      biases.push_back(p.bias);
    }
  }
  l.w = block(weights, (size_t)rows * in, bf, [&](void* w) {
    int64_t r = 0;
    for (const auto& p : parts) {
      write(static_cast<char*>(w) + (size_t)r * in * esize, p.weight, p.shape, bf, false);
      r += p.shape[0];
    }
  });
  l.b = biases.empty() ? nullptr : static_cast<const float*>(block(biases, (size_t)rows, false, [&](void* b) {
    int64_t r = 0;
    for (const auto& p : parts) {
      write(static_cast<float*>(b) + r, p.bias, {p.shape[0]}, false, true);
      r += p.shape[0];
    }
  }));
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
  const bool b = *bf16;
  return block({name}, numel_of(shape), b, [&](void* p) { write(p, name, shape, b, false); });
}

}  // namespace cosmos
