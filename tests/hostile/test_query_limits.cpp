// Filters typed into `trex runs --where` or the dashboard: nesting and size
// are capped with a clear error, and everything under the caps compiles to
// SQL that SQLite accepts.
#include "../helpers.h"
#include "trex/store/query.h"
#include "trex/store/store.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

/// Prepares every statement of the query against an empty store (throws if SQLite refuses).
void prepare_all(const Store& store, const std::string& where, const std::string& sort = "",
                 const std::string& columns = "id") {
  query::RunQuery q;
  q.where = where;
  q.sort = sort;
  for (const auto& k : query::parse_sort(columns)) q.select.push_back(k.field);
  query::run_query(store.db(), q, [](sql::Statement&) {});
  const auto count = query::compile_count(where);
  store.db().prepare(count.text);
}

}  // namespace

TEST_CASE("100k nested parentheses or nots are refused, not a stack overflow", "[hostile][query]") {
  for (const std::string& deep : {repeat("(", 100000) + "status = completed" + repeat(")", 100000),
                                  repeat("not ", 100000) + "status = completed"}) {
    CHECK_THROWS_WITH(query::compile_where(deep), Contains("nests deeper than 32 levels"));
  }
  CHECK_THROWS_WITH(query::compile_where(repeat("seed = 1 or ", 300) + "seed = 1"),
                    Contains("more than 256 comparisons"));
  std::string in = "seed in (0";
  for (int i = 1; i < 2000; ++i) in += "," + std::to_string(i);
  CHECK_THROWS_WITH(query::compile_where(in + ")"), Contains("at most 1000 values"));
  CHECK_THROWS_WITH(query::parse_sort(repeat("name,", 100) + "name"), Contains("at most 64 fields"));
}

TEST_CASE("queries at the limits prepare against the store", "[hostile][query]") {
  TempDir d;
  Store store(d.file("trex.db"));
  std::string nested = "best.val_accuracy > 0.5";
  for (int i = 0; i < 16; ++i) nested = "not (params.train.lr < 0.1 or " + nested + ")";
  CHECK_NOTHROW(prepare_all(store, nested, "-best.val_accuracy"));
  CHECK_NOTHROW(prepare_all(store, repeat("(", 32) + "status = running" + repeat(")", 32)));
  CHECK_NOTHROW(prepare_all(store, repeat("params.x = 1 and ", 255) + "status != failed", "params.x"));
  std::string in = "params.seed in (0";
  for (int i = 1; i < 1000; ++i) in += "," + std::to_string(i);
  CHECK_NOTHROW(prepare_all(store, in + ")", "-best.val_loss," + repeat("last.val_loss,", 62) + "name"));
  CHECK_NOTHROW(prepare_all(store, "", "", repeat("params.a,best.b,", 32)));
}
