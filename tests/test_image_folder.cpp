// image_folder: class sub-folders and Kaggle's folder + CSV, hostile CSVs, bad images.
#include <opencv2/imgproc.hpp>
#include "cifar_files.h"
#include "trex/plugin/dataset.h"
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {
std::shared_ptr<Dataset> open_folder(const std::map<std::string, std::string>& keys) {
  Node n = Node::map();
  n.set("type", Node::scalar("image_folder"));
  for (const auto& [k, v] : keys) n.set(k, Node::scalar(v, k == "root" || k == "extension"));
  Diagnostics diag;
  auto resolved = built_plugins().resolve(Kind::Dataset, n, "data", diag);
  INFO((diag.empty() ? "" : diag.issues()[0].format()));
  REQUIRE(resolved);
  return built_plugins().create_as<Dataset>(*resolved, {});
}

void write_kaggle(const std::string& root, const std::string& csv) {
  for (const char* id : {"a1", "b2", "c3", "d4"})
    cv::imwrite(root + "/train/" + id + ".jpg", cv::Mat(40, 30, CV_8UC3, cv::Scalar(10, 20, 30)));
  write_file(root + "/labels.csv", csv);
}
}  // namespace

TEST_CASE("class sub-folders: any size and channel count comes out at the set shape", "[image_folder]") {
  TempDir d;
  write_image_folder(d.str(), 4);
  auto ds = open_folder({{"root", d.str()}, {"height", "16"}, {"width", "20"}});
  CHECK(ds->class_names() == std::vector<std::string>{"class_0", "class_1", "class_2"});
  REQUIRE(ds->labels("train").size() == 12);
  for (std::size_t i = 0; i < 12; ++i) {
    cv::Mat img = ds->image("train", i);
    CHECK(img.rows == 16);
    CHECK(img.cols == 20);
    CHECK(img.type() == CV_8UC3);
  }
  CHECK(ds->labels("train")[5] == 1);
  auto gray = open_folder({{"root", d.str()}, {"channels", "1"}, {"height", "8"}, {"width", "8"}});
  CHECK(gray->image("train", 0).type() == CV_8UC1);
}

TEST_CASE("Kaggle layout: a folder of images plus labels.csv", "[image_folder]") {
  TempDir d;
  fs::create_directories(d.file("train"));
  write_kaggle(d.str(), "id,breed\na1,beagle\nb2,pug\nc3,beagle\n\"d4\",\"pug\"\n");
  auto ds = open_folder({{"root", d.str()}, {"layout", "csv"}, {"height", "32"}, {"width", "32"}});
  CHECK(ds->class_names() == std::vector<std::string>{"beagle", "pug"});
  CHECK(ds->labels("train") == std::vector<std::int64_t>{0, 1, 0, 1});
  CHECK(ds->image("train", 2).at<cv::Vec3b>(0, 0) == cv::Vec3b(30, 20, 10));  // BGR on disk -> RGB

  SECTION("an id may not escape the image folder") {
    write_file(d.file("secret.jpg"), "x");
    write_file(d.file("labels.csv"), "id,breed\na1,beagle\n../secret,pug\n");
    CHECK_THROWS_WITH(open_folder({{"root", d.str()}, {"layout", "csv"}}),
                      Contains("labels.csv row 3: id '../secret' points outside") &&
                          Contains("ids name files inside the image folder"));
  }
  SECTION("a missing label names the row") {
    write_file(d.file("labels.csv"), "id,breed\na1,beagle\nb2,\n");
    CHECK_THROWS_WITH(open_folder({{"root", d.str()}, {"layout", "csv"}}),
                      Contains("labels.csv row 3: the label is missing"));
  }
  SECTION("a wrong column name says which setting fixes it") {
    CHECK_THROWS_WITH(open_folder({{"root", d.str()}, {"layout", "csv"}, {"label_column", "label"}}),
                      Contains("no column 'label' in the header; set data.id_column / data.label_column"));
  }
  SECTION("an id without its image") {
    write_file(d.file("labels.csv"), "id,breed\nzz9,beagle\n");
    CHECK_THROWS_WITH(open_folder({{"root", d.str()}, {"layout", "csv"}}),
                      Contains("row 2: image") && Contains("zz9.jpg not found"));
  }
}

