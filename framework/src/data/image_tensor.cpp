#include "trex/data/image_tensor.h"

#include <cstring>
#include <stdexcept>

#include <ATen/ops/empty.h>

namespace trex {

void image_to_chw(const cv::Mat& image, const ImageShape& shape, float* out, const std::string& what) {
  const std::int64_t c = shape.channels, h = shape.height, w = shape.width;
  if (image.channels() != c || image.rows != h || image.cols != w)
    throw std::runtime_error(what + " came out " + std::to_string(image.rows) + "x" + std::to_string(image.cols) + "x" +
                             std::to_string(image.channels()) + " after augmentation, expected " + std::to_string(h) +
                             "x" + std::to_string(w) + "x" + std::to_string(c) +
                             "; add a resize or crop so every image has one size");
  cv::Mat f;
  if (image.depth() == CV_32F)
    f = image;
  else
    image.convertTo(f, CV_32F);
  if (!f.isContinuous()) f = f.clone();
  const auto plane = static_cast<std::size_t>(h * w);
  const float* src = f.ptr<float>();
  if (c == 1) {
    std::memcpy(out, src, plane * sizeof(float));
    return;
  }
  for (std::size_t p = 0; p < plane; ++p)  // HWC -> CHW
    for (std::int64_t ch = 0; ch < c; ++ch)
      out[static_cast<std::size_t>(ch) * plane + p] =
          src[p * static_cast<std::size_t>(c) + static_cast<std::size_t>(ch)];
}

at::Tensor image_tensor(const cv::Mat& image, const ImageShape& shape, const std::string& what) {
  at::Tensor t = at::empty({shape.channels, shape.height, shape.width}, at::kFloat);
  image_to_chw(image, shape, t.data_ptr<float>(), what);
  return t;
}

}  // namespace trex
