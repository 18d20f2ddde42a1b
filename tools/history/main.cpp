// history: keeps every run's test-result records in a database (record) and lists what
// passed in the previous run and fails now (regressions), for CI jobs that should fail
// on a regression and not on a failure already known.
#include <cxxopts.hpp>

#include "common/history.h"
#include "driver.h"

static const char* kTool = "history";

// "transformers 5.23.0 -> 5.24.0, torch ..." for the versions that differ, or "same versions".
static std::string versions_change(const nlohmann::json& before, const nlohmann::json& now) {
  std::string text;
  nlohmann::json keys = nlohmann::json::object();
  for (const auto* side : {&before, &now})
    if (side->is_object())
      for (const auto& [key, value] : side->items()) keys[key] = true;
  for (const auto& [key, unused] : keys.items()) {
    auto was = before.is_object() ? before.value(key, std::string("none")) : "none";
    auto is = now.is_object() ? now.value(key, std::string("none")) : "none";
    if (was != is) text += (text.empty() ? "" : ", ") + key + " " + was + " -> " + is;
  }
  return text.empty() ? "same versions" : text;
}

static int record(const std::string& db_path, const std::vector<std::string>& operands) {
  std::string err;
  std::vector<nlohmann::json> results;
  if (!records::read_operands(operands, {"test-result"}, &results, &err)) return driver::fail(kTool, err);
  if (results.empty()) return driver::fail(kTool, "no test-result records on input");
  history::Database db;
  history::Run run;
  if (!db.open(db_path, history::Database::Mode::kCreate, &err) ||
      !db.record(results, history::now_utc(), &run, &err))
    return driver::fail(kTool, err);
  driver::note(kTool, "recorded run " + std::to_string(run.id) + " (" + std::to_string(run.results) +
                          (run.results == 1 ? " result" : " results") + ") in '" + db_path + "'");
  return exit_code::kOk;
}

static int regressions(const std::string& db_path, int64_t run, int64_t baseline) {
  std::string err;
  history::Database db;
  history::Comparison found;
  if (!db.open(db_path, history::Database::Mode::kExisting, &err) || !db.regressions(run, baseline, &found, &err))
    return driver::fail(kTool, err);
  if (found.baseline == 0) {
    driver::note(kTool, found.run == 0 ? "no runs recorded: nothing to compare"
                                       : "run " + std::to_string(found.run) + " is the first: nothing to compare");
    return exit_code::kOk;
  }
  for (const auto& r : found.regressions)
    if (!driver::emit(r)) return driver::output_failed(kTool);
  const size_t n = found.regressions.size();
  driver::note(kTool, std::to_string(n) + (n == 1 ? " regression" : " regressions") + " in run " +
                          std::to_string(found.run) + " against run " + std::to_string(found.baseline) + " (" +
                          std::to_string(found.compared) + " cells compared, " + std::to_string(found.no_longer_run) +
                          " passes no longer run; " + versions_change(found.baseline_versions, found.run_versions) +
                          ")");
  return n > 0 ? exit_code::kFindings : exit_code::kOk;
}

static int run(int argc, char** argv) {
  driver::ignore_sigpipe();
  // A kill midway through `record` leaves SQLite's journal, which the next open rolls back.
  driver::install_stop_handler(/*at_once=*/true);
  cxxopts::Options cli(kTool,
                       "Keep test results across runs and find regressions.\n"
                       "  history record --db FILE [RESULTS...]   record test-result records (files, or stdin "
                       "for none or -) as one new run\n"
                       "  history regressions --db FILE           print a regression record per cell (model "
                       "type, task, precision, backend or reference) that passed in the previous run and "
                       "fails or errs in the latest; exit 1 when there is any");
  cli.positional_help("record|regressions [RESULTS...]");
  cli.add_options()
      ("db", "the history database (SQLite; record creates it)", cxxopts::value<std::string>())
      ("run", "regressions: the run to check (default: the latest)", cxxopts::value<int64_t>())
      ("baseline", "regressions: the run to compare with (default: the one before --run)", cxxopts::value<int64_t>())
      ("command", "", cxxopts::value<std::string>())
      ("files", "", cxxopts::value<std::vector<std::string>>());
  driver::add_standard_options(cli);
  cli.parse_positional({"command", "files"});
  std::string command, db_path;
  std::vector<std::string> operands;
  int64_t run_id = 0, baseline = 0;  // 0: the default
  bool run_flags = false, bad_id = false;
  if (auto rc = driver::parse(cli, kTool, argc, argv, [&](const cxxopts::ParseResult& args) {
        if (args.count("command")) command = args["command"].as<std::string>();
        if (args.count("files")) operands = args["files"].as<std::vector<std::string>>();
        if (args.count("db")) db_path = args["db"].as<std::string>();
        for (auto [flag, id] : {std::pair{"run", &run_id}, std::pair{"baseline", &baseline}})
          if (args.count(flag)) {
            *id = args[flag].as<int64_t>();
            run_flags = true;
            bad_id = bad_id || *id < 1;
          }
      }))
    return *rc;
  if (command.empty()) return driver::fail(kTool, "no command: 'record' or 'regressions'");
  if (command != "record" && command != "regressions") return driver::fail(kTool, "unknown command '" + command + "'");
  if (db_path.empty()) return driver::fail(kTool, "--db is required for '" + command + "'");
  if (command == "record") {
    if (run_flags) return driver::fail(kTool, "--run and --baseline are for 'regressions'");
    return record(db_path, operands);
  }
  if (!operands.empty()) return driver::fail(kTool, "regressions reads no records '" + operands[0] + "'");
  if (bad_id) return driver::fail(kTool, "a run id is a positive number");
  return regressions(db_path, run_id, baseline);
}

int main(int argc, char** argv) {
  return driver::guard(kTool, [&] { return run(argc, argv); });
}
