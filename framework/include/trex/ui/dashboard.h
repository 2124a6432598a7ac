#pragma once
// `trex ui`: a local, read-only web dashboard over the store. The page and its
// chart library (uPlot, from npm) are compiled into the binary; the JSON API
// is documented in framework/ui/README.md. Every request opens the store
// read-only with query_only set; only GET exists; files are served from the
// store's folder and nowhere else.
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace trex::ui {

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string file;  ///< when set, the response is this file's bytes, streamed (body is empty)
};

/// Whether a request's Host header names this dashboard: a loopback name, the
/// bound host, or one of `extra` (--allow-host), with the bound port if any.
/// A page on another site that rebinds its DNS name to 127.0.0.1 sends its own
/// name, and is refused. Bound to 0.0.0.0 or ::, any host is served.
bool allowed_host(const std::string& host_header, const std::string& bound_host, int port,
                  const std::vector<std::string>& extra = {});

class Dashboard {
 public:
  explicit Dashboard(std::string store_path);
  /// One request: method, decoded path and query parameters. Pure, for tests.
  Response handle(const std::string& method, const std::string& path,
                  const std::map<std::string, std::string>& query) const;
  /// Serves until `stop` returns true (polled) or the process ends; requests
  /// whose Host is not allowed_host get 403.
  void serve(const std::string& host, int port, const std::function<bool()>& stop,
             const std::vector<std::string>& allowed_hosts = {}) const;

 private:
  std::string store_path_;
};

}  // namespace trex::ui
