#include "trex/common/fault.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <unistd.h>

namespace trex {

void fault_point(const char* name, std::int64_t epoch) {
  const char* point = std::getenv("TREX_FAULT_POINT");
  if (!point || std::strcmp(point, name) != 0) return;
  const char* at = std::getenv("TREX_FAULT_EPOCH");
  if (at && std::atoll(at) != epoch) return;
  // In a data-parallel run, only the named rank stops (RANK is set by the launcher).
  const char* rank = std::getenv("TREX_FAULT_RANK");
  const char* mine = std::getenv("RANK");
  if (rank && std::strcmp(rank, mine ? mine : "0") != 0) return;
  if (const char* marker = std::getenv("TREX_FAULT_MARKER"))
    std::ofstream(marker) << name << " " << epoch << " " << getpid() << "\n";
  std::this_thread::sleep_for(std::chrono::seconds(30));  // the test kills us here
}

}  // namespace trex
