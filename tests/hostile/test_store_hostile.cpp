// Stores from other machines and crashes: ids that would escape results/,
// symlinks, two writers of one run, a dead run's status, failed commits,
// text that is not UTF-8.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../helpers.h"
#include "trex/common/folder_lock.h"
#include "trex/store/query.h"
#include "trex/config/spec.h"
#include "trex/store/store.h"
#include "trex/store/merge.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

RunRecord record(const std::string& id, const std::string& host, std::int64_t pid) {
  RunRecord r;
  r.id = id;
  r.name = r.experiment = "exp";
  r.start_time = now_seconds();
  r.host = host;
  r.pid = pid;
  r.spec_yaml = "name: exp\n";
  r.spec_hash = "h";
  return r;
}

/// A pid that is certainly not running: a child that has exited and been reaped.
std::int64_t dead_pid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

std::string status_by_query(const Store& store, const std::string& id) {
  query::RunQuery q;
  q.where = "id = '" + id + "'";
  q.select = {query::parse_field("status")};
  std::string out;
  query::run_query(store.db(), q, [&](sql::Statement& s) { out = s.text(0); });
  return out;
}

}  // namespace

TEST_CASE("a run id that would escape results/ is refused by merge, and nothing is copied", "[hostile][store]") {
  TempDir d;
  const std::string src = d.file("src/results/trex.db"), dst = d.file("dst/results/trex.db");
  {
    Store s(src);
    s.create_run(record("../../escaped", "elsewhere", 1), {});
  }
  write_file(d.file("src/results/runs/../../escaped/payload.txt"), "x");
  Store into(dst);
  CHECK_THROWS_WITH(merge_store(into, src),
                    Contains("cannot merge") && Contains("run id '../../escaped' is not a valid id"));
  CHECK_FALSE(fs::exists(d.file("dst/escaped")));
  CHECK(into.runs().empty());
  CHECK_THROWS_WITH(into.run_dir("../x"), Contains("run id '../x' is not a valid id"));
  CHECK_THROWS_WITH(into.sweep_dir(".."), Contains("sweep id '..' is not a valid id"));
  CHECK(valid_id("20261202T061500123Z-0a1b2c3d"));
  CHECK(valid_id("sweep-20261202T061500123Z-0a1b2c3d"));
  for (const char* bad : {"", ".", "..", "a/b", "a\\b", "a b", "x\n", "\xc3\xa9"}) CHECK_FALSE(valid_id(bad));
}

TEST_CASE("merge copies a run folder's symlinks as links, never what they point to", "[hostile][store]") {
  TempDir d;
  const std::string src = d.file("src/trex.db"), dst = d.file("dst/trex.db");
  {
    Store s(src);
    s.create_run(record("run1", "elsewhere", 1), {});
  }
  write_file(d.file("outside/secret.txt"), "secret");
  fs::create_directories(d.file("src/runs/run1"));
  fs::create_directory_symlink(d.file("outside"), d.file("src/runs/run1/link"));
  Store into(dst);
  merge_store(into, src);
  REQUIRE(fs::is_symlink(d.file("dst/runs/run1/link")));  // a link, not a copy of the folder it names
  CHECK(fs::read_symlink(d.file("dst/runs/run1/link")) == fs::path(d.file("outside")));
}

TEST_CASE("trex runs, trex show, queries and the dashboard agree that a dead run is interrupted", "[hostile][store]") {
  TempDir d;
  const std::string path = d.file("trex.db");
  {
    Store s(path);
    s.create_run(record("dead", host_name(), dead_pid()), {});
    s.create_run(record("alive", host_name(), getpid()), {});
  }
  Store reader(path, true);  // read-only: nothing marks the dead run on open
  CHECK(reader.run("dead").status == "interrupted");
  CHECK(status_by_query(reader, "dead") == "interrupted");
  CHECK(status_by_query(reader, "alive") == "running");
  CHECK(query::count_runs(reader.db(), "status = interrupted") == 1);
  const auto listed =
      run_command(trex_binary() + " runs --store " + path + " --where \"status = interrupted\" --columns id");
  INFO(listed.output);
  CHECK(listed.output.find("dead") != std::string::npos);
  CHECK(listed.output.find("alive") == std::string::npos);
}

TEST_CASE("a second writer of one run is refused, naming the holder", "[hostile][store]") {
  TempDir d;
  {
    FolderLock first(d.str(), "run r1");
    CHECK_THROWS_WITH(FolderLock(d.str(), "run r1"), Contains("run r1 is being written by pid " +
                                                              std::to_string(getpid()) + " on host " + host_name()));
  }
  FolderLock again(d.str(), "run r1");  // released with its holder
}

TEST_CASE("a failed COMMIT rolls back and leaves the connection usable", "[hostile][store]") {
  TempDir d;
  Store s(d.file("trex.db"));
  // A deferred foreign key fails at COMMIT, which SQLite leaves open.
  CHECK_THROWS(s.db().transaction([&] {
    s.db().exec("PRAGMA defer_foreign_keys=ON");
    s.db().exec("INSERT INTO params(run_id, key, value, type) VALUES('no-such-run', 'k', 1, 'int')");
  }));
  CHECK(sqlite3_get_autocommit(s.db().handle()) != 0);  // no transaction left open
  s.create_run(record("after", "elsewhere", 1), {});
  CHECK(s.runs().size() == 1);
  auto sync = s.db().prepare("PRAGMA synchronous");
  sync.step();
  CHECK(sync.integer(0) == 2);  // FULL
}

TEST_CASE("class names that are not UTF-8 are stored and shown, not thrown on", "[hostile][store]") {
  TempDir d;
  Store s(d.file("trex.db"));
  RunRecord r = record("latin1", "elsewhere", 1);
  r.class_names = {"caf\xe9", "ok"};
  s.create_run(r, {});
  const auto back = s.run("latin1");
  REQUIRE(back.class_names.size() == 2);
  CHECK(back.class_names[0] == "caf\xef\xbf\xbd");  // U+FFFD
  const auto shown = run_command(trex_binary() + " show latin1 --store " + d.file("trex.db"));
  INFO(shown.output);
  CHECK(shown.exit_code == 0);
}
