// Frozen backbones as inference graphs (model/inference_graph.h): the same
// outputs as the eager modules at every cut point of every backbone, one graph
// per input kind, and a fresh one when the weights change.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include <torch/torch.h>

#include "helpers.h"
#include "trex/model/graph_variants.h"
#include "trex/model/inference_graph.h"
#include "trex/model/precision.h"
#include "trex/model/winograd.h"
#include "trex/plugin/model.h"
#include "trex/store/store.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;

namespace {

std::shared_ptr<Model> build(const std::string& type, std::int64_t channels, std::int64_t size) {
  Diagnostics diag;
  Node n = Node::map();
  n.set("type", Node::scalar(type));
  auto r = built_plugins().resolve(Kind::Model, n, "model", diag);
  REQUIRE_NOTHROW(diag.throw_if_any());
  REQUIRE(r);
  return built_plugins().create_as<Model>(*r, {channels, size, size, 10, 0, ""});
}

/// BatchNorm statistics and affine terms away from their initial 0/1, so that
/// folding them into the convolutions changes the weights for real.
void randomize_batch_norm(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (const auto& b : m.named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0, 0.2);
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2.0);
  }
  for (const auto& c : m.modules())
    if (c->name().find("BatchNorm") != std::string::npos)
      for (auto& p : c->named_parameters()) p.value().normal_(p.key() == "weight" ? 1.0 : 0.0, 0.2);
}

struct Backbone {
  std::string type;
  std::int64_t channels, size;
};

/// Every model plugin the build has, each preset of it (or the plugin itself),
/// at a reduced input size that still reaches every stage.
std::vector<Backbone> every_backbone() {
  std::vector<Backbone> out;
  for (const auto* r : built_plugins().plugins(Kind::Model)) {
    const Descriptor& d = *r->descriptor;
    const std::int64_t size = std::max<std::int64_t>(32, d.model.input_height * 2 / 7);
    if (d.presets.empty()) out.push_back({d.name, d.model.input_channels, size});
    for (const auto& p : d.presets) out.push_back({p.name, d.model.input_channels, size});
  }
  return out;
}

}  // namespace

TEST_CASE("a frozen backbone's inference graph equals the eager backbone at every cut point, NCHW and channels-last",
          "[inference_graph]") {
  const auto backbones = every_backbone();
  std::map<std::string, std::vector<std::string>> forms;  // what each cut ran as, e.g. "NHWC frozen"
  CHECK(backbones.size() >= 18);  // every backbone the build has, read from the plugins' descriptors
  torch::NoGradGuard no_grad;
  for (const auto& b : backbones) {
    auto model = build(b.type, b.channels, b.size);
    model->module()->eval();
    randomize_batch_norm(*model->module());
    for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
      const std::string layout = format == at::MemoryFormat::Contiguous ? "NCHW " : "NHWC ";
      Precision{c10::Device(c10::kCPU), format == at::MemoryFormat::ChannelsLast}.apply_to(*model->module());
      const at::Tensor x = torch::randn({3, b.channels, b.size, b.size}).contiguous(format);
      for (const auto& stage : model->stages()) {
        INFO(b.type << " at " << b.size << " px, " << layout << "cut " << stage);
        InferenceGraph graph(model->module(), [&](const at::Tensor& in) { return model->forward_until(in, stage); });
        const at::Tensor want = model->forward_until(x, stage);
        const at::Tensor got = graph(x);
        REQUIRE(got.sizes() == want.sizes());
        CHECK(relative_difference(got, want) <= 1e-4);
        forms[layout + graph.forms().at(0)].push_back(b.type + "/" + stage);
      }
    }
  }
  // Where a graph fails its own check it falls back; that must stay the exception.
  for (const auto& [form, cuts] : forms) {
    std::string list;
    for (const auto& c : cuts) list += " " + c;
    UNSCOPED_INFO(form << ": " << cuts.size() << " cuts:" << list);
  }
  for (const std::string layout : {"NCHW ", "NHWC "}) {
    std::size_t all = 0;
    for (const auto& [form, cuts] : forms)
      if (form.rfind(layout, 0) == 0) all += cuts.size();
    CHECK(forms[layout + "eager"].size() * 10 <= all);
  }
  // NCHW convolutions are the fallback from NCHW input: oneDNN's layouts or channels-last first.
  CHECK(forms["NCHW frozen"].size() * 10 <= forms["NCHW oneDNN"].size() + forms["NCHW channels-last frozen"].size());
  CHECK(forms["NHWC frozen"].size() >= forms["NHWC oneDNN"].size());  // oneDNN's reorders lose from channels-last
}

