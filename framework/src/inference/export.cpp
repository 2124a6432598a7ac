#include "trex/inference/export.h"

#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include "trex/store/cell_json.h"

namespace trex {
namespace {

/// A TorchScript module tree whose attributes are the very tensors of the C++
/// module, so the tracer records reads of them as attribute reads, not constants.
torch::jit::Module mirror(const torch::nn::Module& m, const std::string& qualname,
                          const std::shared_ptr<torch::jit::CompilationUnit>& cu) {
  torch::jit::Module out(c10::QualifiedName(qualname), cu, /*shouldMangle=*/true);
  for (const auto& p : m.named_parameters(/*recurse=*/false)) out.register_parameter(p.key(), p.value(), false);
  for (const auto& b : m.named_buffers(/*recurse=*/false)) out.register_buffer(b.key(), b.value());
  for (const auto& c : m.named_children())
    out.register_module(c.key(), mirror(*c.value(), qualname + "." + c.key(), cu));
  return out;
}

}  // namespace

void export_torchscript(TrainedRun& run, const std::string& path) {
  // Traced in fp32 and NCHW: autocast is not recorded in a trace, and any consumer can run fp32.
  run.use_precision(Precision{});
  auto& parts = run.parts();
  parts.module->eval();
  torch::NoGradGuard no_grad;
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module script = mirror(*parts.module, "__torch__.trex." + run.spec().model.type, cu);
  const ImageShape s = parts.input_shape;
  at::Tensor example = torch::rand({2, s.channels, s.height, s.width});
  auto traced = torch::jit::tracer::trace(
      {example},
      [&](torch::jit::Stack inputs) -> torch::jit::Stack { return {parts.model->forward(inputs[0].toTensor())}; },
      [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/false, /*force_outplace=*/false,
      &script);
  auto graph = traced.first->graph;
  const auto name = c10::QualifiedName(*script.type()->name(), "forward");
  auto* fn = script._ivalue()->compilation_unit()->create_function(name, graph);
  script.type()->addMethod(fn);
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