TEST_CASE("corrupt images fail naming the file, or are skipped when asked", "[image_folder]") {
  TempDir d;
  write_image_folder(d.str(), 3);
  write_file(d.file("class_1/broken.png"), "\x89PNG\r\n\x1a\n but then garbage");
  auto failing = open_folder({{"root", d.str()}});
  REQUIRE(failing->labels("train").size() == 10);
  bool threw = false;
  for (std::size_t i = 0; i < 10; ++i) {
    try {
      failing->image("train", i);
    } catch (const std::exception& e) {
      threw = true;
      CHECK_THAT(e.what(), Contains("broken.png: OpenCV cannot decode it") && Contains("on_bad_image: skip"));
    }
  }
  CHECK(threw);
  auto skipping = open_folder({{"root", d.str()}, {"on_bad_image", "skip"}});
  CHECK(skipping->labels("train").size() == 9);
  CHECK(skipping->skipped_images() == 1);
  CHECK(failing->skipped_images() == 0);
  for (std::size_t i = 0; i < 9; ++i) CHECK_NOTHROW(skipping->image("train", i));
  // A run over the folder records how many images it left out.
  write_file(d.file("s.yaml"), "name: skip\ndata: {type: image_folder, root: " + d.str() +
                                   ", on_bad_image: skip, height: 16, width: 16, val_fraction: 0.3}\n"
                                   "model: {type: seed_cnn}\naugment: {train: [rescale], eval: [rescale]}\n"
                                   "train: {epochs: 1, batch_size: 4}\n");
  auto run = run_command(trex_binary() + " run " + d.file("s.yaml") + " -q --no-report --store " + d.file("s.db"));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run_command(trex_binary() + " runs --columns params.data.skipped_images --format csv --store " + d.file("s.db"))
            .output == "params.data.skipped_images\n1\n");
}

TEST_CASE("the book's dog-breed spec runs one epoch on a Kaggle-layout folder with exported InceptionV3 weights",
          "[image_folder][book][slow]") {
  TempDir d;
  // 3 breeds x 8 photos of assorted sizes, ids as Kaggle writes them (hex), labels.csv with id,breed.
  const std::string root = d.file("dogs");
  fs::create_directories(root + "/train");
  std::ofstream csv(root + "/labels.csv");
  csv << "id,breed\n";
  const char* breeds[] = {"beagle", "boxer", "whippet"};
  for (int b = 0; b < 3; ++b)
    for (int n = 0; n < 8; ++n) {
      const std::string id = "0a" + std::to_string(b) + "f" + std::to_string(n) + "c9e";
      cv::Mat img(60 + 13 * n, 80 + 7 * b, CV_8UC3, cv::Scalar(40 * b + 3 * n, 200 - 20 * b, 17 * n));
      cv::circle(img, {img.cols / 2, img.rows / 2}, 10 + 5 * b, cv::Scalar(255, 255, 255), -1);
      cv::imwrite(root + "/train/" + id + ".jpg", img);
      csv << id << "," << breeds[b] << "\n";
    }
  csv.close();
  REQUIRE(run_command("/usr/bin/python3 " + source_dir() + "/tools/export_torchvision_weights.py inception_v3 " +
                      d.file("inception_v3.pt"))
              .exit_code == 0);
  const std::string store = d.file("trex.db");
  auto r = run_command(trex_binary() + " run " + source_dir() +
                       "/experiments/book/dog_breed_inceptionv3.yaml --set data.root=" + root +
                       " --set model.backbone.weights=" + d.file("inception_v3.pt") +
                       " --set train.epochs=1 -q --no-report --store " + store);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // 70/30 then 15%: 24 images -> test 7 or 8 (stratified per breed), the rest split again.
  auto out = run_command("sqlite3 " + store +
                         " \"SELECT status FROM runs; SELECT value FROM params WHERE key='data.sizes.test';"
                         " SELECT value FROM params WHERE key='model.params.trainable'; SELECT COUNT(*) FROM metrics "
                         "WHERE split='test';\"");
  // Trainable: the head only: 2048*512+512 + 512*512+512 + 512*3+3; the frozen InceptionV3 is not.
  CHECK(out.output == "completed\n6\n" + std::to_string(2048 * 512 + 512 + 512 * 512 + 512 + 512 * 3 + 3) + "\n3\n");
}

