// Training-recipe features of the small-image speed runs (issue 17): weight
// decay by parameter kind, one_cycle's momentum cycling, weight EMA and
// test-time augmentation.
#include <torch/torch.h>

#include "helpers.h"
#include "trex/config/spec.h"
#include "trex/model/checkpoint.h"
#include "trex/model/test_time_augmentation.h"
#include "trex/plugin_kit/batch_norm.h"
#include "trex/train/lr_schedule.h"
#include "trex/train/optimization.h"
#include "trex/train/weight_ema.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;

namespace {

struct Tiny : torch::nn::Module {
  Tiny() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).bias(true)));
    bn = register_module("bn", trex::BatchNorm2d(4));
    fc = register_module("fc", torch::nn::Linear(4, 2));
  }
  torch::nn::Conv2d conv{nullptr};
  trex::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};

double group_decay(torch::optim::OptimizerParamGroup& g) {
  return static_cast<torch::optim::SGDOptions&>(g.options()).weight_decay();
}

}  // namespace

TEST_CASE("weight decay by parameter kind: norm layers and biases get their multipliers", "[recipe][optimizer]") {
  Tiny net;
  TrainOptions t;
  t.optimizer.type = "sgd";
  t.optimizer.momentum = 0.9;
  t.optimizer.weight_decay = 5e-4;
  {
    Optimization plain(t, net, false);  // every multiplier at 1: one group, as before the keys existed
    REQUIRE(plain.optimizer().param_groups().size() == 1);
    CHECK(plain.optimizer().param_groups()[0].params().size() == 6);
  }
  t.optimizer.norm_decay_mult = 0;
  t.optimizer.bias_decay_mult = 0.5;
  Optimization split(t, net, false);
  auto& groups = split.optimizer().param_groups();
  REQUIRE(groups.size() == 3);
  auto holds = [](torch::optim::OptimizerParamGroup& g, const at::Tensor& p) {
    return std::any_of(g.params().begin(), g.params().end(), [&](const at::Tensor& q) { return q.is_same(p); });
  };
  for (auto& g : groups) {
    if (holds(g, net.conv->weight)) {
      CHECK(holds(g, net.fc->weight));
      CHECK(g.params().size() == 2);
      CHECK_THAT(group_decay(g), WithinAbs(5e-4, 1e-12));
    } else if (holds(g, net.bn->weight)) {
      CHECK(holds(g, net.bn->bias));  // a norm layer's bias is the norm's, not a bias's
      CHECK(g.params().size() == 2);
      CHECK(group_decay(g) == 0);
    } else {
      CHECK(holds(g, net.conv->bias));
      CHECK(holds(g, net.fc->bias));
      CHECK_THAT(group_decay(g), WithinAbs(2.5e-4, 1e-12));
    }
  }
  // The lr still reaches every group; a step leaves a zero-grad norm weight alone and decays a conv weight.
  split.set_lr(0.1);
  for (auto& g : groups) CHECK(g.options().get_lr() == 0.1);
  for (auto& p : net.parameters()) p.mutable_grad() = torch::zeros_like(p);
  const at::Tensor bn_before = net.bn->weight.detach().clone(), conv_before = net.conv->weight.detach().clone();
  split.optimizer().step();
  CHECK(torch::equal(net.bn->weight, bn_before));
  CHECK_FALSE(torch::equal(net.conv->weight, conv_before));
}

