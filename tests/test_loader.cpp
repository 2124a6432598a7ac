// The batch loader's two ways of running (data/loader.h): loader threads
// beside the model, or inline, each batch decoded by ATen's intra-op threads
// when the model asks for it; and train.loader, which picks between them.
#include <torch/torch.h>
#include <opencv2/core.hpp>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "helpers.h"
#include "trex/config/train_options.h"
#include "trex/config/yaml_loader.h"
#include "trex/data/loader.h"
#include "trex/plugin/augmentation.h"
#include "trex/registry/diagnostics.h"
#include <catch2/catch.hpp>

using namespace trex;

namespace {

/// 64 one-row images, image i holding 3 i, 3 i + 1, ..., 3 i + 5; each
/// decode takes 1 ms (as a JPEG would), records the thread that did it, and
/// image `bad` comes out the wrong width.
class SlowRows : public Dataset {
 public:
  explicit SlowRows(std::size_t bad = 1000) : labels_(64), bad_(bad) {
    for (std::size_t i = 0; i < labels_.size(); ++i) labels_[i] = static_cast<std::int64_t>(i % 3);
  }
  std::vector<std::string> class_names() const override { return {"a", "b", "c"}; }
  std::vector<std::string> splits() const override { return {"train"}; }
  const std::vector<std::int64_t>& labels(const std::string&) const override { return labels_; }
  cv::Mat image(const std::string&, std::size_t i) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads_.insert(std::this_thread::get_id());
    }
    cv::Mat m(1, i == bad_ ? 5 : 6, CV_8UC1);
    for (int c = 0; c < m.cols; ++c) m.at<unsigned char>(0, c) = static_cast<unsigned char>(3 * i + c);
    return m;
  }
  ImageShape shape() const override { return {1, 1, 6}; }
  std::size_t threads_seen() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return threads_.size();
  }

 private:
  std::vector<std::int64_t> labels_;
  std::size_t bad_;
  mutable std::mutex mutex_;
  mutable std::set<std::thread::id> threads_;
};

std::vector<SampleRef> all_of(const Dataset& ds) {
  std::vector<SampleRef> set;
  for (std::size_t i = 0; i < ds.labels("train").size(); ++i) set.push_back({"train", i, ds.labels("train")[i]});
  return set;
}

Pipeline random_flips() { return Pipeline({{test::augmentation("{type: random_flip}"), 1.0, "random_flip", false}}); }

std::vector<Batch> epoch_of(const Dataset& ds, const Pipeline& pipeline, std::int64_t workers) {
  LoaderOptions o;
  o.batch_size = 10, o.shuffle = true, o.workers = workers, o.seed = 3, o.epoch = 2, o.shape = {1, 1, 6};
  const auto set = all_of(ds);
  BatchLoader loader(ds, set, pipeline, o);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

/// Restores ATen's intra-op thread count.
struct IntraOpThreads {
  explicit IntraOpThreads(int n) : was(at::get_num_threads()) { at::set_num_threads(n); }
  ~IntraOpThreads() { at::set_num_threads(was); }
  int was;
};

}  // namespace

TEST_CASE("an inline loader decodes each batch over the intra-op threads, into the batches loader threads make",
          "[loader]") {
  const Pipeline pipeline = random_flips();
  SlowRows threaded;
  const auto want = epoch_of(threaded, pipeline, 3);
  IntraOpThreads two(2);
  SlowRows inline_two;
  const auto got = epoch_of(inline_two, pipeline, 0);
  CHECK(inline_two.threads_seen() == 2);  // 64 decodes of 1 ms each, pulled by both threads
  at::set_num_threads(1);
  SlowRows inline_one;
  const auto alone = epoch_of(inline_one, pipeline, 0);
  CHECK(inline_one.threads_seen() == 1);
  REQUIRE(want.size() == 7);  // 64 images in batches of 10
  REQUIRE(got.size() == want.size());
  REQUIRE(alone.size() == want.size());
  int flipped = 0;
  for (std::size_t k = 0; k < want.size(); ++k) {
    INFO("batch " << k);
    CHECK(got[k].positions == want[k].positions);
    CHECK(alone[k].positions == want[k].positions);
    CHECK(at::equal(got[k].images, want[k].images));
    CHECK(at::equal(alone[k].images, want[k].images));
    CHECK(at::equal(got[k].targets, want[k].targets));
    for (std::size_t j = 0; j < want[k].positions.size(); ++j)
      flipped += want[k].images[static_cast<std::int64_t>(j)][0][0][0].item<float>() !=
                 static_cast<float>(3 * want[k].positions[j]);
  }
  CHECK((flipped > 10 && flipped < 54));  // the flips are random, so the batches can tell draws apart
}

TEST_CASE("an inline loader stops at a bad sample and names it", "[loader]") {
  IntraOpThreads two(2);
  const Pipeline none(std::vector<PipelineStep>{});
  SlowRows ds(/*bad=*/37);
  CHECK_THROWS_WITH(epoch_of(ds, none, 0), Catch::Contains("sample 37 of split 'train'"));
  SlowRows threaded(37);
  CHECK_THROWS_WITH(epoch_of(threaded, none, 2), Catch::Contains("sample 37 of split 'train'"));
}

TEST_CASE("train.loader: inline on the CPU under auto, loader threads with a GPU or when asked", "[loader][spec]") {
  TrainOptions t;
  CHECK(t.loader == "auto");
  t.workers = 3;
  CHECK(t.loader_threads() == 0);
  t.device = "cuda";
  CHECK(t.loader_threads() == 3);
  t.loader = "inline";
  CHECK(t.loader_threads() == 0);
  t.device = "cpu", t.loader = "threads";
  CHECK(t.loader_threads() == 3);
  t.workers = 0;  // no threads to run in: inline
  CHECK(t.loader_threads() == 0);
  Diagnostics diag;
  Node resolved;
  const Node spec = parse_yaml("{loader: fast}", "spec.yaml");
  resolve_train(&spec, "train", diag, resolved);
  REQUIRE(diag.issues().size() == 1);
  CHECK(diag.issues()[0].path == "train.loader");
  CHECK_THAT(diag.issues()[0].message, Catch::Contains("inline"));
}
