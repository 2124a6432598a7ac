// trex augment-preview SPEC: one image under N draws of the training pipeline
#include <iostream>

#include <opencv2/core.hpp>

#include "command_table.h"
#include "common.h"
#include "trex/model/experiment.h"
#include "trex/config/spec.h"
#include "trex/config/splits.h"
#include "trex/report/image_grid.h"

namespace trex::cli {
namespace {

// Normalised float images back to 8-bit for display: each tile min-max scaled.
cv::Mat displayable(const cv::Mat& m) {
  if (m.depth() == CV_8U) return m;
  double lo = 0, hi = 0;
  cv::minMaxLoc(m.reshape(1), &lo, &hi);
  cv::Mat out;
  m.convertTo(out, CV_8U, hi > lo ? 255.0 / (hi - lo) : 1.0, hi > lo ? -lo * 255.0 / (hi - lo) : 0);
  return out;
}

}  // namespace

void add_preview_command(CLI::App& app, int& exit_code) {
  struct Args {
    CommonOptions common;
    std::string spec, out = "augment_preview.png", split;
    std::vector<std::string> sets;
    std::size_t index = 0;
    int draws = 15;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("augment-preview", help_of("augment-preview"));
  cmd->add_option("spec", a->spec, "experiment YAML")->required();
  cmd->add_option("--set", a->sets, "override a dotted key (repeatable)");
  cmd->add_option("--out", a->out, "PNG file")->capture_default_str();
  cmd->add_option("--split", a->split, "dataset split to take the image from (default: the first)");
  cmd->add_option("--index", a->index, "the image's index in that split")->capture_default_str();
  cmd->add_option("--draws", a->draws, "how many augmented versions")->capture_default_str()->check(CLI::Range(1, 200));
  add_common(*cmd, a->common, false, true);
  cmd->callback([a, &exit_code] {
    auto registry = make_registry(a->common);
    const ResolvedSpec spec = load_spec(a->spec, a->sets, *registry);
    auto data = registry->create_as<Dataset>(spec.data, {});
    const std::string split = a->split.empty() ? data->splits().front() : a->split;
    const auto& labels = data->labels(split);
    if (a->index >= labels.size())
      throw std::runtime_error("--index " + std::to_string(a->index) + " is past the " + std::to_string(labels.size()) +
                               " images of split '" + split + "'");
    const cv::Mat original = data->image(split, a->index);
    const Pipeline pipeline = build_pipeline(spec.augment_train, *registry);
    const std::string name = data->class_names().at(static_cast<std::size_t>(labels[a->index]));
    std::vector<report::Tile> tiles{{original, {"original", name}, false}};
    for (int i = 0; i < a->draws; ++i) {
      // Each draw its own stream of the spec seed, shown as epoch i (alternating flips
      // alternate across the grid): the same command draws the same grid.
      Rng rng(mix_seed(spec.seed, static_cast<std::uint64_t>(i), a->index, 1));
      const cv::Mat out = displayable(pipeline.apply(original, rng, {spec.seed, i, a->index}));
      tiles.push_back(
          {out, {"draw " + std::to_string(i + 1), std::to_string(out.cols) + "x" + std::to_string(out.rows)}, false});
    }
    report::write_png(report::image_grid(tiles, {std::min(8, a->draws + 1), 132}), a->out);
    std::cout << "wrote " << a->out << ": " << split << " image " << a->index << " (" << name << ") and " << a->draws
              << " draws of augment.train\n";
    exit_code = 0;
  });
}

}  // namespace trex::cli
