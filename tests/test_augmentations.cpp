// Keras-style augmentations: identity at zero strength, determinism, ranges,
// and the affine map's geometry (scipy.ndimage semantics, written out).
#include <opencv2/core.hpp>

#include "helpers.h"
#include <opencv2/imgcodecs.hpp>

#include "trex/common/rng.h"
#include "trex/config/yaml_loader.h"
#include "trex/data/loader.h"
#include "trex/report/image_grid.h"
#include "trex/plugin/augmentation.h"
#include "trex/registry/diagnostics.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;

namespace {

cv::Mat ramp(int h, int w, int channels) {
  cv::Mat m(h, w, CV_8UC(channels));
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c)
      for (int k = 0; k < channels; ++k)
        m.ptr<unsigned char>(r)[c * channels + k] = static_cast<unsigned char>((r * 7 + c * 3 + k * 50) % 256);
  return m;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

TEST_CASE("Keras-style augmentations are the identity at zero strength and deterministic for a seed", "[augment]") {
  const cv::Mat img = ramp(32, 40, 3);
  for (const char* zero : {"{type: random_affine}", "{type: random_affine, zoom: [1.0, 1.0], fill_mode: wrap}",
                           "{type: brightness, range: [1.0, 1.0]}", "{type: channel_shift, range: 0}"}) {
    Rng rng(1);
    CHECK(same(augmentation(zero)->apply(img, rng), img));
  }
  for (const char* aug :
       {"{type: random_affine, rotation: 30, width_shift: 0.2, height_shift: 0.2, shear: 10, zoom: [0.2]}",
        "{type: brightness, range: [0.5, 1.5]}", "{type: channel_shift, range: 40}"}) {
    INFO(aug);
    auto a = augmentation(aug);
    Rng r1(7), r2(7), r3(8);
    const cv::Mat x = a->apply(img, r1), y = a->apply(img, r2), z = a->apply(img, r3);
    CHECK(same(x, y));
    CHECK(!same(x, z));
    CHECK(x.size() == img.size());
    CHECK(x.type() == img.type());
  }
}

TEST_CASE("random_affine maps output pixels to input pixels about the centre, as Keras via scipy does", "[augment]") {
  const cv::Mat img = ramp(21, 21, 1);
  // zoom [0.5, 0.5]: output (r, c) samples input (o + 0.5 (r - o), o + 0.5 (c - o)), o = 10 (the centre).
  Rng rng(3);
  const cv::Mat z = augmentation("{type: random_affine, zoom: [0.5, 0.5]}")->apply(img, rng);
  CHECK(z.at<unsigned char>(10, 10) == img.at<unsigned char>(10, 10));
  CHECK(z.at<unsigned char>(4, 16) == img.at<unsigned char>(7, 13));  // (10 - 3, 10 + 3)
  // zoom 2 shrinks the picture: the corners fall outside and take cval.
  const cv::Mat out =
      augmentation("{type: random_affine, zoom: [2.0, 2.0], fill_mode: constant, cval: 200}")->apply(img, rng);
  CHECK(out.at<unsigned char>(0, 0) == 200);
  CHECK(out.at<unsigned char>(20, 20) == 200);
  CHECK(out.at<unsigned char>(10, 10) == img.at<unsigned char>(10, 10));
  // nearest repeats the edge instead.
  const cv::Mat edge = augmentation("{type: random_affine, zoom: [2.0, 2.0], fill_mode: nearest}")->apply(img, rng);
  CHECK(edge.at<unsigned char>(0, 0) == img.at<unsigned char>(0, 0));
  // A rotation keeps a centred disk where it is.
  cv::Mat disk(41, 41, CV_8UC1, cv::Scalar(0));
  for (int r = 0; r < 41; ++r)
    for (int c = 0; c < 41; ++c)
      if ((r - 20) * (r - 20) + (c - 20) * (c - 20) <= 100) disk.at<unsigned char>(r, c) = 255;
  const cv::Mat rotated = augmentation("{type: random_affine, rotation: 90, fill_mode: constant}")->apply(disk, rng);
  CHECK(cv::norm(rotated, disk, cv::NORM_L1) / cv::norm(disk, cv::NORM_L1) <
        0.12);  // only the rim blurs; an off-centre turn moves the disk
  // Shifts stay within their range: the ramp's row gradient bounds the move.
  const auto shift = augmentation("{type: random_affine, height_shift: 3, fill_mode: wrap}");
  for (int i = 0; i < 20; ++i) {
    const cv::Mat s = shift->apply(img, rng);
    const int moved = (static_cast<int>(s.at<unsigned char>(10, 10)) - img.at<unsigned char>(10, 10)) / 7;
    CHECK(std::abs(moved) <= 3);
  }
}

TEST_CASE("brightness and channel_shift stay in range", "[augment]") {
  const cv::Mat img = ramp(16, 16, 3);
  Rng rng(5);
  auto bright = augmentation("{type: brightness, range: [0.5, 1.5]}");
  auto shift = augmentation("{type: channel_shift, range: 60}");
  double lo = 0, hi = 0;
  cv::minMaxLoc(img.reshape(1), &lo, &hi);
  for (int i = 0; i < 20; ++i) {
    const cv::Mat b = bright->apply(img, rng);
    const double ratio = cv::sum(b)[0] / cv::sum(img)[0];
    CHECK((ratio >= 0.49 && ratio <= 1.51));
    double slo = 0, shi = 0;
    cv::minMaxLoc(shift->apply(img, rng).reshape(1), &slo, &shi);
    CHECK((slo >= lo && shi <= hi));  // clipped to the image's own range
  }
  CHECK_THROWS(augmentation("{type: brightness, range: [1.5, 0.5]}"));
  CHECK_THROWS(augmentation("{type: random_affine, zoom: [1.2]}"));
}

TEST_CASE("torchvision-style crops, erasing and colour jitter: shapes, ranges, identity at zero strength",
          "[augment]") {
  const cv::Mat img = ramp(30, 40, 3);
  Rng rng(11);
  // center_crop: torchvision's offsets, round((H - h) / 2).
  auto center = augmentation("{type: center_crop, height: 7, width: 9}");
  const cv::Mat c = center->apply(img, rng);
  CHECK(same(c, img(cv::Rect(16, 12, 9, 7))));
  CHECK(center->output_shape({3, 30, 40}).height == 7);
  CHECK(augmentation("{type: center_crop, height: 34, width: 40}")->apply(img, rng).rows == 34);  // padded when larger
  CHECK(same(augmentation("{type: center_crop, height: 30, width: 40}")->apply(img, rng), img));
  // random_resized_crop: always the set size; the whole image at scale 1 and the image's own ratio.
  auto rrc = augmentation("{type: random_resized_crop, height: 16, width: 20}");
  for (int i = 0; i < 10; ++i) CHECK(rrc->apply(img, rng).size() == cv::Size(20, 16));
  CHECK(same(
      augmentation(
          "{type: random_resized_crop, height: 30, width: 40, scale: [1.0, 1.0], ratio: [1.3333333333, 1.3333333334]}")
          ->apply(img, rng),
      img));
  // random_erasing: the erased share of the area stays in scale.
  const cv::Mat ones(50, 50, CV_32FC1, cv::Scalar(1.0f));
  auto erase = augmentation("{type: random_erasing, scale: [0.1, 0.2], value: 0}");
  for (int i = 0; i < 10; ++i) {
    const double erased = 1.0 - cv::sum(erase->apply(ones, rng))[0] / 2500.0;
    CHECK((erased > 0.08 && erased < 0.22));
  }
  // color_jitter: brightness scales, gray images ignore saturation and hue; zero strength is the identity.
  CHECK(same(augmentation("{type: color_jitter}")->apply(img, rng), img));
  const cv::Mat g = ramp(20, 20, 1);
  CHECK(same(augmentation("{type: color_jitter, saturation: 0.9, hue: 0.4}")->apply(g, rng), g));
  auto jitter = augmentation("{type: color_jitter, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}");
  Rng a(3), b(3);
  const cv::Mat j1 = jitter->apply(img, a), j2 = jitter->apply(img, b);
  CHECK(same(j1, j2));
  CHECK(!same(j1, img));
  CHECK(j1.type() == img.type());
}

TEST_CASE("random_flip alternate: a per-image coin in epoch 0, the other side in each next epoch", "[augment]") {
  const cv::Mat img = ramp(6, 8, 1);
  cv::Mat mirrored;
  cv::flip(img, mirrored, 1);
  auto alt = augmentation("{type: random_flip, alternate: true}");
  auto plain = augmentation("{type: random_flip}");
  int flipped_first = 0, plain_alternations = 0;
  for (std::uint64_t pos = 0; pos < 400; ++pos) {
    std::vector<bool> seen;
    for (std::int64_t epoch = 0; epoch < 4; ++epoch) {
      Rng rng(mix_seed(42, static_cast<std::uint64_t>(epoch), pos));
      const cv::Mat out = alt->apply_at(img, rng, {42, epoch, pos});
      REQUIRE((same(out, img) || same(out, mirrored)));
      seen.push_back(same(out, mirrored));
    }
    // Whatever epoch 0 chose, the next epochs alternate, and another RNG state changes nothing.
    CHECK(seen == std::vector<bool>{seen[0], !seen[0], seen[0], !seen[0]});
    Rng other(pos * 7 + 1);
    CHECK(same(alt->apply_at(img, other, {42, 2, pos}), seen[0] ? mirrored : img));
    flipped_first += seen[0];
    // Without the option the sample context is ignored: epochs flip independently.
    Rng r0(mix_seed(42, 0, pos)), r1(mix_seed(42, 1, pos));
    plain_alternations += same(plain->apply_at(img, r0, {42, 0, pos}), mirrored) !=
                          same(plain->apply_at(img, r1, {42, 1, pos}), mirrored);
  }
  // Epoch 0's coin is fair (400 draws: 200 +- 3 sigma = 30), and another seed draws other coins.
  CHECK(std::abs(flipped_first - 200) < 30);
  CHECK(std::abs(plain_alternations - 200) < 30);
  int differ = 0;
  for (std::uint64_t pos = 0; pos < 64; ++pos) {
    Rng rng(1);
    differ +=
        same(alt->apply_at(img, rng, {42, 0, pos}), mirrored) != same(alt->apply_at(img, rng, {7, 0, pos}), mirrored);
  }
  CHECK(differ > 10);
}

namespace {
/// Each image a row 0, 1, ..., 4 plus 5 x its index: a flip reverses it.
class RowDataset : public Dataset {
 public:
  RowDataset() : labels_(50, 0) {}
  std::vector<std::string> class_names() const override { return {"a"}; }
  std::vector<std::string> splits() const override { return {"train"}; }
  const std::vector<std::int64_t>& labels(const std::string&) const override { return labels_; }
  cv::Mat image(const std::string&, std::size_t i) const override {
    cv::Mat m(1, 5, CV_8UC1);
    for (int c = 0; c < 5; ++c) m.at<unsigned char>(0, c) = static_cast<unsigned char>(c + 5 * i);
    return m;
  }
  ImageShape shape() const override { return {1, 1, 5}; }

