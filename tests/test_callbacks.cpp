// The trainer's callbacks on their own, without a run: early stopping,
// checkpoints (which are written, in which order, which are kept, which weights
// score the test set), and the order callbacks are called in.
#include <filesystem>

#include "helpers.h"
#include "trex/train/callback.h"
#include "trex/train/checkpointer.h"
#include "trex/train/early_stopping.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

EpochLog log_of(std::int64_t epoch, double val_loss, double val_accuracy) {
  return epoch_log(epoch, {{"loss", 1.0}}, {{"loss", val_loss}, {"accuracy", val_accuracy}}, 0.1, 2.0);
}

/// Runs early stopping over `values` (one per epoch); returns the 1-based epoch it stopped after, or 0.
std::int64_t stop_epoch(const EarlyStoppingOptions& o, bool higher, const std::vector<double>& values) {
  TrainerState state;
  EarlyStopping es(o, higher, state);
  for (std::size_t e = 0; e < values.size(); ++e) {
    EpochLog log = log_of(static_cast<std::int64_t>(e), values[e], values[e]);
    es.on_epoch_end(log);
    if (log.stop) return static_cast<std::int64_t>(e) + 1;
  }
  return 0;
}

struct Recorder : Callback {
  std::vector<std::string>& calls;
  std::string name;
  Recorder(std::vector<std::string>& c, std::string n) : calls(c), name(std::move(n)) {}
  void on_run_begin() override { calls.push_back(name + ".begin"); }
  void on_epoch_end(EpochLog&) override { calls.push_back(name + ".epoch"); }
  void on_run_end(const RunEnd& end) override { calls.push_back(name + ".end " + end.status); }
};

}  // namespace

TEST_CASE("early stopping stops after `patience` epochs without improvement, counting from the best", "[callbacks]") {
  EarlyStoppingOptions o;
  o.enabled = true;
  o.monitor = "val_loss";
  o.patience = 2;
  CHECK(stop_epoch(o, false, {1.0, 0.9, 0.95, 0.94, 0.93, 0.8}) == 5);  // 0.9 at epoch 2, then three worse
  CHECK(stop_epoch(o, false, {1.0, 0.9, 0.95, 0.85, 0.9, 0.8}) == 0);   // an improvement resets the count
  o.min_delta = 0.1;
  CHECK(stop_epoch(o, false, {1.0, 0.95, 0.92, 0.91}) == 4);  // improvements under min_delta do not count
  o.min_delta = 0;
  o.monitor = "val_accuracy";
  CHECK(stop_epoch(o, true, {0.5, 0.6, 0.6, 0.59, 0.61}) == 0);
  CHECK(stop_epoch(o, true, {0.5, 0.6, 0.6, 0.59, 0.58}) == 5);
  o.patience = 0;
  CHECK(stop_epoch(o, true, {0.5, 0.4}) == 2);
  o.enabled = false;
  CHECK(stop_epoch(o, true, {0.5, 0.4, 0.3, 0.2}) == 0);
}

TEST_CASE("a monitored key the epoch does not hold is an error naming what it holds", "[callbacks]") {
  EarlyStoppingOptions o;
  o.enabled = true;
  o.monitor = "val_f1";
  TrainerState state;
  EarlyStopping es(o, true, state);
  EpochLog log = log_of(0, 1.0, 0.5);
  CHECK_THROWS_WITH(es.on_epoch_end(log),
                    Contains("'val_f1' is monitored") && Contains("train_loss, val_accuracy, val_loss"));
}

TEST_CASE("checkpoints: best.pt (when it improved) is written before last.pt, with the counters of that epoch",
          "[callbacks]") {
  TempDir d;
  TrainOptions t;
  t.checkpoint.monitor = "val_accuracy";
  TrainerState state;
  std::vector<std::string> saves;
  Checkpointer ck(t, true, d.str(), state, [&](const std::string& path, bool with_optimizer) {
    saves.push_back(fs::path(path).filename().string() + (with_optimizer ? "+opt" : "") + " epoch " +
                    std::to_string(state.epoch) + " best " + std::to_string(state.best_epoch));
  });
  for (auto [epoch, acc] : std::vector<std::pair<int, double>>{{0, 0.5}, {1, 0.7}, {2, 0.6}}) {
    EpochLog log = log_of(epoch, 1.0, acc);
    ck.on_epoch_end(log);
    CHECK(log.best == (epoch != 2));
  }
  CHECK(saves == std::vector<std::string>{"best.pt epoch 0 best 0", "last.pt+opt epoch 0 best 0",
                                          "best.pt epoch 1 best 1", "last.pt+opt epoch 1 best 1",
                                          "last.pt+opt epoch 2 best 1"});
  CHECK(state.best_value == 0.7);
}

TEST_CASE("train.val_begin and val_interval: which epochs validate, the last always", "[callbacks][spec]") {
  TrainOptions t;
  t.epochs = 8;
  auto validated = [&] {
    std::vector<std::int64_t> out;  // 1-based
    for (std::int64_t e = 0; e < t.epochs; ++e)
      if (t.validates(e)) out.push_back(e + 1);
    return out;
  };
  CHECK(validated() == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8});  // the defaults: every epoch
  t.val_begin = 3, t.val_interval = 2;
  CHECK(validated() == std::vector<std::int64_t>{3, 5, 7, 8});
  CHECK(t.first_validation() == 2);
  t.val_begin = 20;  // past the end: the last epoch still validates
  CHECK(validated() == std::vector<std::int64_t>{8});
  CHECK(t.first_validation() == 7);
}

