#include "trex/inference/export.h"

#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/serialize.h>
#include <torch/utils.h>

#include "trex/model/inference_graph.h"
#include "trex/store/cell_json.h"

namespace trex {
void export_torchscript(TrainedRun& run, const std::string& path) {
  // Traced in fp32 and NCHW: autocast is not recorded in a trace, and any consumer can run fp32.
  run.use_precision(Precision{});
  auto& parts = run.parts();
  parts.module->eval();
  torch::NoGradGuard no_grad;
  const ImageShape s = parts.input_shape;
  torch::jit::Module script = trace_module(
      *parts.module, [&](const at::Tensor& x) { return parts.model->forward(x); },
      torch::rand({2, s.channels, s.height, s.width}), "__torch__.trex." + run.spec().model.type);
  script.eval();
  script.save(path);
}

void export_state_dict(TrainedRun& run, const std::string& path) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& p : run.parts().module->named_parameters()) dict.insert(p.key(), p.value().detach());
  for (const auto& b : run.parts().module->named_buffers()) dict.insert(b.key(), b.value().detach());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string export_metadata(TrainedRun& run, const std::string& format) {
  const auto& spec = run.spec();
  const ImageShape s = run.parts().input_shape;
  nlohmann::json steps = nlohmann::json::array();
  std::vector<double> mean, std;
  for (const auto& step : spec.augment_eval) {
    nlohmann::json j{{"type", step.plugin.type}};
    for (const auto& [k, v] : step.plugin.params.values()) j[k] = to_string(v);
    steps.push_back(j);
    if (step.plugin.ref.record->descriptor->name == "normalize") {
      mean = step.plugin.params.get<std::vector<double>>("mean");
      std = step.plugin.params.get<std::vector<double>>("std");
    }
  }
  nlohmann::json j{
      {"format", format},
      {"run_id", run.record().id},
      {"checkpoint", run.checkpoint_name()},
      {"model", spec.model.type},
      {"input",
       {{"channels", s.channels}, {"height", s.height}, {"width", s.width}, {"dtype", "float32"}, {"layout", "NCHW"}}},
      {"mean", mean},
      {"std", std},
      {"class_names", run.parts().class_names},
      {"run_precision", run.run_precision().describe()},
      {"eval_preprocessing", steps},
      {"note", "forward() takes images after eval_preprocessing; 8-bit pixels go through it first" +
                   std::string(format == "torchscript" ? "; it computes in float32, whatever run_precision was" : "")}};
  return json_text(j, 2) + "\n";
}

}  // namespace trex
