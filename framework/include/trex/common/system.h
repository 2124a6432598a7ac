#pragma once
// The clock, this host's name and whether a process still runs: what a run's
// record and its liveness test are made of.
#include <cstdint>
#include <string>

namespace trex {

/// Unix time in seconds, with sub-second precision.
double now_seconds();
std::string host_name();
/// Seconds since this process started (its start time in /proc, 10 ms
/// steps): what loading the libraries took before main; 0 without /proc.
double seconds_since_process_start();
/// True while `pid` runs on this host (zombies are not running).
bool process_alive(std::int64_t pid);

}  // namespace trex
