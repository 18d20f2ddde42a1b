// The Hub client against the fake Hub in tests/fake_hub (127.0.0.1, a free port,
// 50 ms per request); no test touches the real network.
#include "common/hub.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <map>
#include <string>

#include "common/files.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The fake Hub, started once for the whole test binary. Repos whose behaviour changes
// after a first request (rate-limited*, flaky*) take a fresh name per test.
class FakeHub {
 public:
  static FakeHub& get() {
    static FakeHub hub;
    return hub;
  }
  const std::string& url() const { return url_; }

  /// {"requests", "max_in_flight"} so far.
  nlohmann::json stats() const {
    std::string body;
    CURL* e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, (url_ + "/_stats").c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
      static_cast<std::string*>(u)->append(d, s * n);
      return s * n;
    });
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_perform(e);
    curl_easy_cleanup(e);
    return nlohmann::json::parse(body);
  }

 private:
  FakeHub() {
    std::string python = files::python_interpreter();
    std::string script = files::project_home() + "/tests/fake_hub/server.py";
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execl(python.c_str(), python.c_str(), script.c_str(), "--latency-ms", "50", "--slow-s", "10",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') url_ += c;
    ::close(fds[0]);
    REQUIRE_MESSAGE(url_.rfind("http://127.0.0.1:", 0) == 0, "fake hub did not start: " << python);
  }
  ~FakeHub() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid_ = -1;
  std::string url_;
};

// Options for the fake Hub with a private cache and quick retries.
hub::Options fake_options(const TempDir& cache) {
  hub::Options o;
  o.endpoint = FakeHub::get().url();
  o.cache_dir = cache.path();
  o.backoff_ms = 10;
  o.max_backoff_ms = 40;
  return o;
}

hub::Result resolve(const std::string& spec, const hub::Options& options) {
  hub::RepoRef ref;
  hub::Error err;
  REQUIRE_MESSAGE(hub::parse_repo_ref(spec, &ref, &err), err.message);
  return hub::resolve_config(ref, options);
}

int requests() { return FakeHub::get().stats()["requests"].get<int>(); }

// Every entry under `root` except .locks/: "path", "path -> target" or "path = content".
std::string tree(const std::string& root) {
  std::map<std::string, std::string> entries;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = fs::relative(it->path(), root).string();
    if (rel.rfind(".locks", 0) == 0) continue;
    if (it->is_symlink()) {
      entries[rel] = " -> " + fs::read_symlink(it->path()).string();
    } else if (it->is_regular_file()) {
      std::string content, err;
      files::read(it->path().string(), &content, &err);
      entries[rel] = " = " + content.substr(0, 60);
    } else {
      entries[rel] = "";
    }
  }
  std::string out;
  for (const auto& [path, what] : entries) out += path + what + "\n";
  return out;
}

// Runs `script` with the project's Python and `env` (NAME=value ...) prefixed.
int run_python(const std::string& env, const std::string& script, const TempDir& dir) {
  std::string file = dir.path() + "/script.py";
  std::string err;
  REQUIRE(files::write_atomic(file, script, &err));
  std::string command = "env -u HF_TOKEN HF_HUB_DISABLE_TELEMETRY=1 " + env + " " +
                        files::python_interpreter() + " " + file;
  return std::system(command.c_str());
}

// A loopback port nobody listens on.
int closed_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(s);
  return ntohs(addr.sin_port);
}

// The fake Hub's commit of openai/whisper-tiny: sha1("fake-hub commit openai/whisper-tiny").
const std::string kWhisperCommit = "7ea24efc4da397bd0342e8057f9a4d420f37047d";

}  // namespace

TEST_CASE("is_valid_repo_id accepts huggingface_hub's ids and nothing that leaves the cache") {
  for (const char* id : {"gpt2", "google-bert/bert-base-uncased", "a/b.c_d-e", "Org_1/M.2"})
    CHECK_MESSAGE(hub::is_valid_repo_id(id), id);
  for (const char* id : {"", "/etc/passwd", "../x", "a/../b", "a/b/c", "a--b/c", "a/b..c", ".hidden/x",
                         "a/-b", "a/b-", "a/b.", "org/na me", "org/name\n", "a/", "/a"})
    CHECK_MESSAGE(!hub::is_valid_repo_id(id), id);
  CHECK(!hub::is_valid_repo_id("org/" + std::string(97, 'x')));
}

