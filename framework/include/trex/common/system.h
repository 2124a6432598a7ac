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
/// GLIBC_TUNABLES for the engine (trex-torch): `current` with
/// glibc.malloc.hugetlb=1 added, so malloc backs big blocks (tensors, decoded
/// datasets) with transparent huge pages. A first touch of a fresh 4 KiB page
/// costs ~10 us on this pool's VMs; page faults were a third of a transfer
/// run's start-up. A `current` that sets hugetlb itself is left as it is.
std::string tunables_with_hugepages(const std::string& current);
/// Keeps freed memory in the process for the next tensor of the same size:
/// no block comes from mmap, and the heap's top is given back to the system
/// only past 2 GiB. A block that glibc maps is unmapped when freed, so every
/// batch's activations re-fault their pages (10 us per 4 KiB page on this
/// pool's VMs): a frozen ResNet-18 forward at 224 px spent more time faulting
/// than convolving. What `trex-torch` sets before any command runs.
void keep_freed_memory();
/// True while `pid` runs on this host (zombies are not running).
bool process_alive(std::int64_t pid);

}  // namespace trex
