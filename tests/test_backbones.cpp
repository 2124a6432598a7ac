// Backbones against torchvision 0.14 (Debian's python3-torchvision): parameter
// counts, and outputs at every named cut point on the same weights.
#include <torch/serialize.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "trex/model/inference_graph.h"
#include "trex/model/weights.h"
#include "trex/plugin/model.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

std::shared_ptr<Model> build_node(const Node& n, std::int64_t channels, std::int64_t size, std::int64_t classes,
                                  const std::string& cut = "") {
  Diagnostics diag;
  auto r = built_plugins().resolve(Kind::Model, n, "model", diag);
  CHECK_NOTHROW(diag.throw_if_any());
  REQUIRE(r);
  return built_plugins().create_as<Model>(*r, {channels, size, size, classes, 0, cut});
}

std::shared_ptr<Model> build(const std::string& type, std::int64_t channels, std::int64_t size, std::int64_t classes,
                             const std::string& channel_mode = "replicate", const std::string& cut = "") {
  Node n = Node::map();
  n.set("type", Node::scalar(type));
  n.set("channel_mode", Node::scalar(channel_mode));
  return build_node(n, channels, size, classes, cut);
}

c10::IValue load_pickle(const std::string& path) {
  const std::string bytes = read_file(path);
  return torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
}

struct Twin {
  std::string name;  ///< the trex type (a preset, or the plugin itself)
  Parity parity;
  std::int64_t input_size;
};

/// Every backbone with a torchvision twin, as the built model plugins' descriptors declare them.
std::vector<Twin> torchvision_twins() {
  std::vector<Twin> out;
  for (const auto* r : built_plugins().plugins(Kind::Model)) {
    const Descriptor& d = *r->descriptor;
    if (!d.model.parity.torchvision.empty()) out.push_back({d.name, d.model.parity, d.model.input_height});
    for (const auto& p : d.presets)
      if (!p.parity.torchvision.empty()) out.push_back({p.name, p.parity, d.model.input_height});
  }
  return out;
}

/// The twin's outputs from torchvision and trex's on the same weights, at every stage and the logits.
void check_parity(const Twin& t, std::int64_t size, std::int64_t channels, const std::string& mode) {
  INFO(t.name << " " << size << "x" << size << "x" << channels << " " << mode);
  TempDir d;
  nlohmann::json stages = nlohmann::json::object();
  for (const auto& [cut, module] : t.parity.stages) stages[cut] = module;
  const auto py = run_command("/usr/bin/python3 " + source_dir() + "/tests/parity/torchvision_reference.py outputs " +
                              t.parity.torchvision + " " + std::to_string(size) + " " + std::to_string(channels) + " " +
                              d.str() + " '" + stages.dump() + "'");
  INFO(py.output);
  REQUIRE(py.exit_code == 0);
  auto model = build(t.name, channels, size, 7, mode);
  model->module()->eval();
  auto report = load_state_dict_file(*model->module(), d.file("weights.pt"), true);
  CHECK(report.missing.empty());
  CHECK(report.adapted.size() == (mode == "adapt" && channels == 1 ? 1u : 0u));
  const at::Tensor x = load_pickle(d.file("input.pt")).toTensor();
  auto outputs = load_pickle(d.file("outputs.pt")).toGenericDict();
  CHECK(outputs.size() == t.parity.stages.size() + 1);
  torch::NoGradGuard no_grad;
  for (const auto& kv : outputs) {
    const std::string cut = kv.key().toStringRef();
    INFO("cut " << cut);
    const at::Tensor want = kv.value().toTensor();
    const at::Tensor got = cut == "logits" ? model->forward(x) : model->forward_until(x, cut);
    CHECK(got.sizes() == want.sizes());
    if (got.sizes() == want.sizes()) CHECK(relative_difference(got, want) <= 1e-5);
  }
}

}  // namespace