TEST_CASE("every graph variant gives every image of a batch right, also after activations oneDNN's pass gets wrong",
          "[inference_graph]") {
  // 20 channels: oneDNN's blocked layout pads them to 32, and in 1.13
  // optimize_for_inference's own element-wise ops leave the last image's
  // padding unwritten. Traced on 2 images, run on 4, every variant is checked
  // image by image: the inference graph's own check sees 2 at most.
  const std::vector<std::pair<std::string, std::function<at::Tensor(const at::Tensor&)>>> activations = {
      {"hardswish", [](const at::Tensor& t) { return at::hardswish(t); }},
      {"hardsigmoid", [](const at::Tensor& t) { return at::hardsigmoid(t); }},
      {"hardtanh", [](const at::Tensor& t) { return at::hardtanh(t); }},
      {"clamp", [](const at::Tensor& t) { return t.clamp(-0.5, 0.5); }},
      {"relu", [](const at::Tensor& t) { return at::relu(t); }}};
  torch::manual_seed(5);
  torch::NoGradGuard no_grad;
  for (const auto& [name, activation] : activations) {
    torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 20, 3)), torch::nn::Functional(activation),
                              torch::nn::Conv2d(torch::nn::Conv2dOptions(20, 20, 1)));
    net->eval();
    const auto forward = [&](const at::Tensor& in) { return net->forward(in); };
    const at::Tensor x = torch::randn({4, 3, 16, 16});
    const at::Tensor want = net->forward(x);
    auto variants = graph_variants(trace_module(*net, forward, x.narrow(0, 0, 2), "__torch__.probe"), x);
    std::vector<std::string> forms;
    for (auto& v : variants) {
      forms.push_back(v.form);
      const at::Tensor got = run_variant(v, x);
      for (std::int64_t row = 0; row < 4; ++row) {
        INFO(name << ", " << v.form << ", image " << row);
        CHECK(relative_difference(got[row], want[row]) <= 1e-4);
      }
    }
    INFO(name);
    CHECK((std::find(forms.begin(), forms.end(), "oneDNN") != forms.end()) ==
          (name == "relu"));  // only where it is right
    CHECK(std::find(forms.begin(), forms.end(), "channels-last frozen") != forms.end());
  }
}