TEST_CASE("one_cycle cycles momentum against the lr, as torch's OneCycleLR", "[recipe][schedule]") {
  OptimizerOptions opt;
  opt.lr = 0.1;
  ScheduleOptions s;
  s.type = "one_cycle";
  CHECK_FALSE(momentum_at(s, 0, 0.0, 10));  // off unless asked for
  s.cycle_momentum = true;
  CHECK_THAT(*momentum_at(s, 0, 0.0, 10), WithinAbs(0.95, 1e-12));
  CHECK_THAT(*momentum_at(s, 3, 0.0, 10), WithinAbs(0.85, 1e-12));  // the lr's peak (pct_start 0.3)
  CHECK_THAT(*momentum_at(s, 1, 0.5, 10), WithinAbs(0.90, 1e-12));  // half way up: cosine midpoint
  CHECK_THAT(*momentum_at(s, 10, 0.0, 10), WithinAbs(0.95, 1e-12));
  for (double t = 0.25; t < 10; t += 0.5) {  // moving against each other everywhere
    const auto e = static_cast<std::int64_t>(t);
    const double lr_step = lr_at(opt, s, e, t - e + 0.01, 10) - lr_at(opt, s, e, t - e, 10);
    const double m_step = *momentum_at(s, e, t - e + 0.01, 10) - *momentum_at(s, e, t - e, 10);
    CHECK(lr_step * m_step < 0);
  }
  s.type = "cosine";
  CHECK_FALSE(momentum_at(s, 0, 0.0, 10));
}

TEST_CASE("set_momentum reaches sgd's momentum and adam's beta1", "[recipe][optimizer]") {
  Tiny net;
  TrainOptions t;
  t.optimizer.type = "sgd";
  t.optimizer.momentum = 0.9;
  Optimization sgd(t, net, false);
  sgd.set_momentum(0.87);
  CHECK(static_cast<torch::optim::SGDOptions&>(sgd.optimizer().param_groups()[0].options()).momentum() == 0.87);
  t.optimizer.type = "adam";
  Optimization adam(t, net, false);
  adam.set_momentum(0.88);
  const auto betas = static_cast<torch::optim::AdamOptions&>(adam.optimizer().param_groups()[0].options()).betas();
  CHECK(std::get<0>(betas) == 0.88);
  CHECK(std::get<1>(betas) == 0.999);
}

TEST_CASE("recipe keys are validated with the key named", "[recipe][spec]") {
  TempDir d;
  const std::string spec = write_file(d.file("s.yaml"), R"(name: r
data: {type: opencv_digits}
model: {type: seed_cnn}
train:
  optimizer: {type: adadelta, norm_decay_mult: 0}
  schedule: {type: one_cycle, cycle_momentum: true}
)");
  CHECK_THROWS_WITH(load_spec(spec, {}, built_plugins()),
                    Contains("train.schedule.cycle_momentum") && Contains("adadelta has no momentum"));
  CHECK_THROWS_WITH(
      load_spec(spec, {"train.optimizer.type=sgd", "train.optimizer.norm_decay_mult=-1"}, built_plugins()),
      Contains("train.optimizer.norm_decay_mult"));
  CHECK_THROWS_WITH(load_spec(spec, {"train.optimizer.type=sgd", "train.val_interval=0"}, built_plugins()),
                    Contains("train.val_interval"));
  const auto ok = load_spec(spec, {"train.optimizer.type=sgd", "train.optimizer.momentum=0.9"}, built_plugins());
  CHECK(ok.train.schedule.cycle_momentum);
  CHECK(ok.train.optimizer.norm_decay_mult == 0);
}