TEST_CASE("backbones have torchvision's parameter counts", "[backbones]") {
  INFO("the reference is Debian's python3-torchvision; tools/setup.sh installs it");
  REQUIRE(python_has("torchvision"));
  const auto twins = torchvision_twins();
  CHECK(twins.size() >= 13);  // every backbone the build has, read from the plugins' descriptors
  for (const auto& t : twins) {
    INFO(t.name);
    const auto py = run_command("/usr/bin/python3 " + source_dir() + "/tests/parity/torchvision_reference.py count " +
                                t.parity.torchvision);
    INFO(py.output);
    REQUIRE(py.exit_code == 0);
    auto m = build(t.name, 3, t.input_size, 1000);
    std::int64_t n = 0;
    for (const auto& p : m->module()->parameters()) n += p.numel();
    CHECK(n == std::stoll(py.output));
  }
}

TEST_CASE("backbones equal torchvision on the same weights, at every cut point their descriptors name",
          "[backbones][parity]") {
  INFO("the reference is Debian's python3-torchvision; tools/setup.sh installs it");
  REQUIRE(python_has("torchvision"));
  for (const auto& t : torchvision_twins()) {
    // About a quarter of the default input: small enough to be quick, large enough for every stage.
    const std::int64_t size = std::max<std::int64_t>(32, t.input_size * 2 / 7);
    check_parity(t, size, 3, "replicate");
  }
}

TEST_CASE("1-channel inputs: replicate and adapt agree with torchvision", "[backbones][parity]") {
  INFO("the reference is Debian's python3-torchvision; tools/setup.sh installs it");
  REQUIRE(python_has("torchvision"));
  for (const auto& [name, size, mode] :
       std::vector<std::tuple<std::string, std::int64_t, std::string>>{{"resnet34", 48, "replicate"},
                                                                       {"resnet18", 64, "adapt"},
                                                                       {"vgg16", 32, "adapt"},
                                                                       {"inception_v3", 107, "replicate"},
                                                                       {"mobilenet_v3_large", 48, "adapt"}}) {
    for (const auto& t : torchvision_twins())
      if (t.name == name) check_parity(t, size, 1, mode);
  }
}

TEST_CASE("weight import reports missing, unexpected and mismatched keys by name", "[backbones]") {
  INFO("the reference is Debian's python3-torchvision; tools/setup.sh installs it");
  REQUIRE(python_has("torchvision"));
  TempDir d;
  REQUIRE(run_command("/usr/bin/python3 " + source_dir() + "/tools/export_torchvision_weights.py resnet18 " +
                      d.file("r18.pt") + " --seed 1")
              .exit_code == 0);
  SECTION("a 1000-class file into a 7-class model: strict fails naming the head, non-strict loads the rest") {
    auto model = build("resnet18", 3, 64, 7);
    CHECK_THROWS_WITH(load_state_dict_file(*model->module(), d.file("r18.pt"), true),
                      Contains("does not fit the model") && Contains("shape mismatch: fc.bias, fc.weight") &&
                          Contains("strict: false loads what fits"));
    auto r = load_state_dict_file(*model->module(), d.file("r18.pt"), false);
    CHECK(r.mismatched == std::vector<std::string>({"fc.bias", "fc.weight"}));
    CHECK(r.loaded.size() == 122 - 2);
  }
  SECTION("another architecture's file") {
    auto model = build("vgg16", 3, 32, 7);
    CHECK_THROWS_WITH(load_state_dict_file(*model->module(), d.file("r18.pt"), true),
                      Contains("missing: classifier.0.bias") && Contains("unexpected: bn1.bias"));
  }
  SECTION("an OrderedDict reads (and is checked like any dict); a non-state-dict file gives the fix") {
    write_file(d.file("od.py"),
               "import torch, collections\ntorch.save(collections.OrderedDict(a=torch.zeros(2), b=torch.ones(2)), '" +
                   d.file("od.pt") + "')\n");
    REQUIRE(run_command("/usr/bin/python3 " + d.file("od.py")).exit_code == 0);
    auto model = build("resnet18", 3, 64, 7);
    CHECK_THROWS_WITH(load_state_dict_file(*model->module(), d.file("od.pt"), true),
                      Contains("does not fit the model") && Contains("unexpected: a, b"));
    write_file(d.file("junk.pt"), "not a zip");
    CHECK_THROWS_WITH(load_state_dict_file(*model->module(), d.file("junk.pt"), true),
                      Contains("junk.pt' is not a state dict"));
    CHECK_THROWS_WITH(load_state_dict_file(*model->module(), d.file("none.pt"), true), Contains("none.pt' not found"));
    REQUIRE(run_command("/usr/bin/python3 " + source_dir() + "/tools/export_torchvision_weights.py --resave " +
                        d.file("od.pt") + " " + d.file("plain.pt"))
                .exit_code == 0);
    CHECK(load_pickle(d.file("plain.pt")).toGenericDict().size() == 2);
  }
}

