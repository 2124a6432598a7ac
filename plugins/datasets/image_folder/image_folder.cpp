// Images on disk: one sub-folder per class (ImageNet, Caltech, Stanford Dogs
// layouts), or a folder of images plus a CSV mapping id -> label (Kaggle's
// dog-breed layout: train/<id>.jpg + labels.csv with id,breed). Images of any
// size and channel count are decoded in the loader threads and resized.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image_header.h"
#include "label_csv.h"
#include "trex/plugin/dataset.h"
#include "trex/plugin/export.h"

namespace trex_image_folder {
using namespace trex;
namespace fs = std::filesystem;

struct ImageFolderOptions {
  std::string root;
  std::string layout = "folders";  ///< folders | csv
  std::string images = "train";    ///< csv: image folder under root
  std::string csv = "labels.csv";  ///< csv: file under root
  std::string id_column = "id", label_column = "breed", extension = ".jpg";
  std::int64_t height = 224, width = 224, channels = 3;
  std::string on_bad_image = "fail";  ///< fail | skip
  /// Images whose header states more pixels are refused by name (PIL's default limit).
  std::int64_t max_pixels = 89478485;
  bool reduced_decode = true;  ///< JPEGs decoded at 1/2, 1/4 or 1/8 size when that still covers the output
};

/// The whole file; throws an error naming it when it cannot be read.
std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : -1;
  std::vector<unsigned char> bytes(size > 0 ? static_cast<std::size_t>(size) : 0);
  if (size < 0 || !in.seekg(0) || !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw std::runtime_error(path + ": cannot read it (" + (fs::exists(path) ? "not a readable file" : "gone") +
                             "); set data.on_bad_image: skip to leave such files out");
  return bytes;
}

/// The IMREAD_REDUCED_* flag that decodes a JPEG of `size` at the smallest
/// 1/8, 1/4 or 1/2 scale (libjpeg's DCT scaling) that still covers `out`, so
/// the resize only has to finish the job; `flags` itself when none does.
int reduced_flags(int flags, const ImageSize& size, const cv::Size& out) {
  for (int scale : {8, 4, 2})
    if (size.width / scale >= static_cast<std::uint64_t>(out.width) &&
        size.height / scale >= static_cast<std::uint64_t>(out.height)) {
      if (scale == 8)
        return flags == cv::IMREAD_GRAYSCALE ? cv::IMREAD_REDUCED_GRAYSCALE_8 : cv::IMREAD_REDUCED_COLOR_8;
      if (scale == 4)
        return flags == cv::IMREAD_GRAYSCALE ? cv::IMREAD_REDUCED_GRAYSCALE_4 : cv::IMREAD_REDUCED_COLOR_4;
      return flags == cv::IMREAD_GRAYSCALE ? cv::IMREAD_REDUCED_GRAYSCALE_2 : cv::IMREAD_REDUCED_COLOR_2;
    }
  return flags;
}

bool is_image(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  for (const char* x : {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
    if (e == x) return true;
  return false;
}

class ImageFolder : public Dataset {
 public:
  explicit ImageFolder(ImageFolderOptions o) : o_(std::move(o)) {
    if (!fs::is_directory(o_.root)) throw std::runtime_error("image folder '" + o_.root + "' not found; set data.root");
    std::vector<std::pair<std::string, std::string>> items;  // path, label name
    if (o_.layout == "folders") {
      for (const auto& dir : fs::directory_iterator(o_.root))
        if (dir.is_directory())
          for (const auto& f : fs::recursive_directory_iterator(dir.path()))
            if (f.is_regular_file() && is_image(f.path()))
              items.emplace_back(f.path().string(), dir.path().filename().string());
      if (items.empty())
        throw std::runtime_error(o_.root +
                                 ": no images in class sub-folders (layout: folders expects root/<class>/<image>)");
    } else {
      read_csv(items);
    }
    std::sort(items.begin(), items.end());
    for (const auto& it : items) names_.push_back(it.second);
    std::sort(names_.begin(), names_.end());
    names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
    std::vector<std::string> bad;
    for (const auto& [path, label] : items) {
      if (o_.on_bad_image == "skip" && !readable(path)) {
        bad.push_back(path);
        continue;
      }
      paths_.push_back(path);
      labels_.push_back(std::lower_bound(names_.begin(), names_.end(), label) - names_.begin());
    }
    skipped_ = static_cast<std::int64_t>(bad.size());
    if (!bad.empty())
      std::cerr << "trex: warning: image_folder skipped " << bad.size() << " unreadable image(s), e.g. " << bad.front()
                << "\n";
  }

  std::vector<std::string> class_names() const override { return names_; }
  std::vector<std::string> splits() const override { return {"train"}; }
  const std::vector<std::int64_t>& labels(const std::string&) const override { return labels_; }
  ImageShape shape() const override { return {o_.channels, o_.height, o_.width}; }
  std::int64_t skipped_images() const override { return skipped_; }
  cv::Mat image(const std::string&, std::size_t index) const override {
    const std::string& path = paths_.at(index);
    const cv::Size out(static_cast<int>(o_.width), static_cast<int>(o_.height));
    cv::Mat img = decode(path, o_.channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR, out);
    // BGR -> RGB only permutes channels, so it commutes with the resize: it
    // runs on whichever of the two images is smaller.
    const bool shrinks = img.total() > out.area();
    if (o_.channels == 3 && !shrinks) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
    if (img.size() != out) cv::resize(img, img, out, 0, 0, cv::INTER_AREA);
    if (o_.channels == 3 && shrinks) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
    return img;
  }

 private:
  /// The file decoded, after its header's size is checked against max_pixels;
  /// a JPEG at a reduced size when that still covers `out` (when given).
  cv::Mat decode(const std::string& path, int flags, std::optional<cv::Size> out = std::nullopt) const {
    const std::vector<unsigned char> bytes = read_file(path);
    const auto size = header_size(bytes.data(), bytes.size());
    if (size && size->pixels() > static_cast<std::uint64_t>(o_.max_pixels))
      throw std::runtime_error(path + ": its header states " + std::to_string(size->width) + " x " +
                               std::to_string(size->height) + " pixels, over data.max_pixels (" +
                               std::to_string(o_.max_pixels) +
                               "); raise it if the image is real, or set data.on_bad_image: skip");
    // Only JPEG scales while decoding; OpenCV would decode other formats whole
    // and shrink them with a plain bilinear resize.
    const bool jpeg = bytes.size() > 2 && bytes[0] == 0xFF && bytes[1] == 0xD8;
    if (out && size && jpeg && o_.reduced_decode) flags = reduced_flags(flags, *size, *out);
    cv::Mat img = cv::imdecode(bytes, flags);
    if (img.empty())
      throw std::runtime_error(path +
                               ": OpenCV cannot decode it (corrupt or not an image); set data.on_bad_image: skip to "
                               "leave such files out");
    return img;
  }

  bool readable(const std::string& path) const {
    try {
      decode(path, cv::IMREAD_UNCHANGED);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  void read_csv(std::vector<std::pair<std::string, std::string>>& items) const {
    const fs::path csv = fs::path(o_.root) / o_.csv;
    const fs::path dir = fs::weakly_canonical(fs::path(o_.root) / o_.images);
    if (!fs::is_regular_file(csv))
      throw std::runtime_error(csv.string() + " not found; layout: csv needs data.csv under data.root");
    constexpr std::uintmax_t kMaxCsvBytes = std::uintmax_t{1} << 30;
    if (fs::file_size(csv) > kMaxCsvBytes)
      throw std::runtime_error(csv.string() + ": over 1 GiB; a label file is one short row per image");
    std::ifstream in(csv, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    for (const LabelRow& row : parse_label_csv(text.str(), o_.id_column, o_.label_column, csv.string())) {
      const std::string where = csv.string() + " row " + std::to_string(row.line);
      const fs::path file = fs::weakly_canonical(dir / (row.id + o_.extension));
      const std::string rel = fs::relative(file, dir).string();
      if (rel.empty() || rel.rfind("..", 0) == 0 || fs::path(row.id).is_absolute())
        throw std::runtime_error(where + ": id '" + row.id + "' points outside " + dir.string() +
                                 "; ids name files inside the image folder");
      if (!fs::exists(file)) throw std::runtime_error(where + ": image " + file.string() + " not found");
      items.emplace_back(file.string(), row.label);
    }
  }

  ImageFolderOptions o_;
  std::vector<std::string> names_, paths_;
  std::vector<std::int64_t> labels_;
  std::int64_t skipped_ = 0;
};

const Descriptor& descriptor() {
  using T = ParamType;
  static const Descriptor d = make_descriptor(
      Kind::Dataset, "image_folder", "1.1.0",
      "images in class sub-folders, or a folder plus a CSV of id -> label (Kaggle)",
      {ParamSpec("root", T::String, "the dataset folder").def(std::string("data/images")),
       ParamSpec("layout", T::String, "folders: root/<class>/<image>; csv: root/<images>/<id><extension> + root/<csv>")
           .def(std::string("folders"))
           .one_of({"folders", "csv"}),
       ParamSpec("images", T::String, "csv layout: image folder under root").def(std::string("train")),
       ParamSpec("csv", T::String, "csv layout: the label file under root").def(std::string("labels.csv")),
       ParamSpec("id_column", T::String, "csv layout: column of image ids").def(std::string("id")),
       ParamSpec("label_column", T::String, "csv layout: column of labels").def(std::string("breed")),
       ParamSpec("extension", T::String, "csv layout: appended to each id").def(std::string(".jpg")),
       ParamSpec("height", T::Int, "images are resized to this height").def(std::int64_t{224}).range(1, 1 << 14),
       ParamSpec("width", T::Int, "images are resized to this width").def(std::int64_t{224}).range(1, 1 << 14),
       ParamSpec("channels", T::Int, "1 (gray) or 3 (RGB)").def(std::int64_t{3}).range(1, 3),
       ParamSpec("on_bad_image", T::String, "fail on an undecodable image, or check every image once and skip bad ones")
           .def(std::string("fail"))
           .one_of({"fail", "skip"}),
       ParamSpec("max_pixels", T::Int,
                 "an image whose header states more pixels (width x height) is refused, or skipped")
           .def(ImageFolderOptions{}.max_pixels)
           .range(1, std::int64_t{1} << 40),
       ParamSpec("reduced_decode", T::Bool,
                 "decode a JPEG at 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling) when that still covers height x "
                 "width, then resize: faster on large photos; false decodes every image whole")
           .def(true)});
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  ImageFolderOptions o;
  o.root = p.get_string("root");
  o.layout = p.get_string("layout");
  o.images = p.get_string("images");
  o.csv = p.get_string("csv");
  o.id_column = p.get_string("id_column");
  o.label_column = p.get_string("label_column");
  o.extension = p.get_string("extension");
  o.height = p.get_int("height");
  o.width = p.get_int("width");
  o.channels = p.get_int("channels");
  if (o.channels == 2) throw std::invalid_argument("image_folder channels must be 1 or 3");
  o.on_bad_image = p.get_string("on_bad_image");
  o.max_pixels = p.get_int("max_pixels");
  o.reduced_decode = p.get_bool("reduced_decode");
  return std::make_unique<ImageFolder>(std::move(o));
}

}  // namespace trex_image_folder

TREX_PLUGIN(trex_image_folder::descriptor, trex_image_folder::create)
