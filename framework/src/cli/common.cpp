#include "common.h"

#include <atomic>
#include <csignal>
#include <iostream>

#include <spdlog/spdlog.h>

#include "trex/store/store.h"

namespace trex::cli {

void add_common(CLI::App& app, CommonOptions& o, bool store, bool plugins) {
  if (store) app.add_option("--store", o.store, "experiment store (default: $TREX_STORE or results/trex.db)");
  if (plugins)
    app.add_option("--plugin-path", o.plugin_paths,
                   "extra folder to search for plugins (repeatable; also $TREX_PLUGIN_PATH)");
}

std::unique_ptr<Registry> make_registry(const CommonOptions& o, bool warn) {
  auto registry = std::make_unique<Registry>(Registry::search_path(o.plugin_paths));
  if (warn)
    for (const auto& p : registry->problems()) spdlog::warn("skipped plugin {}: {}", p.path, p.reason);
  return registry;
}

std::string store_path(const CommonOptions& o) { return o.store.empty() ? Store::default_path() : o.store; }

namespace {
std::atomic<int> g_signal{0};

void on_signal(int sig) {
  if (g_signal.exchange(sig) != 0) {  // a second signal: stop now
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
}  // namespace

void catch_stop_signals() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool stop_requested() { return g_signal.load() != 0; }

int fail(const std::string& message) {
  std::cerr << "trex: " << message << "\n";
  return 1;
}

}  // namespace trex::cli
