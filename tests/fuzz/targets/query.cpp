// The query compiler (trex runs --where/--sort/--columns, the dashboard).
// Input lines: where, sort, columns. Oracle: every compiled statement
// prepares against an empty store of the current schema, or query::Error.
#include "../fuzz_target.h"
#include "trex/store/query.h"
#include "trex/store/store.h"

namespace {
const trex::Store& store() {
  static const trex::Store s(":memory:");
  return s;
}
/// Line `n` of `in` (0-based), or "" past the last.
std::string line(const std::string& in, std::size_t n) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto nl = in.find('\n', start);
    if (nl == std::string::npos) return "";
    start = nl + 1;
  }
  const auto end = in.find('\n', start);
  return in.substr(start, end == std::string::npos ? std::string::npos : end - start);
}
}  // namespace

TREX_FUZZ_TARGET(query) {
  const std::string in = trex::fuzz::text(data, size);
  trex::query::RunQuery q;
  q.where = line(in, 0);
  q.sort = line(in, 1);
  q.limit = 5;
  try {
    for (const auto& k : trex::query::parse_sort(line(in, 2))) q.select.push_back(k.field);
    const trex::query::QueryPlan plan = trex::query::compile(q);
    const trex::query::Sql count = trex::query::compile_count(q.where);
    for (const auto* sql : {&plan.parts[0], &count}) {
      try {
        store().db().prepare(sql->text);
      } catch (const trex::sql::Error& e) {
        trex::fuzz::violated(std::string("compiled SQL does not prepare: ") + e.what());
      }
    }
    trex::query::run_query(store().db(), q, [](trex::sql::Statement&) {});
  } catch (const trex::query::Error&) {}
}
