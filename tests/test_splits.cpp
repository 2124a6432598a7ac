#include <algorithm>
// Splits: seeded stratified subsamples and held-out fractions; LR schedules.
#include <catch2/catch.hpp>

#include <set>

#include "trex/train/lr_schedule.h"
#include "trex/config/splits.h"

using namespace trex;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {
/// A class-ordered dataset without pixels: 10 classes x 100, like digits.png.
class FakeDataset : public Dataset {
 public:
  explicit FakeDataset(bool with_test) : with_test_(with_test) {
    for (int c = 0; c < 10; ++c)
      for (int i = 0; i < 100; ++i) labels_.push_back(c);
  }
  std::vector<std::string> class_names() const override { return std::vector<std::string>(10, "c"); }
  std::vector<std::string> splits() const override {
    return with_test_ ? std::vector<std::string>{"train", "test"} : std::vector<std::string>{"train"};
  }
  const std::vector<std::int64_t>& labels(const std::string&) const override { return labels_; }
  cv::Mat image(const std::string&, std::size_t) const override { return {}; }
  ImageShape shape() const override { return {1, 2, 2}; }

 private:
  bool with_test_;
  std::vector<std::int64_t> labels_;
};
}  // namespace

TEST_CASE("limit takes a stratified sample, not the first N", "[splits]") {
  FakeDataset ds(true);
  DataOptions o;
  o.limit = 50;
  o.val_fraction = 0;
  auto plan = plan_splits(ds, o, 1);
  CHECK(plan.train.size() == 50);
  auto counts = plan.class_counts("train", 10);
  for (auto c : counts) CHECK(c == 5);  // every class, equally
  CHECK(plan.test.size() == 50);

  SECTION("the same seed gives the same sample, another seed another") {
    auto again = plan_splits(ds, o, 1);
    auto other = plan_splits(ds, o, 2);
    std::vector<std::size_t> a, b, c;
    for (auto& r : plan.train) a.push_back(r.index);
    for (auto& r : again.train) b.push_back(r.index);
    for (auto& r : other.train) c.push_back(r.index);
    CHECK(a == b);
    CHECK(a != c);
  }
}

TEST_CASE("per_class_limit, val_fraction and test_fraction are stratified and disjoint", "[splits]") {
  FakeDataset ds(false);
  DataOptions o;
  o.per_class_limit = 40;
  o.test_fraction = 0.25;
  o.val_fraction = 0.2;
  auto plan = plan_splits(ds, o, 7);
  CHECK(plan.test.size() == 100);  // 10 per class of 40
  CHECK(plan.val.size() == 60);    // 20% of the remaining 30 per class
  CHECK(plan.train.size() == 240);
  for (auto c : plan.class_counts("val", 10)) CHECK(c == 6);
  std::set<std::size_t> seen;
  for (const auto* set : {&plan.train, &plan.val, &plan.test})
    for (auto& r : *set) CHECK(seen.insert(r.index).second);
}

TEST_CASE("train_per_class takes k labelled images per class after the held-out sets, which stay fixed", "[splits]") {
  FakeDataset ds(false);
  DataOptions o;
  o.test_fraction = 0.2;
  o.val_fraction = 0.1;
  o.split_seed = 5;
  auto indices = [](const std::vector<SampleRef>& refs) {
    std::set<std::size_t> out;
    for (const auto& r : refs) out.insert(r.index);
    return out;
  };
  const auto all = plan_splits(ds, o, 1);
  for (std::int64_t k : {10, 50}) {
    o.train_per_class = k;
    for (std::uint64_t spec_seed : {1, 2, 3}) {  // the spec seed varies init; split_seed fixes the data
      const auto plan = plan_splits(ds, o, spec_seed);
      CHECK(indices(plan.test) == indices(all.test));
      CHECK(indices(plan.val) == indices(all.val));
      for (auto c : plan.class_counts("train", 10)) CHECK(c == k);
      const auto train = indices(plan.train), full = indices(all.train);
      CHECK(std::includes(full.begin(), full.end(), train.begin(), train.end()));
    }
  }
  o.train_per_class = 0;
  o.split_seed = -1;
  CHECK(indices(plan_splits(ds, o, 1).test) != indices(plan_splits(ds, o, 2).test));  // -1: the spec's seed splits
}

TEST_CASE("val_mode tail holds out the last fraction, as Keras validation_split", "[splits]") {
  FakeDataset ds(true);
  DataOptions o;
  o.val_fraction = 0.1;
  o.val_mode = "tail";
  auto plan = plan_splits(ds, o, 3);
  REQUIRE(plan.val.size() == 100);
  for (auto& r : plan.val) CHECK(r.label == 9);  // class-ordered file: the tail is the last class
  CHECK(plan.val.front().index == 900);
}

TEST_CASE("learning-rate schedules are pure functions of progress", "[schedule]") {
  OptimizerOptions opt;
  opt.lr = 0.1;
  ScheduleOptions s;
  CHECK(lr_at(opt, s, 5, 0.5, 10) == 0.1);
  s.type = "step";
  s.step_size = 3;
  s.gamma = 0.5;
  CHECK_THAT(lr_at(opt, s, 3, 0.0, 10), WithinRel(0.05));
  CHECK_THAT(lr_at(opt, s, 6, 0.9, 10), WithinRel(0.025));
  s.type = "multistep";
  s.milestones = {2, 5};
  CHECK_THAT(lr_at(opt, s, 4, 0.0, 10), WithinRel(0.05));
  CHECK_THAT(lr_at(opt, s, 5, 0.0, 10), WithinRel(0.025));
  s.type = "cosine";
  CHECK_THAT(lr_at(opt, s, 0, 0.0, 10), WithinRel(0.1));
  CHECK_THAT(lr_at(opt, s, 5, 0.0, 10), WithinRel(0.05));
  CHECK_THAT(lr_at(opt, s, 10, 0.0, 10), WithinAbs(0.0, 1e-12));
  s.warmup_epochs = 2;
  CHECK_THAT(lr_at(opt, s, 1, 0.0, 10), WithinRel(0.05));
  s = ScheduleOptions{};
  s.type = "one_cycle";
  CHECK_THAT(lr_at(opt, s, 0, 0.0, 10), WithinRel(0.1 / 25));
  CHECK_THAT(lr_at(opt, s, 3, 0.0, 10), WithinRel(0.1));
  CHECK_THAT(lr_at(opt, s, 10, 0.0, 10), WithinRel(0.1 / 25 / 1e4));
}
