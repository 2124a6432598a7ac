// The OrderedDict rewriter and pickle walker, on any bytes. Oracle: a pickle
// the walker accepts is rewritten into one it accepts too.
#include "../fuzz_target.h"
#include "trex/model/ordered_dict_pickle.h"
#include "trex/model/pickle_check.h"

TREX_FUZZ_TARGET(pickle) {
  const std::string in = trex::fuzz::text(data, size);
  bool well_formed = true;
  try {
    trex::check_pickle(in);
  } catch (const std::runtime_error&) {
    well_formed = false;
  }
  std::string out;
  try {
    out = trex::pickle_without_ordered_dict(in);
  } catch (const std::runtime_error&) {
    return;
  }
  if (!well_formed) return;
  try {
    trex::check_pickle(out);
  } catch (const std::runtime_error& e) {
    trex::fuzz::violated(std::string("the rewrite of a well-formed pickle is not well-formed: ") + e.what());
  }
}
