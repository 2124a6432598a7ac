// The CIFAR record parser (both layouts, both CIFAR-100 label sets) and the
// class-name files. Oracle: one label and 3072 pixels per accepted record.
#include "../fuzz_target.h"
#include "datasets/cifar/cifar_format.h"

TREX_FUZZ_TARGET(cifar) {
  (void)trex_cifar::parse_names(trex::fuzz::text(data, size));
  for (const auto& layout : {trex_cifar::RecordLayout{1, 0, 10, 8}, trex_cifar::RecordLayout{2, 0, 20, 8},
                             trex_cifar::RecordLayout{2, 1, 100, 8}}) {
    trex::ByteSplit split;
    try {
      trex_cifar::parse_records(data, size, layout, "fuzz.bin", split);
    } catch (const std::runtime_error&) {
      continue;
    }
    if (split.pixels.size() != split.labels.size() * 3072) trex::fuzz::violated("pixels and labels disagree");
    for (auto label : split.labels)
      if (label < 0 || static_cast<std::size_t>(label) >= layout.classes) trex::fuzz::violated("a label out of range");
  }
}
