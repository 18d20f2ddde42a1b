// The worker pool against a scripted fake worker: what the pool does with answers,
// errors, timeouts, crashes and garbage. The real worker is tested in tests/python.
#include "common/runner.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace {

// Behaves by the name of the "test file" it is asked to run.
const char* kFakeWorker = R"PY(
import json, os, signal, subprocess, sys, time
# As skillkit.worker does: answers on the real stdout, everything else printed to stderr.
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
for line in sys.stdin:
    req = json.loads(line)
    what = os.path.basename(req["test_file"])
    print("noise on stdout", flush=True)
    print("noise on stderr", file=sys.stderr, flush=True)
    answer = {"id": req["id"]}
    if what == "pass":
        answer["result"] = {"reference": {"status": "pass"},
                            "backends": {b: {"status": "pass"} for b in req["backends"]},
                            "pid": os.getpid(), "env": os.environ.get("RUNNER_TEST_VAR")}
    elif what == "error":
        answer["error"] = "boom"
    elif what == "sleep":
        time.sleep(60)
    elif what == "grandchild":
        child = subprocess.Popen(["sleep", "60"])
        with open(req["skillset_file"], "w") as f:
            f.write(str(child.pid))
        answer["result"] = {}
    elif what == "exit":
        print("dying now", file=sys.stderr, flush=True)
        os._exit(3)
    elif what == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif what == "garbage":
        out.write("not json\n")
        out.flush()
        continue
    elif what in ("segv-in-cpu", "sleep-in-cpu"):
        # As skillkit.worker reports its stages: the reference passed, then cpu started.
        for stage, partial in (("reference", {"reference": None, "backends": {}}),
                               ("cpu", {"reference": {"status": "pass"}, "backends": {}})):
            out.write(json.dumps({"id": req["id"], "stage": stage, "partial": partial}) + "\n")
            out.flush()
        if what == "segv-in-cpu":
            os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(60)
    elif what == "error-with-class":
        answer.update(error="No module named 'timm'", **{"class": "missing-dependency:timm"})
    out.write(json.dumps(answer) + "\n")
    out.flush()
)PY";

struct Fixture {
  std::filesystem::path dir;
  RunnerOptions options;

  Fixture() {
    char tmpl[] = "/tmp/runner_test.XXXXXX";
    dir = ::mkdtemp(tmpl);
    std::ofstream(dir / "worker.py") << kFakeWorker;
    options.jobs = 2;
    options.timeout_s = 30;
    // Not a PATH lookup: a pyenv shim costs half a second a start. -S: no site, faster still.
    options.python = ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    options.python_args = {"-S", (dir / "worker.py").string()};
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  TestJob job(const std::string& id, const std::string& kind) const {
    return TestJob{id, "/fake/" + kind, (dir / ("skillset_" + id)).string(), {"cpu"}};
  }

  // Runs `jobs`; returns the outcomes by id.
  std::map<std::string, TestOutcome> run(const std::vector<TestJob>& jobs, bool* ok = nullptr,
                                         std::string* err = nullptr) {
    std::map<std::string, TestOutcome> outcomes;
    std::string e;
    bool r = run_all(jobs, options,
                     [&](const TestOutcome& o, size_t done, size_t total) {
                       CHECK(done == outcomes.size() + 1);
                       CHECK(total == jobs.size());
                       outcomes[o.id] = o;
                     },
                     err ? err : &e);
    if (ok) *ok = r;
    return outcomes;
  }
};

}  // namespace

TEST_CASE("run_all returns every worker's result and reuses the workers") {
  Fixture f;
  std::vector<TestJob> jobs;
  for (int i = 0; i < 6; ++i) jobs.push_back(f.job(std::to_string(i), "pass"));
  bool ok = false;
  auto outcomes = f.run(jobs, &ok);
  CHECK(ok);
  REQUIRE(outcomes.size() == 6);
  std::set<int> pids;
  for (const auto& [id, o] : outcomes) {
    CHECK(o.ok);
    CHECK(o.error.empty());
    CHECK(o.result["reference"]["status"] == "pass");
    CHECK(o.result["backends"]["cpu"]["status"] == "pass");
    CHECK(o.elapsed_s >= 0);
    pids.insert(o.result["pid"].get<int>());
  }
  CHECK(pids.size() <= 2);  // --jobs 2: six tests, at most two interpreters
}

