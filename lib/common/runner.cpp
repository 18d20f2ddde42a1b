#include "common/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <thread>

#include "common/files.h"
#include "common/json_parse.h"
#include "common/plan.h"
#include "common/records.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kTailBytes = 4096;          // of a worker's output, kept for crash messages
constexpr auto kPollSlice = std::chrono::milliseconds(100);  // how often *stop is looked at
constexpr auto kExitGrace = std::chrono::seconds(5);  // for a worker to exit after its stdin closes

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// Our ends of the pipes are moved to fds >= 10 so that no dup2 in the child is ever
// from an fd onto itself (which would keep its close-on-exec flag).
int high_fd(int fd) {
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  int saved = errno;
  ::close(fd);
  errno = saved;
  return moved;
}

// `object[key]` when it is a string, else `fallback`.
std::string string_field(const nlohmann::json& object, const char* key, const std::string& fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

void close_fd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

struct Worker {
  pid_t pid = -1;
  int request_fd = -1;  // our end of its stdin (a socket, so a dead reader is EPIPE, not SIGPIPE)
  int result_fd = -1;   // read end of its stdout, where its answers go
  int output_fd = -1;   // read end of its stderr (and of whatever it prints)
  std::string answer;   // bytes of its stdout not yet ending in a newline
  std::string tail;     // the last kTailBytes of its output
  long job = -1;        // index of the job it is running, -1 when idle
  std::string stage;       // the stage of that job it last said it entered
  nlohmann::json partial;  // and the result so far it sent with it
  Clock::time_point started;
  bool closing = false;  // stdin closed: it is on its way out
};

bool spawn(const RunnerOptions& options, const std::vector<char*>& envp, Worker* w, std::string* err) {
  int request[2] = {-1, -1}, result[2] = {-1, -1}, output[2] = {-1, -1};
  int* all[] = {&request[0], &request[1], &result[0], &result[1], &output[0], &output[1]};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, request) != 0 || ::pipe2(result, O_CLOEXEC) != 0 ||
      ::pipe2(output, O_CLOEXEC) != 0) {
    *err = std::string("cannot create pipes for a worker: ") + std::strerror(errno);
    for (int* fd : all) close_fd(fd);
    return false;
  }
  for (int* fd : all) *fd = high_fd(*fd);
  if (std::any_of(std::begin(all), std::end(all), [](int* fd) { return *fd < 0; })) {
    *err = std::string("cannot create pipes for a worker: ") + std::strerror(errno);
    for (int* fd : all) close_fd(fd);
    return false;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, request[1], 0);
  posix_spawn_file_actions_adddup2(&actions, result[1], 1);
  posix_spawn_file_actions_adddup2(&actions, output[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(options.python.c_str()));
  for (const auto& a : options.python_args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, options.python.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  for (int* fd : {&request[1], &result[1], &output[1]}) close_fd(fd);
  if (rc != 0) {
    for (int* fd : {&request[0], &result[0], &output[0]}) close_fd(fd);
    *err = "cannot start worker '" + options.python + "': " + std::strerror(rc);
    return false;
  }
  ::fcntl(result[0], F_SETFL, O_NONBLOCK);
  ::fcntl(output[0], F_SETFL, O_NONBLOCK);
  *w = Worker{};
  w->pid = pid;
  w->request_fd = request[0];
  w->result_fd = result[0];
  w->output_fd = output[0];
  return true;
}

// Reads what the worker's output pipe holds now; closes it at end of file.
void drain_output(Worker* w, bool pass) {
  char buf[8192];
  while (w->output_fd >= 0) {
    ssize_t n = ::read(w->output_fd, buf, sizeof buf);
    if (n > 0) {
      if (pass) (void)!::write(STDERR_FILENO, buf, n);
      w->tail.append(buf, n);
      if (w->tail.size() > kTailBytes) w->tail.erase(0, w->tail.size() - kTailBytes);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n == 0 || errno != EAGAIN) close_fd(&w->output_fd);
      return;
    }
  }
}

// The last non-empty line the worker printed, for a crash message.
std::string last_line(const std::string& tail) {
  size_t end = tail.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  size_t newline = tail.rfind('\n', end);
  size_t start = newline == std::string::npos ? 0 : newline + 1;
  std::string line = tail.substr(start, end + 1 - start);
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "ended with wait status " + std::to_string(status);
}

