#include "common/hub.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "common/files.h"
#include "common/json_parse.h"

namespace fs = std::filesystem;

namespace hub {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxConfigBytes = 16 << 20;

// What huggingface_hub writes at the cache root so backup tools skip it.
constexpr const char* kCacheDirTag =
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by huggingface_hub.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n";

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string trim(std::string s) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_true(const std::string& value) {
  std::string v = lower(value);
  return v == "1" || v == "on" || v == "yes" || v == "true";
}

std::string expand_home(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) return env("HOME") + path.substr(1);
  return path;
}

// A name for one path component: a commit or ETag from the server, a part of a
// revision. Never "." or "..", never a separator: joined under the cache it stays there.
bool is_safe_component(std::string_view s) {
  if (s.empty() || s.size() > 255 || s[0] == '.') return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

bool is_commit_sha(std::string_view s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Branches and tags may hold '/' (refs/pr/1); the revision names a file under refs/.
bool is_valid_revision(std::string_view revision) {
  if (revision.empty() || revision.size() > 255) return false;
  size_t start = 0;
  while (true) {
    size_t slash = revision.find('/', start);
    if (!is_safe_component(revision.substr(start, slash - start))) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

std::string describe(const RepoRef& ref) { return ref.repo_id + "@" + ref.revision; }

Error make_error(ErrorKind kind, std::string message) { return Error{kind, std::move(message)}; }

bool check_ref(const RepoRef& ref, Error* err) {
  if (!is_valid_repo_id(ref.repo_id)) {
    *err = make_error(ErrorKind::kInvalidRepoId, "invalid repo id '" + ref.repo_id + "'");
    return false;
  }
  if (!is_valid_revision(ref.revision)) {
    *err = make_error(ErrorKind::kInvalidRepoId, "invalid revision '" + ref.revision + "'");
    return false;
  }
  return true;
}

void parse_into(const std::string& text, const RepoRef& ref, const std::string& commit,
                Source source, const std::string& path, Result* out) {
  out->config.commit = commit;
  out->config.source = source;
  out->config.path = path;
  parse_config(text, describe(ref), &out->config.json, &out->error);
}

// Fills `out` from the cache when `ref` is there (or reading it fails); false when the
// cache does not hold it.
bool lookup_cache(const RepoRef& ref, const Options& options, Result* out) {
  std::string folder = repo_folder(options, ref.repo_id);
  std::string commit = ref.revision;
  if (!is_commit_sha(commit)) {
    std::string ignored;
    if (!files::read(folder + "/refs/" + ref.revision, &commit, &ignored)) return false;
    commit = trim(commit);
    if (!is_safe_component(commit)) return false;
  }
  std::string path = folder + "/snapshots/" + commit + "/config.json";
  if (!files::exists(path)) return false;  // a dangling symlink counts as absent
  std::string text, err;
  if (!files::read(path, &text, &err)) {
    out->error = make_error(ErrorKind::kCache, err);
    return true;
  }
  parse_into(text, ref, commit, Source::kCache, path, out);
  return true;
}

// Stores a download the way huggingface_hub does: blobs/<etag>, then
// snapshots/<commit>/config.json -> ../../blobs/<etag>, then refs/<revision>; each step
// atomic, in that order, so a reader that finds the ref finds the whole snapshot.
bool store(const Options& options, const RepoRef& ref, const std::string& commit,
           const std::string& etag, const std::string& body, std::string* path,
           std::string* err) {
  std::string folder = repo_folder(options, ref.repo_id);
  std::string blob = folder + "/blobs/" + etag;
  if (!files::exists(blob) && !files::write_atomic(blob, body, err)) return false;

  std::string snapshot = folder + "/snapshots/" + commit;
  std::error_code ec;
  fs::create_directories(snapshot, ec);
  *path = snapshot + "/config.json";
  std::string tmp = *path + ".tmp." + std::to_string(::getpid());
  fs::remove(tmp, ec);
  fs::create_symlink("../../blobs/" + etag, tmp, ec);
  if (!ec) fs::rename(tmp, *path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    *err = "cannot write '" + *path + "': " + ec.message();
    return false;
  }

  if (ref.revision != commit) {
    std::string ref_path = folder + "/refs/" + ref.revision;
    std::string current;
    if ((!files::read(ref_path, &current, err) || current != commit) &&
        !files::write_atomic(ref_path, commit, err))
      return false;
  }
  std::string tag = options.cache_dir + "/CACHEDIR.TAG";
  if (!files::exists(tag)) files::write_atomic(tag, kCacheDirTag, err);  // best effort
  err->clear();
  return true;
}

// One fetch of one config.json, across its attempts.
struct Transfer {
  size_t index = 0;  // into the results
  RepoRef ref;
  std::string url;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  std::map<std::string, std::string> response_headers;  // lower-case names
  char curl_error[CURL_ERROR_SIZE] = {};
  bool too_large = false;
  int attempts = 0;
  Clock::time_point start_at;

  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
  void reset() {
    body.clear();
    response_headers.clear();
    curl_error[0] = '\0';
    too_large = false;
  }
  std::string header(const std::string& name) const {
    auto it = response_headers.find(name);
    return it == response_headers.end() ? "" : it->second;
  }
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->body.size() + size * count > kMaxConfigBytes) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->body.append(data, size * count);
  return size * count;
}

// Keeps every response's headers, the last value winning: after a redirect to a CDN
// the final reply lacks X-Repo-Commit and X-Linked-Etag, which the first one had.
size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * count);
  size_t colon = line.find(':');
  if (colon != std::string::npos)
    t->response_headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  return size * count;
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::unique_ptr<Transfer> make_transfer(size_t index, const RepoRef& ref,
                                        const Options& options) {
  auto t = std::make_unique<Transfer>();
  t->index = index;
  t->ref = ref;
  t->easy = curl_easy_init();
  char* revision = curl_easy_escape(t->easy, ref.revision.c_str(), 0);
  t->url = options.endpoint + "/" + ref.repo_id + "/resolve/" + revision + "/config.json";
  curl_free(revision);
  if (!options.token.empty())
    t->headers = curl_slist_append(nullptr, ("Authorization: Bearer " + options.token).c_str());
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, t->url.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  // curl drops a custom Authorization header when a redirect leaves the host.
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, options.timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "skillset-hub/1 libcurl");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_error);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  return t;
}

