// Backbones against torchvision 0.14 (Debian's python3-torchvision): parameter
// counts, and outputs at every named cut point on the same weights.
#include <torch/serialize.h>
#include <torch/torch.h>

#include "helpers.h"
#include "trex/model/weights.h"
#include "trex/plugin/model.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

std::shared_ptr<Model> build(const std::string& type, std::int64_t channels, std::int64_t size, std::int64_t classes,
                             const std::string& channel_mode = "replicate") {
  Node n = Node::map();
  n.set("type", Node::scalar(type));
  n.set("channel_mode", Node::scalar(channel_mode));
  Diagnostics diag;
  auto r = built_plugins().resolve(Kind::Model, n, "model", diag);
  REQUIRE(r);
  return built_plugins().create_as<Model>(*r, {channels, size, size, classes, 0});
}

c10::IValue load_pickle(const std::string& path) {
  const std::string bytes = read_file(path);
  return torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
}

bool have_torchvision() { return run_command("/usr/bin/python3 -c 'import torchvision'").exit_code == 0; }

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  return (got - want).abs().max().item<double>() / std::max(1e-12, want.abs().max().item<double>());
}

}  // namespace

TEST_CASE("backbones have torchvision's parameter counts", "[backbones]") {
  // torchvision 0.14 counts (1000 classes), measured with Debian's python3-torchvision.
  const std::map<std::string, std::int64_t> counts{{"vgg16", 138357544}, {"vgg16_bn", 138365992}, {"vgg19", 143667240},
                                                   {"vgg19_bn", 143678248}, {"resnet18", 11689512}, {"resnet34", 21797672},
                                                   {"resnet50", 25557032},
                                                   // inception_v3(aux_logits=False): the auxiliary head only trains
                                                   {"inception_v3", 23834568}, {"alexnet", 61100840},
                                                   {"mobilenet_v2", 3504872}, {"mobilenet_v3_small", 2542856},
                                                   {"mobilenet_v3_large", 5483032}, {"googlenet", 6624904}};
  for (const auto& [name, want] : counts) {
    INFO(name);
    auto m = build(name, 3, name == "inception_v3" ? 299 : 224, 1000);
    std::int64_t n = 0;
    for (const auto& p : m->module()->parameters()) n += p.numel();
    CHECK(n == want);
  }
}

TEST_CASE("backbones equal torchvision on the same weights, at every cut point", "[backbones][parity]") {
  if (!have_torchvision()) {
    WARN("skipped: /usr/bin/python3 has no torchvision (tools/setup.sh installs python3-torchvision)");
    return;
  }
  struct Case {
    std::string name;
    std::int64_t size, channels;
    std::string mode;
  };
  for (const Case& c : {Case{"vgg16", 32, 3, "replicate"}, Case{"vgg16_bn", 32, 3, "replicate"}, Case{"vgg19", 40, 3, "replicate"},
                        Case{"vgg19_bn", 32, 3, "replicate"}, Case{"resnet18", 64, 3, "replicate"},
                        Case{"resnet34", 48, 1, "replicate"}, Case{"resnet50", 64, 3, "replicate"},
                        Case{"resnet18", 64, 1, "adapt"}, Case{"vgg16", 32, 1, "adapt"},
                        Case{"inception_v3", 80, 3, "replicate"}, Case{"inception_v3", 107, 1, "replicate"},
                        Case{"alexnet", 64, 3, "replicate"}, Case{"mobilenet_v2", 32, 3, "replicate"},
                        Case{"mobilenet_v3_small", 32, 3, "replicate"}, Case{"mobilenet_v3_large", 48, 1, "adapt"},
                        Case{"googlenet", 64, 3, "replicate"}}) {
    INFO(c.name << " " << c.size << "x" << c.size << "x" << c.channels << " " << c.mode);
    TempDir d;
    auto py = run_command("/usr/bin/python3 " + source_dir() + "/tests/parity/torchvision_reference.py " + c.name + " " +
                          std::to_string(c.size) + " " + std::to_string(c.channels) + " " + d.str());
    INFO(py.output);
    REQUIRE(py.exit_code == 0);
    auto model = build(c.name, c.channels, c.size, 7, c.mode);
    model->module()->eval();
    auto report = load_state_dict_file(*model->module(), d.file("weights.pt"), true);
    CHECK(report.missing.empty());
    CHECK(report.adapted.size() == (c.mode == "adapt" && c.channels == 1 ? 1u : 0u));
    const at::Tensor x = load_pickle(d.file("input.pt")).toTensor();
    auto outputs = load_pickle(d.file("outputs.pt")).toGenericDict();
    torch::NoGradGuard no_grad;
    for (const auto& kv : outputs) {
      const std::string cut = kv.key().toStringRef();
      INFO("cut " << cut);
      const at::Tensor want = kv.value().toTensor();
      const at::Tensor got = cut == "logits" ? model->forward(x) : model->forward_until(x, cut);
      REQUIRE(got.sizes() == want.sizes());
      CHECK(relative_error(got, want) <= 1e-5);
    }
  }
}

TEST_CASE("weight import reports missing, unexpected and mismatched keys by name", "[backbones]") {
  if (!have_torchvision()) {
    WARN("skipped: /usr/bin/python3 has no torchvision");
    return;
  }
  TempDir d;
  REQUIRE(run_command("/usr/bin/python3 " + source_dir() + "/tools/export_torchvision_weights.py resnet18 " + d.file("r18.pt") +
                      " --seed 1").exit_code == 0);
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
    write_file(d.file("od.py"), "import torch, collections\ntorch.save(collections.OrderedDict(a=torch.zeros(2), b=torch.ones(2)), '" +
                                    d.file("od.pt") + "')\n");
    REQUIRE(run_command("/usr/bin/python3 " + d.file("od.py")).exit_code == 0);
    auto model = build("resnet18", 3, 64, 7);
    CHECK_THROWS_WITH(load_state_dict_file(*model->module(), d.file("od.pt"), true),
                      Contains("does not fit the model") && Contains("unexpected: a, b"));
    write_file(d.file("junk.pt"), "not a zip");
    CHECK_THROWS_WITH(load_state_dict_file(*model->module(), d.file("junk.pt"), true), Contains("junk.pt' is not a state dict"));
    CHECK_THROWS_WITH(load_state_dict_file(*model->module(), d.file("none.pt"), true), Contains("none.pt' not found"));
    REQUIRE(run_command("/usr/bin/python3 " + source_dir() + "/tools/export_torchvision_weights.py --resave " + d.file("od.pt") +
                        " " + d.file("plain.pt")).exit_code == 0);
    CHECK(load_pickle(d.file("plain.pt")).toGenericDict().size() == 2);
  }
}

TEST_CASE("a .pth saved the PyTorch way (an OrderedDict) loads like a plain dict", "[backbones]") {
  if (!have_torchvision()) {
    WARN("skipped: /usr/bin/python3 has no torchvision (tools/setup.sh installs python3-torchvision)");
    return;
  }
  TempDir d;
  // What users download: torch.save(model.state_dict(), path), an OrderedDict with _metadata.
  const std::string script =
      "import torch, torchvision; torch.manual_seed(1); m = torchvision.models.resnet18(num_classes=7);"
      "torch.save(m.state_dict(), '" + d.file("ordered.pth") + "');"
      "torch.save(dict(m.state_dict()), '" + d.file("plain.pt") + "');"
      "torch.save(m.state_dict(), '" + d.file("legacy.pth") + "', _use_new_zipfile_serialization=False)";
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