TEST_CASE("parse_repo_ref splits off the revision and refuses revisions that climb out") {
  hub::RepoRef ref;
  hub::Error err;
  REQUIRE(hub::parse_repo_ref("org/name", &ref, &err));
  CHECK(ref.revision == "main");
  REQUIRE(hub::parse_repo_ref("org/name@refs/pr/1", &ref, &err));
  CHECK(ref.repo_id == "org/name");
  CHECK(ref.revision == "refs/pr/1");
  for (const char* bad : {"org/name@", "org/name@../../x", "org/name@a/../b", "org/name@/abs",
                          "org/name@a//b", "../../etc@main"}) {
    CHECK_MESSAGE(!hub::parse_repo_ref(bad, &ref, &err), bad);
    CHECK(err.kind == hub::ErrorKind::kInvalidRepoId);
  }
  CHECK(err.message == "invalid repo id '../../etc'");
}

TEST_CASE("options_from_env reads huggingface_hub's variables") {
  TempDir home;
  std::string err;
  REQUIRE(files::write_atomic(home.path() + "/token", "hf_from_file\n", &err));
  const char* names[] = {"HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HF_TOKEN", "HF_TOKEN_PATH",
                         "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DOWNLOAD_TIMEOUT"};
  std::map<std::string, std::string> saved;
  for (const char* name : names) {
    if (const char* v = std::getenv(name)) saved[name] = v;
    ::unsetenv(name);
  }
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:9/", 1);
  ::setenv("HF_HOME", home.path().c_str(), 1);
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  ::setenv("HF_HUB_DOWNLOAD_TIMEOUT", "3", 1);
  hub::Options o = hub::options_from_env();
  CHECK(o.endpoint == "http://127.0.0.1:9");
  CHECK(o.cache_dir == home.path() + "/hub");
  CHECK(o.token == "hf_from_file");
  CHECK(o.offline);
  CHECK(o.timeout_ms == 3000);

  ::setenv("HF_HUB_CACHE", "/somewhere/else", 1);
  ::setenv("HF_TOKEN", " hf_from_env ", 1);
  ::setenv("HF_HUB_OFFLINE", "0", 1);
  o = hub::options_from_env();
  CHECK(o.cache_dir == "/somewhere/else");
  CHECK(o.token == "hf_from_env");
  CHECK(!o.offline);

  for (const char* name : names) ::unsetenv(name);
  for (const auto& [name, value] : saved) ::setenv(name.c_str(), value.c_str(), 1);
}

TEST_CASE("a cold lookup fetches config.json and stores it in huggingface_hub's layout") {
  TempDir cache;
  hub::Result r = resolve("google-bert/bert-base-uncased", fake_options(cache));
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(r.config.source == hub::Source::kHub);
  CHECK(r.config.json["model_type"] == "bert");
  std::string folder = cache.path() + "/models--google-bert--bert-base-uncased";
  CHECK(r.config.path == folder + "/snapshots/" + r.config.commit + "/config.json");
  fs::path target = fs::read_symlink(r.config.path);
  CHECK(target.string().rfind("../../blobs/", 0) == 0);
  std::string served, ref, err;
  REQUIRE(files::read(files::project_home() + "/tests/fake_hub/repos/google-bert/bert-base-uncased/config.json",
                      &served, &err));
  std::string blob;
  REQUIRE(files::read(folder + "/blobs/" + target.filename().string(), &blob, &err));
  CHECK(blob == served);
  REQUIRE(files::read(folder + "/refs/main", &ref, &err));
  CHECK(ref == r.config.commit);
  CHECK(files::exists(cache.path() + "/CACHEDIR.TAG"));
}

