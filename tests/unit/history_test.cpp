#include "common/history.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>

#include "common/records.h"
#include "common/schema.h"
#include "temp_dir.h"

namespace {
// A test-result record of `model_type` whose reference passed and whose cpu has `cpu`.
nlohmann::json result(const std::string& model_type, const std::string& cpu, const std::string& transformers = "5.23.0") {
  nlohmann::json r = records::make("test-result");
  r.update({{"model_type", model_type}, {"ident", "t"}, {"family", "text-encoder"}, {"task", "feature-extraction"},
            {"test_file", "/t/test.py"}, {"skillset_file", "/s/hf.py"}, {"reference", {{"status", "pass"}}},
            {"backends", {{"cpu", {{"status", cpu}}}, {"cuda", {{"status", "skip"}, {"reason", "no-device"}}}}},
            {"versions", {{"python", "3.11.7"}, {"torch", "2.13.0+cpu"}, {"transformers", transformers}}}});
  return r;
}

using Results = std::vector<nlohmann::json>;  // one run's

// A database in a fresh temporary directory, its runs recorded one per vector.
struct Recorded {
  TempDir dir;
  std::string path = dir.path() + "/history.sqlite";
  history::Database db;
  explicit Recorded(const std::vector<Results>& runs) {
    std::string err;
    REQUIRE_MESSAGE(db.open(path, history::Database::Mode::kCreate, &err), err);
    int n = 0;
    for (const auto& results : runs) {
      history::Run run;
      REQUIRE_MESSAGE(db.record(results, "2026-12-0" + std::to_string(++n) + "T03:00:00Z", &run, &err), err);
    }
  }
  history::Comparison compare(int64_t run = 0, int64_t baseline = 0) {
    history::Comparison found;
    std::string err;
    REQUIRE_MESSAGE(db.regressions(run, baseline, &found, &err), err);
    return found;
  }
};

// Runs `sql` on the file at `path` through a connection of the test's own.
void sql(const std::string& path, const char* text) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, text, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

std::string open_error(const std::string& path, history::Database::Mode mode) {
  history::Database db;
  std::string err;
  CHECK_FALSE(db.open(path, mode, &err));
  return err;
}
}  // namespace

TEST_CASE("a cell that passed and now fails is one regression naming both runs and their versions") {
  Recorded h({Results{result("bert", "pass")}, Results{result("bert", "fail", "5.24.0")}});
  auto found = h.compare();
  CHECK(found.run == 2);
  CHECK(found.baseline == 1);
  REQUIRE(found.regressions.size() == 1);
  const auto& r = found.regressions[0];
  CHECK(r["schema"] == "regression");
  CHECK(r["model_type"] == "bert");
  CHECK(r["task"] == "feature-extraction");
  CHECK(r["precision"] == "fp32");
  CHECK(r["backend"] == "cpu");
  CHECK(r["status"] == "fail");
  CHECK(r["run"] == 2);
  CHECK(r["versions"]["transformers"] == "5.24.0");
  CHECK(r["previous"]["run"] == 1);
  CHECK(r["previous"]["status"] == "pass");
  CHECK(r["previous"]["versions"]["transformers"] == "5.23.0");
  CHECK(r["family"] == "text-encoder");
  CHECK(found.compared == 3);  // reference, cpu, cuda
  std::string err;
  const schema::Set* formats = schema::project(&err);
  REQUIRE_MESSAGE(formats, err);
  CHECK_MESSAGE(formats->check("regression", r, &err), err);
}

TEST_CASE("a failure that was already failing is no regression") {
  Recorded h({Results{result("bert", "fail")}, Results{result("bert", "error")}});
  CHECK(h.compare().regressions.empty());
}

TEST_CASE("a pass that is now a skip is counted as no longer run, not as a regression") {
  Recorded h({Results{result("bert", "pass")}, Results{result("bert", "skip")}});
  auto found = h.compare();
  CHECK(found.regressions.empty());
  CHECK(found.no_longer_run == 1);
}

