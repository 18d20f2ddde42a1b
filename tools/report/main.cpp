// report: reads test-result and benchmark records, writes the compatibility matrix as
// JSON, Markdown and one self-contained HTML page (Markdown on stdout by default).
#include <cxxopts.hpp>
#include <map>

#include "common/history.h"
#include "common/report.h"
#include "driver.h"

static const char* kTool = "report";

static int run(int argc, char** argv) {
  driver::ignore_sigpipe();
  driver::install_stop_handler(/*at_once=*/true);
  cxxopts::Options cli(kTool,
                       "Turn test-result and benchmark records (files, or stdin for none or -; "
                       "shards from several machines merge with cat) into the compatibility "
                       "matrix: model types by backend and task, grouped by family, with the "
                       "summary counts and the benchmark figures.\nWhen one model type, task, "
                       "precision and backend appears twice, the later record wins (a benchmark: "
                       "also per checkpoint and batch size).\nWithout an output option the "
                       "Markdown goes to stdout. Files are written whole or not at all.");
  cli.positional_help("[RECORDS...]");
  cli.add_options()
      ("o,output-dir", "write report.json, report.md and report.html into DIR", cxxopts::value<std::string>(), "DIR")
      ("json", "write the matrix as JSON (schemas/report.schema.json) to FILE", cxxopts::value<std::string>(), "FILE")
      ("markdown", "write the Markdown to FILE", cxxopts::value<std::string>(), "FILE")
      ("html", "write the HTML page to FILE", cxxopts::value<std::string>(), "FILE")
      ("db", "show each cell's history from the database `history record` keeps in FILE",
       cxxopts::value<std::string>(), "FILE")
      ("history-runs", "with --db, the last N runs (0: all)", cxxopts::value<size_t>()->default_value("20"), "N")
      ("files", "", cxxopts::value<std::vector<std::string>>());
  driver::add_standard_options(cli);
  cli.parse_positional({"files"});
  std::vector<std::string> operands;
  std::map<std::string, std::string> targets;  // "json", "markdown", "html" -> file
  std::string db;
  size_t history_runs = 20;
  if (auto rc = driver::parse(cli, kTool, argc, argv, [&](const cxxopts::ParseResult& args) {
      if (args.count("files")) operands = args["files"].as<std::vector<std::string>>();
      if (args.count("output-dir")) {
        std::string dir = args["output-dir"].as<std::string>();
        targets = {{"json", dir + "/report.json"}, {"markdown", dir + "/report.md"}, {"html", dir + "/report.html"}};
      }
      if (args.count("db")) db = args["db"].as<std::string>();
      history_runs = args["history-runs"].as<size_t>();
      for (const char* kind : {"json", "markdown", "html"})
        if (args.count(kind)) targets[kind] = args[kind].as<std::string>();
      }))
    return *rc;

  std::vector<nlohmann::json> input;
  std::string err;
  if (!records::read_operands(operands, {"test-result", "benchmark"}, &input, &err)) return driver::fail(kTool, err);
  if (input.empty()) return driver::fail(kTool, "no test-result or benchmark records on input");
  nlohmann::json past;  // null: no history
  if (!db.empty()) {
    history::Database database;
    if (!database.open(db, history::Database::Mode::kExisting, &err) ||
        !database.cell_history(history_runs, &past, &err))
      return driver::fail(kTool, err);
  }
  nlohmann::json doc;
  if (!report::build(input, past, &doc, &err)) return driver::fail(kTool, err);

  if (targets.empty()) return driver::out(report::markdown(doc)) ? exit_code::kOk : driver::output_failed(kTool);
  std::map<std::string, std::string> texts = {{"json", doc.dump(2) + "\n"}, {"markdown", report::markdown(doc)}};
  if (targets.count("html")) {
    std::string chart_js;
    // Without chart.js the page still shows every table, and says how to get the charts.
    if (!files::read(files::project_home() + "/" + report::kChartJs, &chart_js, &err)) chart_js.clear();
    if (!report::html(doc, files::project_home() + "/templates/report", chart_js, &texts["html"], &err))
      return driver::fail(kTool, err);
  }
  // Every file staged before any is renamed into place: all of them, or none.
  std::vector<std::pair<std::string, std::string>> staged;  // temporary file, target
  for (const auto& [kind, path] : targets) {
    std::string temporary;
    if (!files::stage(path, texts[kind], &temporary, &err)) {
      for (const auto& [done, target] : staged) files::discard(done);
      return driver::fail(kTool, err);
    }
    staged.emplace_back(temporary, path);
  }
  files::HeldSignals held;
  for (size_t i = 0; i < staged.size(); ++i) {
    if (files::commit(staged[i].first, staged[i].second, &err)) continue;
    for (size_t rest = i + 1; rest < staged.size(); ++rest) files::discard(staged[rest].first);
    return driver::fail(kTool, err);
  }
  for (const auto& [kind, path] : targets) driver::note(kTool, "wrote " + path);
  return exit_code::kOk;
}

int main(int argc, char** argv) {
  return driver::guard(kTool, [&] { return run(argc, argv); });
}
