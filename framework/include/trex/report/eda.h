#pragma once
// `trex eda SPEC`: a look at a spec's dataset before training — sample grid
// with class names, image widths x heights, aspect ratios, class counts
// (all, and the rarest and commonest), per-channel intensities, and a summary.
#include <string>
#include <vector>

#include "trex/config/spec.h"

namespace trex::report {

struct EdaResult {
  std::string dir, html, summary;
  std::vector<std::string> images;
  std::size_t images_total = 0, images_measured = 0, sample_tiles = 0;
};

/// Sizes and intensities are measured on up to `max_images` images (a seeded
/// sample); counts use every label.
EdaResult write_eda(const ResolvedSpec& spec, const Registry& registry, const std::string& out_dir,
                    std::size_t max_images = 2000);

}  // namespace trex::report
