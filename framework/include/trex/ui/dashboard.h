#pragma once
// `trex ui`: a local, read-only web dashboard over the store. The page and its
// chart library (uPlot, from npm) are compiled into the binary; the JSON API
// is documented in framework/ui/README.md. Every request opens the store
// read-only with query_only set; only GET exists; files are served from the
// store's folder and nowhere else.
#include <functional>
#include <map>
#include <string>

namespace trex::ui {

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class Dashboard {
 public:
  explicit Dashboard(std::string store_path);
  /// One request: method, decoded path and query parameters. Pure, for tests.
  Response handle(const std::string& method, const std::string& path,
                  const std::map<std::string, std::string>& query) const;
  /// Serves until `stop` returns true (polled) or the process ends.
  void serve(const std::string& host, int port, const std::function<bool()>& stop) const;

 private:
  std::string store_path_;
};

}  // namespace trex::ui