 private:
  std::vector<std::int64_t> labels_;
};
}  // namespace

TEST_CASE("the loader hands each sample its epoch and position: alternate flips alternate per image", "[augment]") {
  RowDataset ds;
  std::vector<SampleRef> set;
  for (std::size_t i = 0; i < 50; ++i) set.push_back({"train", i, 0});
  const Pipeline pipeline({{augmentation("{type: random_flip, alternate: true}"), 1.0, "random_flip", false}});
  // first byte of each image's row by position, per epoch: 5 i (as stored) or 5 i + 4 (flipped)
  auto firsts = [&](std::int64_t epoch) {
    LoaderOptions o;
    o.batch_size = 8, o.shuffle = true, o.workers = 2, o.seed = 5, o.epoch = epoch, o.shape = {1, 1, 5};
    BatchLoader loader(ds, set, pipeline, o);
    std::vector<long> out(50, -1);
    while (auto b = loader.next())
      for (std::size_t k = 0; k < b->positions.size(); ++k)
        out[b->positions[k]] = std::lround(b->images.data_ptr<float>()[k * 5]);
    return out;
  };
  const auto e0 = firsts(0), e1 = firsts(1), e2 = firsts(2);
  int flipped = 0;
  for (std::size_t p = 0; p < 50; ++p) {
    const long stored = 5 * static_cast<long>(p);
    const bool f0 = e0[p] == stored + 4, f1 = e1[p] == stored + 4;
    CHECK((f0 || e0[p] == stored));
    CHECK(f1 == !f0);
    CHECK(e2[p] == e0[p]);
    flipped += f0;
  }
  CHECK((flipped > 10 && flipped < 40));
}

TEST_CASE("trex augment-preview draws one image under N augmentations", "[augment][cli]") {
  TempDir d;
  write_file(d.file("s.yaml"),
             "name: preview\ndata: {type: opencv_digits}\nmodel: {type: seed_cnn}\n"
             "augment:\n  train: [{type: random_affine, rotation: 30, zoom: [0.2]}, rescale]\n  eval: [rescale]\n");
  auto r = run_command(trex_binary() + " augment-preview " + d.file("s.yaml") + " --draws 15 --index 7 --out " +
                       d.file("p.png"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const cv::Mat grid = cv::imread(d.file("p.png"));
  REQUIRE(!grid.empty());
  CHECK(grid.size() == report::grid_size(16, {8, 132}));
  const int cw = grid.cols / 8, ch = grid.rows / 2;
  CHECK(cv::norm(grid(cv::Rect(cw, 0, cw, ch)), grid(cv::Rect(2 * cw, 0, cw, ch)), cv::NORM_L1) > 0);  // draws differ
  auto again = run_command(trex_binary() + " augment-preview " + d.file("s.yaml") + " --draws 15 --index 7 --out " +
                           d.file("q.png"));
  CHECK(cv::norm(grid, cv::imread(d.file("q.png")), cv::NORM_L1) == 0);  // and repeat
  CHECK(run_command(trex_binary() + " augment-preview " + d.file("s.yaml") + " --index 999999").exit_code == 1);
}