TEST_CASE("a backbone cut at a stage builds nothing past it, and a whole weights file loads into it", "[backbones]") {
  INFO("the reference is Debian's python3-torchvision; tools/setup.sh installs it");
  REQUIRE(python_has("torchvision"));
  struct Case {
    const char* type;
    const char* cut;
    const char* past;  ///< a stage past the cut
    std::vector<std::string> left_out;
    const char* torchvision_filter;  ///< Python: the names torchvision's model keeps before the cut
  };
  const std::vector<Case> cases = {
      {"resnet18", "layer2", "layer4", {"layer3", "layer4", "fc"}, "not n.startswith(('layer3', 'layer4', 'fc'))"},
      {"vgg16", "block3_pool", "block4_conv1", {}, "n.startswith('features.') and int(n.split('.')[1]) <= 16"},
      {"alexnet", "pool5", "fc6", {"classifier"}, "n.startswith('features.')"}};
  for (const auto& c : cases) {
    INFO(c.type << " cut at " << c.cut);
    auto m = build(c.type, 3, 64, 1000, "replicate", c.cut);
    std::int64_t n = 0;
    for (const auto& p : m->module()->parameters()) n += p.numel();
    const auto py =
        run_command("/usr/bin/python3 -c \"import torchvision; m = torchvision.models." +
                    std::string(c.type == std::string("resnet18") ? "resnet18" : c.type) +
                    "(); print(sum(p.numel() for n, p in m.named_parameters() if " + c.torchvision_filter + "))\"");
    REQUIRE(py.exit_code == 0);
    CHECK(n == std::stoll(py.output));
    if (!c.left_out.empty()) CHECK(m->left_out() == c.left_out);
    CHECK_NOTHROW(m->forward_until(torch::zeros({1, 3, 64, 64}), c.cut));
    CHECK_THROWS_WITH(m->forward_until(torch::zeros({1, 3, 64, 64}), c.past),
                      Contains("built up to its cut '" + std::string(c.cut) + "'") && Contains(c.past));
  }
  // VGG16's slots past block3_pool are named by torchvision's indices, so a weights file's keys match.
  const auto vgg = build("vgg16", 3, 64, 1000, "replicate", "block3_pool")->left_out();
  CHECK(vgg.front() == "features.17");
  CHECK(vgg.back() == "classifier");
  // A whole resnet18 file, strict: the keys past the cut are unused (never read), not unexpected;
  // the cut model's output at the cut equals the whole model's on the same weights.
  TempDir d;
  REQUIRE(run_command("/usr/bin/python3 " + source_dir() + "/tools/export_torchvision_weights.py resnet18 " +
                      d.file("r18.pt") + " --seed 3")
              .exit_code == 0);
  auto cut = build("resnet18", 3, 64, 1000, "replicate", "layer2");
  auto whole = build("resnet18", 3, 64, 1000);
  const auto r = load_state_dict_file(*cut->module(), d.file("r18.pt"), true, cut->left_out());
  CHECK(r.loaded.size() == 60);  // stem, layer1 and layer2: 30 parameters, 30 BN buffers
  CHECK(r.unused.size() == 122 - 60);
  CHECK(r.unexpected.empty());
  load_state_dict_file(*whole->module(), d.file("r18.pt"), true);
  cut->module()->eval(), whole->module()->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::randn({2, 3, 64, 64});
  CHECK(torch::equal(cut->forward_until(x, "layer2"), whole->forward_until(x, "layer2")));
}