TEST_CASE("a reference that passed and now errs is a regression of backend reference") {
  auto broken = result("bert", "skip");
  broken["reference"] = {{"status", "error"}, {"reason", "timeout"}, {"message", "timed out"}};
  Recorded h({Results{result("bert", "pass")}, Results{broken}});
  auto found = h.compare();
  REQUIRE(found.regressions.size() == 1);
  CHECK(found.regressions[0]["backend"] == history::kReference);
  CHECK(found.regressions[0]["reason"] == "timeout");
  CHECK(found.regressions[0]["message"] == "timed out");
  CHECK(found.no_longer_run == 1);  // cpu: skipped for want of a reference
}

TEST_CASE("a cell only one of the two runs has is not compared") {
  Recorded h({Results{result("bert", "pass")}, Results{result("vit", "fail")}});
  auto found = h.compare();
  CHECK(found.regressions.empty());
  CHECK(found.compared == 0);
}

TEST_CASE("the first run has nothing to compare with and an empty database no run") {
  Recorded one({Results{result("bert", "fail")}});
  auto found = one.compare();
  CHECK(found.run == 1);
  CHECK(found.baseline == 0);
  Recorded none(std::vector<Results>{});
  CHECK(none.compare().run == 0);
}

TEST_CASE("regressions compares the runs it is given, and refuses a run that is not there") {
  Recorded h({Results{result("bert", "pass")}, Results{result("bert", "pass")}, Results{result("bert", "fail")}});
  CHECK(h.compare(3, 1).regressions.size() == 1);
  CHECK(h.compare(2).regressions.empty());
  CHECK(h.compare(2).baseline == 1);
  history::Comparison found;
  std::string err;
  CHECK_FALSE(h.db.regressions(9, 0, &found, &err));
  CHECK(err == "no run 9 in '" + h.path + "'");
  CHECK_FALSE(h.db.regressions(2, 2, &found, &err));
}

TEST_CASE("precision is part of a cell: a fp16 failure is not a fp32 regression") {
  auto half = result("bert", "fail");
  half["precision"] = "fp16";
  Recorded h({Results{result("bert", "pass")}, Results{result("bert", "pass"), half}});
  CHECK(h.compare().regressions.empty());
}

TEST_CASE("of several results of one cell in one run, a failure outweighs a pass") {
  // bert the tiny model passes, a bert checkpoint of the Hub fails: the cell fails.
  Recorded h({Results{result("bert", "pass")}, Results{result("bert", "pass"), result("bert", "fail")}});
  CHECK(h.compare().regressions.size() == 1);
  Recorded already({Results{result("bert", "pass"), result("bert", "fail")}, Results{result("bert", "fail")}});
  CHECK(already.compare().regressions.empty());
}

TEST_CASE("a model type with quotes and SQL in it is stored and read back as it is") {
  const std::string hostile = "bert'); DROP TABLE runs; --\"";
  Recorded h({Results{result(hostile, "pass")}, Results{result(hostile, "fail")}});
  auto found = h.compare();
  REQUIRE(found.regressions.size() == 1);
  CHECK(found.regressions[0]["model_type"] == hostile);
  std::vector<history::Run> runs;
  std::string err;
  REQUIRE(h.db.runs(&runs, &err));
  CHECK(runs.size() == 2);
}

TEST_CASE("record is all or nothing: a failure midway leaves no part of the run") {
  Recorded h({Results{result("bert", "pass")}});
  // A failure after the run and the first result are written: the second result's insert aborts.
  sql(h.path, "CREATE TRIGGER boom BEFORE INSERT ON results WHEN NEW.model_type = 'vit' "
              "BEGIN SELECT RAISE(ABORT, 'boom'); END;");
  history::Run run;
  std::string err;
  CHECK_FALSE(h.db.record({result("bert", "fail"), result("vit", "pass")}, "2026-12-02T03:00:00Z", &run, &err));
  CHECK(err.find("boom") != std::string::npos);
  std::vector<history::Run> runs;
  REQUIRE(h.db.runs(&runs, &err));
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].results == 1);
  CHECK(h.compare().baseline == 0);
}

