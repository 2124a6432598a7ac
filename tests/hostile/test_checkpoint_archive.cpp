// Checkpoints are LibTorch archives whose code LibTorch compiles: trex checks
// that code (declarations only) and every tensor's bounds before use, and
// still reads every checkpoint it writes, whatever the optimizer.
#include <caffe2/serialize/inline_container.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim.h>

#include "../helpers.h"
#include "trex/train/adadelta.h"
#include "trex/model/checkpoint.h"
#include "trex/model/script_archive.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

torch::nn::Sequential small_model() {
  return torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3)), torch::nn::BatchNorm2d(2),
                               torch::nn::Flatten(), torch::nn::Linear(8, 3));
}

std::unique_ptr<torch::optim::Optimizer> optimizer_of(const std::string& type, torch::nn::Sequential& m) {
  if (type == "sgd")
    return std::make_unique<torch::optim::SGD>(m->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  if (type == "adam") return std::make_unique<torch::optim::Adam>(m->parameters(), torch::optim::AdamOptions(0.1));
  if (type == "adamw") return std::make_unique<torch::optim::AdamW>(m->parameters(), torch::optim::AdamWOptions(0.1));
  if (type == "rmsprop")
    return std::make_unique<torch::optim::RMSprop>(m->parameters(),
                                                   torch::optim::RMSpropOptions(0.1).momentum(0.5).centered(true));
  return std::make_unique<Adadelta>(
      std::vector<torch::optim::OptimizerParamGroup>{torch::optim::OptimizerParamGroup(m->parameters())},
      AdadeltaOptions(1.0));
}

/// The archive at `path` rewritten with `extra` appended to its record ending in `suffix`.
void append_to_record(const std::string& path, const std::string& suffix, const std::string& extra) {
  caffe2::serialize::PyTorchStreamReader reader(path);
  std::string out;
  {
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t n) {
      out.append(static_cast<const char*>(data), n);
      return n;
    });
    for (const auto& name : reader.getAllRecords()) {
      auto [ptr, size] = reader.getRecord(name);
      std::string bytes(static_cast<const char*>(ptr.get()), size);
      if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        bytes += extra;
      if (name != "version" && name != ".data/version") writer.writeRecord(name, bytes.data(), bytes.size());
    }
    writer.writeEndOfFile();
  }
  write_file(path, out);
}

}  // namespace

TEST_CASE("checkpoints of every optimizer pass the archive check and load back", "[hostile][checkpoint]") {
  TempDir d;
  for (const char* type : {"sgd", "adam", "adamw", "rmsprop", "adadelta"}) {
    INFO(type);
    auto model = small_model();
    auto opt = optimizer_of(type, model);
    model->forward(torch::randn({4, 1, 4, 4})).sum().backward();
    opt->step();
    TrainerState state;
    state.epoch = 2;
    save_checkpoint(d.file("c.pt"), *model, opt.get(), state);
    auto again = small_model();
    auto opt2 = optimizer_of(type, again);
    TrainerState back;
    REQUIRE_NOTHROW(load_checkpoint(d.file("c.pt"), *again, opt2.get(), &back));
    CHECK(back.epoch == 2);
    for (const auto& p : model->named_parameters()) CHECK(torch::equal(p.value(), again->named_parameters()[p.key()]));
  }
}

TEST_CASE("a checkpoint with code beyond declarations is refused before LibTorch compiles it",
          "[hostile][checkpoint]") {
  TempDir d;
  auto model = small_model();
  save_checkpoint(d.file("c.pt"), *model, nullptr, TrainerState{});
  append_to_record(d.file("c.pt"), "code/__torch__.py", "  def forward(self) -> int:\n    return 1\n");
  CHECK_THROWS_WITH(
      load_checkpoint(d.file("c.pt"), *model, nullptr, nullptr),
      Contains("c.pt': record") && Contains("code/__torch__.py line") && Contains("is not a declaration trex writes"));
}

TEST_CASE("declaration lines: what OutputArchive writes, and nothing else", "[hostile][checkpoint]") {
  for (const char* ok :
       {"class Module(Module):", "  __parameters__ = [\"weight\", \"bias\", ]", "  __buffers__ = []",
        "  __annotations__ = []", "  __annotations__[\"0x5608101903b0\"] = __torch__.___torch_mangle_10.Module",
        "  betas : Tuple[float, float]", "  model_tensors : Dict[str, Tensor]", "  keys : List[str]",
        "  weight : Optional[Tensor]", ""}) {
    INFO(ok);
    CHECK(is_declaration_line(ok));
  }
  for (const char* bad :
       {"import os", "  def forward(self):", "  x : Tensor = torch.zeros(1)", "class Module(Module): pass",
        "  __annotations__[\"a\\\"b\"] = Tensor",
        "  x : List[List[List[List[List[List[List[List[List[List[int]]]]]]]]]]", "    return 1", "  x : Tensorx"}) {
    INFO(bad);
    CHECK_FALSE(is_declaration_line(bad));
  }
}
