// trex bench-loader SPEC: the training loader alone (read, decode, resize,
// augment, batch), as `trex run` would drive it, timed without a model; what
// mmdetection's `benchmark.py --task dataloader` is for. It answers "is the
// loader what limits this run?" and is the trex side of tools/bench/loader.sh.
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "command_table.h"
#include "common.h"
#include "trex/config/spec.h"
#include "trex/model/experiment.h"

namespace trex::cli {
namespace {

struct Args {
  CommonOptions common;
  std::string spec;
  std::vector<std::string> sets;
  int epochs = 1;
};

// One shuffled epoch of the train split, with the run's stream and options,
// so it draws the augmentations `trex run` would.
double epoch_seconds(const Experiment& parts, const ResolvedSpec& spec, std::int64_t epoch, std::size_t* images) {
  const TrainOptions& t = spec.train;
  LoaderOptions lo{t.batch_size, true,  t.loader_threads(), t.prefetch,
                   spec.seed,    epoch, kTrainStream,       parts.input_shape};
  const auto start = std::chrono::steady_clock::now();
  BatchLoader loader(*parts.dataset, parts.plan.train, parts.train_pipeline, lo);
  *images = 0;
  while (auto batch = loader.next()) *images += static_cast<std::size_t>(batch->images.size(0));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int bench_loader(const Args& a) {
  auto registry = make_registry(a.common);
  const ResolvedSpec spec = load_spec(a.spec, a.sets, *registry);
  const TrainOptions& t = spec.train;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(t.threads > 0 ? static_cast<int>(t.threads) : cores);  // as trex run sets it
  const Experiment parts = build_data(spec, *registry);
  if (parts.plan.train.empty()) throw std::runtime_error(a.spec + ": the train split is empty; nothing to load");
  const std::string where = t.loader_threads() > 0
                                ? fmt::format("{} workers, prefetch {}", t.loader_threads(), t.prefetch)
                                : fmt::format("inline in {} threads", at::get_num_threads());
  std::cout << fmt::format("train loader: {} images, batch {}, {}, {}x{}x{} out\n", parts.plan.train.size(),
                           t.batch_size, where, parts.input_shape.channels, parts.input_shape.height,
                           parts.input_shape.width);
  for (int epoch = 1; epoch <= a.epochs; ++epoch) {
    std::size_t images = 0;
    const double s = epoch_seconds(parts, spec, epoch, &images);
    std::cout << fmt::format("epoch {}/{}  {} images  {:.2f}s  {:.1f} img/s\n", epoch, a.epochs, images, s,
                             static_cast<double>(images) / std::max(s, 1e-9));
  }
  return 0;
}

}  // namespace

void add_bench_loader_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("bench-loader", help_of("bench-loader"));
  cmd->add_option("spec", a->spec, "experiment YAML")->required();
  cmd->add_option("--set", a->sets, "override a dotted key (repeatable)");
  cmd->add_option("--epochs", a->epochs, "epochs to time, each its own line")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  add_common(*cmd, a->common, false, true);
  cmd->callback([a, &exit_code] { exit_code = bench_loader(*a); });
}

}  // namespace trex::cli
