#pragma once
// The trex subcommands. Each registers its options on a CLI11 app and returns
// the exit code: 0 success, 1 failure (one-line cause on stderr), 130 interrupted.
#include <CLI/CLI.hpp>

namespace trex::cli {

/// Options shared by commands that load plugins and touch the store.
struct CommonOptions {
  std::string store;
  std::vector<std::string> plugin_paths;
};

void add_common(CLI::App& app, CommonOptions& o, bool store = true, bool plugins = true);

void add_run_commands(CLI::App& app, int& exit_code);          // run, validate (trex-torch)
void add_store_commands(CLI::App& app, int& exit_code);        // show
void add_query_commands(CLI::App& app, int& exit_code);        // runs, compare, best, sql
void add_sweep_commands(CLI::App& app, int& exit_code);        // sweep [status], sweeps, merge
void add_report_commands(CLI::App& app, int& exit_code);       // eda, report, plot (trex-torch)
void add_ui_command(CLI::App& app, int& exit_code);            // ui
void add_preview_command(CLI::App& app, int& exit_code);       // augment-preview (trex-torch)
void add_bench_loader_command(CLI::App& app, int& exit_code);  // bench-loader (trex-torch)
void add_plugin_commands(CLI::App& app, int& exit_code);       // plugins [describe]
void add_use_commands(CLI::App& app, int& exit_code);          // predict, activations, export

}  // namespace trex::cli
