#include "trex/inference/predict.h"

#include "trex/data/image_tensor.h"

#include <algorithm>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/utils.h>

#include "trex/model/checkpoint.h"
#include "trex/model/test_time_augmentation.h"
#include "trex/model/winograd.h"

namespace fs = std::filesystem;

namespace trex {

TrainedRun::TrainedRun(const Store& store, const Registry& registry, const std::string& ref) {
  const auto at = ref.rfind('@');
  record_ = store.run(at == std::string::npos ? ref : ref.substr(0, at));
  checkpoint_ = resolve_checkpoint(store, at == std::string::npos ? record_.id : record_.id + ref.substr(at));
  spec_ = load_spec_text(record_.spec_yaml, "run " + record_.id + " (stored spec)", registry);
  parts_ = build_experiment(spec_, registry, &store);
  load_checkpoint(checkpoint_, *parts_.module, nullptr, nullptr);
  parts_.module->eval();
  // The precision the run scored its test set with (machine.precision), so predictions match the stored ones;
  // runs recorded before it was recorded choose as their spec says on this machine.
  run_precision_ = choose_precision(spec_.train, cpu_flags());
  run_precision_.device = c10::kCPU;  // predict runs on the CPU, wherever the run trained
  for (const auto& p : store.params(record_.id))
    if (p.key == "machine.precision")
      run_precision_.bf16 = p.value == "bf16 autocast";
    else if (p.key == "machine.memory_format")
      run_precision_.channels_last = p.value == "channels_last";
    else if (p.key == "machine.conv_algorithm")
      run_precision_.winograd = p.value.rfind("winograd", 0) == 0 && winograd_available();
  run_precision_.winograd = run_precision_.winograd && !run_precision_.bf16;
  use_precision(run_precision_);
}

void TrainedRun::use_precision(const Precision& p) {
  precision_ = p;
  precision_.apply_to(*parts_.module);
}

std::string TrainedRun::checkpoint_name() const { return fs::path(checkpoint_).stem().string(); }

cv::Mat TrainedRun::load_image(const std::string& path) const {
  cv::Mat img = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (img.empty()) throw std::runtime_error("OpenCV cannot decode it (missing, unreadable or not an image)");
  if (img.depth() == CV_16U) img.convertTo(img, CV_8U, 1.0 / 257.0);
  if (img.depth() != CV_8U) throw std::runtime_error("unsupported pixel depth (expected 8 or 16 bits)");
  const ImageShape& want = parts_.data_shape;
  // trex datasets hold colour images as RGB; OpenCV reads BGR.
  if (want.channels == 1) {
    if (img.channels() == 3)
      cv::cvtColor(img, img, cv::COLOR_BGR2GRAY);
    else if (img.channels() == 4)
      cv::cvtColor(img, img, cv::COLOR_BGRA2GRAY);
  } else if (want.channels == 3) {
    if (img.channels() == 1)
      cv::cvtColor(img, img, cv::COLOR_GRAY2RGB);
    else if (img.channels() == 4)
      cv::cvtColor(img, img, cv::COLOR_BGRA2RGB);
    else
      cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
  }
  if (img.channels() != want.channels)
    throw std::runtime_error("has " + std::to_string(img.channels()) + " channels; the run's model takes " +
                             std::to_string(want.channels));
  if (img.rows != want.height || img.cols != want.width) {
    const bool shrink = img.rows > want.height || img.cols > want.width;
    cv::resize(img, img, cv::Size(static_cast<int>(want.width), static_cast<int>(want.height)), 0, 0,
               shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  return img;
}

at::Tensor TrainedRun::logits(const at::Tensor& batch) {
  torch::NoGradGuard no_grad;
  // The run's test-time augmentation (train.tta), as its validation and test scored.
  return tta_logits(spec_.train.tta, batch, [this](const at::Tensor& x) {
    return precision_.run(x, [this](const at::Tensor& y) { return parts_.model->forward(y).to(at::kFloat); });
  });
}

std::vector<PredictionRow> TrainedRun::rank(const at::Tensor& logits, int top_k) const {
  const auto k = std::min<std::int64_t>(top_k, logits.size(1));
  auto [prob, idx] = logits.softmax(1).topk(k, 1);
  auto p = prob.accessor<float, 2>();
  auto i = idx.accessor<std::int64_t, 2>();
  std::vector<PredictionRow> out(static_cast<std::size_t>(logits.size(0)));
  for (std::int64_t r = 0; r < logits.size(0); ++r)
    for (std::int64_t c = 0; c < k; ++c) out[static_cast<std::size_t>(r)].top.push_back({i[r][c], p[r][c]});
  return out;
}

std::vector<PredictionRow> TrainedRun::predict_files(const std::vector<std::string>& files, int top_k, int batch_size) {
  std::vector<PredictionRow> out;
  const ImageShape s = parts_.input_shape;
  std::vector<cv::Mat> pending;
  std::vector<std::size_t> slots;
  auto flush = [&] {
    if (pending.empty()) return;
    auto batch = at::empty({static_cast<std::int64_t>(pending.size()), s.channels, s.height, s.width}, at::kFloat);
    for (std::size_t i = 0; i < pending.size(); ++i)
      image_to_chw(pending[i], s, batch[static_cast<std::int64_t>(i)].data_ptr<float>(), files[slots[i]]);
    auto ranked = rank(logits(batch), top_k);
    for (std::size_t i = 0; i < slots.size(); ++i) out[slots[i]].top = ranked[i].top;
    pending.clear();
    slots.clear();
  };
  for (const auto& f : files) {
    PredictionRow row;
    row.source = f;
    out.push_back(row);
    try {
      Rng unused(0);  // eval pipelines are deterministic; a fixed stream keeps them so
      cv::Mat img = parts_.eval_pipeline.apply(load_image(f), unused);
      if (img.channels() != s.channels || img.rows != s.height || img.cols != s.width)
        throw std::runtime_error("came out of the eval pipeline with another shape");
      pending.push_back(img);
      slots.push_back(out.size() - 1);
    } catch (const std::exception& e) {
      out.back().error = e.what();
    }
    if (static_cast<int>(pending.size()) >= batch_size) flush();
  }
  flush();
  return out;
}

std::vector<PredictionRow> TrainedRun::predict_split(const std::string& split, int top_k, int batch_size) {
  const auto& set = parts_.plan.get(split);
  if (set.empty()) throw std::runtime_error("the run's " + split + " split is empty");
  LoaderOptions lo{batch_size, false, 2, 4, spec_.seed, 0, 99, parts_.input_shape};
  BatchLoader loader(*parts_.dataset, set, parts_.eval_pipeline, lo);
  std::vector<PredictionRow> out;
  while (auto b = loader.next()) {
    auto ranked = rank(logits(b->images), top_k);
    for (std::size_t i = 0; i < ranked.size(); ++i) {
      const SampleRef& ref = set[b->positions[i]];
      ranked[i].source = ref.split + ":" + std::to_string(ref.index);
      ranked[i].label = ref.label;
      out.push_back(std::move(ranked[i]));
    }
  }
  return out;
}

std::vector<std::string> collect_images(const std::vector<std::string>& inputs) {
  static const std::vector<std::string> exts{".png",  ".jpg",  ".jpeg", ".bmp", ".tif",
                                             ".tiff", ".webp", ".pgm",  ".ppm", ".pbm"};
  auto is_image = [&](const fs::path& p) {
    std::string e = p.extension().string();
    std::transform(e.begin(), e.end(), e.begin(), ::tolower);
    return std::find(exts.begin(), exts.end(), e) != exts.end();
  };
  std::vector<std::string> out;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(in, fs::directory_options::skip_permission_denied, ec))
        if (e.is_regular_file() && is_image(e.path())) found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(in);  // a missing or unreadable file is reported by predict, per file
    }
  }
  return out;
}

}  // namespace trex
