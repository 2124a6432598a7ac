// The dashboard's request handler. Input: a method byte, then the path on the
// first line and key=value query lines. Oracles: a file is served only from
// inside the store's folder and never the database; no request is a 500.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../fuzz_target.h"
#include "trex/config/spec.h"
#include "trex/store/store.h"
#include "trex/ui/dashboard.h"

namespace fs = std::filesystem;

namespace {
struct Fixture {
  fs::path root = fs::temp_directory_path() / ("trex-fuzz-dashboard-" + std::to_string(::getpid()));
  fs::path results = root / "results";
  Fixture() {
    fs::create_directories(results / "runs" / "r1" / "report");
    std::ofstream(root / "secret.txt") << "secret";
    std::ofstream(results / "runs" / "r1" / "report" / "a.png") << "png";
    trex::Store store((results / "trex.db").string());
    trex::RunRecord r;
    r.id = "r1";
    r.name = r.experiment = "exp";
    r.spec_yaml = "name: exp\n";
    r.spec_hash = "h";
    store.create_run(r, {{"train.lr", "0.1", "float"}});
    store.record_epoch("r1", 1, {{1, "val", "accuracy", 0.5, 1}}, {{"accuracy", true}});
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};
}  // namespace

TREX_FUZZ_TARGET(dashboard) {
  static Fixture f;
  static const trex::ui::Dashboard dash((f.results / "trex.db").string());
  if (size == 0) return;
  const char* methods[] = {"GET", "HEAD", "POST", "DELETE"};
  const std::string method = methods[data[0] % 4];
  std::string in = trex::fuzz::text(data + 1, size - 1);
  std::map<std::string, std::string> query;
  std::string path;
  std::size_t start = 0;
  for (int n = 0; start <= in.size(); ++n) {
    const auto nl = in.find('\n', start);
    const std::string line = in.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (n == 0)
      path = line;
    else if (const auto eq = line.find('='); eq != std::string::npos)
      query[line.substr(0, eq)] = line.substr(eq + 1);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  const trex::ui::Response r = dash.handle(method, path, query);
  if (r.status == 500) trex::fuzz::violated("500 for " + method + " " + path + ": " + r.body);
  if (r.file.empty()) return;
  const fs::path served = fs::weakly_canonical(r.file), root = fs::weakly_canonical(f.results);
  const auto rel = served.lexically_relative(root).string();
  if (rel.empty() || rel.rfind("..", 0) == 0 || served.is_relative())
    trex::fuzz::violated("served " + served.string() + " from outside " + root.string());
  if (served.filename().string().find(".db") != std::string::npos)
    trex::fuzz::violated("served the database " + served.string());
}
