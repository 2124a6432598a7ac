#include "trex/store/schema.h"

namespace trex {

// Forward-only migrations; user_version is the number applied.
const std::vector<std::string>& schema_migrations() {
  static const std::vector<std::string> migrations = {
      // 1: runs, params, metrics, summaries, artifacts
      R"sql(
CREATE TABLE runs(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  experiment TEXT NOT NULL,
  status TEXT NOT NULL CHECK(status IN ('running','completed','failed','interrupted','pruned')),
  error TEXT,
  start_time REAL NOT NULL,
  end_time REAL,
  heartbeat REAL NOT NULL,
  host TEXT,
  pid INTEGER,
  seed INTEGER,
  trex_version TEXT,
  torch_version TEXT,
  opencv_version TEXT,
  git_commit TEXT,
  spec_yaml TEXT NOT NULL,
  spec_hash TEXT NOT NULL,
  class_names TEXT
);
CREATE INDEX runs_name ON runs(name, start_time);
CREATE INDEX runs_experiment ON runs(experiment, start_time);
CREATE TABLE params(
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value,
  type TEXT NOT NULL,
  PRIMARY KEY(run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_key_value ON params(key, value);
CREATE TABLE metrics(
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  split TEXT NOT NULL CHECK(split IN ('train','val','test')),
  name TEXT NOT NULL,
  value REAL,
  wall_seconds REAL,
  PRIMARY KEY(run_id, epoch, split, name)
) WITHOUT ROWID;
CREATE TABLE summaries(
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  best REAL, best_epoch INTEGER, last REAL, min REAL, max REAL,
  higher_is_better INTEGER NOT NULL,
  PRIMARY KEY(run_id, key)
) WITHOUT ROWID;
CREATE INDEX summaries_key_best ON summaries(key, best);
CREATE TABLE artifacts(
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  path TEXT NOT NULL,
  checksum TEXT,
  PRIMARY KEY(run_id, path)
) WITHOUT ROWID;
)sql",
      // 2: the run's main metric, and the learning rate of each epoch
      R"sql(
ALTER TABLE runs ADD COLUMN main_metric TEXT;
CREATE TABLE epochs(
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  lr REAL,
  PRIMARY KEY(run_id, epoch)
) WITHOUT ROWID;
)sql",
      // 3: evaluations of a trained run (trex predict --evaluate), apart from training runs
      R"sql(
CREATE TABLE evaluations(
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  created REAL NOT NULL,
  checkpoint TEXT NOT NULL,
  source TEXT NOT NULL,
  examples INTEGER NOT NULL
);
CREATE INDEX evaluations_run ON evaluations(run_id);
CREATE TABLE evaluation_metrics(
  evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY(evaluation_id, name)
) WITHOUT ROWID;
CREATE TABLE evaluation_classes(
  evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
  class_index INTEGER NOT NULL,
  class_name TEXT,
  precision REAL, recall REAL, f1 REAL, support INTEGER,
  PRIMARY KEY(evaluation_id, class_index)
) WITHOUT ROWID;
)sql",
      // 4: sweeps and their trials; a run knows its sweep and trial; indexes for --where on summaries
      R"sql(
CREATE TABLE sweeps(
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL,
  name TEXT NOT NULL,
  spec_path TEXT,
  spec_yaml TEXT NOT NULL,
  method TEXT NOT NULL,
  config TEXT NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('running','completed','interrupted','failed')),
  created REAL NOT NULL,
  updated REAL NOT NULL,
  host TEXT,
  pid INTEGER,
  shard_index INTEGER NOT NULL DEFAULT 0,
  shard_count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX sweeps_key ON sweeps(key, created);
CREATE INDEX sweeps_name ON sweeps(name, created);
CREATE TABLE trials(
  sweep_id TEXT NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  config INTEGER NOT NULL,
  seed INTEGER,
  params TEXT NOT NULL,
  point TEXT NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('pending','running','completed','failed','pruned','interrupted')),
  run_id TEXT,
  objective REAL,
  reason TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  updated REAL NOT NULL,
  PRIMARY KEY(sweep_id, number)
) WITHOUT ROWID;
ALTER TABLE runs ADD COLUMN sweep_id TEXT;
ALTER TABLE runs ADD COLUMN trial INTEGER;
CREATE INDEX runs_sweep ON runs(sweep_id, trial);
CREATE INDEX runs_start ON runs(start_time);
CREATE INDEX summaries_key_last ON summaries(key, last);
)sql",
      // 5: checksums of big files (weights) by version, per host: a file is hashed once
      R"sql(
CREATE TABLE file_checksums(
  path TEXT NOT NULL,
  host TEXT NOT NULL,
  device INTEGER NOT NULL,
  inode INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  checksum TEXT NOT NULL,
  PRIMARY KEY(path, host)
) WITHOUT ROWID;
)sql",
  };
  return migrations;
}

}  // namespace trex
