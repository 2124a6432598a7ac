#pragma once
// The clock, this host's name and whether a process still runs: what a run's
// record and its liveness test are made of.
#include <cstdint>
#include <string>

namespace trex {

/// Unix time in seconds, with sub-second precision.
double now_seconds();
std::string host_name();
/// True while `pid` runs on this host (zombies are not running).
bool process_alive(std::int64_t pid);

}  // namespace trex
