#include "fuzz_target.h"

namespace trex::fuzz {

std::map<std::string, Target>& targets() {
  static std::map<std::string, Target> all;
  return all;
}

}  // namespace trex::fuzz
