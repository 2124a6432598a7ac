#pragma once
// The run query language of `trex runs --where/--sort/--columns` and the
// dashboard: dotted field names compiled to parameterised SQL over the store.
//
//   params.train.optimizer.lr < 0.01 and best.val_accuracy > 0.9 and status = completed
//
// Fields: run columns (id, name, experiment, status, error, host, seed, sweep,
// trial, start_time, end_time, duration, main_metric, main_best, main_last), `params.<key>`, and
// `<summary>.<metric>` with summary one of best, last, min, max, best_epoch.
// Operators: = != < <= > >= in (...) not in (...) like, joined by and / or /
// not and parentheses, up to kMaxNesting deep. No user text is ever spliced into SQL: names are
// checked against the grammar, values are bound.
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "trex/store/sqlite.h"

namespace trex::query {

/// Bounds that keep every compiled query inside SQLite's own limits (its
/// parser stack holds about 100 nested terms, its expression trees 1000 levels).
constexpr int kMaxNesting = 32;             ///< parentheses and `not`, nested
constexpr int kMaxComparisons = 256;        ///< comparisons in one filter
constexpr std::size_t kMaxInValues = 1000;  ///< values in one `in (...)` list
constexpr std::size_t kMaxFields = 64;      ///< sort keys or columns in one query

class Error : public std::runtime_error {
 public:
  Error(const std::string& expr, std::size_t position, const std::string& message);
  std::size_t position() const { return position_; }

 private:
  std::size_t position_;
};

/// A piece of SQL with its `?` values, in order.
struct Sql {
  std::string text;
  std::vector<sql::Cell> binds;
};

struct Field {
  enum class Kind { Column, Param, Summary } kind = Kind::Column;
  std::string name;     ///< column name, param key, or metric key (e.g. val_accuracy)
  std::string summary;  ///< best | last | min | max | best_epoch, for Summary
  std::string label() const;
};

/// Parses a dotted field name; throws Error naming the closest valid prefix.
Field parse_field(const std::string& text);
/// An SQL expression giving the field's value for the run row aliased `r`.
Sql field_value(const Field& f);
/// How a condition on params / summaries finds its runs: as a set from the
/// (key, value) index (best when the filter drives), or per run by primary
/// key (best when a sort index drives and a limit stops early).
enum class Match { Set, PerRow };
/// The WHERE condition for EXPR over the run row aliased `r` (empty EXPR: true).
Sql compile_where(const std::string& expr, Match match = Match::Set);

struct SortKey {
  Field field;
  bool descending = false;
};
/// "-best.val_accuracy,name": a leading '-' sorts descending.
std::vector<SortKey> parse_sort(const std::string& text);

/// A complete run query; `select` lists the fields to return per run.
struct RunQuery {
  std::string where;
  std::string sort;  ///< default: newest first
  std::vector<Field> select;
  std::int64_t limit = -1, offset = 0;
};
/// The statements that answer a query, run in order; with a param or summary
/// as first sort key, part 1 holds the runs that have it and part 2 the rest.
struct QueryPlan {
  std::vector<Sql> parts;  ///< one part: LIMIT/OFFSET bound already; two: run_query adds them
  Sql counted;             ///< count of part 1's rows, to carry an offset past it
};
QueryPlan compile(const RunQuery& q);
/// Runs the plan, calling `row` for each result row (the fields of q.select, in order).
void run_query(const sql::Database& db, const RunQuery& q, const std::function<void(sql::Statement&)>& row);
/// SELECT count(*) with the same WHERE.
Sql compile_count(const std::string& where);
/// How many runs match `where`.
std::int64_t count_runs(const sql::Database& db, const std::string& where);

}  // namespace trex::query