TEST_CASE("a .pth saved the PyTorch way (an OrderedDict) loads like a plain dict", "[backbones]") {
  INFO("the reference is Debian's python3-torchvision; tools/setup.sh installs it");
  REQUIRE(python_has("torchvision"));
  TempDir d;
  // What users download: torch.save(model.state_dict(), path), an OrderedDict with _metadata.
  const std::string script =
      "import torch, torchvision; torch.manual_seed(1); m = torchvision.models.resnet18(num_classes=7);"
      "torch.save(m.state_dict(), '" +
      d.file("ordered.pth") +
      "');"
      "torch.save(dict(m.state_dict()), '" +
      d.file("plain.pt") +
      "');"
      "torch.save(m.state_dict(), '" +
      d.file("legacy.pth") + "', _use_new_zipfile_serialization=False)";
  auto py = run_command("/usr/bin/python3 -c \"" + script + "\"");
  INFO(py.output);
  REQUIRE(py.exit_code == 0);
  auto a = build("resnet18", 3, 64, 7), b = build("resnet18", 3, 64, 7);
  const auto ra = load_state_dict_file(*a->module(), d.file("ordered.pth"), true);
  const auto rb = load_state_dict_file(*b->module(), d.file("plain.pt"), true);
  CHECK(ra.loaded.size() == rb.loaded.size());
  CHECK(ra.missing.empty());
  const auto pa = a->module()->named_parameters(), pb = b->module()->named_parameters();
  for (const auto& p : pa) CHECK(at::equal(p.value(), pb[p.key()]));
  const auto ba = a->module()->named_buffers(), bb = b->module()->named_buffers();
  for (const auto& x : ba) CHECK(at::equal(x.value(), bb[x.key()]));
  // The pre-1.6 format is refused with the way out.
  CHECK_THROWS_WITH(load_state_dict_file(*a->module(), d.file("legacy.pth"), true),
                    Catch::Matchers::Contains("legacy.pth' is not a state dict trex can read") &&
                        Catch::Matchers::Contains("--resave"));
}

// --- resnet_cifar: He et al.'s small-image ResNets against a torch.nn twin written from the paper ----------

namespace {

struct CifarNet {
  std::vector<std::int64_t> widths, blocks;
  std::string shortcut;
  std::int64_t channels, classes;
  std::string json() const {
    return nlohmann::json{
        {"widths", widths}, {"blocks", blocks}, {"shortcut", shortcut}, {"channels", channels}, {"classes", classes}}
        .dump();
  }
  Node node(bool zero_init = false) const {
    Node n = Node::map();
    n.set("type", Node::scalar("resnet_cifar"));
    n.set("widths", Node::from_value(widths));
    n.set("blocks", Node::from_value(blocks));
    n.set("shortcut", Node::scalar(shortcut));
    n.set("zero_init_residual", Node::scalar(zero_init ? "true" : "false"));
    return n;
  }
};

std::string cifar_reference(const std::string& args) {
  const auto py = run_command("/usr/bin/python3 " + source_dir() + "/tests/parity/resnet_cifar_reference.py " + args);
  INFO(py.output);
  REQUIRE(py.exit_code == 0);
  return py.output;
}

std::int64_t parameter_count(Model& m) {
  std::int64_t n = 0;
  for (const auto& p : m.module()->parameters()) n += p.numel();
  return n;
}

}  // namespace

TEST_CASE("resnet_cifar: the paper's parameter counts, equal to the torch.nn twin's", "[backbones]") {
  INFO("the reference is Debian's python3-torch; tools/setup.sh installs it");
  REQUIRE(python_has("torch"));
  // He et al., table 6: ResNet-20 0.27 M, ResNet-56 0.85 M (CIFAR-10, option A shortcuts).
  for (const auto& [depth, lo, hi] : std::vector<std::tuple<std::int64_t, double, double>>{
           {20, 0.265e6, 0.275e6}, {32, 0.46e6, 0.47e6}, {56, 0.845e6, 0.855e6}}) {
    INFO("resnet" << depth);
    const std::int64_t n = (depth - 2) / 6;
    Node preset = Node::map();
    preset.set("type", Node::scalar("resnet" + std::to_string(depth)));
    auto m = build_node(preset, 3, 32, 10);
    const auto count = parameter_count(*m);
    CHECK(count ==
          std::stoll(cifar_reference("count '" + CifarNet{{16, 32, 64}, {n, n, n}, "pad", 3, 10}.json() + "'")));
    CHECK(static_cast<double>(count) >= lo);
    CHECK(static_cast<double>(count) <= hi);
  }
  const CifarNet wide{{32, 64, 128}, {2, 1, 1}, "projection", 1, 10};
  CHECK(parameter_count(*build_node(wide.node(), 1, 28, 10)) ==
        std::stoll(cifar_reference("count '" + wide.json() + "'")));
}

