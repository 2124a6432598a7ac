#include "app_main.h"

#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "trex/registry/diagnostics.h"

namespace trex::cli {

void init_logging() {
  // Warnings and notes go to stderr as "trex: warning: ...", so stdout stays parseable.
  auto logger = spdlog::stderr_color_mt("trex");
  logger->set_pattern("trex: %l: %v");
  spdlog::set_default_logger(logger);
}

int run_app(CLI::App& app, int argc, char** argv, const int& exit_code) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const trex::SpecError& e) {
    for (const auto& issue : e.issues()) std::cerr << "trex: " << issue.format() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::string what = e.what();
    // LibTorch errors carry a C++ backtrace after the first line; users need the first line.
    if (auto nl = what.find("\nException raised from"); nl != std::string::npos) what = what.substr(0, nl);
    std::cerr << "trex: " << what << "\n";
    return 1;
  }
  return exit_code;
}

}  // namespace trex::cli
