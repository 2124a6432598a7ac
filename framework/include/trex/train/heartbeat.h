#pragma once
// A running run's heartbeat: every 20 s, from its own thread and its own store
// connection, so a long epoch still says the run is alive. Readers take a run
// whose heartbeat is older than Store::kStaleSeconds for interrupted.
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace trex {

class Heartbeat {
 public:
  Heartbeat(const std::string& store_path, std::string run_id);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  void beat(const std::string& store_path);

  std::string run_id_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace trex
