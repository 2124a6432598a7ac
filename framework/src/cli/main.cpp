// trex: image-classification experiments from YAML, with plugins and a store.
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "trex/registry/diagnostics.h"

int main(int argc, char** argv) {
  // Warnings and notes go to stderr as "trex: warning: ...", so stdout stays parseable.
  auto logger = spdlog::stderr_color_mt("trex");
  logger->set_pattern("trex: %l: %v");
  spdlog::set_default_logger(logger);
  CLI::App app{"trex: image classification and transfer-learning experiments"};
  app.require_subcommand(1);
  int exit_code = 0;
  trex::cli::add_run_commands(app, exit_code);
  trex::cli::add_store_commands(app, exit_code);
  trex::cli::add_plugin_commands(app, exit_code);
  trex::cli::add_use_commands(app, exit_code);
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
