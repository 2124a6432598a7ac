// trex predict, trex activations, trex export: using a trained run.
#include <ATen/Parallel.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <spdlog/spdlog.h>

#include "trex/store/file_checksums.h"
#include "command_table.h"
#include "common.h"
#include "trex/data/image_tensor.h"
#include "table.h"
#include "trex/inference/activations.h"
#include "trex/inference/export.h"
#include "trex/inference/predict.h"
#include "trex/common/classification_report.h"

namespace fs = std::filesystem;

namespace trex::cli {
namespace {

struct PredictArgs {
  CommonOptions common;
  std::string run;
  std::vector<std::string> inputs;
  std::string split;
  int top = 5;
  int batch_size = 256;
  std::string format = "table";
  bool evaluate = false;
};

int do_predict(const PredictArgs& a) {
  if (a.inputs.empty() == a.split.empty()) return fail("give image files or folders, or --data SPLIT (not both)");
  if (a.evaluate && a.split.empty()) return fail("--evaluate needs labels: use --data SPLIT");
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  auto registry = make_registry(a.common);
  Store store(store_path(a.common), !a.evaluate);
  StoreChecksums checksums(store, !a.evaluate);  // a frozen backbone's weights file is not hashed again
  UseChecksumMemo use_checksums(&checksums);
  TrainedRun run(store, *registry, a.run);
  const auto start = std::chrono::steady_clock::now();
  auto rows = a.split.empty() ? run.predict_files(collect_images(a.inputs), a.top, a.batch_size)
                              : run.predict_split(a.split, a.top, a.batch_size);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& names = run.parts().class_names;

  Table t{{"source", "label"}, {}};
  const int k = std::min<int>(a.top, static_cast<int>(names.size()));
  for (int i = 1; i <= k; ++i)
    t.columns.push_back(fmt::format("class_{}", i)), t.columns.push_back(fmt::format("p_{}", i));
  int failed = 0;
  for (const auto& r : rows) {
    if (!r.error.empty()) {
      ++failed;
      spdlog::error("skipped {}: {}", r.source, r.error);
      continue;
    }
    std::vector<std::string> cells{r.source, r.label >= 0 ? names[static_cast<std::size_t>(r.label)] : ""};
    for (const auto& c : r.top)
      cells.push_back(names[static_cast<std::size_t>(c.index)]), cells.push_back(fmt::format("{:.4f}", c.probability));
    t.rows.push_back(cells);
  }
  if (!a.evaluate) std::cout << t.render(a.format);
  spdlog::info("predicted {} images in {:.2f} s ({:.0f} img/s) with run {} @{}",
               rows.size() - static_cast<std::size_t>(failed), seconds,
               static_cast<double>(rows.size()) / std::max(seconds, 1e-9), run.record().id, run.checkpoint_name());

  if (a.evaluate) {
    std::vector<std::int64_t> labels, predicted;
    std::int64_t in_top = 0;
    for (const auto& r : rows) {
      labels.push_back(r.label);
      predicted.push_back(r.top.front().index);
      for (const auto& c : r.top) in_top += c.index == r.label;
    }
    auto report = classification_report(labels, predicted, names);
    const std::map<std::string, double> metrics{
        {"accuracy", report.accuracy},
        {"top_k_accuracy", static_cast<double>(in_top) / static_cast<double>(rows.size())},
        {"top_k", static_cast<double>(k)},
        {"macro_f1", report.macro.f1},
        {"weighted_f1", report.weighted.f1},
        {"macro_precision", report.macro.precision},
        {"macro_recall", report.macro.recall}};
    const auto id = store.add_evaluation(run.record().id, run.checkpoint_name(), "split:" + a.split, metrics, report);
    std::cout << report.table()
              << fmt::format("\ntop-{} accuracy {:.4f}\nevaluation {} of run {} stored in {}\n", k,
                             metrics.at("top_k_accuracy"), id, run.record().id, store.path());
  }
  return failed ? 3 : 0;
}

int do_activations(const CommonOptions& common, const std::string& ref, const std::string& image,
                   const std::string& layer, std::string out_dir, bool list) {
  auto registry = make_registry(common);
  Store store(store_path(common), true);
  StoreChecksums checksums(store, true);
  UseChecksumMemo use_checksums(&checksums);
  TrainedRun run(store, *registry, ref);
  auto& parts = run.parts();
  const ImageShape s = parts.input_shape;
  torch::NoGradGuard no_grad;
  if (list) {
    auto zero = torch::zeros({1, s.channels, s.height, s.width});
    for (const auto& stage : parts.model->stages()) {
      auto shape = parts.model->forward_until(zero, stage).sizes();
      std::cout << stage << "  " << shape << "\n";
    }
    return 0;
  }
  if (image.empty() || layer.empty()) return fail("give IMAGE and --layer NAME (see --list for the layers)");
  auto stages = parts.model->stages();
  if (std::find(stages.begin(), stages.end(), layer) == stages.end())
    return fail("no layer '" + layer + "' in " + run.spec().model.type + did_you_mean(layer, stages) + "; see --list");
  Rng unused(0);
  const at::Tensor x = image_tensor(parts.eval_pipeline.apply(run.load_image(image), unused), s, image).unsqueeze(0);
  auto activation = parts.model->forward_until(x, layer);
  std::ostringstream shape;
  shape << activation.sizes();
  cv::Mat grid = tile_grid(activation_tiles(activation), layer + "  " + shape.str());
  if (out_dir.empty()) out_dir = (fs::path(store.run_dir(run.record().id)) / "activations").string();
  fs::create_directories(out_dir);
  const std::string path = (fs::path(out_dir) / (fs::path(image).stem().string() + "_" + layer + ".png")).string();
  if (!cv::imwrite(path, grid)) return fail("cannot write " + path);
  std::cout << path << "\n";
  return 0;
}

int do_export(const CommonOptions& common, const std::string& ref, const std::string& format, const std::string& out) {
  auto registry = make_registry(common);
  Store store(store_path(common), true);
  StoreChecksums checksums(store, true);
  UseChecksumMemo use_checksums(&checksums);
  TrainedRun run(store, *registry, ref);
  if (!fs::path(out).parent_path().empty()) fs::create_directories(fs::path(out).parent_path());
  if (format == "torchscript")
    export_torchscript(run, out);
  else
    export_state_dict(run, out);
  const std::string meta = fs::path(out).replace_extension(".json").string();
  std::ofstream(meta) << export_metadata(run, format);
  std::cout << out << "\n" << meta << "\n";
  return 0;
}

}  // namespace

void add_use_commands(CLI::App& app, int& exit_code) {
  auto p = std::make_shared<PredictArgs>();
  auto* predict = app.add_subcommand("predict", help_of("predict"));
  predict->add_option("run", p->run, "RUN, RUN@best or RUN@last")->required();
  predict->add_option("inputs", p->inputs, "image files or folders (searched recursively)");
  predict->add_option("--data", p->split, "predict a split of the run's own dataset instead: train, val or test")
      ->check(CLI::IsMember({"train", "val", "test"}));
  predict->add_option("--top", p->top, "how many classes to show per image")->check(CLI::Range(1, 1000));
  predict->add_option("--batch-size", p->batch_size, "images per forward pass")->check(CLI::Range(1, 65536));
  predict->add_option("--format", p->format, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}));
  predict->add_flag(
      "--evaluate", p->evaluate,
      "recompute accuracy, top-K and the classification report and store them as an evaluation of the run");
  add_common(*predict, p->common);
  predict->callback([p, &exit_code] { exit_code = do_predict(*p); });

  auto common = std::make_shared<CommonOptions>();
  auto ref = std::make_shared<std::string>(), image = std::make_shared<std::string>(),
       layer = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  auto list = std::make_shared<bool>(false);
  auto* act = app.add_subcommand("activations", help_of("activations"));
  act->add_option("run", *ref, "RUN, RUN@best or RUN@last")->required();
  act->add_option("image", *image, "the image file");
  act->add_option("--layer", *layer, "the layer (stage) name");
  act->add_option("--out", *out, "folder for the PNG (default: the run's folder /activations)");
  act->add_flag("--list", *list, "list the layers with their output shapes");
  add_common(*act, *common);
  act->callback([=, &exit_code] { exit_code = do_activations(*common, *ref, *image, *layer, *out, *list); });

  auto ecommon = std::make_shared<CommonOptions>();
  auto eref = std::make_shared<std::string>(), eout = std::make_shared<std::string>();
  auto eformat = std::make_shared<std::string>("torchscript");
  auto* exp = app.add_subcommand("export", help_of("export"));
  exp->add_option("run", *eref, "RUN, RUN@best or RUN@last")->required();
  exp->add_option("--format", *eformat, "torchscript or state_dict")
      ->check(CLI::IsMember({"torchscript", "state_dict"}));
  exp->add_option("--out", *eout, "the file to write, e.g. model.pt")->required();
  add_common(*exp, *ecommon);
  exp->callback([=, &exit_code] { exit_code = do_export(*ecommon, *eref, *eformat, *eout); });
}

}  // namespace trex::cli
