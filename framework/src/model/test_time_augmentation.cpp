#include "trex/model/test_time_augmentation.h"

#include <stdexcept>

namespace trex {

std::vector<at::Tensor> tta_views(const TtaOptions& tta, const at::Tensor& images) {
  std::vector<at::Tensor> views{images};
  if (!tta.enabled) return views;
  if (const std::int64_t t = tta.translate; t > 0) {
    const std::int64_t h = images.size(2), w = images.size(3);
    if (t >= h || t >= w)
      throw std::runtime_error("train.tta.translate " + std::to_string(t) + " needs images larger than that; got " +
                               std::to_string(h) + "x" + std::to_string(w));
    const at::Tensor padded = at::reflection_pad2d(images, {t, t, t, t});
    views.push_back(padded.slice(2, 2 * t, 2 * t + h).slice(3, 2 * t, 2 * t + w));  // content moved up-left
    views.push_back(padded.slice(2, 0, h).slice(3, 0, w));                          // and down-right
  }
  if (tta.flip) {
    const std::size_t n = views.size();
    for (std::size_t i = 0; i < n; ++i) views.push_back(views[i].flip({3}));
  }
  return views;
}

at::Tensor tta_logits(const TtaOptions& tta, const at::Tensor& images,
                      const std::function<at::Tensor(const at::Tensor&)>& logits_of) {
  if (!tta.enabled || images.size(0) == 0) return logits_of(images);
  const auto views = tta_views(tta, images);
  // One forward over all views at once: bigger batches run faster than several small ones.
  const at::Tensor all = logits_of(at::cat(views, 0).contiguous(images.suggest_memory_format()));
  return all.view({static_cast<std::int64_t>(views.size()), images.size(0), -1}).mean(0);
}

std::string tta_name(const TtaOptions& tta) {
  if (!tta.enabled || (!tta.flip && tta.translate == 0)) return "off";
  const std::string shift = tta.translate > 0 ? "translate" + std::to_string(tta.translate) : "";
  return tta.flip ? (shift.empty() ? "flip" : "flip+" + shift) : shift;
}

}  // namespace trex