TEST_CASE("a warm lookup reads the cache and makes no request") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  REQUIRE(resolve("openai-community/gpt2", options).ok());
  int before = requests();
  hub::Result r = resolve("openai-community/gpt2", options);
  REQUIRE(r.ok());
  CHECK(r.config.source == hub::Source::kCache);
  CHECK(r.config.json["model_type"] == "gpt2");
  CHECK(requests() == before);
}

TEST_CASE("offline, a warm cache works with the hub unreachable") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  REQUIRE(resolve("google-t5/t5-small", options).ok());
  options.offline = true;
  options.endpoint = "http://127.0.0.1:" + std::to_string(closed_port());
  hub::Result r = resolve("google-t5/t5-small", options);
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(r.config.source == hub::Source::kCache);
}

TEST_CASE("offline, a cold cache is an error naming HF_HUB_OFFLINE") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  options.offline = true;
  int before = requests();
  hub::Result r = resolve("google-t5/t5-small", options);
  CHECK(r.error.kind == hub::ErrorKind::kOfflineMiss);
  CHECK(r.error.message == "not in the cache and HF_HUB_OFFLINE is set 'google-t5/t5-small@main'");
  CHECK(requests() == before);
}

TEST_CASE("a tag revision gets its refs file, a commit sha revision none") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  hub::Result tag = resolve("google-bert/bert-base-uncased@v1.0", options);
  REQUIRE(tag.ok());
  std::string ref, err;
  REQUIRE(files::read(cache.path() + "/models--google-bert--bert-base-uncased/refs/v1.0", &ref, &err));
  CHECK(ref == tag.config.commit);

  hub::Result sha = resolve("openai/whisper-tiny@" + kWhisperCommit, options);
  REQUIRE_MESSAGE(sha.ok(), sha.error.message);
  CHECK(sha.config.commit == kWhisperCommit);
  CHECK(!fs::exists(cache.path() + "/models--openai--whisper-tiny/refs"));
  CHECK(resolve("openai/whisper-tiny@" + kWhisperCommit, options).config.source == hub::Source::kCache);
}

TEST_CASE("the cache matches the one huggingface_hub's hf_hub_download writes") {
  TempDir ours, theirs, scratch;
  hub::Options options = fake_options(ours);
  const std::vector<std::string> specs = {"google-bert/bert-base-uncased", "google-bert/bert-base-uncased@v1.0",
                                          "openai/whisper-tiny@" + kWhisperCommit, "openai/clip-vit-base-patch32"};
  std::string script = "from huggingface_hub import hf_hub_download\n";
  for (const auto& spec : specs) {
    REQUIRE(resolve(spec, options).ok());
    hub::RepoRef ref;
    hub::Error err;
    hub::parse_repo_ref(spec, &ref, &err);
    script += "hf_hub_download('" + ref.repo_id + "', 'config.json', revision='" + ref.revision + "')\n";
  }
  REQUIRE(run_python("HF_ENDPOINT=" + options.endpoint + " HF_HUB_CACHE=" + theirs.path(), script, scratch) == 0);
  std::string expected = tree(theirs.path());
  CHECK(expected.find("snapshots") != std::string::npos);
  CHECK(tree(ours.path()) == expected);
}

TEST_CASE("transformers reads offline a config our client cached") {
  TempDir cache, scratch;
  REQUIRE(resolve("google-bert/bert-base-uncased", fake_options(cache)).ok());
  std::string script =
      "from transformers import AutoConfig\n"
      "config = AutoConfig.from_pretrained('google-bert/bert-base-uncased', local_files_only=True)\n"
      "assert config.model_type == 'bert' and config.hidden_size == 768, config\n";
  CHECK(run_python("HF_HUB_OFFLINE=1 HF_ENDPOINT=http://127.0.0.1:9 HF_HUB_CACHE=" + cache.path(), script,
                   scratch) == 0);
}

TEST_CASE("a missing repository is not found, with a hint about HF_TOKEN when anonymous") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  hub::Result r = resolve("fake-org/does-not-exist", options);
  CHECK(r.error.kind == hub::ErrorKind::kRepoNotFound);
  CHECK(r.error.message == "repository not found 'fake-org/does-not-exist' (set HF_TOKEN if it is private or gated)");
  options.token = "hf_fake_token";
  r = resolve("fake-org/does-not-exist", options);
  CHECK(r.error.kind == hub::ErrorKind::kRepoNotFound);
  CHECK(r.error.message == "repository not found 'fake-org/does-not-exist'");
}

