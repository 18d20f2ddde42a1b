// run-tests: runs the test of each test-plan record it reads on a pool of long-lived
// Python workers and prints one test-result record per test, in completion order.
#include <cxxopts.hpp>
#include <thread>

#include "common/runner.h"
#include "driver.h"

static const char* kTool = "run-tests";

static std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.1f s" : "%.0f s", s);
  return buf;
}

static int run(int argc, char** argv) {
  driver::ignore_sigpipe();
  driver::install_stop_handler(/*at_once=*/false);

  cxxopts::Options cli(kTool,
                       "Run the test of each test-plan record (files, or stdin for none or -) "
                       "and print one test-result record per test on stdout, as each finishes.\n"
                       "Exit 1 when any reference or backend failed or erred.");
  cli.positional_help("[PLANS...]");
  cli.add_options()
      ("j,jobs", "parallel test workers (default: the number of cores, at most one per plan)", cxxopts::value<int>())
      ("max-workers", "same as --jobs (the original toolkit's word)", cxxopts::value<int>())
      ("timeout", "seconds per test before its worker is killed and the test recorded as an error",
       cxxopts::value<double>()->default_value("900"))
      ("backends", "comma-separated backends to test (default: each plan's own)", cxxopts::value<std::vector<std::string>>())
      ("v,verbose", "pass the tests' own output through to stderr (otherwise only a crashed "
                     "worker's last line is shown, in its record)")
      ("files", "", cxxopts::value<std::vector<std::string>>());
  driver::add_standard_options(cli);
  cli.parse_positional({"files"});

  std::vector<std::string> operands, backends;
  int jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double timeout = 900;
  bool verbose = false;
  if (auto rc = driver::parse(cli, kTool, argc, argv, [&](const cxxopts::ParseResult& args) {
      if (args.count("files")) operands = args["files"].as<std::vector<std::string>>();
      for (const char* key : {"max-workers", "jobs"})
        if (args.count(key)) jobs = args[key].as<int>();
      timeout = args["timeout"].as<double>();
      if (args.count("backends")) backends = args["backends"].as<std::vector<std::string>>();
      verbose = args.count("verbose") > 0;
      }))
    return *rc;
  if (jobs < 1) return driver::fail(kTool, "--jobs must be at least 1");
  if (!(timeout > 0)) return driver::fail(kTool, "--timeout must be positive");

  // All input is read and checked before any test starts.
  std::vector<nlohmann::json> plans;
  std::string err;
  if (!records::read_operands(operands, {"test-plan"}, &plans, &err)) return driver::fail(kTool, err);
  if (driver::stop_signal) return driver::stopped_exit_code();  // stopped while the plans were being read
  if (plans.empty()) return driver::fail(kTool, "no test plans on input");
  std::vector<TestJob> test_jobs(plans.size());
  for (size_t i = 0; i < plans.size(); ++i)
    if (!job_from_plan(plans[i], std::to_string(i), backends, &test_jobs[i], &err)) return driver::fail(kTool, err);

  RunnerOptions options = worker_options(jobs, timeout);
  options.pass_output = verbose;
  options.stop = &driver::stop_requested;
  bool failures = false, stdout_closed = false;
  auto start = std::chrono::steady_clock::now();
  auto on_done = [&](const TestOutcome& outcome, size_t done, size_t total) {
    const nlohmann::json& plan = plans[std::stoul(outcome.id)];
    nlohmann::json result = result_record(plan, outcome);
    failures = failures || has_failure(result);
    if (!driver::emit(result)) {
      stdout_closed = true;
      driver::stop_requested = 1;
      return;
    }
    std::string line = "[" + std::to_string(done) + "/" + std::to_string(total) + "] " +
                       plan["model_type"].get<std::string>() + ": " + summarize(result);
    // Why: the reference's message when it did not pass, else the first failing backend's.
    const nlohmann::json* why = nullptr;
    if (result["reference"].value("status", nlohmann::json()) != "pass") why = &result["reference"];
    for (const auto& [name, outcome] : result["backends"].items())
      if (!why && result["backends"].is_object() && outcome.is_object() && (outcome.value("status", "") == "fail" || outcome.value("status", "") == "error"))
        why = &outcome;
    if (why && why->contains("message") && (*why)["message"].is_string()) {
      std::string text = (*why)["message"];
      line += ": " + (text.size() > 160 ? text.substr(0, 160) + "..." : text);
    }
    auto elapsed_s = result.find("elapsed_s");
    line += " (" + seconds(elapsed_s != result.end() && elapsed_s->is_number() ? elapsed_s->get<double>() : outcome.elapsed_s) + ")";
    if (done < total) {
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      line += " ETA " + seconds(elapsed / done * (total - done));
    }
    driver::note(kTool, line);
  };
  if (!run_all(test_jobs, options, on_done, &err)) {
    if (driver::stop_signal) return driver::stopped_exit_code();
    if (stdout_closed) return driver::output_failed(kTool);
    return driver::fail(kTool, err);
  }
  return failures ? exit_code::kFindings : exit_code::kOk;
}

int main(int argc, char** argv) {
  return driver::guard(kTool, [&] { return run(argc, argv); });
}
