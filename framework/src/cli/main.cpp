// trex: image-classification experiments from YAML, with plugins and a store.
// This front end loads neither LibTorch nor OpenCV's codecs, so that store
// queries start in milliseconds; the other commands are forwarded to trex-torch.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "app_main.h"
#include "trex/common/system.h"
#include "command_table.h"
#include "commands.h"

namespace {

[[noreturn]] void forward(char** argv) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string engine = (ec ? std::filesystem::path(argv[0]) : self).parent_path() / "trex-torch";
  argv[0] = const_cast<char*>("trex");
  // Huge pages for malloc (common/system.h says why); TREX_HUGEPAGES=0 opts out.
  const char* opt = std::getenv("TREX_HUGEPAGES");
  if (!opt || std::strcmp(opt, "0") != 0) {
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    ::setenv("GLIBC_TUNABLES", trex::tunables_with_hugepages(tunables ? tunables : "").c_str(), 1);
  }
  ::execv(engine.c_str(), argv);
  std::cerr << "trex: cannot start " << engine << ": " << std::strerror(errno)
            << " (it is installed beside trex; rebuild with tools/build.sh)\n";
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1)
    for (const auto& c : trex::cli::kCommands)
      if (c.torch && std::strcmp(argv[1], c.name) == 0) forward(argv);
  trex::cli::init_logging();
  CLI::App app{"trex: image classification and transfer-learning experiments"};
  app.require_subcommand(1);
  int exit_code = 0;
  for (const auto& c : trex::cli::kCommands)
    if (c.torch) app.add_subcommand(c.name, c.help)->allow_extras();
  trex::cli::add_store_commands(app, exit_code);
  trex::cli::add_query_commands(app, exit_code);
  trex::cli::add_sweep_commands(app, exit_code);
  trex::cli::add_ui_command(app, exit_code);
  return trex::cli::run_app(app, argc, argv, exit_code);
}
