// Text that reaches gnuplot (class names, metric names, legends, titles) stays
// text: backquotes, $(...), system(...), macros and newlines never execute.
#include <catch2/catch.hpp>

#include "../cifar_files.h"
#include "../helpers.h"
#include "trex/report/chart.h"

using namespace trex;
using namespace trex::test;

namespace {

/// Names that would run `touch MARKER` if gnuplot expanded them.
std::vector<std::string> evil_names(const std::string& marker) {
  return {"cat`touch " + marker + "`",
          "dog\" . system('touch " + marker + "') . \"",
          "frog'; system(\"touch " + marker + "\"); print '",
          "$(touch " + marker + ")",
          "two\nlines`touch " + marker + "`",
          "@GPVAL_PWD tab\there",
          "back\\slash 'quote'"};
}

}  // namespace

TEST_CASE("gnuplot_quoted makes single-quoted text with quotes doubled and no control characters",
          "[hostile][report]") {
  CHECK(report::gnuplot_quoted("plain") == "'plain'");
  CHECK(report::gnuplot_quoted("it's") == "'it''s'");
  CHECK(report::gnuplot_quoted("a`b`") == "'a`b`'");
  CHECK(report::gnuplot_quoted("one\ntwo\r\tthree") == "'one two  three'");
  CHECK(report::gnuplot_quoted("\\n stays") == "'\\n stays'");
}

TEST_CASE("charts draw hostile labels as text and never run them", "[hostile][report]") {
  TempDir d;
  const std::string marker = d.file("executed");
  const auto names = evil_names(marker);
  report::Chart lines;
  lines.title = names[0];
  lines.xlabel = names[1];
  lines.ylabel = names[3];
  for (const auto& n : names) lines.series.push_back({n, {1, 2, 3}, {0.5, 0.6, 0.7}});
  lines.markers.push_back({2, names[2]});
  report::render(lines, d.file("lines.png"));
  report::Chart bars;
  bars.kind = report::Chart::Kind::Bars;
  bars.title = names[4];
  bars.categories = names;
  bars.series.push_back({"", {}, std::vector<double>(names.size(), 3.0)});
  report::render(bars, d.file("bars.png"));
  report::Heatmap heat;
  heat.title = names[5];
  heat.row_labels = heat.column_labels = names;
  heat.values.assign(names.size(), std::vector<double>(names.size(), 1.0));
  report::render(heat, d.file("heat.png"));
  for (const char* png : {"lines.png", "bars.png", "heat.png"}) CHECK(fs::file_size(d.file(png)) > 1000);
  CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("a CIFAR class named with backquotes trains, reports, and runs nothing", "[hostile][report][cifar][e2e]") {
  TempDir d;
  const std::string marker = d.file("executed");
  write_cifar10(d.file("cifar"), 20);
  // Ten names, one a line: the single-line evil ones, then plain ones.
  std::string meta;
  int count = 0;
  for (const auto& n : evil_names(marker))
    if (n.find('\n') == std::string::npos && n.find('\t') == std::string::npos) meta += n + "\n", ++count;
  for (const char* plain : {"ship", "truck", "horse", "deer", "bird", "plane"})
    if (count < 10) meta += std::string(plain) + "\n", ++count;
  write_file(d.file("cifar/batches.meta.txt"), meta);
  write_file(d.file("s.yaml"),
             "name: \"evil`touch " + marker + "`\"\nseed: 1\ndata: {type: cifar10, root: " + d.file("cifar") +
                 ", val_fraction: 0.2}\nmodel: {type: seed_cnn}\naugment: {train: [rescale], eval: [rescale]}\n"
                 "train: {epochs: 2, batch_size: 20, threads: 1, optimizer: {type: adam, lr: 0.001}}\n");
  const auto r = run_command(trex_binary() + " run " + d.file("s.yaml") + " --store " + d.file("trex.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_FALSE(fs::exists(marker));
  bool drew = false;
  for (const auto& f : fs::recursive_directory_iterator(d.path()))
    drew = drew || f.path().filename() == "confusion_matrix.png";
  CHECK(drew);
}