// Ends the worker: waits up to `grace` for it to exit on its own, then kills its whole
// process group and reaps it. Returns its wait status.
int reap(Worker* w, bool pass, Clock::duration grace) {
  auto deadline = Clock::now() + grace;
  siginfo_t info;
  for (;;) {
    info.si_pid = 0;
    // WNOWAIT: the exited leader stays a zombie, so its group id cannot be reused
    // before the kill below reaches whatever it left running.
    if (::waitid(P_PID, w->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno != EINTR) break;
    if (info.si_pid != 0 || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(-w->pid, SIGKILL);
  int status = 0;
  while (::waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
  }
  drain_output(w, pass);
  for (int* fd : {&w->request_fd, &w->result_fd, &w->output_fd}) close_fd(fd);
  w->pid = -1;
  return status;
}

bool send_all(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += n;
  }
  return true;
}

std::vector<std::string> environment(const RunnerOptions& options) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (!options.env.count(name)) env.push_back(entry);
  }
  for (const auto& [name, value] : options.env) env.push_back(name + "=" + value);
  return env;
}

}  // namespace

RunnerOptions worker_options(int jobs, double timeout_s) {
  RunnerOptions options;
  options.jobs = jobs;
  options.timeout_s = timeout_s;
  options.python = files::python_interpreter();
  options.python_args = {"-m", "skillkit.worker"};
  std::string path = files::project_home() + "/python";
  if (const char* old = std::getenv("PYTHONPATH"); old && *old) path += std::string(":") + old;
  options.env["PYTHONPATH"] = path;
  options.env["PYTHONUNBUFFERED"] = "1";  // a killed test's last prints still reach the tail
  return options;
}

