#pragma once
// The part of main() both executables share: logging to stderr, parsing, and
// turning exceptions into one-line errors with exit code 1.
#include <CLI/CLI.hpp>

namespace trex::cli {

/// Sets up "trex: warning: ..." logging on stderr.
void init_logging();
/// Parses and runs `app`; returns the exit code the command left in `exit_code`.
int run_app(CLI::App& app, int argc, char** argv, const int& exit_code);

}  // namespace trex::cli