TEST_CASE("open refuses a database of an unknown version, another SQLite file, and a file that is not SQLite") {
  TempDir dir;
  {
    Recorded h({Results{result("bert", "pass")}});
    sql(h.path, "PRAGMA user_version = 7");
    CHECK(open_error(h.path, history::Database::Mode::kCreate) ==
          "history database of unknown version 7 (this build reads version 1) '" + h.path + "'");
  }
  const std::string other = dir.path() + "/other.sqlite";
  sql(other, "CREATE TABLE t (x)");
  CHECK(open_error(other, history::Database::Mode::kCreate) == "not a history database '" + other + "'");
  const std::string text = dir.write("notes.txt", "not a database, only some text long enough to have a header\n");
  CHECK(open_error(text, history::Database::Mode::kExisting) == "not a SQLite database '" + text + "'");
  const std::string missing = dir.path() + "/none.sqlite";
  CHECK(open_error(missing, history::Database::Mode::kExisting) == "no history database '" + missing + "'");
  CHECK_FALSE(std::filesystem::exists(missing));
}

TEST_CASE("open makes a new database and its missing directories") {
  TempDir dir;
  const std::string path = dir.path() + "/out/nightly/history.sqlite";
  history::Database db;
  std::string err;
  REQUIRE_MESSAGE(db.open(path, history::Database::Mode::kCreate, &err), err);
  std::vector<history::Run> runs;
  REQUIRE(db.runs(&runs, &err));
  CHECK(runs.empty());
  history::Database again;
  CHECK_MESSAGE(again.open(path, history::Database::Mode::kExisting, &err), err);
}

TEST_CASE("cell_history gives each cell's statuses oldest first, keyed model_type|task|precision|backend") {
  auto half = result("bert", "fail");
  half["precision"] = "fp16";
  Recorded h({Results{result("bert", "pass")}, Results{result("bert", "fail", "5.24.0"), half}, Results{result("vit", "pass")}});
  nlohmann::json cells;
  std::string err;
  REQUIRE_MESSAGE(h.db.cell_history(0, &cells, &err), err);
  REQUIRE(cells.contains("bert|feature-extraction|fp32|cpu"));
  const auto& cpu = cells["bert|feature-extraction|fp32|cpu"];
  REQUIRE(cpu.size() == 2);
  CHECK(cpu[0] == nlohmann::json({{"run", 1}, {"recorded_at", "2026-12-01T03:00:00Z"}, {"status", "pass"},
                                  {"reason", nullptr},
                                  {"versions", {{"python", "3.11.7"}, {"torch", "2.13.0+cpu"}, {"transformers", "5.23.0"}}}}));
  CHECK(cpu[1]["run"] == 2);
  CHECK(cpu[1]["status"] == "fail");
  CHECK(cpu[1]["versions"]["transformers"] == "5.24.0");
  CHECK(cells["bert|feature-extraction|fp32|cuda"][0]["reason"] == "no-device");
  CHECK(cells["bert|feature-extraction|fp32|reference"].size() == 2);
  CHECK(cells["vit|feature-extraction|fp32|cpu"].size() == 1);

  REQUIRE(h.db.cell_history(2, &cells, &err));  // the last two runs only
  CHECK(cells["bert|feature-extraction|fp32|cpu"].size() == 1);
  CHECK(cells["bert|feature-extraction|fp32|cpu"][0]["run"] == 2);

  REQUIRE(h.db.cell_history(0, &cells, &err));
  CHECK(cells["bert|feature-extraction|fp16|cpu"].size() == 1);
  CHECK(cells["bert|feature-extraction|fp16|cpu"][0]["status"] == "fail");
}