TEST_CASE("run_all passes a worker's error on") {
  Fixture f;
  auto outcomes = f.run({f.job("a", "error")});
  CHECK_FALSE(outcomes["a"].ok);
  CHECK(outcomes["a"].error == "boom");
}

TEST_CASE("run_all sets the workers' environment") {
  Fixture f;
  f.options.env["RUNNER_TEST_VAR"] = "hello";
  auto outcomes = f.run({f.job("a", "pass")});
  CHECK(outcomes["a"].result["env"] == "hello");
}

TEST_CASE("run_all kills a job past its timeout and goes on with a new worker") {
  Fixture f;
  f.options.jobs = 1;
  f.options.timeout_s = 1.5;  // room for a loaded machine to start the next worker in time
  bool ok = false;
  auto outcomes = f.run({f.job("slow", "sleep"), f.job("next", "pass")}, &ok);
  CHECK(ok);
  CHECK_FALSE(outcomes["slow"].ok);
  CHECK(outcomes["slow"].error == "timeout after 1.5 s");
  CHECK(outcomes["slow"].elapsed_s >= 1.5);
  CHECK(outcomes["slow"].elapsed_s < 10);
  INFO(outcomes["next"].error);
  CHECK(outcomes["next"].ok);
}

// Every end of a worker (timeout, crash, interrupt, end of input) goes through the one
// kill of its process group; end of input is the case that needs no timing.
TEST_CASE("run_all leaves nothing a worker started running") {
  Fixture f;
  auto job = f.job("a", "grandchild");
  auto outcomes = f.run({job});
  CHECK(outcomes["a"].ok);
  std::ifstream in(job.skillset_file);
  pid_t grandchild = 0;
  in >> grandchild;
  CHECK(grandchild > 0);
  // Killed with its process group: gone, or a zombie waiting for init to reap it.
  std::string state;
  for (int i = 0; i < 100; ++i) {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string field;
    state.clear();
    if (stat >> field >> field >> state) {  // pid, (comm), state; comm is "(sleep)"
      if (state == "Z") break;
      ::usleep(20000);
    } else {
      break;
    }
  }
  bool gone = state.empty() || state == "Z";
  CHECK(gone);
}

TEST_CASE("run_all reports a worker that exits mid-job and replaces it") {
  Fixture f;
  f.options.jobs = 1;
  auto outcomes = f.run({f.job("a", "exit"), f.job("b", "pass")});
  CHECK_FALSE(outcomes["a"].ok);
  CHECK(outcomes["a"].error == "worker crashed: exited with status 3: dying now");
  CHECK(outcomes["b"].ok);
}

TEST_CASE("run_all reports a worker killed by a signal") {
  Fixture f;
  auto outcomes = f.run({f.job("a", "segv")});
  CHECK(outcomes["a"].error.rfind("worker crashed: killed by signal 11", 0) == 0);
}

TEST_CASE("run_all hands on the stage a worker crashed in and the result it had so far") {
  Fixture f;
  auto job = f.job("a", "segv-in-cpu");
  job.backends = {"cpu", "openvino"};
  auto outcomes = f.run({job});
  const TestOutcome& o = outcomes["a"];
  CHECK_FALSE(o.ok);
  CHECK(o.error_class == "crash");
  CHECK(o.stage == "cpu");
  CHECK(o.partial["reference"]["status"] == "pass");
  CHECK(o.backends == std::vector<std::string>{"cpu", "openvino"});
}

TEST_CASE("run_all hands on the stage a job timed out in") {
  Fixture f;
  f.options.timeout_s = 1.5;
  auto outcomes = f.run({f.job("a", "sleep-in-cpu")});
  CHECK(outcomes["a"].error_class == "timeout");
  CHECK(outcomes["a"].stage == "cpu");
}

TEST_CASE("run_all passes a worker's error on with its failure class") {
  Fixture f;
  auto outcomes = f.run({f.job("a", "error-with-class"), f.job("b", "error")});
  CHECK(outcomes["a"].error_class == "missing-dependency:timm");
  CHECK(outcomes["b"].error_class == "other");
}

TEST_CASE("run_all replaces a worker that writes garbage as its answer") {
  Fixture f;
  f.options.jobs = 1;
  auto outcomes = f.run({f.job("a", "garbage"), f.job("b", "pass")});
  CHECK(outcomes["a"].error.rfind("worker protocol error:", 0) == 0);
  CHECK(outcomes["b"].ok);
}

