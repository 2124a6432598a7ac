// torchvision ColorJitter: brightness, contrast, saturation and hue factors,
// each drawn uniformly, applied in a random order. Works on 8-bit or [0, 1]
// float RGB (gray images skip saturation and hue).
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include <opencv2/imgproc.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_color_jitter {
using namespace trex;

class ColorJitter : public Augmentation {
 public:
  ColorJitter(double b, double c, double s, double h) : b_(b), c_(c), s_(s), h_(h) {}
  cv::Mat apply(const cv::Mat& image, Rng& rng) const override {
    if (b_ == 0 && c_ == 0 && s_ == 0 && h_ == 0) return image;
    const double scale = image.depth() == CV_8U ? 1.0 / 255 : 1.0;
    cv::Mat x;
    image.convertTo(x, CV_32F, scale);
    auto factor = [&](double j) { return std::uniform_real_distribution<double>(std::max(0.0, 1 - j), 1 + j)(rng); };
    std::array<int, 4> order{0, 1, 2, 3};
    std::shuffle(order.begin(), order.end(), rng);
    const bool rgb = x.channels() == 3;
    for (int op : order) {
      if (op == 0 && b_ > 0) x.convertTo(x, -1, factor(b_));
      if (op == 1 && c_ > 0) {
        const double f = factor(c_);
        const double mean = cv::mean(gray(x))[0];
        x.convertTo(x, -1, f, (1 - f) * mean);  // every channel towards the gray mean
      }
      if (op == 2 && s_ > 0 && rgb) {
        const double f = factor(s_);
        cv::Mat g;
        cv::cvtColor(gray(x), g, cv::COLOR_GRAY2RGB);
        cv::addWeighted(x, f, g, 1 - f, 0, x);
      }
      if (op == 3 && h_ > 0 && rgb) {
        const double shift = std::uniform_real_distribution<double>(-h_, h_)(rng) * 360.0;
        cv::Mat hsv;
        cv::cvtColor(x, hsv, cv::COLOR_RGB2HSV);
        std::vector<cv::Mat> ch;
        cv::split(hsv, ch);
        for (auto it = ch[0].begin<float>(); it != ch[0].end<float>(); ++it) {
          double v = std::fmod(*it + shift, 360.0);
          *it = static_cast<float>(v < 0 ? v + 360.0 : v);
        }
        cv::merge(ch, hsv);
        cv::cvtColor(hsv, x, cv::COLOR_HSV2RGB);
      }
      cv::threshold(x, x, 1.0, 1.0, cv::THRESH_TRUNC);  // torchvision clamps after each op
      x = cv::max(x, 0.0);
    }
    cv::Mat out;
    x.convertTo(out, image.type(), 1.0 / scale);
    return out;
  }

 private:
  static cv::Mat gray(const cv::Mat& x) {
    if (x.channels() == 1) return x;
    cv::Mat g;
    cv::cvtColor(x, g, cv::COLOR_RGB2GRAY);
    return g;
  }
  double b_, c_, s_, h_;
};

const Descriptor& descriptor() {
  static const Descriptor d = make_descriptor(
      Kind::Augmentation, "color_jitter", "1.0.0",
      "random brightness, contrast, saturation and hue, in random order (torchvision ColorJitter)",
      {ParamSpec("brightness", ParamType::Float, "factor in [max(0, 1 - b), 1 + b]").def(0.0).at_least(0),
       ParamSpec("contrast", ParamType::Float, "factor in [max(0, 1 - c), 1 + c]").def(0.0).at_least(0),
       ParamSpec("saturation", ParamType::Float, "factor in [max(0, 1 - s), 1 + s]").def(0.0).at_least(0),
       ParamSpec("hue", ParamType::Float, "shift in [-h, h] turns of the colour wheel").def(0.0).range(0, 0.5)});
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<ColorJitter>(p.get_float("brightness"), p.get_float("contrast"), p.get_float("saturation"),
                                       p.get_float("hue"));
}

}  // namespace trex_color_jitter

TREX_PLUGIN(trex_color_jitter::descriptor, trex_color_jitter::create)
