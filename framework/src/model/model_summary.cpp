#include "trex/model/model_summary.h"

#include <sstream>

#include <torch/utils.h>

#include "trex/plugin/model.h"

namespace trex {

std::string model_summary(const Registry& registry, const std::string& name, const ImageShape& input,
                          std::int64_t classes) {
  Node node = Node::map();
  node.set("type", Node::scalar(name));
  Diagnostics diag;
  auto resolved = registry.resolve(Kind::Model, node, "model", diag);
  diag.throw_if_any();
  auto model = registry.create_as<Model>(*resolved, {input.channels, input.height, input.width, classes, 0});
  model->module()->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::zeros({1, input.channels, input.height, input.width});
  std::ostringstream out;
  out << "cut points for a " << input.channels << "x" << input.height << "x" << input.width << " input:\n";
  for (const auto& stage : model->stages())
    out << "  " << stage << "  " << model->forward_until(x, stage).sizes() << "\n";
  std::int64_t total = 0;
  for (const auto& p : model->module()->parameters()) total += p.numel();
  out << "parameter count: " << total << " (" << classes << " classes)\n";
  return out.str();
}

}  // namespace trex
