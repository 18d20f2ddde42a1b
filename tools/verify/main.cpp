// verify: checks each skillset of the manifest records it reads, statically and by
// re-running its test (never trusting older results); prints discrepancy records and a
// verify-summary record. Exit 0 when every skillset passed, 1 otherwise.
#include <cxxopts.hpp>
#include <thread>

#include "common/junit.h"
#include "common/runner.h"
#include "common/verify.h"
#include "driver.h"

static const char* kTool = "verify";

static int run(int argc, char** argv) {
  driver::ignore_sigpipe();
  driver::install_stop_handler(/*at_once=*/false);
  cxxopts::Options cli(kTool,
                       "Verify skillsets named by skillset-manifest records (files, or stdin for "
                       "none or -): static checks against the contract and the requirements, "
                       "then a fresh run of each test. Prints a discrepancy record per "
                       "difference and a verify-summary record last.");
  cli.positional_help("[MANIFESTS...]");
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  cli.add_options()
      ("j,jobs", "parallel test workers", cxxopts::value<int>()->default_value(std::to_string(cores)))
      ("timeout", "seconds per test before its worker is killed", cxxopts::value<double>()->default_value("900"))
      ("v,verbose", "pass the tests' own output through to stderr")
      ("junit", "also write the verdicts as JUnit XML to FILE, at the end", cxxopts::value<std::string>(), "FILE")
      ("results", "also write the test-result record of every test run to FILE (JSON Lines, for report)",
       cxxopts::value<std::string>(), "FILE")
      ("files", "", cxxopts::value<std::vector<std::string>>());
  driver::add_standard_options(cli);
  cli.parse_positional({"files"});
  std::vector<std::string> operands;
  std::string junit_file;
  int jobs = 1;
  double timeout = 900;
  bool verbose = false;
  std::string results_file;
  if (auto rc = driver::parse(cli, kTool, argc, argv, [&](const cxxopts::ParseResult& args) {
      if (args.count("files")) operands = args["files"].as<std::vector<std::string>>();
      jobs = args["jobs"].as<int>();
      timeout = args["timeout"].as<double>();
      verbose = args.count("verbose") > 0;
      if (args.count("junit")) junit_file = args["junit"].as<std::string>();
      if (args.count("results")) results_file = args["results"].as<std::string>();
      }))
    return *rc;
  if (jobs < 1) return driver::fail(kTool, "--jobs must be at least 1");
  if (timeout <= 0) return driver::fail(kTool, "--timeout must be positive");

  std::vector<nlohmann::json> manifests;
  std::string err;
  if (!records::read_operands(operands, {"skillset-manifest"}, &manifests, &err)) return driver::fail(kTool, err);
  if (manifests.empty()) return driver::fail(kTool, "no skillset manifests on input");
  if (!junit_file.empty() && !files::can_write(junit_file, &err)) return driver::fail(kTool, err);

  VerifyTally tally;
  std::vector<nlohmann::json> checked;  // the manifests with a skillset, by job id
  std::vector<std::vector<nlohmann::json>> static_findings;  // by job id, found before any test runs
  std::vector<TestJob> test_jobs;
  std::vector<junit::Case> cases;
  for (const auto& m : manifests) {
    std::string status = m.value("status", "");
    if (status != "written" && status != "unchanged") {
      ++tally.unsupported;
      cases.push_back(junit::unsupported_case(m));
      continue;
    }
    // The schema requires both files of a written or unchanged skillset.
    test_jobs.push_back(TestJob{std::to_string(checked.size()), m["test_file"], m["skillset_file"], {}});
    checked.push_back(m);
    static_findings.push_back(check_static(m));
  }

  RunnerOptions options = worker_options(std::min<int>(jobs, std::max<size_t>(1, test_jobs.size())), timeout);
  options.pass_output = verbose;
  options.stop = &driver::stop_requested;
  bool stdout_open = true;
  std::string results;  // JSON Lines, in the order the tests ended
  auto on_done = [&](const TestOutcome& outcome, size_t done, size_t total) {
    const size_t index = std::stoul(outcome.id);
    const nlohmann::json& m = checked[index];
    nlohmann::json result = result_record(m, outcome);
    results += records::line(result);
    std::vector<nlohmann::json> found = static_findings[index];
    cases.push_back(junit::contract_case(m, found));
    for (auto& c : junit::result_cases(result)) cases.push_back(std::move(c));
    for (auto& d : check_result(m, result)) found.push_back(std::move(d));
    tally.add(result, found.size());
    for (const auto& d : found) stdout_open = stdout_open && driver::emit(d);
    if (!stdout_open) driver::stop_requested = 1;  // nobody reads the findings any more
    driver::note(kTool, "[" + std::to_string(done) + "/" + std::to_string(total) + "] " +
                            m.value("model_type", "") + ": " + (found.empty() ? "ok" : std::to_string(found.size()) + " discrepancies") +
                            " (" + summarize(result) + ")");
  };
  if (!run_all(test_jobs, options, on_done, &err)) {
    if (driver::stop_signal) return driver::stopped_exit_code();
    if (!stdout_open) return driver::output_failed(kTool);
    return driver::fail(kTool, err);
  }
  if (!junit_file.empty() && !files::write_atomic(junit_file, junit::document(kTool, cases), &err))
    return driver::fail(kTool, err);
  if (!results_file.empty() && !files::write_atomic(results_file, results, &err)) return driver::fail(kTool, err);
  if (!stdout_open || !driver::emit(tally.summary())) return driver::output_failed(kTool);
  driver::note(kTool, std::to_string(tally.passed) + "/" + std::to_string(tally.skillsets) + " skillsets passed, " +
                          std::to_string(tally.discrepancies) + " discrepancies, " +
                          std::to_string(tally.unsupported) + " unsupported");
  return tally.passed == tally.skillsets ? exit_code::kOk : exit_code::kFindings;
}

int main(int argc, char** argv) {
  return driver::guard(kTool, [&] { return run(argc, argv); });
}