TEST_CASE("an epoch without validation keeps the best checkpoint and early stopping's count, and last.pt is written",
          "[callbacks]") {
  TempDir d;
  TrainOptions t;
  t.checkpoint.monitor = "val_accuracy";
  TrainerState state;
  std::vector<std::string> saves;
  Checkpointer ck(t, true, d.str(), state, [&](const std::string& path, bool) {
    saves.push_back(fs::path(path).filename().string() + " epoch " + std::to_string(state.epoch));
  });
  EarlyStoppingOptions o;
  o.enabled = true, o.monitor = "val_accuracy", o.patience = 0;
  EarlyStopping es(o, true, state, 2);  // val_begin 3
  auto train_only = [](std::int64_t epoch) {
    EpochLog log = epoch_log(epoch, {{"loss", 1.0 - 0.1 * static_cast<double>(epoch)}}, {}, 0.1, 2.0);
    log.validated = false;
    return log;
  };
  for (std::int64_t epoch : {0, 1}) {
    EpochLog log = train_only(epoch);
    es.on_epoch_end(log);  // no throw: the val_* monitor is not due
    ck.on_epoch_end(log);
    CHECK_FALSE(log.best);
    CHECK_FALSE(log.stop);
  }
  CHECK(state.best_epoch == -1);
  EpochLog third = log_of(2, 1.0, 0.4);  // the first judged epoch sets the bar, whatever its value
  es.on_epoch_end(third);
  ck.on_epoch_end(third);
  CHECK(third.best);
  CHECK_FALSE(third.stop);
  EpochLog fourth = train_only(3);
  es.on_epoch_end(fourth);
  ck.on_epoch_end(fourth);
  CHECK_FALSE(fourth.stop);  // patience 0, yet an unjudged epoch is no bad epoch
  EpochLog fifth = log_of(4, 1.0, 0.3);
  es.on_epoch_end(fifth);
  CHECK(fifth.stop);
  CHECK(saves == std::vector<std::string>{"last.pt epoch 0", "last.pt epoch 1", "best.pt epoch 2", "last.pt epoch 2",
                                          "last.pt epoch 3"});
  CHECK(state.best_epoch == 2);
  // A train_* monitor is judged every epoch.
  CHECK(train_only(0).holds("train_loss"));
  CHECK_FALSE(train_only(0).holds("val_loss"));
}

TEST_CASE(
    "checkpoints: keep drops the others at the end, and restore_best picks the weights the test set is scored with",
    "[callbacks]") {
  TempDir d;
  TrainerState state;
  for (const char* keep : {"both", "best", "last", "none"}) {
    TrainOptions t;
    t.checkpoint.keep = keep;
    Checkpointer ck(t, true, d.str(), state, [](const std::string&, bool) {});
    write_file(ck.path("best"), "b");
    write_file(ck.path("last"), "l");
    std::vector<std::string> kept;
    ck.apply_keep([&](const std::string& which, const std::string&) { kept.push_back(which); });
    INFO(keep);
    const std::string k = keep;
    CHECK(kept == (k == "both"   ? std::vector<std::string>{"best", "last"}
                   : k == "none" ? std::vector<std::string>{}
                                 : std::vector<std::string>{k}));
    CHECK(fs::exists(ck.path("best")) == (k == "both" || k == "best"));
    CHECK(fs::exists(ck.path("last")) == (k == "both" || k == "last"));
  }
  TrainOptions t;
  Checkpointer plain(t, true, d.str(), state, [](const std::string&, bool) {});
  CHECK(plain.test_weights(true) == "best");
  CHECK(plain.test_weights(false) == "last");
  t.early_stopping.enabled = true;
  t.early_stopping.restore_best = false;
  CHECK(Checkpointer(t, true, d.str(), state, [](const std::string&, bool) {}).test_weights(true) == "last");
  t.checkpoint.keep = "none";
  CHECK_FALSE(Checkpointer(t, true, d.str(), state, [](const std::string&, bool) {}).writes());
  t.early_stopping.restore_best = true;
  CHECK(Checkpointer(t, true, d.str(), state, [](const std::string&, bool) {}).writes());  // restoring needs best.pt
}

TEST_CASE("callbacks are called in the order they were added, and early stopping counts before the checkpoint saves",
          "[callbacks]") {
  std::vector<std::string> calls;
  Recorder a(calls, "a"), b(calls, "b");
  Callbacks list;
  list.add(a);
  list.add(b);
  list.run_begin();
  EpochLog log = log_of(0, 1, 0.5);
  list.epoch_end(log);
  list.run_end({"completed", ""});
  CHECK(calls ==
        std::vector<std::string>{"a.begin", "b.begin", "a.epoch", "b.epoch", "a.end completed", "b.end completed"});

  TempDir d;
  TrainOptions t;
  t.early_stopping.enabled = true;
  t.early_stopping.monitor = "val_loss";
  TrainerState state;
  std::vector<std::int64_t> bad_at_save;
  EarlyStopping es(t.early_stopping, false, state);
  Checkpointer ck(t, true, d.str(), state, [&](const std::string&, bool) { bad_at_save.push_back(state.bad_epochs); });
  Callbacks trainer_order;
  trainer_order.add(es);
  trainer_order.add(ck);
  for (int e = 0; e < 3; ++e) {
    EpochLog l = log_of(e, 1.0 + e, 0.5);  // val_loss gets worse every epoch
    trainer_order.epoch_end(l);
  }
  CHECK(bad_at_save.back() == 2);  // last.pt of epoch 3 holds that epoch's count
}
