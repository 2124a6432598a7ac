#include "trex/store/sqlite.h"

#include <cctype>
#include <chrono>
#include <thread>

#include <sqlite3.h>

namespace trex::sql {
namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw Error(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

bool busy(int rc) { return rc == SQLITE_BUSY || rc == SQLITE_LOCKED; }

}  // namespace

Statement::Statement(sqlite3* db, const std::string& sql, bool single) : db_(db) {
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, &tail) != SQLITE_OK) fail(db, "SQL error in '" + sql + "'");
  if (!stmt_) throw Error("no SQL statement in '" + sql + "'");
  if (single && tail)
    for (; *tail; ++tail)
      if (*tail != ';' && !std::isspace(static_cast<unsigned char>(*tail)))
        throw Error("one SQL statement at a time; found more after the first: '" + std::string(tail) + "'");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }

Statement& Statement::bind(int index, const Cell& value) {
  int rc = SQLITE_OK;
  if (std::holds_alternative<std::monostate>(value))
    rc = sqlite3_bind_null(stmt_, index);
  else if (auto i = std::get_if<std::int64_t>(&value))
    rc = sqlite3_bind_int64(stmt_, index, *i);
  else if (auto d = std::get_if<double>(&value))
    rc = sqlite3_bind_double(stmt_, index, *d);
  else {
    const auto& s = std::get<std::string>(value);
    rc = sqlite3_bind_text(stmt_, index, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  if (rc != SQLITE_OK) fail(db_, "cannot bind parameter " + std::to_string(index));
  return *this;
}

Statement& Statement::bind_cells(const std::vector<Cell>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) bind(static_cast<int>(i) + 1, values[i]);
  return *this;
}

bool Statement::step() {
  for (int attempt = 0;; ++attempt) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    if (busy(rc) && attempt < 200) {  // the busy handler already waited; a long writer gets more chances
      sqlite3_reset(stmt_);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    fail(db_, "SQL step failed");
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::columns() const { return sqlite3_column_count(stmt_); }

std::string Statement::column_name(int i) const {
  const char* n = sqlite3_column_name(stmt_, i);
  return n ? n : "";
}

Cell Statement::column(int i) const {
  switch (sqlite3_column_type(stmt_, i)) {
    case SQLITE_INTEGER: return sqlite3_column_int64(stmt_, i);
    case SQLITE_FLOAT: return sqlite3_column_double(stmt_, i);
    case SQLITE_NULL: return std::monostate{};
    default: return text(i);
  }
}

std::string Statement::text(int i) const {
  const unsigned char* t = sqlite3_column_text(stmt_, i);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(stmt_, i))) : "";
}

std::int64_t Statement::integer(int i) const { return sqlite3_column_int64(stmt_, i); }
double Statement::real(int i) const { return sqlite3_column_double(stmt_, i); }
bool Statement::is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

Database::Database(const std::string& path, bool read_only) : path_(path) {
  const int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error("cannot open store '" + path + "': " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  sqlite3_extended_result_codes(db_, 0);
  if (!read_only) {
    exec("PRAGMA journal_mode=WAL");
    // FULL: each commit is on disk before it returns. Checkpoints are fsynced
    // after the epoch's commit, so after a power loss the store is never
    // behind a checkpoint (NORMAL could lose the last commits).
    exec("PRAGMA synchronous=FULL");
  }
  exec("PRAGMA foreign_keys=ON");
}

Database::~Database() { sqlite3_close_v2(db_); }

void Database::exec(const std::string& sql) {
  for (int attempt = 0;; ++attempt) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return;
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    if (busy(rc) && attempt < 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    throw Error("store '" + path_ + "': " + msg + " (in: " + sql.substr(0, 80) + ")");
  }
}

std::int64_t Database::changes() const { return sqlite3_changes(db_); }

void Database::begin_immediate() { exec("BEGIN IMMEDIATE"); }
void Database::commit() {
  try {
    exec("COMMIT");
  } catch (...) {
    // A COMMIT that failed (disk full, I/O error) leaves the transaction
    // open; roll it back so the connection is usable and nothing half-written stays.
    rollback();
    throw;
  }
}
void Database::rollback() {
  char* err = nullptr;
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, &err);
  sqlite3_free(err);
}

}  // namespace trex::sql
