#include "common/history.h"

#include <sqlite3.h>

#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <tuple>

#include "common/json_parse.h"
#include "common/records.h"

namespace history {

namespace {

// The tables of version 1. A result is one test-result record of a run, with the fields
// a cell is keyed by and the versions as columns (indexed, so a question by version
// needs no scan); its cells are the reference and each backend. Nothing else of the
// record is kept: the signature and generation of every nightly run would make the file
// grow by megabytes a run and say nothing about what passed.
constexpr const char* kTables = R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  recorded_at TEXT NOT NULL
);
CREATE TABLE results (
  id INTEGER PRIMARY KEY,
  run INTEGER NOT NULL REFERENCES runs(id),
  model_type TEXT NOT NULL,
  task TEXT NOT NULL,
  precision TEXT NOT NULL,
  python TEXT,
  torch TEXT,
  transformers TEXT,
  versions TEXT NOT NULL,
  identity TEXT NOT NULL
);
CREATE INDEX results_by_run ON results(run);
CREATE INDEX results_by_versions ON results(transformers, torch, python);
CREATE TABLE cells (
  result INTEGER NOT NULL REFERENCES results(id),
  backend TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  message TEXT,
  PRIMARY KEY (result, backend)
);
PRAGMA user_version = 1;
)sql";
static_assert(kSchemaVersion == 1, "kTables lays out version 1");