// What one attempt came to: `out` holds its result or error; `retry` says whether
// another attempt may do better, after `retry_after_ms` when the server said so.
struct Attempt {
  bool retry = false;
  long retry_after_ms = -1;
};

Attempt fail(Result* out, ErrorKind kind, std::string message, bool retry = false) {
  out->error = make_error(kind, std::move(message));
  return Attempt{retry, -1};
}

Attempt finish_attempt(Transfer& t, CURLcode code, const Options& options, Result* out) {
  const std::string repo = "'" + t.ref.repo_id + "'";
  const std::string subject = "'" + describe(t.ref) + "'";
  if (code != CURLE_OK) {
    if (t.too_large)
      return fail(out, ErrorKind::kNetwork, "config.json larger than 16 MiB " + subject);
    std::string why = t.curl_error[0] ? t.curl_error : curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT)
      return fail(out, ErrorKind::kTimeout, "timed out fetching '" + t.url + "' (" + why + ")",
                  true);
    bool transient = code == CURLE_COULDNT_CONNECT || code == CURLE_SEND_ERROR ||
                     code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING ||
                     code == CURLE_PARTIAL_FILE || code == CURLE_HTTP2 ||
                     code == CURLE_HTTP2_STREAM;
    return fail(out, ErrorKind::kNetwork, "cannot fetch '" + t.url + "': " + why, transient);
  }

  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  const std::string code_name = t.header("x-error-code");
  const bool anonymous = options.token.empty();
  if (status == 200) {
    std::string commit = t.header("x-repo-commit");
    std::string etag = t.header("x-linked-etag");
    if (etag.empty()) etag = t.header("etag");
    if (etag.rfind("W/", 0) == 0) etag.erase(0, 2);
    etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
    if (!is_safe_component(commit))
      return fail(out, ErrorKind::kNetwork,
                  "reply without a valid X-Repo-Commit, not a Hugging Face hub? '" + t.url + "'");
    if (!is_safe_component(etag))
      return fail(out, ErrorKind::kNetwork, "reply without a valid ETag '" + t.url + "'");
    // Parsed before it is stored: a bad reply in the cache would fail every later run,
    // offline too.
    parse_into(t.body, t.ref, commit, Source::kHub, "", out);
    if (!out->ok()) return {};
    std::string err;
    if (!store(options, t.ref, commit, etag, t.body, &out->config.path, &err))
      return fail(out, ErrorKind::kCache, err);
    return {};
  }
  if (status == 408 || status == 429 || status >= 500) {
    Attempt a = fail(out, ErrorKind::kNetwork,
                     (status == 429 ? "rate limited by the hub (HTTP 429) '"
                                    : "hub unavailable (HTTP " + std::to_string(status) + ") '") +
                         t.url + "'",
                     true);
    std::string after = t.header("retry-after");  // seconds; an HTTP date gets the backoff
    if (!after.empty() && after.size() < 9 &&
        std::all_of(after.begin(), after.end(), [](unsigned char c) { return std::isdigit(c); }))
      a.retry_after_ms = std::stol(after) * 1000;
    return a;
  }
  if (code_name == "RepoNotFound")
    return fail(out, ErrorKind::kRepoNotFound,
                "repository not found " + repo +
                    (status == 401 && anonymous ? " (set HF_TOKEN if it is private or gated)" : ""));
  if (code_name == "GatedRepo")
    return fail(out, ErrorKind::kAccessDenied,
                anonymous ? "gated repository " + repo + " (accept its terms on the Hub, then set HF_TOKEN)"
                          : "HF_TOKEN has no access to gated repository " + repo +
                                " (accept its terms on the Hub)");
  if (code_name == "RevisionNotFound")
    return fail(out, ErrorKind::kRevisionNotFound, "revision not found " + subject);
  if (code_name == "EntryNotFound")
    return fail(out, ErrorKind::kNoConfig, "no config.json in " + subject);
  if (status == 401)
    return fail(out, ErrorKind::kAccessDenied,
                anonymous ? "authentication required for " + repo + " (set HF_TOKEN)"
                          : "HF_TOKEN rejected by the hub for " + repo);
  if (status == 403)
    return fail(out, ErrorKind::kAccessDenied, "access denied (HTTP 403) to " + repo);
  if (status == 404) return fail(out, ErrorKind::kNoConfig, "no config.json in " + subject);
  return fail(out, ErrorKind::kNetwork,
              "unexpected HTTP " + std::to_string(status) + " from '" + t.url + "'");
}