TEST_CASE("trex bench-loader times the spec's training loader alone, epoch by epoch", "[image_folder][e2e]") {
  TempDir d;
  write_image_folder(d.file("images"), 4);
  const std::string spec =
      write_file(d.file("loader.yaml"), "name: loader\ndata: {type: image_folder, root: " + d.file("images") +
                                            ", height: 24, width: 24, test_fraction: 0.25}\n"
                                            "augment: {train: [random_flip, normalize], eval: "
                                            "[normalize]}\nmodel: {type: resnet18}\n"
                                            "train: {batch_size: 4, loader: threads, workers: 2}\n");
  auto r = run_command(trex_binary() + " bench-loader " + spec + " --epochs 2 --set train.batch_size=5");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // 12 images, a quarter held out for test: the 9 of the train split, in batches of the --set size.
  CHECK_THAT(r.output, Contains("train loader: 9 images, batch 5, 2 workers") && Contains("3x24x24 out"));
  CHECK_THAT(r.output, Contains("epoch 1/2  9 images") && Contains("epoch 2/2  9 images") && Contains("img/s"));
  r = run_command(trex_binary() + " bench-loader " + spec + " --set train.loader=auto --set train.threads=2");
  CHECK_THAT(r.output, Contains("train loader: 9 images, batch 4, inline in 2 threads"));
  // A spec error is the spec's, named as `trex run` names it.
  r = run_command(trex_binary() + " bench-loader " + spec + " --set train.workers=-1");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("train.workers"));
}

TEST_CASE("a large JPEG decodes at a reduced scale when that still covers the output, close to a whole decode",
          "[image_folder]") {
  TempDir d;
  // A photo-like 900 x 700 image: smooth gradients, edges and texture.
  cv::Mat photo(700, 900, CV_8UC3);
  for (int y = 0; y < photo.rows; ++y)
    for (int x = 0; x < photo.cols; ++x)
      photo.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 255 / 900, y * 255 / 700, (x * y / 97 + (x ^ y)) % 256);
  cv::circle(photo, {450, 350}, 200, cv::Scalar(250, 30, 90), 12);
  fs::create_directories(d.file("a"));
  fs::create_directories(d.file("b"));
  cv::imwrite(d.file("a/photo.jpg"), photo, {cv::IMWRITE_JPEG_QUALITY, 92});
  cv::imwrite(d.file("b/photo.png"), photo);
  for (const char* channels : {"3", "1"}) {
    INFO("channels " << channels);
    std::map<std::string, std::string> keys{
        {"root", d.str()}, {"height", "100"}, {"width", "120"}, {"channels", channels}};
    const cv::Mat reduced = open_folder(keys)->image("train", 0);  // 1/4 scale: 225 x 175 still covers it
    keys["reduced_decode"] = "false";
    const cv::Mat whole = open_folder(keys)->image("train", 0);
    REQUIRE(reduced.size() == cv::Size(120, 100));
    REQUIRE(whole.size() == reduced.size());
    REQUIRE(whole.type() == reduced.type());
    cv::Mat diff;
    cv::absdiff(reduced, whole, diff);
    const double mean = cv::mean(diff.reshape(1))[0];
    CHECK(mean > 0);    // the scaled decode did run
    CHECK(mean < 3.0);  // and gives the same picture, within a few levels
    // A PNG cannot be scaled while decoding: the same pixels either way.
    keys["reduced_decode"] = "true";
    const cv::Mat png = open_folder(keys)->image("train", 1);
    keys["reduced_decode"] = "false";
    cv::Mat png_diff;
    cv::absdiff(png, open_folder(keys)->image("train", 1), png_diff);
    CHECK(cv::countNonZero(png_diff.reshape(1)) == 0);
  }
}
