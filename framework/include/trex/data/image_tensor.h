#pragma once
// An augmented image (OpenCV's H x W x C, any depth) into the float C x H x W
// layout the model takes — one place, for the loader, predict and activations,
// with the shape checked before a byte is copied.
#include <string>

#include <ATen/core/Tensor.h>
#include <opencv2/core/mat.hpp>

#include "trex/plugin/dataset.h"

namespace trex {

/// Writes `image` as float CHW into `out` (shape.channels * height * width
/// floats); `what` names the image in the error when its shape is not `shape`.
void image_to_chw(const cv::Mat& image, const ImageShape& shape, float* out, const std::string& what);
/// The image as a float [C, H, W] tensor.
at::Tensor image_tensor(const cv::Mat& image, const ImageShape& shape, const std::string& what);

}  // namespace trex