long backoff_ms(const Options& options, int attempts) {
  long wait = options.backoff_ms;
  for (int i = 1; i < attempts && wait < options.max_backoff_ms; ++i) wait *= 2;
  return std::min(wait, options.max_backoff_ms);
}

// Runs every transfer to its end on one curl multi handle, retrying the transient
// failures after their wait without holding up the others.
void fetch_all(const std::vector<std::unique_ptr<Transfer>>& transfers, const Options& options,
               std::vector<Result>* results) {
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, long{std::max(1, options.max_parallel)});
  std::vector<Transfer*> waiting;
  for (const auto& t : transfers) waiting.push_back(t.get());
  int active = 0;
  while (active > 0 || !waiting.empty()) {
    auto now = Clock::now();
    auto next = now + std::chrono::seconds(1);
    for (auto it = waiting.begin(); it != waiting.end();) {
      if ((*it)->start_at <= now) {
        (*it)->reset();
        curl_multi_add_handle(multi, (*it)->easy);
        ++active;
        it = waiting.erase(it);
      } else {
        next = std::min(next, (*it)->start_at);
        ++it;
      }
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURLcode code = msg->data.result;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      curl_multi_remove_handle(multi, t->easy);
      --active;
      ++t->attempts;
      Result& out = (*results)[t->index];
      Attempt a = finish_attempt(*t, code, options, &out);
      if (!a.retry) continue;
      if (t->attempts >= options.max_attempts) {
        out.error.message += " after " + std::to_string(t->attempts) + " attempts";
      } else if (a.retry_after_ms > options.max_retry_after_ms) {
        out.error.message += " (Retry-After " + std::to_string(a.retry_after_ms / 1000) + " s)";
      } else {
        long wait = a.retry_after_ms >= 0 ? a.retry_after_ms : backoff_ms(options, t->attempts);
        t->start_at = Clock::now() + std::chrono::milliseconds(wait);
        next = std::min(next, t->start_at);
        out.error = Error{};
        waiting.push_back(t);
      }
    }
    if (active > 0 || !waiting.empty()) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(std::max<long>(0, wait.count())), nullptr);
    }
  }
  curl_multi_cleanup(multi);
}

}  // namespace