TEST_CASE("under bf16 autocast an inference graph runs in bf16 as close to fp32 as autocast's eager modules",
          "[inference_graph]") {
  auto model = build("resnet18", 3, 64);
  model->module()->eval();
  randomize_batch_norm(*model->module());
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::randn({4, 3, 64, 64}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto layer4 = [&](const at::Tensor& in) { return model->forward_until(in, "layer4"); };
  InferenceGraph graph(model->module(), layer4);
  const Precision bf16{c10::Device(c10::kCPU), true, true};
  const at::Tensor got = bf16.run(x, std::ref(graph)), eager = bf16.run(x, layer4), fp32 = layer4(x);
  CHECK(graph.forms() == std::vector<std::string>{"bf16 oneDNN"});
  CHECK(got.scalar_type() == eager.scalar_type());
  // Both round to bf16, at other places: each is as far from fp32 as the other.
  const double graph_error = relative_difference(got, fp32), autocast_error = relative_difference(eager, fp32);
  INFO("bf16 graph " << graph_error << ", autocast " << autocast_error << " from fp32");
  CHECK(autocast_error > 1e-4);  // it does round
  CHECK(graph_error <= 3 * autocast_error);
  CHECK(relative_difference(got, eager) <= 5e-2);
  CHECK(torch::equal(bf16.run(x, std::ref(graph)), got));  // the same graph again: the same features
  // The same modules in fp32 get an fp32 graph of their own: fused (with Winograd) on AVX-512, else
  // channels-last frozen (oneDNN's layouts lose from channels-last).
  CHECK(relative_difference(graph(x), fp32) <= 1e-4);
  CHECK(graph.forms() == std::vector<std::string>{"bf16 oneDNN", winograd_available() ? "fused" : "frozen"});
  CHECK(graph.compiled() == 2);
}

TEST_CASE("an inference graph compiles once per image size and again when the weights change", "[inference_graph]") {
  auto model = build("resnet18", 3, 32);
  model->module()->eval();
  torch::NoGradGuard no_grad;
  InferenceGraph graph(model->module(), [&](const at::Tensor& in) { return model->forward_until(in, "layer2"); });
  const at::Tensor a = torch::randn({4, 3, 32, 32}), b = torch::randn({3, 3, 32, 32});
  CHECK(relative_difference(graph(a), model->forward_until(a, "layer2")) <= 1e-4);
  CHECK(relative_difference(graph(b), model->forward_until(b, "layer2")) <= 1e-4);  // a last, smaller batch
  graph(a);
  graph(b);
  CHECK(graph.compiled() == 1);  // the batch size is not part of a conv net's graph
  // A checkpoint loaded in place (copy_) and a tensor replaced (set_data) both reach the graph.
  for (auto& p : model->module()->named_parameters())
    if (p.key() == "layer1.0.bn1.weight") p.value().mul_(3);
  const at::Tensor scaled = graph(a);
  CHECK(graph.compiled() == 2);
  CHECK(relative_difference(scaled, model->forward_until(a, "layer2")) <= 1e-4);
  for (auto& p : model->module()->named_parameters())
    if (p.key() == "conv1.weight") p.value().set_data(torch::randn_like(p.value()));
  CHECK(relative_difference(graph(a), model->forward_until(a, "layer2")) <= 1e-4);
  CHECK(graph.compiled() == 3);

  // A forward that records the batch size as a constant: the graph traced on
  // the first rows does not fit a whole batch, so each batch size gets a
  // graph traced on it (3 compiles: the first rows', a's and b's).
  InferenceGraph flat(model->module(), [&](const at::Tensor& in) {
    return model->forward_until(in, "layer2").reshape({in.size(0), -1});
  });
  const auto want = [&](const at::Tensor& in) { return model->forward_until(in, "layer2").flatten(1); };
  CHECK(relative_difference(flat(a), want(a)) <= 1e-4);
  CHECK(relative_difference(flat(b), want(b)) <= 1e-4);
  CHECK(relative_difference(flat(b), want(b)) <= 1e-4);
  CHECK(flat.compiled() == 3);
  // The first rows' graph fits no whole batch, so it never runs ("eager").
  const std::string fits = winograd_available() ? "fused" : "oneDNN";
  CHECK(flat.forms() == std::vector<std::string>{"eager", fits, fits});
}

TEST_CASE("an inference graph checks a new batch's last image too, not only its first two", "[inference_graph]") {
  // The trace records in.size(0) - 1 as a constant: traced on 2 images the
  // graph doubles image 1, where on a batch of 4 the eager forward doubles
  // image 3. The first two images alone cannot tell the graph is wrong there.
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3)));
  net->eval();
  const auto eager = [&](const at::Tensor& in) {
    at::Tensor out = net->forward(in);
    out.narrow(0, in.size(0) - 1, 1).mul_(2);
    return out;
  };
  InferenceGraph graph(net.ptr(), eager);
  torch::manual_seed(9);
  torch::NoGradGuard no_grad;
  const at::Tensor two = torch::randn({2, 3, 16, 16}), four = torch::randn({4, 3, 16, 16});
  CHECK(relative_difference(graph(two), eager(two)) <= 1e-4);
  CHECK(graph.compiled() == 1);
  const at::Tensor got = graph(four), want = eager(four);
  for (std::int64_t row = 0; row < 4; ++row) {
    INFO("image " << row);
    CHECK(relative_difference(got[row], want[row]) <= 1e-4);
  }
  CHECK(graph.compiled() == 2);  // batch 4 got a graph traced on itself
}

TEST_CASE("a run on a frozen backbone learns the same with its inference graph as with the eager modules",
          "[inference_graph][transfer]") {
  // Random flips keep the feature cache off, so every batch goes through the backbone.
  const std::string spec = R"(name: graph
seed: 3
data: {type: fashion_mnist, limit: 300}
augment: {train: [random_flip, normalize], eval: [normalize]}
model:
  backbone: {type: resnet18, cut: layer2, freeze: true, inference_graph: GRAPH}
  head: [global_avg_pool, dense]
train: {epochs: 2, batch_size: 64, precision: fp32, optimizer: {type: adam, lr: 0.01}}
)";
  TempDir d;
  std::map<std::string, double> metrics[2];
  for (int graph = 0; graph < 2; ++graph) {
    std::string s = spec;
    s.replace(s.find("GRAPH"), 5, graph ? "auto" : "off");
    write_file(d.file("g.yaml"), s);
    const auto r = run_command(trex_binary() + " run " + d.file("g.yaml") + " --store " + d.file("s.db"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(r.output.find("feature cache off") != std::string::npos);
    Store store(d.file("s.db"), true);
    for (const auto& m : store.metrics(store.runs().back().id))
      metrics[graph][m.key() + " " + std::to_string(m.epoch)] = m.value;
  }
  REQUIRE(metrics[0].size() >= 6);  // train loss and accuracy of 2 epochs, test loss and accuracy
  REQUIRE(metrics[0].size() == metrics[1].size());
  // The graph's features differ from eager in the last bits (BatchNorm folded),
  // so ten Adam steps later losses agree closely and accuracies to a sample or so.
  for (const auto& [key, eager] : metrics[0]) {
    INFO(key << ": eager " << eager << ", graph " << metrics[1].at(key));
    CHECK(std::abs(metrics[1].at(key) - eager) <= (key.find("loss") != std::string::npos ? 1e-3 * eager : 0.01));
  }
}
