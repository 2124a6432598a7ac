#include "trex/train/heartbeat.h"

#include <iostream>

#include "trex/store/store.h"

namespace trex {

Heartbeat::Heartbeat(const std::string& store_path, std::string run_id) : run_id_(std::move(run_id)) {
  thread_ = std::thread([this, store_path] { beat(store_path); });
}

Heartbeat::~Heartbeat() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Heartbeat::beat(const std::string& store_path) {
  // Everything inside the try: an exception escaping a thread would abort the
  // run and leave it "running" in the store.
  try {
    Store store(store_path);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!cv_.wait_for(lock, std::chrono::seconds(20), [&] { return stop_; })) {
      try {
        store.heartbeat(run_id_);
      } catch (const std::exception&) {
        // A busy store delays a heartbeat; the next one catches up.
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "trex: warning: the heartbeat of run " << run_id_ << " stopped (" << e.what() << "); after "
              << Store::kStaleSeconds << " s without one, readers take the run for interrupted\n";
  }
}

}  // namespace trex
