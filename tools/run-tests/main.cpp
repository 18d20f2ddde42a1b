// run-tests: runs the test of each test-plan record it reads on a pool of long-lived
// Python workers and prints one test-result record per test, in completion order.
#include <cxxopts.hpp>
#include <thread>

#include "common/junit.h"
#include "common/runner.h"
#include "common/shard.h"
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
      ("shard", "run only shard K of N (K/N): the plans of the model types whose name hashes there, "
                "the same share on every machine whatever the order of the plans", cxxopts::value<std::string>())
      ("junit", "also write the results as JUnit XML to FILE, at the end", cxxopts::value<std::string>())
      ("files", "", cxxopts::value<std::vector<std::string>>());
  driver::add_standard_options(cli);
  cli.parse_positional({"files"});

  std::vector<std::string> operands, backends;
  std::string shard_text, junit_file;
  bool sharded = false;
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
      sharded = args.count("shard") > 0;
      if (sharded) shard_text = args["shard"].as<std::string>();
      if (args.count("junit")) junit_file = args["junit"].as<std::string>();
      }))
    return *rc;
  if (jobs < 1) return driver::fail(kTool, "--jobs must be at least 1");
  if (!(timeout > 0)) return driver::fail(kTool, "--timeout must be positive");
  Shard shard;
  std::string err;
  if (sharded && !parse_shard(shard_text, &shard, &err)) return driver::fail(kTool, err);

  // All input is read and checked before any test starts.
  std::vector<nlohmann::json> plans;
  if (!records::read_operands(operands, {"test-plan"}, &plans, &err)) return driver::fail(kTool, err);
  if (driver::stop_signal) return driver::stopped_exit_code();  // stopped while the plans were being read
  if (plans.empty()) return driver::fail(kTool, "no test plans on input");
  if (!junit_file.empty() && !files::can_write(junit_file, &err)) return driver::fail(kTool, err);
  std::vector<TestJob> test_jobs(plans.size());
  for (size_t i = 0; i < plans.size(); ++i)
    if (!job_from_plan(plans[i], std::to_string(i), backends, &test_jobs[i], &err)) return driver::fail(kTool, err);
  // Every plan is checked above, so bad input fails every shard alike; then only this
  // shard's stay (a job's id still indexes `plans`).
  if (sharded) {
    std::erase_if(test_jobs, [&](const TestJob& job) {
      return shard_of(plans[std::stoul(job.id)]["model_type"].get<std::string>(), shard.count) != shard.index;
    });
    driver::note(kTool, "shard " + shard_text + ": " + std::to_string(test_jobs.size()) + " of " +
                            std::to_string(plans.size()) + " test plans");
  }

  RunnerOptions options = worker_options(jobs, timeout);
  options.pass_output = verbose;
  options.stop = &driver::stop_requested;
  bool failures = false, stdout_closed = false;
  std::vector<junit::Case> cases;
  auto start = std::chrono::steady_clock::now();
  auto on_done = [&](const TestOutcome& outcome, size_t done, size_t total) {
    const nlohmann::json& plan = plans[std::stoul(outcome.id)];
    nlohmann::json result = result_record(plan, outcome);
    failures = failures || has_failure(result);
    for (auto& c : junit::result_cases(result)) cases.push_back(std::move(c));
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
  if (!junit_file.empty() && !files::write_atomic(junit_file, junit::document(kTool, cases), &err))
    return driver::fail(kTool, err);
  return failures ? exit_code::kFindings : exit_code::kOk;
}

int main(int argc, char** argv) {
  return driver::guard(kTool, [&] { return run(argc, argv); });
}
