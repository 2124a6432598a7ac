#include "trex/sweep/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "trex/config/splits.h"

namespace trex {
namespace {

using Rng = std::mt19937_64;

double uniform(Rng& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }

double random_coordinate(const SearchParam& p, Rng& rng) {
  if (p.kind == SearchParam::Kind::Choice)
    return static_cast<double>(std::uniform_int_distribution<std::size_t>(0, p.choices.size() - 1)(rng));
  return uniform(rng, p.internal_low(), p.internal_high());
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// A mixture of Gaussians truncated to [low, high]: one at each observation,
// plus a wide prior at the centre so that unexplored regions keep some mass.
// Bandwidths follow Hyperopt/Optuna: the larger gap to a neighbour, clipped
// to [range / min(100, n + 1), range].
class Parzen {
 public:
  Parzen(std::vector<double> obs, double low, double high) : low_(low), high_(high) {
    const double range = high - low;
    std::sort(obs.begin(), obs.end());
    const double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(obs.size()));
    for (std::size_t i = 0; i < obs.size(); ++i) {
      const double left = obs[i] - (i == 0 ? low : obs[i - 1]);
      const double right = (i + 1 == obs.size() ? high : obs[i + 1]) - obs[i];
      mus_.push_back(obs[i]);
      sigmas_.push_back(std::clamp(std::max(left, right), min_sigma, range));
    }
    mus_.push_back(0.5 * (low + high));
    sigmas_.push_back(range);
    for (std::size_t i = 0; i < mus_.size(); ++i)
      mass_.push_back(
          std::max(1e-12, normal_cdf((high - mus_[i]) / sigmas_[i]) - normal_cdf((low - mus_[i]) / sigmas_[i])));
  }

  double sample(Rng& rng) const {
    const std::size_t k = std::uniform_int_distribution<std::size_t>(0, mus_.size() - 1)(rng);
    std::normal_distribution<double> n(mus_[k], sigmas_[k]);
    for (int attempt = 0; attempt < 100; ++attempt) {
      const double x = n(rng);
      if (x >= low_ && x <= high_) return x;
    }
    return std::clamp(n(rng), low_, high_);
  }

  double log_pdf(double x) const {
    double sum = 0;
    for (std::size_t i = 0; i < mus_.size(); ++i) {
      const double z = (x - mus_[i]) / sigmas_[i];
      sum += std::exp(-0.5 * z * z) / (sigmas_[i] * std::sqrt(2 * M_PI) * mass_[i]);
    }
    return std::log(sum / static_cast<double>(mus_.size()) + 1e-300);
  }

 private:
  double low_, high_;
  std::vector<double> mus_, sigmas_, mass_;
};

// Category frequencies with one pseudo-count spread over all categories.
std::vector<double> category_weights(const std::vector<double>& obs, std::size_t k) {
  std::vector<double> w(k, 1.0 / static_cast<double>(k));
  for (double x : obs) w[static_cast<std::size_t>(std::lround(x))] += 1;
  double total = 0;
  for (double v : w) total += v;
  for (double& v : w) v /= total;
  return w;
}

}  // namespace

Point grid_point(const std::vector<SearchParam>& space, std::int64_t index) {
  Point p(space.size());
  for (std::size_t d = space.size(); d-- > 0;) {
    const auto n = static_cast<std::int64_t>(space[d].choices.size());
    p[d] = static_cast<double>(index % n);
    index /= n;
  }
  return p;
}

Point random_point(const std::vector<SearchParam>& space, std::uint64_t seed, std::int64_t index) {
  Rng rng(mix_seed(seed, static_cast<std::uint64_t>(index), 0x5eed));
  Point p;
  for (const auto& s : space) p.push_back(random_coordinate(s, rng));
  return p;
}

Point tpe_point(const std::vector<SearchParam>& space, const std::vector<Observation>& history, std::uint64_t seed,
                std::int64_t index, const TpeOptions& options) {
  if (static_cast<std::int64_t>(history.size()) < options.startup_trials) return random_point(space, seed, index);
  std::vector<const Observation*> sorted;
  for (const auto& o : history)
    if (std::isfinite(o.loss)) sorted.push_back(&o);
  if (sorted.size() < 2) return random_point(space, seed, index);
  std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->loss < b->loss; });
  // Optuna's default split: the best ceil(10 %) of the history, at most 25.
  const std::size_t n_below =
      std::clamp<std::size_t>(static_cast<std::size_t>(std::ceil(0.1 * static_cast<double>(sorted.size()))), 1, 25);
  Rng rng(mix_seed(seed, static_cast<std::uint64_t>(index), 0x7be));
  Point p;
  for (std::size_t d = 0; d < space.size(); ++d) {
    std::vector<double> below, above;
    for (std::size_t i = 0; i < sorted.size(); ++i) (i < n_below ? below : above).push_back(sorted[i]->x[d]);
    const SearchParam& s = space[d];
    double best_x = 0, best_score = -std::numeric_limits<double>::infinity();
    if (s.kind == SearchParam::Kind::Choice) {
      const auto l = category_weights(below, s.choices.size());
      const auto g = category_weights(above, s.choices.size());
      std::discrete_distribution<std::size_t> pick(l.begin(), l.end());
      for (std::int64_t c = 0; c < options.candidates; ++c) {
        const std::size_t x = pick(rng);
        const double score = std::log(l[x]) - std::log(g[x]);
        if (score > best_score) best_score = score, best_x = static_cast<double>(x);
      }
    } else {
      const Parzen l(below, s.internal_low(), s.internal_high());
      const Parzen g(above, s.internal_low(), s.internal_high());
      for (std::int64_t c = 0; c < options.candidates; ++c) {
        const double x = l.sample(rng);
        const double score = l.log_pdf(x) - g.log_pdf(x);
        if (score > best_score) best_score = score, best_x = x;
      }
    }
    p.push_back(best_x);
  }
  return p;
}

Point sample(const SweepConfig& config, std::int64_t index, const std::vector<Observation>& history) {
  if (config.method == "grid") return grid_point(config.params, index);
  if (config.method == "tpe")
    return tpe_point(config.params, history, config.seed, index, {config.tpe_startup_trials, config.tpe_candidates});
  return random_point(config.params, config.seed, index);
}

}  // namespace trex