TEST_CASE("resnet_cifar equals its torch.nn twin on the same weights at every cut point", "[backbones][parity]") {
  INFO("the reference is Debian's python3-torch; tools/setup.sh installs it");
  REQUIRE(python_has("torch"));
  for (const auto& [net, size] : std::vector<std::pair<CifarNet, std::int64_t>>{
           {{{16, 32, 64}, {3, 3, 3}, "pad", 3, 10}, 32},          // ResNet-20
           {{{32, 64, 128}, {1, 2, 1}, "projection", 1, 7}, 28},   // odd sizes after the strides: 28, 14, 7
           {{{8, 16, 32, 48}, {1, 1, 1, 1}, "pad", 1, 5}, 28}}) {  // an odd channel increase: 32 -> 48 pads 8 and 8
    INFO(net.json() << " at " << size << " px");
    TempDir d;
    cifar_reference("outputs '" + net.json() + "' " + std::to_string(size) + " " + d.str());
    auto model = build_node(net.node(), net.channels, size, net.classes);
    model->module()->eval();
    const auto report = load_state_dict_file(*model->module(), d.file("weights.pt"), true);
    CHECK(report.missing.empty());
    CHECK(report.unexpected.empty());
    const at::Tensor x = load_pickle(d.file("input.pt")).toTensor();
    auto outputs = load_pickle(d.file("outputs.pt")).toGenericDict();
    CHECK(outputs.size() == net.widths.size() + 3);  // stem, each layer, avgpool, logits
    torch::NoGradGuard no_grad;
    for (const auto& kv : outputs) {
      const std::string cut = kv.key().toStringRef();
      INFO("cut " << cut);
      const at::Tensor want = kv.value().toTensor();
      const at::Tensor got = cut == "logits" ? model->forward(x) : model->forward_until(x, cut);
      REQUIRE(got.sizes() == want.sizes());
      CHECK(relative_difference(got, want) <= 1e-5);
    }
  }
}

TEST_CASE("resnet_cifar: zero-init residuals, cuts, and bad shapes named", "[backbones]") {
  const CifarNet net{{16, 32}, {2, 2}, "projection", 1, 10};
  auto zero = build_node(net.node(true), 1, 28, 10);
  std::int64_t zeroed = 0;
  for (const auto& p : zero->module()->named_parameters())
    if (p.key().find(".bn2.weight") != std::string::npos) {
      CHECK(p.value().abs().sum().item<double>() == 0);
      ++zeroed;
    }
  CHECK(zeroed == 4);
  // Every block starts as the identity: the output of layer1 is its input (already non-negative after the stem).
  zero->module()->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::randn({2, 1, 28, 28});
  CHECK(torch::allclose(zero->forward_until(x, "layer1"), zero->forward_until(x, "stem")));

  auto cut = build_node(net.node(), 1, 28, 10, "layer1");
  CHECK(cut->left_out() == std::vector<std::string>{"layer2", "fc"});
  CHECK(cut->stages() == std::vector<std::string>{"stem", "layer1", "layer2", "avgpool", "fc"});
  CHECK_THROWS_WITH(cut->forward_until(x, "layer2"), Contains("built up to its cut 'layer1'"));

  Node bad = net.node();
  bad.set("blocks", Node::from_value(std::vector<std::int64_t>{2}));
  CHECK_THROWS_WITH(build_node(bad, 1, 28, 10), Contains("blocks has 1 entries but widths has 2"));
  bad.set("blocks", Node::from_value(std::vector<std::int64_t>{}));
  bad.set("depth", Node::scalar("21"));
  CHECK_THROWS_WITH(build_node(bad, 1, 28, 10), Contains("depth must be 6n+2"));
}