TEST_CASE("weight EMA: the average's formula, warm-up, swap and a checkpoint round trip", "[recipe][ema]") {
  Tiny net;
  EmaOptions o;
  o.enabled = true;
  o.decay = 0.9;
  WeightEma ema(o, net, false);
  CHECK_THAT(ema.decay(), WithinAbs(0.1, 1e-12));  // warm-up: (1 + 0) / (10 + 0)
  const at::Tensor w0 = net.fc->weight.detach().clone();
  {
    torch::NoGradGuard no_grad;
    net.fc->weight.add_(1.0);
  }
  ema.update();  // average = 0.1 * w0 + 0.9 * (w0 + 1)
  CHECK_THAT(ema.decay(), WithinAbs(2.0 / 11, 1e-12));
  ema.swap();
  CHECK(ema.swapped());
  CHECK(torch::allclose(net.fc->weight, w0 + 0.9));
  TensorMap extra = ema.checkpoint_extra();  // views of the EMA's tensors, written at once in a run: copy to keep
  for (auto& [name, t] : extra) t = t.clone();
  CHECK(torch::allclose(extra.at("ema_other.fc.weight"), w0 + 1.0));
  CHECK(extra.count("ema_other.bn.running_mean") == 1);  // BatchNorm statistics are averaged too
  CHECK(extra.count("ema_other.bn.num_batches_tracked") == 0);
  ema.swap();
  CHECK(torch::allclose(net.fc->weight, w0 + 1.0));
  // Without warm-up the set decay holds from the first step.
  o.warmup = false;
  WeightEma plain(o, net, false);
  CHECK(plain.decay() == 0.9);
  // A checkpoint written with the average in: a new EMA restores both copies.
  Tiny other;
  WeightEma back(o, other, false);
  {
    torch::NoGradGuard no_grad;
    other.fc->weight.copy_(w0 + 0.9);  // what load_checkpoint puts into the model
  }
  back.restore(extra, "ckpt");
  CHECK(torch::allclose(other.fc->weight, w0 + 1.0));
  CHECK(back.updates() == 1);
  back.swap();
  CHECK(torch::allclose(other.fc->weight, w0 + 0.9));
  CHECK_THROWS_WITH(WeightEma(o, other, false).restore({}, "old.pt"),
                    Contains("old.pt") && Contains("written without EMA"));
}

TEST_CASE("test-time augmentation: views, shifts and the mean of their logits", "[recipe][tta]") {
  const at::Tensor x = torch::arange(2 * 1 * 5 * 6, at::kFloat).view({2, 1, 5, 6});
  TtaOptions tta;
  CHECK(tta_views(tta, x).size() == 1);  // off
  CHECK(tta_name(tta) == "off");
  tta.enabled = true;
  CHECK(tta_name(tta) == "flip");
  auto views = tta_views(tta, x);
  REQUIRE(views.size() == 2);
  CHECK(torch::equal(views[1], x.flip({3})));
  tta.translate = 1;
  CHECK(tta_name(tta) == "flip+translate1");
  views = tta_views(tta, x);
  REQUIRE(views.size() == 6);
  // Up-left: pixel (i, j) shows the image's (i + 1, j + 1); down-right its (i - 1, j - 1).
  CHECK(torch::equal(views[1].slice(2, 0, 4).slice(3, 0, 5), x.slice(2, 1, 5).slice(3, 1, 6)));
  CHECK(torch::equal(views[2].slice(2, 1, 5).slice(3, 1, 6), x.slice(2, 0, 4).slice(3, 0, 5)));
  CHECK(torch::equal(views[5], views[2].flip({3})));
  // A "model" that sums pixels per image: the mean over views, one forward over all of them.
  int calls = 0;
  const auto sum = [&](const at::Tensor& v) {
    ++calls;
    return v.sum({1, 2, 3}).unsqueeze(1);
  };
  const at::Tensor got = tta_logits(tta, x, sum);
  at::Tensor want = at::zeros({2, 1});
  for (const auto& v : views) want += v.sum({1, 2, 3}).unsqueeze(1) / 6.0;
  CHECK(calls == 1);
  CHECK(torch::allclose(got, want));
  tta.translate = 5;
  CHECK_THROWS_WITH(tta_views(tta, x), Contains("train.tta.translate 5"));
}

namespace {

/// A spec the PyTorch twin of fast.yaml can run (tools/bench/fashion_mnist_fast.py), in flow and block style.
const std::string kTwinSpec = R"(data: {type: fashion_mnist, val_fraction: 0}
augment:
  train:
    - {type: random_crop, padding: 2}
    - {type: random_flip, horizontal: true}
    - {type: normalize, mean: [0.2860], std: [0.3530]}
  eval:
    - {type: normalize, mean: [0.2860], std: [0.3530]}
model: {type: resnet_cifar, widths: [16, 32, 64], blocks: [1, 1, 1], zero_init_residual: true}
train:
  epochs: 2
  batch_size: 128
  optimizer:
    type: sgd
    lr: 0.4
    momentum: 0.9
    nesterov: true
    weight_decay: 1.0e-4
    norm_decay_mult: 0
    bias_decay_mult: 0
  schedule: {type: one_cycle, pct_start: 0.4, cycle_momentum: true}
  loss: {label_smoothing: 0.1}
  ema: {decay: 0.99}
  tta: {flip: true}
  checkpoint: {monitor: train_loss}
)";

