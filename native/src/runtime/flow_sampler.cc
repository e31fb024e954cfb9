#include "flow_sampler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../core/errors.h"

namespace cosmos::runtime {

namespace {

void check_step(int i, int expected, int steps) {
  if (i != expected || i >= steps)
    throw ModelError("sampler step " + std::to_string(i) + ": expected step " + std::to_string(expected) + " of " +
                     std::to_string(steps));
}

// Solves A·x = b (n <= 3, row-major A) by Gaussian elimination with partial pivoting, in float32 as
// torch.linalg.solve does on float32 tensors (LU, first largest pivot).
std::vector<float> solve_small(std::vector<float> a, std::vector<float> b, int n) {
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    if (p != c) {
      for (int k = 0; k < n; ++k) std::swap(a[c * n + k], a[p * n + k]);
      std::swap(b[c], b[p]);
    }
    for (int r = c + 1; r < n; ++r) {
      const float f = a[r * n + c] / a[c * n + c];
      for (int k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  std::vector<float> x(n);
  for (int r = n - 1; r >= 0; --r) {
    float s = b[r];
    for (int k = r + 1; k < n; ++k) s -= a[r * n + k] * x[k];
    x[r] = s / a[r * n + r];
  }
  return x;
}

// log(alpha) − log(sigma) with flow sigmas (alpha = 1 − sigma), float32 as in diffusers.
float lambda_of(float sigma) {
  const float alpha = 1.0f - sigma;
  return std::log(alpha) - std::log(sigma);
}

// The B(h) update's scalars for one UniP / UniC step of `order` from sigma_s0 to sigma_t, the earlier
// sigmas (most recent first) giving the ratios rk. Mirrors multistep_uni_{p,c}_bh_update.
struct BhStep {
  float ratio;             // sigma_t / sigma_s0: the sample's coefficient
  float alpha_h_phi_1;     // alpha_t · h_phi_1: m0's coefficient (negated)
  float alpha_b_h;         // alpha_t · B_h: the D1 terms' coefficient (negated)
  std::vector<float> rks;  // order − 1 ratios (the trailing 1 dropped)
  std::vector<float> r;    // R, order × order (row i: rks^i)
  std::vector<float> b;    // order
};
BhStep bh_step(float sigma_t, float sigma_s0, const std::vector<float>& earlier, int order, bool bh2) {
  BhStep s;
  const float alpha_t = 1.0f - sigma_t;
  const float lambda_t = lambda_of(sigma_t), lambda_s0 = lambda_of(sigma_s0);
  const float h = lambda_t - lambda_s0;
  std::vector<float> rks;
  for (int k = 1; k < order; ++k) rks.push_back((lambda_of(earlier[k - 1]) - lambda_s0) / h);
  s.rks = rks;
  rks.push_back(1.0f);
  const float hh = -h;  // predict_x0
  const float h_phi_1 = std::expm1(hh);
  float h_phi_k = h_phi_1 / hh - 1.0f;
  long long factorial = 1;
  const float b_h = bh2 ? std::expm1(hh) : hh;
  s.r.assign((size_t)order * order, 0.f);
  for (int i = 1; i <= order; ++i) {
    for (int k = 0; k < order; ++k) s.r[(size_t)(i - 1) * order + k] = std::pow(rks[k], (float)(i - 1));
    s.b.push_back(h_phi_k * (float)factorial / b_h);
    factorial *= i + 1;
    h_phi_k = h_phi_k / hh - (float)(1.0 / (double)factorial);
  }
  s.ratio = sigma_t / sigma_s0;
  s.alpha_h_phi_1 = alpha_t * h_phi_1;
  s.alpha_b_h = alpha_t * b_h;
  return s;
}

class UniPCSampler final : public FlowSampler {
 public:
  UniPCSampler(const FlowSchedulerConfig& cfg, const FlowSchedule& sch, LatentDevice& dev, long long n)
      : cfg_(cfg), sigmas_(sch.sigmas), steps_(sch.steps()), dev_(dev), n_(n), last_(dev, n) {
    // solver_order + 1 slots: the corrector reads the whole previous history and the new x0 at once.
    for (int k = 0; k <= cfg.solver_order; ++k) slots_.emplace_back(dev, n);
  }

  void step(int i, float* x, const float* v) override {
    check_step(i, next_, steps_);
    const bool disabled =
        std::find(cfg_.disable_corrector.begin(), cfg_.disable_corrector.end(), i - 1) != cfg_.disable_corrector.end();
    const bool use_corrector = i > 0 && !disabled && have_last_;

    // convert_model_output: x0 = x − σ_i·v, into a slot not in the history.
    int slot = 0;
    while (std::find(hist_.begin(), hist_.end(), slot) != hist_.end()) ++slot;
    float* m_new = slots_[slot].get();
    {
      const float* in[2] = {x, v};
      const float c[2] = {1.0f, -sigmas_[i]};
      dev_.lincomb(m_new, in, c, 2, n_);
    }
    if (use_corrector) correct(i, x, m_new);

    hist_.push_back(slot);
    if ((int)hist_.size() > cfg_.solver_order) hist_.erase(hist_.begin());
    int order = cfg_.lower_order_final ? std::min(cfg_.solver_order, steps_ - i) : cfg_.solver_order;
    this_order_ = std::min(order, lower_order_nums_ + 1);

    dev_.copy(last_.get(), x, n_);
    have_last_ = true;
    predict(i, x);
    if (lower_order_nums_ < cfg_.solver_order) ++lower_order_nums_;
    ++next_;
  }

 private:
  const float* hist_at(int back) const { return slots_[hist_[hist_.size() - 1 - back]].get(); }  // 0: newest

  // UniC: x ← corrected sample at sigma_i from last_ (at sigma_{i−1}), the previous history and m_t.
  void correct(int i, float* x, const float* m_t) {
    const int p = this_order_;
    std::vector<float> earlier;
    for (int k = 1; k < p; ++k) earlier.push_back(sigmas_[i - (k + 1)]);
    const BhStep s = bh_step(sigmas_[i], sigmas_[i - 1], earlier, p, cfg_.bh2);
    const std::vector<float> rhos = p == 1 ? std::vector<float>{0.5f} : solve_small(s.r, s.b, p);
    std::vector<const float*> in = {last_.get(), hist_at(0)};
    std::vector<float> c = {s.ratio, -s.alpha_h_phi_1};
    for (int k = 1; k < p; ++k) {  // D1_k = (m_k − m0) / rk
      const float w = s.alpha_b_h * rhos[k - 1] / s.rks[k - 1];
      in.push_back(hist_at(k));
      c.push_back(-w);
      c[1] += w;
    }
    const float w_t = s.alpha_b_h * rhos[p - 1];  // D1_t = m_t − m0
    in.push_back(m_t);
    c.push_back(-w_t);
    c[1] += w_t;
    dev_.lincomb(x, in.data(), c.data(), (int)in.size(), n_);
  }

  // UniP: x ← sample at sigma_{i+1} from x at sigma_i and the history (newest = this step's x0).
  void predict(int i, float* x) {
    const int p = this_order_;
    std::vector<float> earlier;
    for (int k = 1; k < p; ++k) earlier.push_back(sigmas_[i - k]);
    const BhStep s = bh_step(sigmas_[i + 1], sigmas_[i], earlier, p, cfg_.bh2);
    std::vector<const float*> in = {x, hist_at(0)};
    std::vector<float> c = {s.ratio, -s.alpha_h_phi_1};
    if (p > 1) {
      std::vector<float> rhos;
      if (p == 2)
        rhos = {0.5f};
      else {  // R[:-1, :-1] · rho = b[:-1]
        std::vector<float> r((size_t)(p - 1) * (p - 1));
        for (int a = 0; a < p - 1; ++a)
          for (int b = 0; b < p - 1; ++b) r[(size_t)a * (p - 1) + b] = s.r[(size_t)a * p + b];
        rhos = solve_small(r, std::vector<float>(s.b.begin(), s.b.end() - 1), p - 1);
      }
      for (int k = 1; k < p; ++k) {
        const float w = s.alpha_b_h * rhos[k - 1] / s.rks[k - 1];
        in.push_back(hist_at(k));
        c.push_back(-w);
        c[1] += w;
      }
    }
    dev_.lincomb(x, in.data(), c.data(), (int)in.size(), n_);
  }

  FlowSchedulerConfig cfg_;
  std::vector<float> sigmas_;
  int steps_;
  LatentDevice& dev_;
  long long n_;
  std::vector<LatentBuffer> slots_;  // converted model outputs (x0 predictions)
  std::vector<int> hist_;            // slot indexes, oldest first, at most solver_order
  LatentBuffer last_;                // the sample the last predictor started from
  bool have_last_ = false;
  int lower_order_nums_ = 0, this_order_ = 1, next_ = 0;
};

class EulerSampler final : public FlowSampler {
 public:
  EulerSampler(const FlowSchedule& sch, LatentDevice& dev, long long n, NoiseSource* noise)
      : sigmas_(sch.sigmas), dev_(dev), n_(n), noise_(noise) {
    if (noise_) eps_ = LatentBuffer(dev, n);
  }
  void step(int i, float* x, const float* v) override {
    check_step(i, next_, (int)sigmas_.size() - 1);
    const float sigma = sigmas_[i], next = sigmas_[i + 1];
    if (!noise_) {
      const float dt = next - sigma;
      const float* in[2] = {x, v};
      const float c[2] = {1.0f, dt};
      dev_.lincomb(x, in, c, 2, n_);
    } else {
      // x0 = x − σ·v, then (1 − σ_next)·x0 + σ_next·ε: two lincombs round as torch's ops do.
      const float* in0[2] = {x, v};
      const float c0[2] = {1.0f, -sigma};
      dev_.lincomb(x, in0, c0, 2, n_);
      noise_->fill(eps_.get(), n_, i);
      const float* in1[2] = {x, eps_.get()};
      const float c1[2] = {1.0f - next, next};
      dev_.lincomb(x, in1, c1, 2, n_);
    }
    ++next_;
  }

 private:
  std::vector<float> sigmas_;
  LatentDevice& dev_;
  long long n_;
  NoiseSource* noise_;
  LatentBuffer eps_;
  int next_ = 0;
};

}  // namespace

void GivenNoise::fill(float* dst, long long n, int step) {
  if (n != n_ || step < 0 || step >= steps_)
    throw ModelError("noise for step " + std::to_string(step) + ": " + std::to_string(steps_) + " steps of " +
                     std::to_string(n_) + " values were given");
  dev_.upload(dst, host_ + (long long)step * n_, n_);
}

std::unique_ptr<FlowSampler> make_flow_sampler(const FlowSchedulerConfig& cfg, const FlowSchedule& schedule,
                                               LatentDevice& dev, long long n, NoiseSource* noise) {
  if (n < 1) throw ModelError("latents: need at least one element");
  if (schedule.steps() < 1 || schedule.sigmas.size() != (size_t)schedule.steps() + 1)
    throw ModelError("schedule: needs steps + 1 sigmas");
  if (cfg.kind == FlowSchedulerKind::UniPC) return std::make_unique<UniPCSampler>(cfg, schedule, dev, n);
  if (cfg.stochastic_sampling && !noise)
    throw ModelError("scheduler_config.stochastic_sampling: true needs a noise source (none was given)");
  return std::make_unique<EulerSampler>(schedule, dev, n, cfg.stochastic_sampling ? noise : nullptr);
}

}  // namespace cosmos::runtime