TEST_CASE("run_all stops early when asked to and leaves no worker behind") {
  Fixture f;
  f.options.jobs = 1;
  volatile std::sig_atomic_t stop = 0;
  f.options.stop = &stop;
  std::vector<TestJob> jobs = {f.job("a", "pass"), f.job("b", "sleep"), f.job("c", "pass")};
  std::vector<std::string> seen;
  pid_t worker = 0;
  std::string err;
  bool ok = run_all(jobs, f.options,
                    [&](const TestOutcome& o, size_t, size_t) {
                      seen.push_back(o.id);
                      worker = o.result["pid"].get<int>();  // the one worker, now on "b"
                      stop = 1;
                    },
                    &err);
  CHECK_FALSE(ok);
  CHECK(err == "interrupted");
  CHECK(seen == std::vector<std::string>{"a"});
  int status;
  CHECK(::waitpid(worker, &status, WNOHANG) == -1);  // killed and reaped: not even a zombie
  CHECK(errno == ECHILD);
}

TEST_CASE("run_all fails when the worker cannot be started") {
  Fixture f;
  f.options.python = "/nonexistent/python";
  bool ok = true;
  std::string err;
  auto outcomes = f.run({f.job("a", "pass")}, &ok, &err);
  CHECK_FALSE(ok);
  CHECK(err.rfind("cannot start worker '/nonexistent/python'", 0) == 0);
  CHECK(outcomes.empty());
}

TEST_CASE("run_all with no jobs starts nothing") {
  Fixture f;
  bool ok = false;
  CHECK(f.run({}, &ok).empty());
  CHECK(ok);
}

TEST_CASE("worker_options runs skillkit's worker with the project's python dir on PYTHONPATH") {
  RunnerOptions options = worker_options(3, 10);
  CHECK(options.jobs == 3);
  CHECK(options.python_args == std::vector<std::string>{"-m", "skillkit.worker"});
  CHECK(options.env["PYTHONPATH"].find("/python") != std::string::npos);
}

namespace {
nlohmann::json plan() {
  return {{"schema", "test-plan"},  {"version", 1},        {"model_type", "bert"},
          {"ident", "bert"},        {"model_id", "bert"},  {"family", "text-encoder"},
          {"task", "feature-extraction"}, {"test_file", "/t/test_hf_bert.py"},
          {"skillset_file", "/s/hf_bert.py"}, {"backends", {"cpu", "cuda"}}};
}
}  // namespace

TEST_CASE("job_from_plan takes the plan's files and backends or the given ones") {
  TestJob job;
  std::string err;
  REQUIRE(job_from_plan(plan(), "7", {}, &job, &err));
  CHECK(job.id == "7");
  CHECK(job.test_file == "/t/test_hf_bert.py");
  CHECK(job.skillset_file == "/s/hf_bert.py");
  CHECK(job.backends == std::vector<std::string>{"cpu", "cuda"});
  REQUIRE(job_from_plan(plan(), "7", {"openvino"}, &job, &err));
  CHECK(job.backends == std::vector<std::string>{"openvino"});
}

TEST_CASE("job_from_plan refuses a plan without absolute files or with unknown backends") {
  TestJob job;
  std::string err;
  auto p = plan();
  p["test_file"] = "relative.py";
  CHECK_FALSE(job_from_plan(p, "0", {}, &job, &err));
  CHECK(err == "test-plan of 'bert' has no absolute 'test_file'");
  p = plan();
  p["backends"] = {"cpu", "tpu"};
  CHECK_FALSE(job_from_plan(p, "0", {}, &job, &err));
  CHECK(err == "unknown backend 'tpu'");
  CHECK_FALSE(job_from_plan(plan(), "0", {"gpu"}, &job, &err));
}

TEST_CASE("result_record is the worker's result under the plan's identity") {
  TestOutcome o;
  o.ok = true;
  o.elapsed_s = 2;
  o.result = {{"reference", {{"status", "pass"}}},
              {"backends", {{"cpu", {{"status", "pass"}}}}},
              {"versions", {{"python", "3.11"}}},
              {"elapsed_s", 1.5},
              {"model_type", "wrong"}};
  auto r = result_record(plan(), o);
  CHECK(r["schema"] == "test-result");
  CHECK(r["version"] == 1);
  CHECK(r["model_type"] == "bert");
  CHECK(r["test_file"] == "/t/test_hf_bert.py");
  CHECK(r["versions"]["python"] == "3.11");
  CHECK(r["elapsed_s"] == 1.5);
  CHECK_FALSE(has_failure(r));
  CHECK(summarize(r) == "reference pass, cpu pass");
}

