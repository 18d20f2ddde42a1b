// analyze: reads test-result records, prints requirements records (canonical JSON).
#include <cxxopts.hpp>

#include "common/analyze.h"
#include "common/generate.h"
#include "driver.h"

static const char* kTool = "analyze";

int main(int argc, char** argv) {
  driver::ignore_sigpipe();
  cxxopts::Options cli(kTool,
                       "Turn test-result records (files, or stdin for none or -) into one "
                       "requirements record per model type on stdout.\nExit 1 when a model "
                       "type's reference did not pass (it gets no requirements).");
  cli.positional_help("[RESULTS...]");
  cli.add_options()
      ("q,quiet", "no notes on stderr")
      ("version", "print the version")
      ("h,help", "print this help")
      ("files", "", cxxopts::value<std::vector<std::string>>());
  cli.parse_positional({"files"});
  std::vector<std::string> operands;
  try {
    auto args = cli.parse(argc, argv);
    if (args.count("help")) {
      std::printf("%s", cli.help().c_str());
      return exit_code::kOk;
    }
    if (args.count("version")) {
      std::printf("%s %s\n", kTool, kGeneratorVersion);
      return exit_code::kOk;
    }
    if (args.count("files")) operands = args["files"].as<std::vector<std::string>>();
    driver::quiet = args.count("quiet") > 0;
  } catch (const cxxopts::exceptions::exception& e) {
    return driver::fail(kTool, e.what());
  }

  std::vector<nlohmann::json> results;
  std::string err;
  if (!driver::read_records(operands, {"test-result"}, {"model_type", "reference"}, &results, &err))
    return driver::fail(kTool, err);
  if (results.empty()) return driver::fail(kTool, "no test results on input");

  Analysis analysis = analyze(results);
  for (const auto& r : analysis.requirements)
    if (!driver::emit(r)) return exit_code::kOk;
  for (const auto& why : analysis.failed) driver::note(kTool, why);
  return analysis.failed.empty() ? exit_code::kOk : exit_code::kFindings;
}