TEST_CASE("a repository without config.json says so") {
  TempDir cache;
  hub::Result r = resolve("fake-org/no-config", fake_options(cache));
  CHECK(r.error.kind == hub::ErrorKind::kNoConfig);
  CHECK(r.error.message == "no config.json in 'fake-org/no-config@main'");
}

TEST_CASE("an unknown revision is not found") {
  TempDir cache;
  hub::Result r = resolve("google-bert/bert-base-uncased@v9", fake_options(cache));
  CHECK(r.error.kind == hub::ErrorKind::kRevisionNotFound);
  CHECK(r.error.message == "revision not found 'google-bert/bert-base-uncased@v9'");
}

TEST_CASE("a gated repository asks for HF_TOKEN and never shows it") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  hub::Result r = resolve("meta-llama/Llama-3.2-1B", options);
  CHECK(r.error.kind == hub::ErrorKind::kAccessDenied);
  CHECK(r.error.message ==
        "gated repository 'meta-llama/Llama-3.2-1B' (accept its terms on the Hub, then set HF_TOKEN)");
  options.token = "hf_other_token";
  r = resolve("meta-llama/Llama-3.2-1B", options);
  CHECK(r.error.kind == hub::ErrorKind::kAccessDenied);
  CHECK(r.error.message.find("HF_TOKEN has no access") == 0);
  CHECK(r.error.message.find("hf_other_token") == std::string::npos);
  options.token = "hf_fake_token";
  r = resolve("meta-llama/Llama-3.2-1B", options);
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(r.config.json["model_type"] == "llama");
}

TEST_CASE("a private repository answers only with a token that has access") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  CHECK(resolve("fake-org/private-model", options).error.kind == hub::ErrorKind::kRepoNotFound);
  options.token = "hf_fake_token";
  hub::Result r = resolve("fake-org/private-model", options);
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(r.config.json["model_type"] == "distilbert");
}

TEST_CASE("a rejected token is reported without the token") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  options.token = "hf_secret_value";
  hub::Result r = resolve("google-bert/bert-base-uncased", options);
  CHECK(r.error.kind == hub::ErrorKind::kAccessDenied);
  CHECK(r.error.message == "HF_TOKEN rejected by the hub for 'google-bert/bert-base-uncased'");
}

TEST_CASE("a malformed config.json is reported with its line and column") {
  TempDir cache;
  hub::Result r = resolve("fake-org/malformed", fake_options(cache));
  CHECK(r.error.kind == hub::ErrorKind::kMalformedConfig);
  CHECK_MESSAGE(r.error.message.find("malformed config.json 'fake-org/malformed@main' at line 5, column 14:") == 0,
                r.error.message);
}

TEST_CASE("a malformed config.json is not stored in the cache") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  CHECK(resolve("fake-org/malformed", options).error.kind == hub::ErrorKind::kMalformedConfig);
  CHECK_FALSE(fs::exists(hub::repo_folder(options, "fake-org/malformed") + "/blobs"));
  options.offline = true;
  CHECK(resolve("fake-org/malformed", options).error.kind == hub::ErrorKind::kOfflineMiss);
}

TEST_CASE("parse_config refuses JSON that is not an object") {
  nlohmann::json json;
  hub::Error err;
  CHECK(!hub::parse_config("[1, 2]", "x/config.json", &json, &err));
  CHECK(err.kind == hub::ErrorKind::kMalformedConfig);
  CHECK(err.message == "config.json is not a JSON object 'x/config.json'");
  CHECK(hub::parse_config("{\"model_type\": \"bert\"}", "x/config.json", &json, &err));
}