bool run_all(const std::vector<TestJob>& jobs, const RunnerOptions& options,
             const std::function<void(const TestOutcome&, size_t done, size_t total)>& on_done,
             std::string* err) {
  const size_t total = jobs.size();
  if (total == 0) return true;
  const size_t width = std::max<size_t>(1, std::min<size_t>(std::max(options.jobs, 1), total));
  const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.timeout_s));
  const bool pass = options.pass_output;

  std::vector<std::string> env_strings = environment(options);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::deque<Worker> workers;
  size_t next = 0, done = 0;

  auto finish = [&](Worker* w, TestOutcome outcome) {
    drain_output(w, pass);  // what the test printed comes out before whatever on_done prints
    outcome.id = jobs[w->job].id;
    outcome.backends = jobs[w->job].backends;
    outcome.stage = std::move(w->stage);
    outcome.partial = std::move(w->partial);
    w->stage.clear();
    w->partial = nullptr;
    outcome.elapsed_s = seconds_since(w->started);
    w->job = -1;
    ++done;
    on_done(outcome, done, total);
  };
  auto crashed = [&](Worker* w, Clock::duration grace) {
    int status = reap(w, pass, grace);
    std::string message = "worker crashed: " + describe_status(status);
    if (std::string line = last_line(w->tail); !line.empty()) message += ": " + line;
    return message;
  };
  auto stop_all = [&]() {
    for (auto& w : workers)
      if (w.pid > 0) reap(&w, pass, Clock::duration::zero());
    workers.clear();
  };

  while (done < total) {
    if (options.stop && *options.stop) {
      stop_all();
      *err = "interrupted";
      return false;
    }
    std::erase_if(workers, [](const Worker& w) { return w.pid < 0; });

    // Give work to idle workers, starting new ones up to the pool's width.
    size_t active = std::count_if(workers.begin(), workers.end(), [](const Worker& w) { return !w.closing; });
    while (next < total && active < width) {
      Worker w;
      if (!spawn(options, envp, &w, err)) {
        stop_all();
        return false;
      }
      workers.push_back(std::move(w));
      ++active;
    }
    for (auto& w : workers) {
      if (w.pid < 0 || w.closing || w.job >= 0) continue;
      if (next >= total) {
        close_fd(&w.request_fd);  // end of input: the worker exits
        w.closing = true;
        continue;
      }
      const TestJob& job = jobs[next];
      nlohmann::json request = {{"id", job.id},
                                {"test_file", job.test_file},
                                {"skillset_file", job.skillset_file},
                                {"backends", job.backends}};
      w.job = static_cast<long>(next++);
      w.started = Clock::now();
      w.tail.clear();  // a crash message quotes this job's output only
      if (!send_all(w.request_fd, request.dump() + "\n")) {
        TestOutcome outcome;
        outcome.error = crashed(&w, kExitGrace);
        outcome.error_class = "crash";
        finish(&w, outcome);
      }
    }

    // Wait for answers, output, exits, or the nearest deadline.
    std::vector<pollfd> fds;
    std::vector<Worker*> owners;
    auto wait = std::chrono::duration_cast<Clock::duration>(kPollSlice);
    auto now = Clock::now();
    for (auto& w : workers) {
      if (w.pid < 0) continue;
      for (int fd : {w.result_fd, w.output_fd}) {
        if (fd < 0) continue;
        fds.push_back({fd, POLLIN, 0});
        owners.push_back(&w);
      }
      if (w.job >= 0) wait = std::min(wait, std::max(Clock::duration::zero(), w.started + timeout - now));
    }
    int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
    if (::poll(fds.data(), fds.size(), ms) < 0 && errno != EINTR) {
      *err = std::string("poll failed: ") + std::strerror(errno);
      stop_all();
      return false;
    }

    for (size_t i = 0; i < fds.size(); ++i) {
      Worker* w = owners[i];
      if (w->pid < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (fds[i].fd == w->output_fd) {
        drain_output(w, pass);
        continue;
      }
      if (fds[i].fd != w->result_fd) continue;
      char buf[65536];
      ssize_t n = ::read(w->result_fd, buf, sizeof buf);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) {  // its stdout closed: the worker is gone or going
        if (w->job >= 0) {
          TestOutcome outcome;
          outcome.error = crashed(w, kExitGrace);
          outcome.error_class = "crash";
          finish(w, outcome);
        } else {
          reap(w, pass, kExitGrace);
        }
        continue;
      }
      w->answer.append(buf, n);
      size_t newline;
      while (w->pid > 0 && (newline = w->answer.find('\n')) != std::string::npos) {
        std::string text = w->answer.substr(0, newline);
        w->answer.erase(0, newline + 1);
        if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json answer;
        std::string problem;
        if (!parse_json(text, &answer, &problem) || !answer.is_object())
          problem = "an answer that is not a JSON object";
        else if (w->job < 0)
          problem = "an answer to no request";
        else if (answer.value("id", nlohmann::json()) != jobs[w->job].id)
          problem = "an answer with the wrong id";
        else if (answer.contains("stage") && !answer["stage"].is_string())
          problem = "a stage that is not a name";
        else if (!answer.contains("stage") && !(answer.contains("result") && answer["result"].is_object()) &&
                 !answer.contains("error"))
          problem = "an answer with neither a result object nor an error";
        if (!problem.empty()) {
          // It no longer speaks the protocol: replace it.
          reap(w, pass, Clock::duration::zero());
          if (w->job >= 0) {
            TestOutcome outcome;
            std::string snippet = text.size() > 200 ? text.substr(0, 200) + "..." : text;
            outcome.error = "worker protocol error: " + problem + ": " + snippet;
            outcome.error_class = "other";
            finish(w, outcome);
          }
          break;
        }
        if (answer.contains("stage")) {  // a stage entered, not yet an answer
          w->stage = answer["stage"].get<std::string>();
          w->partial = answer.contains("partial") ? std::move(answer["partial"]) : nlohmann::json();
          continue;
        }
        TestOutcome outcome;
        if (answer.contains("result") && answer["result"].is_object()) {
          outcome.ok = true;
          outcome.result = std::move(answer["result"]);
        } else {
          const auto& e = answer["error"];
          outcome.error = e.is_string() ? e.get<std::string>() : e.dump();
          outcome.error_class = string_field(answer, "class", "other");
        }
        finish(w, outcome);
      }
    }

    // Jobs past their time: kill the worker (and all it started), record a timeout.
    now = Clock::now();
    for (auto& w : workers) {
      if (w.pid < 0 || w.job < 0 || now < w.started + timeout) continue;
      reap(&w, pass, Clock::duration::zero());
      TestOutcome outcome;
      outcome.error = "timeout after " + format_seconds(options.timeout_s) + " s";
      outcome.error_class = "timeout";
      finish(&w, outcome);
    }
  }

  // Every job is done: let the workers exit on their own (closing stdin), then reap.
  for (auto& w : workers) close_fd(&w.request_fd);
  for (auto& w : workers)
    if (w.pid > 0) reap(&w, pass, kExitGrace);
  return true;
}

