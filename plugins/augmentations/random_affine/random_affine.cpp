// Keras ImageDataGenerator's geometric augmentations as one affine warp:
// rotation, width/height shift, shear and zoom are drawn as Keras draws them
// (keras_preprocessing.image.ImageDataGenerator.get_random_transform) and
// composed as apply_affine_transform composes them (rotation . shift . shear
// . zoom, about the image centre), then applied in one cv::warpAffine with
// bilinear sampling (scipy's order=1) and Keras's fill modes.
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_random_affine {
using namespace trex;

struct Ranges {
  double rotation = 0;                       ///< degrees, uniform in [-r, r]
  double width_shift = 0, height_shift = 0;  ///< fraction of the size (< 1) or pixels (>= 1)
  double shear = 0;                          ///< degrees, uniform in [-s, s]
  double zoom_lo = 1, zoom_hi = 1;           ///< per-axis factors, uniform in [lo, hi]
  int border = cv::BORDER_REPLICATE;
  double cval = 0;
};

using Mat3 = cv::Matx33d;

class RandomAffine : public Augmentation {
 public:
  explicit RandomAffine(Ranges r) : r_(r) {}

  cv::Mat apply(const cv::Mat& image, Rng& rng) const override {
    const double h = image.rows, w = image.cols;
    auto uniform = [&](double lo, double hi) {
      return lo == hi ? lo : std::uniform_real_distribution<double>(lo, hi)(rng);
    };
    // Keras's draw order and units: tx moves rows (height), ty moves columns (width).
    const double theta = r_.rotation ? uniform(-r_.rotation, r_.rotation) * M_PI / 180 : 0;
    double tx = r_.height_shift ? uniform(-r_.height_shift, r_.height_shift) : 0;
    if (r_.height_shift < 1) tx *= h;
    double ty = r_.width_shift ? uniform(-r_.width_shift, r_.width_shift) : 0;
    if (r_.width_shift < 1) ty *= w;
    const double shear = r_.shear ? uniform(-r_.shear, r_.shear) * M_PI / 180 : 0;
    double zx = 1, zy = 1;
    if (r_.zoom_lo != 1 || r_.zoom_hi != 1) zx = uniform(r_.zoom_lo, r_.zoom_hi), zy = uniform(r_.zoom_lo, r_.zoom_hi);
    if (theta == 0 && tx == 0 && ty == 0 && shear == 0 && zx == 1 && zy == 1) return image;

    // In (row, col) coordinates, mapping output pixels to input pixels, as scipy.ndimage does.
    Mat3 t = Mat3::eye();
    if (theta != 0) t = t * Mat3(std::cos(theta), -std::sin(theta), 0, std::sin(theta), std::cos(theta), 0, 0, 0, 1);
    if (tx != 0 || ty != 0) t = t * Mat3(1, 0, tx, 0, 1, ty, 0, 0, 1);
    if (shear != 0) t = t * Mat3(1, -std::sin(shear), 0, 0, std::cos(shear), 0, 0, 0, 1);
    if (zx != 1 || zy != 1) t = t * Mat3(zx, 0, 0, 0, zy, 0, 0, 0, 1);
    const double ox = h / 2 - 0.5, oy = w / 2 - 0.5;
    t = Mat3(1, 0, ox, 0, 1, oy, 0, 0, 1) * t * Mat3(1, 0, -ox, 0, 1, -oy, 0, 0, 1);
    // OpenCV's (x = col, y = row): swap the axes of the map.
    const cv::Matx23d m(t(1, 1), t(1, 0), t(1, 2), t(0, 1), t(0, 0), t(0, 2));
    cv::Mat out;
    cv::warpAffine(image, out, m, image.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, r_.border,
                   cv::Scalar::all(r_.cval));
    return out;
  }

 private:
  Ranges r_;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    using T = ParamType;
    return make_descriptor(
        Kind::Augmentation, "random_affine", "1.0.0",
        "Keras ImageDataGenerator rotation / shift / shear / zoom as one affine warp, with Keras's fill modes",
        {ParamSpec("rotation", T::Float, "degrees: uniform in [-r, r] (Keras rotation_range)").def(0.0).range(0, 360),
         ParamSpec("width_shift", T::Float, "fraction of the width (< 1) or pixels (>= 1) (Keras width_shift_range)")
             .def(0.0)
             .at_least(0),
         ParamSpec("height_shift", T::Float, "fraction of the height (< 1) or pixels (>= 1) (Keras height_shift_range)")
             .def(0.0)
             .at_least(0),
         ParamSpec("shear", T::Float, "degrees: uniform in [-s, s] (Keras shear_range)").def(0.0).range(0, 89),
         ParamSpec("zoom", T::FloatList, "[z]: factors in [1 - z, 1 + z]; [lo, hi]: in [lo, hi] (Keras zoom_range)")
             .def(std::vector<double>{0.0}),
         ParamSpec("fill_mode", T::String, "outside the image: nearest, constant, reflect or wrap")
             .def(std::string("nearest"))
             .one_of({"nearest", "constant", "reflect", "wrap"}),
         ParamSpec("cval", T::Float, "the fill value for fill_mode constant").def(0.0)});
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  Ranges r;
  r.rotation = p.get_float("rotation");
  r.width_shift = p.get_float("width_shift");
  r.height_shift = p.get_float("height_shift");
  r.shear = p.get_float("shear");
  const auto zoom = p.get<std::vector<double>>("zoom");
  if (zoom.size() == 1) {
    if (zoom[0] < 0 || zoom[0] >= 1)
      throw std::invalid_argument("random_affine zoom [z] needs 0 <= z < 1, got " + std::to_string(zoom[0]));
    r.zoom_lo = 1 - zoom[0], r.zoom_hi = 1 + zoom[0];
  } else if (zoom.size() == 2 && zoom[0] > 0 && zoom[0] <= zoom[1]) {
    r.zoom_lo = zoom[0], r.zoom_hi = zoom[1];
  } else {
    throw std::invalid_argument("random_affine zoom takes [z] or [lo, hi] with 0 < lo <= hi");
  }
  const std::string& fill = p.get_string("fill_mode");
  r.border = fill == "constant"  ? cv::BORDER_CONSTANT
             : fill == "reflect" ? cv::BORDER_REFLECT
             : fill == "wrap"    ? cv::BORDER_WRAP
                                 : cv::BORDER_REPLICATE;
  r.cval = p.get_float("cval");
  return std::make_unique<RandomAffine>(r);
}

}  // namespace trex_random_affine

TREX_PLUGIN(trex_random_affine::descriptor, trex_random_affine::create)
