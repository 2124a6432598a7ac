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
// not and parentheses. No user text is ever spliced into SQL: names are
// checked against the grammar, values are bound.
#include <stdexcept>
#include <string>
#include <vector>

#include "trex/core/sqlite.h"

namespace trex::query {

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
/// The WHERE condition for EXPR over the run row aliased `r` (empty EXPR: true).
Sql compile_where(const std::string& expr);

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
/// SELECT <fields> FROM runs r WHERE ... ORDER BY ... LIMIT ...
Sql compile(const RunQuery& q);
/// SELECT count(*) with the same WHERE.
Sql compile_count(const std::string& where);

}  // namespace trex::query
