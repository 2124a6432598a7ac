// OpenCV's handwritten digits sheet (Debian's opencv-doc): 5,000 20x20 digits,
// 500 per class, stored class by class in a 2000x1000 image.
#include <filesystem>

#include <opencv2/imgcodecs.hpp>

#include "trex/plugin/dataset.h"
#include "trex/plugin/export.h"

namespace trex_digits {
using namespace trex;

constexpr int kCell = 20;
constexpr int kPerClass = 500;
constexpr int kClasses = 10;

class DigitsDataset : public Dataset {
 public:
  explicit DigitsDataset(const std::string& path) {
    if (!std::filesystem::exists(path))
      throw std::runtime_error("digits sheet '" + path + "' not found; install opencv-doc or set data.path");
    sheet_ = cv::imread(path, cv::IMREAD_GRAYSCALE);
    if (sheet_.empty()) throw std::runtime_error(path + ": OpenCV could not decode the image");
    if (sheet_.cols != 100 * kCell || sheet_.rows != 50 * kCell)
      throw std::runtime_error(path + ": expected a 2000x1000 sheet of 20x20 digits, found " +
                               std::to_string(sheet_.cols) + "x" + std::to_string(sheet_.rows));
    const int per_row = sheet_.cols / kCell;
    for (int i = 0; i < kClasses * kPerClass; ++i) {
      labels_.push_back(i / kPerClass);
      cells_.push_back(cv::Rect((i % per_row) * kCell, (i / per_row) * kCell, kCell, kCell));
    }
  }
  std::vector<std::string> class_names() const override { return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}; }
  std::vector<std::string> splits() const override { return {"train"}; }
  const std::vector<std::int64_t>& labels(const std::string& split) const override {
    if (split != "train") throw std::invalid_argument("opencv_digits has only a train split");
    return labels_;
  }
  cv::Mat image(const std::string&, std::size_t index) const override { return sheet_(cells_.at(index)); }
  ImageShape shape() const override { return {1, kCell, kCell}; }

 private:
  cv::Mat sheet_;
  std::vector<std::int64_t> labels_;
  std::vector<cv::Rect> cells_;
};

const Descriptor& descriptor() {
  static const Descriptor d =
      make_descriptor(Kind::Dataset, "opencv_digits", "1.0.0",
                      "OpenCV's digits.png: 5,000 handwritten 20x20 digits, 500 per class (train split only)",
                      {ParamSpec("path", ParamType::String, "the digits sheet")
                           .def(std::string("/usr/share/doc/opencv-doc/examples/data/digits.png"))});
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<DigitsDataset>(p.get_string("path"));
}

}  // namespace trex_digits

TREX_PLUGIN(trex_digits::descriptor, trex_digits::create)
