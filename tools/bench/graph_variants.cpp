// Steady-state time of each graph variant of a frozen backbone
// (model/graph_variants.h) and of its eager modules, interleaved, on random
// images: the measurement behind the variants' fixed order.
//   bench_graph_variants PLUGIN_DIR MODEL CUT SIZE [BATCH=64] [REPS=5] [bf16]
// MODEL is a model plugin (resnet50, vgg16, inception_v3...), CUT one of its stages.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "trex/model/graph_variants.h"
#include "trex/model/inference_graph.h"
#include "trex/model/precision.h"
#include "trex/plugin/model.h"
#include "trex/registry/registry.h"

using namespace trex;

namespace {

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: bench_graph_variants PLUGIN_DIR MODEL CUT SIZE [BATCH=64] [REPS=5] [bf16]\n";
    return 2;
  }
  const std::string model_type = argv[2], cut = argv[3];
  const std::int64_t size = std::atoll(argv[4]), batch = argc > 5 ? std::atoll(argv[5]) : 64;
  const int reps = argc > 6 ? std::atoi(argv[6]) : 5;
  const bool bf16 = argc > 7 && std::string(argv[7]) == "bf16";
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));  // as trex run sets it
  Registry registry({argv[1]});
  Diagnostics diag;
  Node n = Node::map();
  n.set("type", Node::scalar(model_type));
  auto resolved = registry.resolve(Kind::Model, n, "model", diag);
  diag.throw_if_any();
  auto model = registry.create_as<Model>(*resolved, {3, size, size, 1000, 0, cut});
  model->module()->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::randn({batch, 3, size, size}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto forward = [&](const at::Tensor& in) { return model->forward_until(in, cut); };
  const Precision precision{c10::Device(c10::kCPU), bf16, true};
  // Traced in fp32, as InferenceGraph traces: the bf16 variants cast the frozen graph.
  const auto traced = trace_module(*model->module(), forward, x.narrow(0, 0, 2), "__torch__.bench");
  precision.set_autocast(bf16);
  // What the first batch of a run pays: InferenceGraph traces, builds variants until one gives the eager
  // output (graph_variant_builders), and checks it; against building them all.
  InferenceGraph graph(model->module(), forward);
  std::vector<std::pair<double, long>> firsts;  // seconds and page faults of the first three batches
  for (int i = 0; i < 3; ++i) {
    const long faults = minor_faults();
    const double s = seconds([&] { graph(x); });
    firsts.emplace_back(s, minor_faults() - faults);
  }
  std::vector<GraphVariant> variants;
  const double all = seconds([&] { variants = graph_variants(traced, x.narrow(0, 0, 2)); });
  std::cout << "first batches through InferenceGraph (runs as " << graph.forms().at(0) << "):";
  for (const auto& [s, faults] : firsts) std::cout << " " << s << " s (" << faults << " page faults)";
  std::cout << "; building every variant: " << all << " s\n";
  const at::Tensor want = forward(x);
  std::vector<std::string> names{"eager"};
  std::vector<std::function<void()>> runs{[&] { forward(x); }};
  for (auto& v : variants) {
    at::Tensor got;
    try {
      got = run_variant(v, x);
    } catch (const std::exception& e) {
      std::cout << v.form << ": fails (" << e.what() << ")\n";
      continue;
    }
    std::map<std::string, int> ops;  // what the graph computes with
    for (const torch::jit::Node* node : v.module.get_method("forward").graph()->nodes())
      ++ops[node->kind().toQualString()];
    std::cout << std::setw(24) << v.form << ": " << relative_difference(got, want) << " from eager;";
    for (const char* op : {"aten::conv2d", "aten::_convolution", "trex::fused_conv2d", "aten::relu_", "aten::add_"})
      if (ops.count(op)) std::cout << " " << ops[op] << " " << op;
    std::cout << "\n";
    names.push_back(v.form);
    runs.push_back([&v, &x] { run_variant(v, x); });
  }
  for (auto& run : runs) run();  // the graph executor's profiling runs
  std::vector<std::vector<double>> times(runs.size());
  for (int r = 0; r < reps; ++r)
    for (std::size_t i = 0; i < runs.size(); ++i) times[i].push_back(seconds(runs[i]));
  std::cout << model_type << " to " << cut << ", " << size << " px, batch " << batch << (bf16 ? ", bf16" : ", fp32")
            << ", median of " << reps << " s/batch:\n";
  for (std::size_t i = 0; i < runs.size(); ++i)
    std::cout << std::setw(24) << names[i] << "  " << std::fixed << std::setprecision(3) << median(times[i]) << "\n";
  precision.set_autocast(false);
}
