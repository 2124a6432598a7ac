#pragma once
// Crash-safety tests need to kill a run at exact moments (inside the epoch
// commit, between a checkpoint's write and its rename). With
// TREX_FAULT_POINT=<name> and TREX_FAULT_EPOCH=<n> set, the process touches
// TREX_FAULT_MARKER (writing "<name> <epoch> <pid>") when it reaches that point
// and then waits to be killed; TREX_FAULT_RANK limits it to one rank.
// Unset (always, outside tests), this is one getenv per call.
#include <cstdint>

namespace trex {
void fault_point(const char* name, std::int64_t epoch);
}