bool job_from_plan(const nlohmann::json& plan, const std::string& id,
                   const std::vector<std::string>& backends, TestJob* job, std::string* err) {
  std::string name = string_field(plan, "model_type", "?");
  for (const char* key : {"model_type", "ident", "family", "task"}) {
    auto it = plan.find(key);
    if (it == plan.end() || !it->is_string()) {
      *err = "test-plan of '" + name + "' has no '" + key + "' string";
      return false;
    }
  }
  for (const char* key : {"test_file", "skillset_file"}) {
    auto it = plan.find(key);
    if (it == plan.end() || !it->is_string() || it->get<std::string>().empty() || it->get<std::string>()[0] != '/') {
      *err = "test-plan of '" + name + "' has no absolute '" + key + "'";
      return false;
    }
  }
  std::vector<std::string> chosen = backends;
  if (chosen.empty()) {
    auto it = plan.find("backends");
    if (it == plan.end() || !it->is_array() || it->empty()) {
      *err = "test-plan of '" + name + "' has no list of 'backends'";
      return false;
    }
    for (const auto& b : *it) {
      if (!b.is_string()) {
        *err = "test-plan of '" + name + "' has a backend that is not a name";
        return false;
      }
      chosen.push_back(b.get<std::string>());
    }
  }
  const auto& known = all_backends();
  for (const auto& b : chosen) {
    if (std::find(known.begin(), known.end(), b) == known.end()) {
      *err = "unknown backend '" + b + "'";
      return false;
    }
  }
  job->id = id;
  job->test_file = plan["test_file"];
  job->skillset_file = plan["skillset_file"];
  job->backends = std::move(chosen);
  return true;
}

namespace {

// The record of a job that got no result: the failure blamed on the stage that was
// running, what the stages before it gave kept (see result_record).
nlohmann::json blamed_record(const TestOutcome& outcome) {
  nlohmann::json record = nlohmann::json::object();
  const nlohmann::json& partial = outcome.partial;
  if (partial.is_object() && partial.contains("reference") && partial["reference"].is_object())
    record["reference"] = partial["reference"];
  nlohmann::json backends = partial.is_object() && partial.contains("backends") && partial["backends"].is_object()
                                ? partial["backends"]
                                : nlohmann::json::object();
  const std::string klass = outcome.error_class.empty() ? "other" : outcome.error_class;
  const nlohmann::json failed = {{"status", "error"}, {"class", klass}, {"message", outcome.error}};
  const bool backend_stage =
      std::find(outcome.backends.begin(), outcome.backends.end(), outcome.stage) != outcome.backends.end();
  if (backend_stage) {
    backends[outcome.stage] = failed;
  } else if (outcome.stage == "skillset") {
    for (const auto& name : outcome.backends)
      if (!backends.contains(name)) backends[name] = failed;
  } else {
    nlohmann::json reference = record.value("reference", nlohmann::json::object());
    if (!reference.is_object()) reference = nlohmann::json::object();
    reference.update(failed);
    record["reference"] = reference;
  }
  for (const auto& name : outcome.backends)
    if (!backends.contains(name))
      backends[name] = {{"status", "skip"},
                        {"reason", "not-run"},
                        {"message", "not run: the test ended " +
                                        (outcome.stage.empty() ? "before its first stage" : "in '" + outcome.stage + "'") +
                                        " (" + klass + ")"}};
  record["backends"] = backends;
  return record;
}

}  // namespace

nlohmann::json result_record(const nlohmann::json& plan, const TestOutcome& outcome) {
  nlohmann::json record =
      outcome.ok && outcome.result.is_object() ? outcome.result : blamed_record(outcome);
  if (!record.contains("reference") || !record["reference"].is_object())
    record["reference"] = {{"status", "error"}, {"class", "other"}, {"message", "the worker's result has no reference"}};
  if (!record.contains("backends")) record["backends"] = nlohmann::json::object();
  if (!record.contains("elapsed_s")) record["elapsed_s"] = outcome.elapsed_s;
  record.update(records::make("test-result"));
  records::copy_identity(plan, &record);
  return record;
}

bool has_failure(const nlohmann::json& result) {
  auto bad = [](const nlohmann::json& part) {
    std::string status = string_field(part, "status", "error");
    return status == "fail" || status == "error";
  };
  if (bad(result.value("reference", nlohmann::json()))) return true;
  const auto backends = result.value("backends", nlohmann::json::object());
  if (!backends.is_object()) return true;
  for (const auto& [name, status] : backends.items())
    if (bad(status)) return true;
  return false;
}

std::string summarize(const nlohmann::json& result) {
  std::string text = "reference " + string_field(result.value("reference", nlohmann::json()), "status", "?");
  const auto backends = result.value("backends", nlohmann::json::object());
  if (!backends.is_object()) return text;
  // The worker's order of backends, then any others.
  std::vector<std::string> names = all_backends();
  for (const auto& [name, status] : backends.items())
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  for (const auto& name : names)
    if (backends.contains(name)) text += ", " + name + " " + string_field(backends[name], "status", "?");
  return text;
}
