// The history of test results: every run's test-result records kept in one SQLite file,
// keyed by run and by the versions they ran with, and what it tells: the regressions of
// one run against an earlier one, each cell's statuses over the runs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

struct sqlite3;

namespace history {

/// The layout of the tables this build writes, kept in the file's `PRAGMA user_version`;
/// a file of any other version is refused, never read or written.
constexpr int kSchemaVersion = 1;

/// The backend name of a result's reference in cells, regressions and histories: the
/// reference is a cell of its own, beside the real backends.
constexpr const char* kReference = "reference";

/// A run as recorded: its id (ascending in recording order), when, and how many results.
struct Run {
  int64_t id = 0;
  std::string recorded_at;
  int64_t results = 0;
};

/// What regressions() found: `run` against `baseline` (0 when there was none to compare
/// with), every cell that passed in the baseline and fails or errs now as a regression
/// record, and how many passes of the baseline are not run now (skip, unimplemented,
/// no-skillset: not regressions).
struct Comparison {
  int64_t run = 0;
  int64_t baseline = 0;
  std::vector<nlohmann::json> regressions;
  size_t compared = 0;
  size_t no_longer_run = 0;
  nlohmann::json run_versions;       ///< the versions of the run's first result
  nlohmann::json baseline_versions;  ///< the same of the baseline
};

/// The current time in UTC as ISO 8601 (`2026-12-01T03:00:00Z`), what record() is given.
std::string now_utc();

/// One history file, open.
class Database {
 public:
  enum class Mode {
    kCreate,    ///< the file and its missing parent directories are made when absent
    kExisting,  ///< a missing file is an error
  };

  Database() = default;
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Opens the history file at `path`, laying out the tables in a new or empty file
  /// (kCreate). Refuses a file that is not SQLite, a SQLite file of other tables, and a
  /// history of another version.
  bool open(const std::string& path, Mode mode, std::string* err);

  /// Records `results` (test-result records, already valid against their schema) as one
  /// new run at `recorded_at`, all or nothing: a failure or a kill midway leaves the
  /// file as it was. Fills `*run`.
  bool record(const std::vector<nlohmann::json>& results, const std::string& recorded_at, Run* run,
              std::string* err);

  /// Every run, oldest first.
  bool runs(std::vector<Run>* out, std::string* err);

  /// Compares run `run` (0: the latest) with run `baseline` (0: the one before it). A
  /// cell is a model type, task, precision and backend (kReference for the reference);
  /// where one run holds several results of a cell, its status is the one that says
  /// most: error, fail, pass, unimplemented, skip, no-skillset in that order.
  bool regressions(int64_t run, int64_t baseline, Comparison* out, std::string* err);

  /// Each cell's history over the last `last_runs` runs (0: all): an object keyed
  /// "model_type|task|precision|backend" (precision fp32 where a record names none), each
  /// an array, oldest first, of {"run", "recorded_at", "status", "reason" (null when
  /// none), "versions"}; a run without the cell has no entry.
  bool cell_history(size_t last_runs, nlohmann::json* out, std::string* err);

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace history