/// `time_to_accuracy.py --check` on the spec at `path`: the twin's flags, or the refusal.
CommandResult twin_check(const std::string& path) {
  return run_command("TREX=" + trex_binary() + " /usr/bin/python3 " + source_dir() +
                     "/tools/bench/time_to_accuracy.py --check " + path);
}
CommandResult twin_check(TempDir& d, const std::string& text) {
  write_file(d.file("spec.yaml"), text);
  return twin_check(d.file("spec.yaml"));
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("the time-to-accuracy bench reads the resolved spec and refuses one its twin cannot run",
          "[recipe][time_to_accuracy]") {
  REQUIRE(python_has("yaml"));
  TempDir d;
  auto ok = twin_check(d, kTwinSpec);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output ==
        "--widths 16 32 64 --val-fraction 0 --translate 0 --val-begin 1 --batch-size 128 --lr 0.4 "
        "--label-smoothing 0.1\n");
  // A held-out split with a late first validation, alternating flips and random erasing become flags.
  const std::string split = replaced(replaced(replaced(kTwinSpec, "val_fraction: 0}", "val_fraction: 0.1}"),
                                              "monitor: train_loss", "monitor: val_accuracy"),
                                     "epochs: 2", "epochs: 2\n  val_begin: 2");
  const std::string erase = "std: [0.3530]}\n    - {type: random_erasing, p: 0.5, scale: [0.02, 0.2]}\n  eval";
  auto flags = twin_check(d, replaced(replaced(split, "horizontal: true}", "horizontal: true, alternate: true}"),
                                      "std: [0.3530]}\n  eval", erase));
  CHECK(flags.exit_code == 0);
  CHECK_THAT(flags.output, Contains("--val-fraction 0.1 --translate 0 --val-begin 2 ") &&
                               Contains("--erase 0.5 0.02 0.2 0.3 3.3 --alternate-flip\n"));
  auto pipeline = twin_check(d, replaced(kTwinSpec, "horizontal: true}",
                                         "horizontal: true}\n    - {type: center_crop, height: 28, width: 28}"));
  CHECK(pipeline.exit_code != 0);
  CHECK_THAT(pipeline.output, Contains("augment.train: the twin has random_crop, random_flip, normalize"));
  // Values the twin hard-codes: a near miss is refused with the key named (a substring check passed these).
  for (const auto& [from, to, key] : std::vector<std::array<std::string, 3>>{
           {"momentum: 0.9", "momentum: 0.95", "train.optimizer.momentum: 0.95 (the twin has 0.9)"},
           {"padding: 2}", "padding: 20}", "augment.train[0].padding: 20 (the twin has 2)"},
           {"decay: 0.99}", "decay: 0.995}", "train.ema.decay: 0.995 (the twin has 0.99)"},
           {"monitor: train_loss", "monitor: val_loss", "train.checkpoint.monitor: 'val_loss'"}}) {
    auto r = twin_check(d, replaced(kTwinSpec, from, to));
    INFO(to << "\n" << r.output);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Contains(key));
  }
  auto invalid = twin_check(d, kTwinSpec + "  bogus: [\n");
  CHECK(invalid.exit_code != 0);
  CHECK_THAT(invalid.output, Contains("trex validate") && Contains("spec.yaml"));
  // The shipped recipe stays one the twin runs.
  CHECK(twin_check(source_dir() + "/experiments/fashion_mnist/fast.yaml").exit_code == 0);
}