// A prepared statement: every value reaches SQL through a bind, never through the text.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) { ok_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) == SQLITE_OK; }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return ok_; }
  void bind(int at, const std::string& text) {
    ok_ = ok_ && sqlite3_bind_text(stmt_, at, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT) == SQLITE_OK;
  }
  void bind(int at, int64_t number) { ok_ = ok_ && sqlite3_bind_int64(stmt_, at, number) == SQLITE_OK; }
  void bind(int at, const std::optional<std::string>& text) {
    if (text) return bind(at, *text);
    ok_ = ok_ && sqlite3_bind_null(stmt_, at) == SQLITE_OK;
  }
  /// Steps once: true with a row, false at the end or on an error (then ok() is false).
  bool row() {
    if (!ok_) return false;
    int rc = sqlite3_step(stmt_);
    ok_ = rc == SQLITE_ROW || rc == SQLITE_DONE;
    return rc == SQLITE_ROW;
  }
  /// Runs a statement that returns no rows.
  bool run() {
    row();
    return ok_;
  }
  int64_t integer(int column) { return sqlite3_column_int64(stmt_, column); }
  std::optional<std::string> text(int column) {
    auto bytes = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (!bytes) return std::nullopt;
    return std::string(bytes, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::string error() const { return sqlite3_errmsg(db_); }
  bool not_a_database() const { return sqlite3_errcode(db_) == SQLITE_NOTADB; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool ok_ = false;
};

// Rolls back unless committed, so every way out of record() but success leaves nothing.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { begun_ = Statement(db, "BEGIN IMMEDIATE").run(); }
  ~Transaction() {
    if (begun_ && !committed_) Statement(db_, "ROLLBACK").run();
  }
  bool begun() const { return begun_; }
  bool commit() { return committed_ = Statement(db_, "COMMIT").run(); }

 private:
  sqlite3* db_;
  bool begun_ = false, committed_ = false;
};

std::optional<std::string> string_at(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// How much a status says about a cell, for several results of one cell in one run: a
// failure outweighs a pass, a pass outweighs not having run.
int weight(const std::string& status) {
  static const std::map<std::string, int> weights = {{"error", 6}, {"fail", 5}, {"pass", 4},
                                                     {"unimplemented", 3}, {"skip", 2}, {"no-skillset", 1}};
  auto it = weights.find(status);
  return it == weights.end() ? 0 : it->second;
}

// A value as one compact line of canonical JSON, the form the text columns keep.
std::string compact(const nlohmann::json& value) {
  std::string text = records::line(value);
  text.pop_back();  // the record's newline
  return text;
}

bool failing(const std::string& status) { return status == "fail" || status == "error"; }

// One cell of one result, as the database gives it back.
struct Cell {
  int64_t run = 0;
  std::string recorded_at, model_type, task, precision, backend, status;
  std::optional<std::string> reason, message;
  nlohmann::json versions, identity;
};

using Key = std::tuple<std::string, std::string, std::string, std::string>;  // model type, task, precision, backend

// Reads the cells the statement selects (its columns as kCellColumns lists them) into
// `*cells` by run and key, keeping per run and key the one whose status weighs most.
constexpr const char* kCellColumns =
    "SELECT r.run, runs.recorded_at, r.model_type, r.task, r.precision, c.backend, c.status, c.reason, "
    "c.message, r.versions, r.identity FROM cells c JOIN results r ON r.id = c.result JOIN runs ON runs.id = r.run ";

bool read_cells(Statement& select, std::map<int64_t, std::map<Key, Cell>>* cells, std::string* err) {
  while (select.row()) {
    Cell cell;
    cell.run = select.integer(0);
    cell.recorded_at = select.text(1).value_or("");
    cell.model_type = select.text(2).value_or("");
    cell.task = select.text(3).value_or("");
    cell.precision = select.text(4).value_or("");
    cell.backend = select.text(5).value_or("");
    cell.status = select.text(6).value_or("");
    cell.reason = select.text(7);
    cell.message = select.text(8);
    std::string why;
    if (!parse_json(select.text(9).value_or(""), &cell.versions, &why) ||
        !parse_json(select.text(10).value_or(""), &cell.identity, &why)) {
      *err = "corrupt result in run " + std::to_string(cell.run) + ": " + why;
      return false;
    }
    Key key{cell.model_type, cell.task, cell.precision, cell.backend};
    auto& of_run = (*cells)[cell.run];
    auto found = of_run.find(key);
    if (found == of_run.end())
      of_run.emplace(key, std::move(cell));
    else if (weight(cell.status) > weight(found->second.status))
      found->second = std::move(cell);
  }
  if (!select.ok()) {
    *err = select.error();
    return false;
  }
  return true;
}

bool run_exists(sqlite3* db, int64_t id, bool* exists, std::string* err) {
  Statement select(db, "SELECT 1 FROM runs WHERE id = ?1");
  select.bind(1, id);
  *exists = select.row();
  if (!select.ok()) *err = select.error();
  return select.ok();
}

nlohmann::json regression(const Cell& now, const Cell& before) {
  nlohmann::json out = records::make("regression");
  records::copy_identity(now.identity, &out);
  out.update({{"model_type", now.model_type}, {"task", now.task}, {"precision", now.precision},
              {"backend", now.backend}, {"status", now.status}, {"run", now.run},
              {"recorded_at", now.recorded_at}, {"versions", now.versions},
              {"previous", {{"run", before.run}, {"recorded_at", before.recorded_at},
                            {"status", before.status}, {"versions", before.versions}}}});
  if (now.reason) out["reason"] = *now.reason;
  if (now.message) out["message"] = *now.message;
  return out;
}

}  // namespace

std::string now_utc() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

Database::~Database() { sqlite3_close(db_); }

bool Database::open(const std::string& path, Mode mode, std::string* err) {
  sqlite3_close(db_);
  db_ = nullptr;
  path_ = path;
  std::error_code ec;
  if (mode == Mode::kExisting && !std::filesystem::is_regular_file(path, ec)) {
    *err = "no history database '" + path + "'";
    return false;
  }
  auto parent = std::filesystem::path(path).parent_path();
  if (mode == Mode::kCreate && !parent.empty() && !std::filesystem::is_directory(parent, ec) &&
      !std::filesystem::create_directories(parent, ec)) {
    *err = "cannot create the directory of '" + path + "': " + ec.message();
    return false;
  }
  // Read-write even to read: a killed writer's journal must be rolled back before any
  // read, and SQLite opens a file it may not write read-only by itself.
  int flags = SQLITE_OPEN_READWRITE | (mode == Mode::kCreate ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    *err = std::string("cannot open '") + path + "': " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    return false;
  }
  // Two jobs recording into one file take turns instead of failing at once.
  sqlite3_busy_timeout(db_, 30000);
  Statement version(db_, "PRAGMA user_version");
  if (!version.row()) {
    *err = version.not_a_database() ? "not a SQLite database '" + path + "'"
                                    : "cannot read '" + path + "': " + version.error();
    return false;
  }
  int64_t found = version.integer(0);
  if (found == kSchemaVersion) return true;
  if (found != 0) {
    *err = "history database of unknown version " + std::to_string(found) + " (this build reads version " +
           std::to_string(kSchemaVersion) + ") '" + path + "'";
    return false;
  }
  Statement objects(db_, "SELECT count(*) FROM sqlite_schema");
  if (!objects.row()) {
    *err = "cannot read '" + path + "': " + objects.error();
    return false;
  }
  if (objects.integer(0) > 0 || mode == Mode::kExisting) {
    *err = "not a history database '" + path + "'";
    return false;
  }
  // sqlite3_exec runs the fixed text of kTables: no value of anyone's is in it.
  Transaction transaction(db_);
  char* why = nullptr;
  if (transaction.begun()) {
    // Another process may have laid the tables out while this one waited for the lock.
    Statement again(db_, "PRAGMA user_version");
    if (again.row() && again.integer(0) == kSchemaVersion) return true;
  }
  if (!transaction.begun() || sqlite3_exec(db_, kTables, nullptr, nullptr, &why) != SQLITE_OK || !transaction.commit()) {
    *err = "cannot write '" + path + "': " + (why ? why : sqlite3_errmsg(db_));
    sqlite3_free(why);
    return false;
  }
  return true;
}

bool Database::record(const std::vector<nlohmann::json>& results, const std::string& recorded_at, Run* run,
                      std::string* err) {
  auto failed = [&](const std::string& why) {
    *err = "cannot record into '" + path_ + "': " + why;
    return false;
  };
  Transaction transaction(db_);
  if (!transaction.begun()) return failed(sqlite3_errmsg(db_));
  Statement insert_run(db_, "INSERT INTO runs (recorded_at) VALUES (?1)");
  insert_run.bind(1, recorded_at);
  if (!insert_run.run()) return failed(insert_run.error());
  run->id = sqlite3_last_insert_rowid(db_);
  run->recorded_at = recorded_at;
  run->results = 0;
  for (const auto& result : results) {
    nlohmann::json versions = result.value("versions", nlohmann::json::object());
    nlohmann::json identity = nlohmann::json::object();
    records::copy_identity(result, &identity);
    Statement insert_result(db_,
                            "INSERT INTO results (run, model_type, task, precision, python, torch, transformers, "
                            "versions, identity) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    insert_result.bind(1, run->id);
    insert_result.bind(2, result.value("model_type", ""));
    insert_result.bind(3, result.value("task", ""));
    insert_result.bind(4, result.value("precision", "fp32"));
    insert_result.bind(5, string_at(versions, "python"));
    insert_result.bind(6, string_at(versions, "torch"));
    insert_result.bind(7, string_at(versions, "transformers"));
    insert_result.bind(8, compact(versions));
    insert_result.bind(9, compact(identity));
    if (!insert_result.run()) return failed(insert_result.error());
    const int64_t id = sqlite3_last_insert_rowid(db_);
    auto insert_cell = [&](const std::string& backend, const nlohmann::json& outcome) {
      Statement insert(db_, "INSERT INTO cells (result, backend, status, reason, message) VALUES (?1, ?2, ?3, ?4, ?5)");
      insert.bind(1, id);
      insert.bind(2, backend);
      insert.bind(3, string_at(outcome, "status").value_or(""));
      insert.bind(4, string_at(outcome, "reason"));
      insert.bind(5, string_at(outcome, "message"));
      if (!insert.run()) return failed(insert.error());
      return true;
    };
    if (!insert_cell(kReference, result.value("reference", nlohmann::json::object()))) return false;
    const nlohmann::json backends = result.value("backends", nlohmann::json::object());
    for (const auto& [backend, outcome] : backends.items())
      if (!insert_cell(backend, outcome)) return false;
    ++run->results;
  }
  if (!transaction.commit()) return failed(sqlite3_errmsg(db_));
  return true;
}

bool Database::runs(std::vector<Run>* out, std::string* err) {
  Statement select(db_, "SELECT id, recorded_at, (SELECT count(*) FROM results WHERE run = runs.id) FROM runs ORDER BY id");
  while (select.row()) out->push_back(Run{select.integer(0), select.text(1).value_or(""), select.integer(2)});
  if (!select.ok()) *err = "cannot read '" + path_ + "': " + select.error();
  return select.ok();
}

bool Database::regressions(int64_t run, int64_t baseline, Comparison* out, std::string* err) {
  auto failed = [&](const std::string& why) {
    *err = "cannot read '" + path_ + "': " + why;
    return false;
  };
  for (int64_t id : {run, baseline}) {
    bool exists = false;
    if (id == 0) continue;
    if (!run_exists(db_, id, &exists, err)) return failed(*err);
    if (!exists) {
      *err = "no run " + std::to_string(id) + " in '" + path_ + "'";
      return false;
    }
  }
  if (run == 0) {
    Statement latest(db_, "SELECT max(id) FROM runs");
    if (!latest.row()) return failed(latest.error());
    run = latest.integer(0);  // 0 (NULL) when nothing is recorded
  }
  if (baseline == 0 && run != 0) {
    Statement before(db_, "SELECT max(id) FROM runs WHERE id < ?1");
    before.bind(1, run);
    if (!before.row()) return failed(before.error());
    baseline = before.integer(0);
  }
  out->run = run;
  out->baseline = baseline;
  if (run == 0 || baseline == 0) return true;
  if (run == baseline) {
    *err = "run " + std::to_string(run) + " compared with itself";
    return false;
  }
  std::map<int64_t, std::map<Key, Cell>> cells;
  Statement select(db_, (std::string(kCellColumns) + "WHERE r.run IN (?1, ?2) ORDER BY r.id").c_str());
  select.bind(1, run);
  select.bind(2, baseline);
  if (!read_cells(select, &cells, err)) return failed(*err);
  for (const auto& [key, now] : cells[run]) {
    auto before = cells[baseline].find(key);
    if (before == cells[baseline].end()) continue;
    ++out->compared;
    if (before->second.status != "pass") continue;
    if (failing(now.status))
      out->regressions.push_back(regression(now, before->second));
    else if (now.status != "pass")
      ++out->no_longer_run;
  }
  auto first_versions = [&](int64_t id) {
    Statement select(db_, "SELECT versions FROM results WHERE run = ?1 ORDER BY id LIMIT 1");
    select.bind(1, id);
    nlohmann::json versions = nlohmann::json::object();
    std::string why;
    if (select.row()) parse_json(select.text(0).value_or("{}"), &versions, &why);
    return versions;
  };
  out->run_versions = first_versions(run);
  out->baseline_versions = first_versions(baseline);
  return true;
}

bool Database::cell_history(size_t last_runs, nlohmann::json* out, std::string* err) {
  // The oldest run wanted: the last_runs-th from the end (LIMIT -1 is no limit).
  std::map<int64_t, std::map<Key, Cell>> cells;
  Statement select(db_, (std::string(kCellColumns) +
                         "WHERE r.run >= (SELECT coalesce(min(id), 0) FROM "
                         "(SELECT id FROM runs ORDER BY id DESC LIMIT ?1)) ORDER BY r.id")
                            .c_str());
  select.bind(1, last_runs == 0 ? int64_t{-1} : static_cast<int64_t>(last_runs));
  if (!read_cells(select, &cells, err)) {
    *err = "cannot read '" + path_ + "': " + *err;
    return false;
  }
  *out = nlohmann::json::object();
  for (const auto& [run, of_run] : cells)  // runs ascending: each array comes out oldest first
    for (const auto& [key, cell] : of_run)
      (*out)[cell.model_type + "|" + cell.task + "|" + cell.precision + "|" + cell.backend].push_back(
          {{"run", run}, {"recorded_at", cell.recorded_at}, {"status", cell.status},
           {"reason", cell.reason ? nlohmann::json(*cell.reason) : nlohmann::json()},
           {"versions", cell.versions}});
  return true;
}

}  // namespace history
