#pragma once
// Every top-level trex command, once: its name, its help line, and which
// front end runs it. `trex` forwards the LibTorch ones to `trex-torch`; both
// take their help from here (tests/test_cli.cpp checks that they agree).
#include <cstring>

namespace trex::cli {

struct CommandInfo {
  const char* name;
  const char* help;
  bool torch;  ///< runs in trex-torch (needs LibTorch or OpenCV's codecs)
};

constexpr CommandInfo kCommands[] = {
    {"run", "train an experiment spec and record it in the store", true},
    {"validate", "print the resolved spec (bases merged, overrides applied, defaults filled) or its errors", true},
    {"plugins", "list the plugins found on the search path; `plugins describe NAME` for one", true},
    {"predict", "classify images with a trained run (its own preprocessing)", true},
    {"activations", "a grid of one layer's feature maps for one image", true},
    {"export", "write a trained model for deployment (TorchScript or a state dict) with a JSON beside it", true},
    {"eda", "look at a spec's dataset: samples, sizes, class counts, intensities (PNG + HTML)", true},
    {"report", "a run's curves, prediction grids, confusion matrix and report (PNG + HTML)", true},
    {"plot", "one metric of several runs on one chart, named by what differs between them", true},
    {"bench-loader", "time the spec's training loader alone (read, decode, resize, augment, batch): img/s", true},
    {"augment-preview", "one image under N random draws of the spec's training augmentation, as a grid", true},
    {"show", "a run's record, resolved spec, per-epoch metrics and summaries", false},
    {"runs", "list and query the runs in the store", false},
    {"compare", "runs side by side: the parameters that differ and every metric's summary", false},
    {"best", "rank the configurations of a sweep or an experiment (mean and std over seeds)", false},
    {"sql", "read-only SQL over the store (schema: results/README.md)", false},
    {"sweep", "run a hyperparameter sweep (the spec's `sweep:` block); `sweep status ID` shows one", false},
    {"sweeps", "list the sweeps in the store", false},
    {"merge", "combine stores (e.g. sweep shards) into one; runs already there are skipped", false},
    {"ui", "a local web dashboard over the store (read-only): runs, comparisons, sweeps, reports", false},
};

/// The help line of command `name` ("" if there is none).
inline const char* help_of(const char* name) {
  for (const auto& c : kCommands)
    if (std::strcmp(c.name, name) == 0) return c.help;
  return "";
}

}  // namespace trex::cli
