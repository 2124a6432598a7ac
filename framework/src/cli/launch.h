#pragma once
// `trex run --nproc N`: starts N worker processes of this same command on this
// machine, as torchrun does (RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1, a free
// MASTER_PORT), forwards SIGINT/SIGTERM to them, and when one dies stops the
// others after a grace period instead of letting them wait forever.
#include <string>
#include <vector>

namespace trex::cli {

/// The arguments this process was started with (from /proc/self/cmdline).
std::vector<std::string> own_arguments();

/// Runs `args` (argv[0] first) as N workers; returns the exit code for the run:
/// 0 when all succeeded, else the first failing worker's, after saying which.
int launch_workers(int nproc, std::vector<std::string> args, const std::string& store_path);

}  // namespace trex::cli
