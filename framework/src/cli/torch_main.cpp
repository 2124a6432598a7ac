// trex-torch: the trex commands that need LibTorch or OpenCV's codecs
// (training, plugins, prediction, export, reports). Users call `trex`, which
// forwards here.
#include "app_main.h"
#include "commands.h"
#include "trex/common/system.h"

int main(int argc, char** argv) {
  trex::keep_freed_memory();
  trex::cli::init_logging();
  CLI::App app{"trex: image classification and transfer-learning experiments"};
  app.name("trex");
  app.require_subcommand(1);
  int exit_code = 0;
  trex::cli::add_run_commands(app, exit_code);
  trex::cli::add_plugin_commands(app, exit_code);
  trex::cli::add_use_commands(app, exit_code);
  trex::cli::add_report_commands(app, exit_code);
  trex::cli::add_preview_command(app, exit_code);
  trex::cli::add_bench_loader_command(app, exit_code);
  return trex::cli::run_app(app, argc, argv, exit_code);
}
