// Running generated tests: a pool of long-lived Python workers (python -m skillkit.worker)
// driven by one poll() loop, and the mapping between test-plan and test-result records.
//
// A worker reads one request line at a time on stdin and answers one JSON line on its
// stdout, which it keeps for answers after pointing its own fd 1 at its stderr (see
// python/skillkit/worker.py and docs/DESIGN.md "Running tests: long-lived workers").
// Its stderr, and so everything the tests print, goes to a pipe of ours, never to our
// stdout: the last few KB are kept for crash messages and, with `pass_output`, copied
// to our stderr as they come. Each worker runs in a process group of its own, so
// killing it (timeout, interrupt) also kills whatever it started, and a terminal's
// Ctrl-C reaches only the tool, which then kills them.
#pragma once

#include <csignal>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

/// One test to run: a request to a worker.
struct TestJob {
  std::string id;  ///< unique within a run; echoed by the worker
  std::string test_file;
  std::string skillset_file;
  std::vector<std::string> backends;
};

/// What became of one job.
struct TestOutcome {
  std::string id;
  bool ok = false;        ///< the worker answered with a result (whatever the tests said)
  nlohmann::json result;  ///< the worker's "result" (a test-result body) when ok
  std::string error;      ///< otherwise: the worker's "error", "timeout after N s" or "worker crashed: ..."
  std::string error_class;  ///< and its failure class: the worker's, "timeout", "crash" or "other"
  std::string stage;        ///< the stage the worker last said it entered ("" if none)
  nlohmann::json partial;   ///< the result so far it sent with that stage (null if none)
  std::vector<std::string> backends;  ///< the job's backends
  double elapsed_s = 0;   ///< from sending the request to the answer (or the kill)
};

struct RunnerOptions {
  int jobs = 1;                          ///< workers at most (never more than jobs to run)
  double timeout_s = 900;                ///< per job; the worker is killed and replaced past it
  std::string python;                    ///< the interpreter (a path, or a name looked up in PATH)
  std::vector<std::string> python_args;  ///< e.g. {"-m", "skillkit.worker"}
  std::map<std::string, std::string> env;  ///< set in the workers' environment, over ours
  bool pass_output = false;              ///< copy the workers' output (their stderr) to our stderr
  const volatile std::sig_atomic_t* stop = nullptr;  ///< once *stop is set, the run ends early
};

/// The options that run skillkit's worker: files::python_interpreter(), `-m
/// skillkit.worker`, PYTHONPATH=<project_home>/python prepended, unbuffered output.
RunnerOptions worker_options(int jobs, double timeout_s);

/// Runs every job on a pool of workers and calls `on_done` (from the loop, in completion
/// order) once per job. Returns true when every job got its outcome; false with `*err`
/// when a worker cannot be started, or with "interrupted" when `*options.stop` was set
/// (on_done may set it too). Every worker is gone when it returns.
bool run_all(const std::vector<TestJob>& jobs, const RunnerOptions& options,
             const std::function<void(const TestOutcome&, size_t done, size_t total)>& on_done,
             std::string* err);

/// The job of a test-plan record, with id `id`; `backends`, when not empty, replaces the
/// plan's own. Fails on a plan whose names, files or backends are not what the schema says.
bool job_from_plan(const nlohmann::json& plan, const std::string& id,
                   const std::vector<std::string>& backends, TestJob* job, std::string* err);

/// The test-result record of `plan`'s run: the worker's result, with the plan's identity
/// fields. Without one, the failure (its class "timeout", "crash", or the worker's) is
/// blamed on the stage that was running: the reference keeps what it had, the backend
/// running gets status "error", a stage "skillset" (loading it) every backend; backends
/// not yet run are skips with reason "not-run"; no stage means the reference's.
nlohmann::json result_record(const nlohmann::json& plan, const TestOutcome& outcome);

/// True when the reference or any backend of a test-result record is "fail" or "error".
bool has_failure(const nlohmann::json& result);

/// One line about a test-result for progress: "reference pass, cpu pass, cuda skip".
std::string summarize(const nlohmann::json& result);
