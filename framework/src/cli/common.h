#pragma once
#include <memory>
#include <string>

#include "commands.h"
#include "trex/registry/registry.h"

namespace trex::cli {

/// The registry over the default search path plus --plugin-path; load problems
/// are warnings, not errors: the rest of the plugins still work.
std::unique_ptr<Registry> make_registry(const CommonOptions& o, bool warn = true);
std::string store_path(const CommonOptions& o);
/// SIGINT / SIGTERM ask the command to stop cleanly (stop_requested() turns
/// true); a second signal stops the process at once.
void catch_stop_signals();
bool stop_requested();
/// Prints "trex: MESSAGE" to stderr and returns exit code 1.
int fail(const std::string& message);

}  // namespace trex::cli