namespace {
TestOutcome died(const std::string& klass, const std::string& stage, const nlohmann::json& partial) {
  TestOutcome o;
  o.error = klass == "timeout" ? "timeout after 900 s" : "worker crashed: killed by signal 11 (Segmentation fault)";
  o.error_class = klass;
  o.stage = stage;
  o.partial = partial;
  o.backends = {"cpu", "openvino", "onnx"};
  o.elapsed_s = 900;
  return o;
}
const nlohmann::json kPassed = {{"status", "pass"}, {"candidate", {{"model_class", "BertModel"}}}};
}  // namespace

TEST_CASE("result_record blames a timeout before any stage on the reference, nothing run") {
  auto r = result_record(plan(), died("timeout", "", nullptr));
  CHECK(r["reference"] == nlohmann::json({{"status", "error"}, {"class", "timeout"}, {"message", "timeout after 900 s"}}));
  for (const char* name : {"cpu", "openvino", "onnx"}) {
    CHECK(r["backends"][name]["status"] == "skip");
    CHECK(r["backends"][name]["reason"] == "not-run");
  }
  CHECK(r["backends"]["cpu"]["message"] == "not run: the test ended before its first stage (timeout)");
  CHECK(r["elapsed_s"] == 900);
  CHECK(has_failure(r));
}

TEST_CASE("result_record blames a crash in the reference stage on the reference") {
  auto r = result_record(plan(), died("crash", "reference", {{"reference", nullptr}, {"backends", nlohmann::json::object()}}));
  CHECK(r["reference"]["status"] == "error");
  CHECK(r["reference"]["class"] == "crash");
  CHECK(r["backends"]["cpu"]["reason"] == "not-run");
}

TEST_CASE("result_record blames a crash in a backend on that backend and keeps what came before") {
  nlohmann::json partial = {{"reference", kPassed}, {"backends", {{"cpu", {{"status", "pass"}}}}}};
  auto r = result_record(plan(), died("crash", "openvino", partial));
  CHECK(r["reference"] == kPassed);
  CHECK(r["backends"]["cpu"] == nlohmann::json({{"status", "pass"}}));
  CHECK(r["backends"]["openvino"]["status"] == "error");
  CHECK(r["backends"]["openvino"]["class"] == "crash");
  CHECK(r["backends"]["openvino"]["message"].get<std::string>().rfind("worker crashed: killed by signal 11", 0) == 0);
  CHECK(r["backends"]["onnx"]["status"] == "skip");
  CHECK(r["backends"]["onnx"]["reason"] == "not-run");
  CHECK(r["backends"]["onnx"]["message"] == "not run: the test ended in 'openvino' (crash)");
  CHECK(summarize(r) == "reference pass, cpu pass, openvino error, onnx skip");
}

TEST_CASE("result_record blames a timeout while loading the skillset on every backend") {
  nlohmann::json partial = {{"reference", kPassed}, {"backends", nlohmann::json::object()}};
  auto r = result_record(plan(), died("timeout", "skillset", partial));
  CHECK(r["reference"]["status"] == "pass");
  for (const char* name : {"cpu", "openvino", "onnx"}) {
    CHECK(r["backends"][name]["status"] == "error");
    CHECK(r["backends"][name]["class"] == "timeout");
  }
}

TEST_CASE("result_record gives a worker's error its class") {
  TestOutcome o;
  o.error = "ModuleNotFoundError: No module named 'timm'";
  o.error_class = "missing-dependency:timm";
  auto r = result_record(plan(), o);
  CHECK(r["reference"]["class"] == "missing-dependency:timm");
  CHECK(r["reference"]["message"] == o.error);
}

TEST_CASE("has_failure sees a failed or erroring backend and not a skip") {
  nlohmann::json r = {{"reference", {{"status", "pass"}}},
                      {"backends", {{"cpu", {{"status", "pass"}}}, {"cuda", {{"status", "skip"}}}}}};
  CHECK_FALSE(has_failure(r));
  r["backends"]["openvino"] = {{"status", "fail"}};
  CHECK(has_failure(r));
  r["backends"]["openvino"] = {{"status", "error"}};
  CHECK(has_failure(r));
  CHECK(summarize(r) == "reference pass, cpu pass, cuda skip, openvino error");
}