TEST_CASE("a slow response times out after the retries") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  options.timeout_ms = 300;
  options.max_attempts = 2;
  auto start = Clock::now();
  hub::Result r = resolve("fake-org/slow", options);
  CHECK(seconds_since(start) < 5.0);  // the server would answer after 10 s
  CHECK(r.error.kind == hub::ErrorKind::kTimeout);
  CHECK_MESSAGE(r.error.message.find("timed out fetching '" + options.endpoint + "/fake-org/slow/resolve/main/config.json'") == 0,
                r.error.message);
  CHECK(r.error.message.find("after 2 attempts") != std::string::npos);
}

TEST_CASE("a 429 is retried after its Retry-After") {
  TempDir cache;
  auto start = Clock::now();
  hub::Result r = resolve("fake-org/rate-limited-once", fake_options(cache));
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(seconds_since(start) >= 1.0);  // the backoff alone would wait 10 ms
  CHECK(r.config.source == hub::Source::kHub);
}

TEST_CASE("a 429 whose Retry-After is too long fails at once") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  options.max_retry_after_ms = 500;
  hub::Result r = resolve("fake-org/rate-limited-impatient", options);
  CHECK(r.error.kind == hub::ErrorKind::kNetwork);
  CHECK(r.error.message.find("rate limited by the hub (HTTP 429)") == 0);
  CHECK(r.error.message.find("(Retry-After 1 s)") != std::string::npos);
}

TEST_CASE("a 503 is retried with backoff") {
  TempDir cache;
  hub::Result r = resolve("fake-org/flaky-once", fake_options(cache));
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(r.config.json["model_type"] == "bert");
}

TEST_CASE("a refused connection is retried, then reported") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  options.endpoint = "http://127.0.0.1:" + std::to_string(closed_port());
  options.max_attempts = 3;
  hub::Result r = resolve("google-bert/bert-base-uncased", options);
  CHECK(r.error.kind == hub::ErrorKind::kNetwork);
  CHECK(r.error.message.find("cannot fetch '" + options.endpoint) == 0);
  CHECK(r.error.message.find("after 3 attempts") != std::string::npos);
}

TEST_CASE("a commit or ETag that would leave the cache is refused") {
  TempDir cache;
  hub::Result r = resolve("fake-org/bad-headers", fake_options(cache));
  CHECK(r.error.kind == hub::ErrorKind::kNetwork);
  CHECK(r.error.message.find("reply without a valid X-Repo-Commit") == 0);
  CHECK(tree(cache.path()).empty());
}

TEST_CASE("an invalid repo id touches neither the cache nor the network") {
  TempDir cache;
  int before = requests();
  hub::Result r = hub::resolve_config({"../../etc", "main"}, fake_options(cache));
  CHECK(r.error.kind == hub::ErrorKind::kInvalidRepoId);
  r = hub::resolve_config({"org/name", "../../../x"}, fake_options(cache));
  CHECK(r.error.kind == hub::ErrorKind::kInvalidRepoId);
  CHECK(r.error.message == "invalid revision '../../../x'");
  CHECK(tree(cache.path()).empty());
  CHECK(requests() == before);
}

TEST_CASE("many ids resolve concurrently, in order, errors staying with their id") {
  TempDir cache;
  std::vector<hub::RepoRef> refs;
  for (int i = 0; i < 40; ++i) refs.push_back({"bulk/model-" + std::to_string(i), "main"});
  refs.push_back({"fake-org/does-not-exist", "main"});
  auto start = Clock::now();
  std::vector<hub::Result> results = hub::resolve_configs(refs, fake_options(cache));
  double elapsed = seconds_since(start);
  REQUIRE(results.size() == refs.size());
  for (size_t i = 0; i < 40; ++i) {
    CHECK_MESSAGE(results[i].ok(), results[i].error.message);
    CHECK(results[i].config.ref.repo_id == refs[i].repo_id);
    CHECK(results[i].config.path.find("/models--bulk--model-" + std::to_string(i) + "/") != std::string::npos);
  }
  CHECK(results.back().error.kind == hub::ErrorKind::kRepoNotFound);
  CHECK(elapsed < 2.0);  // one at a time: at least 41 x 50 ms
  CHECK(FakeHub::get().stats()["max_in_flight"].get<int>() > 1);
}