Options options_from_env() {
  Options o;
  if (std::string endpoint = env("HF_ENDPOINT"); !endpoint.empty()) {
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    o.endpoint = endpoint;
  }
  std::string home = expand_home(env("HF_HOME"));
  if (home.empty()) {
    std::string xdg = env("XDG_CACHE_HOME");
    home = (xdg.empty() ? expand_home("~/.cache") : xdg) + "/huggingface";
  }
  o.cache_dir = env("HF_HUB_CACHE").empty() ? home + "/hub" : expand_home(env("HF_HUB_CACHE"));
  o.token = trim(env("HF_TOKEN"));
  if (o.token.empty()) {
    std::string path = env("HF_TOKEN_PATH").empty() ? home + "/token" : expand_home(env("HF_TOKEN_PATH"));
    std::string text, ignored;
    if (files::read(path, &text, &ignored)) o.token = trim(text);
  }
  std::string offline = env("HF_HUB_OFFLINE");
  o.offline = is_true(offline.empty() ? env("TRANSFORMERS_OFFLINE") : offline);
  std::string timeout = env("HF_HUB_DOWNLOAD_TIMEOUT");
  if (!timeout.empty() && timeout.size() < 7 &&
      std::all_of(timeout.begin(), timeout.end(), [](unsigned char c) { return std::isdigit(c); }) &&
      std::stol(timeout) > 0)
    o.timeout_ms = std::stol(timeout) * 1000;
  return o;
}

bool is_valid_repo_id(std::string_view repo_id) {
  if (repo_id.empty() || repo_id.find("--") != std::string_view::npos ||
      repo_id.find("..") != std::string_view::npos)
    return false;
  size_t slash = repo_id.find('/');
  auto part_ok = [](std::string_view part) {
    auto word = [](unsigned char c) { return std::isalnum(c) || c == '_'; };
    return !part.empty() && part.size() <= 96 && word(part.front()) && word(part.back()) &&
           std::all_of(part.begin(), part.end(), [&](unsigned char c) {
             return word(c) || c == '-' || c == '.';
           });
  };
  if (slash == std::string_view::npos) return part_ok(repo_id);
  return part_ok(repo_id.substr(0, slash)) && part_ok(repo_id.substr(slash + 1));
}

bool parse_repo_ref(std::string_view text, RepoRef* out, Error* err) {
  size_t at = text.find('@');
  RepoRef ref;
  ref.repo_id = std::string(text.substr(0, at));
  if (at != std::string_view::npos) ref.revision = std::string(text.substr(at + 1));
  if (!check_ref(ref, err)) return false;
  *out = std::move(ref);
  return true;
}

std::string repo_folder(const Options& options, const std::string& repo_id) {
  std::string name = "models--" + repo_id;
  if (size_t slash = name.find('/'); slash != std::string::npos) name.replace(slash, 1, "--");
  return options.cache_dir + "/" + name;
}

Result resolve_config(const RepoRef& ref, const Options& options) {
  return resolve_configs({ref}, options).front();
}

std::vector<Result> resolve_configs(const std::vector<RepoRef>& refs, const Options& options) {
  std::vector<Result> results(refs.size());
  std::vector<std::unique_ptr<Transfer>> transfers;
  for (size_t i = 0; i < refs.size(); ++i) {
    Result& out = results[i];
    out.config.ref = refs[i];
    if (!check_ref(refs[i], &out.error) || lookup_cache(refs[i], options, &out)) continue;
    if (options.offline) {
      out.error = make_error(ErrorKind::kOfflineMiss, "not in the cache and HF_HUB_OFFLINE is set '" +
                                                          describe(refs[i]) + "'");
      continue;
    }
    init_curl_once();
    transfers.push_back(make_transfer(i, refs[i], options));
  }
  if (!transfers.empty()) fetch_all(transfers, options, &results);
  return results;
}

bool parse_config(const std::string& text, const std::string& where, nlohmann::json* out,
                  Error* err) {
  std::string why;
  if (!parse_json(text, out, &why)) {
    *err = make_error(ErrorKind::kMalformedConfig, "malformed config.json '" + where + "' " + why);
    return false;
  }
  if (!out->is_object()) {
    *err = make_error(ErrorKind::kMalformedConfig, "config.json is not a JSON object '" + where + "'");
    return false;
  }
  return true;
}

}  // namespace hub
