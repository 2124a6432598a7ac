#pragma once
// A `trex ui` server in a child process for the dashboard tests: started on a
// port of its own, polled until /api/fields answers, stopped with SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <httplib.h>

#include "helpers.h"

namespace trex::test {

class UiServer {
 public:
  /// Serves `store_path` on port `port_base + pid % 20000` (tests that run at
  /// once pick different bases).
  UiServer(const std::string& store_path, int port_base)
      : port_(port_base + static_cast<int>(getpid() % 20000)), client_("127.0.0.1", port_) {
    pid_ = fork();
    if (pid_ == 0) {
      execl(trex_binary().c_str(), "trex", "ui", "--store", store_path.c_str(), "--port", std::to_string(port_).c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 100 && pid_ > 0 && !up_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto res = client_.Get("/api/fields");
      up_ = res && res->status == 200;
    }
  }
  ~UiServer() { stop(); }
  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  bool up() const { return up_; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  httplib::Client& client() { return client_; }

  /// SIGTERM, then the wait status (0 when it was already stopped).
  int stop() {
    if (pid_ <= 0) return 0;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  int port_;
  pid_t pid_ = -1;
  bool up_ = false;
  httplib::Client client_;
};

}  // namespace trex::test
