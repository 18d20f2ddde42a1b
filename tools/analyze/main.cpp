// analyze: reads test-result records, prints requirements records (canonical JSON).
#include <cxxopts.hpp>

#include "common/analyze.h"
#include "driver.h"

static const char* kTool = "analyze";

static int run(int argc, char** argv) {
  driver::ignore_sigpipe();
  cxxopts::Options cli(kTool,
                       "Turn test-result records (files, or stdin for none or -) into one "
                       "requirements record per model type on stdout.\nExit 1 when a model "
                       "type's reference did not pass (it gets no requirements).");
  cli.positional_help("[RESULTS...]");
  cli.add_options()
      ("files", "", cxxopts::value<std::vector<std::string>>());
  driver::add_standard_options(cli);
  cli.parse_positional({"files"});
  std::vector<std::string> operands;
  if (auto rc = driver::parse(cli, kTool, argc, argv, [&](const cxxopts::ParseResult& args) {
      if (args.count("files")) operands = args["files"].as<std::vector<std::string>>();
      }))
    return *rc;

  std::vector<nlohmann::json> results;
  std::string err;
  if (!records::read_operands(operands, {"test-result"}, &results, &err))
    return driver::fail(kTool, err);
  if (results.empty()) return driver::fail(kTool, "no test results on input");

  Analysis analysis = analyze(results);
  for (const auto& r : analysis.requirements)
    if (!driver::emit(r)) return driver::output_failed(kTool);
  for (const auto& why : analysis.failed) driver::note(kTool, why);
  return analysis.failed.empty() ? exit_code::kOk : exit_code::kFindings;
}

int main(int argc, char** argv) {
  return driver::guard(kTool, [&] { return run(argc, argv); });
}
