// trex ui: the local dashboard
#include <iostream>

#include "command_table.h"
#include "common.h"
#include "trex/store/store.h"
#include "trex/ui/dashboard.h"

namespace trex::cli {

void add_ui_command(CLI::App& app, int& exit_code) {
  struct UiArgs {
    CommonOptions common;
    std::string host = "127.0.0.1";
    int port = 8080;
    std::vector<std::string> allow_hosts;
  };
  auto a = std::make_shared<UiArgs>();
  auto* ui = app.add_subcommand("ui", help_of("ui"));
  ui->add_option("--port", a->port, "port to listen on")->capture_default_str();
  ui->add_option("--host", a->host, "address to bind (127.0.0.1: this machine only)")->capture_default_str();
  ui->add_option("--allow-host", a->allow_hosts,
                 "also serve requests whose Host header is NAME (a proxy's or machine's name); "
                 "others get 403, against DNS rebinding (repeatable)");
  add_common(*ui, a->common, true, false);
  ui->callback([a, &exit_code] {
    const std::string path = store_path(a->common);
    { Store check(path, true); }  // a clear error now, not on the first request
    catch_stop_signals();
    std::cout << "trex ui: http://" << a->host << ":" << a->port << "/ over " << path << " (Ctrl-C stops)" << std::endl;
    ui::Dashboard(path).serve(
        a->host, a->port, [] { return stop_requested(); }, a->allow_hosts);
    exit_code = 0;
  });
}

}  // namespace trex::cli
