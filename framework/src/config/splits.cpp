#include "trex/config/splits.h"

#include <algorithm>
#include <map>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

namespace trex {
namespace {

std::uint64_t hash_text(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::map<std::int64_t, std::vector<std::size_t>> by_class(const std::vector<std::int64_t>& labels,
                                                          const std::vector<std::size_t>& positions) {
  std::map<std::int64_t, std::vector<std::size_t>> out;
  for (auto p : positions) out[labels[p]].push_back(p);
  return out;
}

/// Splits `positions` into (kept, held out), holding out round(fraction * n) per class.
std::pair<std::vector<std::size_t>, std::vector<std::size_t>> hold_out(const std::vector<std::int64_t>& labels,
                                                                       const std::vector<std::size_t>& positions,
                                                                       double fraction, std::uint64_t seed) {
  std::vector<std::size_t> kept, held;
  for (auto& [label, members] : by_class(labels, positions)) {
    std::mt19937_64 rng(mix_seed(seed, static_cast<std::uint64_t>(label)));
    std::shuffle(members.begin(), members.end(), rng);
    const auto n_held = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(members.size())));
    held.insert(held.end(), members.begin(), members.begin() + static_cast<std::ptrdiff_t>(n_held));
    kept.insert(kept.end(), members.begin() + static_cast<std::ptrdiff_t>(n_held), members.end());
  }
  std::sort(kept.begin(), kept.end());
  std::sort(held.begin(), held.end());
  return {kept, held};
}

std::vector<SampleRef> refs(const std::string& split, const std::vector<std::int64_t>& labels,
                            const std::vector<std::size_t>& positions) {
  std::vector<SampleRef> out;
  out.reserve(positions.size());
  for (auto p : positions) out.push_back({split, p, labels[p]});
  return out;
}

}  // namespace

std::vector<std::size_t> stratified_subset(const std::vector<std::int64_t>& labels, std::size_t count,
                                           std::size_t per_class, std::uint64_t seed) {
  std::vector<std::size_t> all(labels.size());
  std::iota(all.begin(), all.end(), 0);
  auto classes = by_class(labels, all);
  for (auto& [label, members] : classes) {
    std::mt19937_64 rng(mix_seed(seed, static_cast<std::uint64_t>(label), 1));
    std::shuffle(members.begin(), members.end(), rng);
    if (per_class && members.size() > per_class) members.resize(per_class);
  }
  std::size_t total = 0;
  for (const auto& [l, m] : classes) total += m.size();
  if (count && count < total) {
    // Proportional allocation by largest remainder, so class shares are kept.
    std::vector<std::pair<double, std::int64_t>> remainders;
    std::size_t given = 0;
    std::map<std::int64_t, std::size_t> quota;
    for (const auto& [label, m] : classes) {
      const double exact = static_cast<double>(count) * static_cast<double>(m.size()) / static_cast<double>(total);
      quota[label] = static_cast<std::size_t>(std::floor(exact));
      given += quota[label];
      remainders.push_back({exact - std::floor(exact), label});
    }
    std::stable_sort(remainders.begin(), remainders.end(), [](auto& x, auto& y) { return x.first > y.first; });
    for (std::size_t i = 0; given < count && i < remainders.size(); ++i, ++given) ++quota[remainders[i].second];
    for (auto& [label, m] : classes) m.resize(std::min(m.size(), quota[label]));
  }
  std::vector<std::size_t> out;
  for (const auto& [l, m] : classes) out.insert(out.end(), m.begin(), m.end());
  std::sort(out.begin(), out.end());
  return out;
}

const std::vector<SampleRef>& SplitPlan::get(const std::string& name) const {
  if (name == "train") return train;
  if (name == "val") return val;
  if (name == "test") return test;
  throw std::invalid_argument("no split '" + name + "'; splits are train, val, test");
}

std::vector<std::int64_t> SplitPlan::class_counts(const std::string& name, std::size_t classes) const {
  std::vector<std::int64_t> out(classes, 0);
  for (const auto& r : get(name))
    if (r.label >= 0 && static_cast<std::size_t>(r.label) < classes) ++out[static_cast<std::size_t>(r.label)];
  return out;
}

SplitPlan plan_splits(const Dataset& dataset, const DataOptions& o, std::uint64_t spec_seed) {
  const std::uint64_t seed = o.split_seed >= 0 ? static_cast<std::uint64_t>(o.split_seed) : spec_seed;
  const auto native = dataset.splits();
  auto has = [&](const char* s) { return std::find(native.begin(), native.end(), s) != native.end(); };
  if (!has("train")) throw std::runtime_error("the dataset has no train split");
  const std::size_t limit = static_cast<std::size_t>(o.limit), per_class = static_cast<std::size_t>(o.per_class_limit);

  auto subset = [&](const std::string& split) {
    const auto& labels = dataset.labels(split);
    return stratified_subset(labels, limit, per_class, mix_seed(seed, hash_text(split)));
  };

  SplitPlan plan;
  const auto& train_labels = dataset.labels("train");
  std::vector<std::size_t> train = subset("train");
  if (has("test")) {
    plan.test = refs("test", dataset.labels("test"), subset("test"));
  } else if (o.test_fraction > 0) {
    auto [kept, held] = hold_out(train_labels, train, o.test_fraction, mix_seed(seed, hash_text("test-holdout")));
    train = kept;
    plan.test = refs("train", train_labels, held);
  }
  if (has("val")) {
    plan.val = refs("val", dataset.labels("val"), subset("val"));
  } else if (o.val_fraction > 0) {
    if (o.val_mode == "tail") {
      const auto n_val = static_cast<std::size_t>(std::llround(o.val_fraction * static_cast<double>(train.size())));
      std::vector<std::size_t> held(train.end() - static_cast<std::ptrdiff_t>(n_val), train.end());
      train.resize(train.size() - n_val);
      plan.val = refs("train", train_labels, held);
    } else {
      auto [kept, held] = hold_out(train_labels, train, o.val_fraction, mix_seed(seed, hash_text("val-holdout")));
      train = kept;
      plan.val = refs("train", train_labels, held);
    }
  }
  if (o.train_per_class > 0) {
    // The first k of each class in a seeded order: held-out sets stay as they are.
    std::map<std::int64_t, std::vector<std::size_t>> by_class;
    for (std::size_t i : train) by_class[train_labels[i]].push_back(i);
    train.clear();
    for (auto& [label, members] : by_class) {
      std::mt19937_64 rng(mix_seed(seed, static_cast<std::uint64_t>(label), hash_text("train-per-class")));
      std::shuffle(members.begin(), members.end(), rng);
      members.resize(std::min(members.size(), static_cast<std::size_t>(o.train_per_class)));
      train.insert(train.end(), members.begin(), members.end());
    }
    std::sort(train.begin(), train.end());
  }
  plan.train = refs("train", train_labels, train);
  if (plan.train.empty()) throw std::runtime_error("the train set is empty after limits and held-out fractions");
  return plan;
}

}  // namespace trex
