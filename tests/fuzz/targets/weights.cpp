// The weights and checkpoint load path on any bytes (a downloaded .pth, a
// checkpoint from another machine): a clear error or a load, never a crash.
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "../fuzz_target.h"
#include "trex/model/checkpoint.h"
#include "trex/model/weights.h"

TREX_FUZZ_TARGET(weights) {
  static torch::nn::Sequential model(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3)), torch::nn::Linear(2, 2));
  const std::vector<char> bytes(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size);
  try {
    trex::load_state_dict(*model, bytes, "fuzz.pth", false);
  } catch (const std::exception&) {}
  try {
    trex::TrainerState state;
    trex::load_checkpoint_bytes(bytes.data(), bytes.size(), "fuzz.pt", *model, nullptr, &state);
  } catch (const std::exception&) {}
}
