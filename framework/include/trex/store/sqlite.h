#pragma once
// A thin RAII layer over sqlite3: a connection and prepared statements with
// typed binds. Every statement is parameterised; no text is spliced into SQL.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace trex::sql {

using Cell = std::variant<std::monostate, std::int64_t, double, std::string>;

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Statement {
 public:
  /// `single`: refuse text after the first statement.
  Statement(sqlite3* db, const std::string& sql, bool single = false);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& o) noexcept;

  Statement& bind(int index, const Cell& value);  ///< 1-based
  /// Binds `values` to ?1 ... ?n (a compiled query's parameters).
  Statement& bind_cells(const std::vector<Cell>& values);
  template <typename... Ts>
  Statement& bind_all(const Ts&... values) {
    int i = 1;
    (bind(i++, Cell(values)), ...);
    return *this;
  }
  /// Advances; false when done.
  bool step();
  void run() {
    while (step()) {}
  }
  void reset();

  int columns() const;
  std::string column_name(int i) const;
  Cell column(int i) const;
  std::string text(int i) const;
  std::int64_t integer(int i) const;
  double real(int i) const;
  bool is_null(int i) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  /// Opens (creating if `read_only` is false) with WAL and a busy timeout.
  Database(const std::string& path, bool read_only);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  void exec(const std::string& sql);
  Statement prepare(const std::string& sql) const { return Statement(db_, sql); }
  /// Exactly one statement (user-written SQL): more is an error, not ignored.
  Statement prepare_one(const std::string& sql) const { return Statement(db_, sql, true); }
  std::int64_t changes() const;

  /// Runs `body` inside BEGIN IMMEDIATE ... COMMIT, retrying while the
  /// database is busy; rolls back when `body` throws.
  template <typename F>
  void transaction(F&& body) {
    begin_immediate();
    try {
      body();
    } catch (...) {
      rollback();
      throw;
    }
    commit();
  }

 private:
  void begin_immediate();
  void commit();
  void rollback();

  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace trex::sql
