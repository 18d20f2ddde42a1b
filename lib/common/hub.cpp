#include "common/hub.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "common/digest.h"
#include "common/files.h"
#include "common/json_parse.h"

namespace fs = std::filesystem;

namespace hub {
namespace {

using Clock = std::chrono::steady_clock;

// A reply kept in memory (config.json, a page of a listing) is at most this long.
constexpr size_t kMaxTextBytes = 16 << 20;

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

// snapshots/<commit>/<name> -> ../../blobs/<blob>, made beside its place and renamed
// onto it, so a reader sees the old link or the new one.
bool link_blob(const std::string& folder, const std::string& commit, const std::string& name,
               const std::string& blob, std::string* path, std::string* err) {
  std::string snapshot = folder + "/snapshots/" + commit;
  std::error_code ec;
  fs::create_directories(snapshot, ec);
  *path = snapshot + "/" + name;
  std::string tmp = *path + ".tmp." + std::to_string(::getpid());
  fs::remove(tmp, ec);
  fs::create_symlink("../../blobs/" + blob, tmp, ec);
  if (!ec) fs::rename(tmp, *path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    *err = "cannot write '" + *path + "': " + ec.message();
    return false;
  }
  return true;
}

// refs/<revision> names the commit a branch or tag was at; a commit sha needs none.
bool write_ref(const Options& options, const RepoRef& ref, const std::string& commit, std::string* err) {
  if (ref.revision != commit) {
    std::string ref_path = repo_folder(options, ref.repo_id) + "/refs/" + ref.revision;
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

// Stores a download the way huggingface_hub does: blobs/<etag>, then
// snapshots/<commit>/config.json -> ../../blobs/<etag>, then refs/<revision>; each step
// atomic, in that order, so a reader that finds the ref finds the whole snapshot.
bool store(const Options& options, const RepoRef& ref, const std::string& commit,
           const std::string& etag, const std::string& body, std::string* path,
           std::string* err) {
  std::string folder = repo_folder(options, ref.repo_id);
  std::string blob = folder + "/blobs/" + etag;
  if (!files::exists(blob) && !files::write_atomic(blob, body, err)) return false;
  return link_blob(folder, commit, "config.json", etag, path, err) && write_ref(options, ref, commit, err);
}

// What one attempt came to: the transfer's `error` holds its failure, if any; `retry`
// says whether another attempt may do better, after `retry_after_ms` when the server
// said so. `progressed`: the attempt got somewhere (a page of a listing, part of a
// file), so the attempts start counting again.
struct Attempt {
  bool retry = false;
  long retry_after_ms = -1;
  bool progressed = false;
};

// One request across its attempts, driven by fetch_all.
struct Transfer {
  RepoRef ref;
  std::string url;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::map<std::string, std::string> response_headers;  // lower-case names
  char curl_error[CURL_ERROR_SIZE] = {};
  int attempts = 0;
  Clock::time_point start_at;
  Error error;

  virtual ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
  // Before each attempt: nothing to send the request, or the attempt's outcome when it
  // needs none (a file found whole on disk, a lock held by another process).
  virtual std::optional<Attempt> begin() { return std::nullopt; }
  // The response body as it arrives; false aborts the transfer.
  virtual bool body(const char* data, size_t size) = 0;
  virtual Attempt finish(CURLcode code, const Options& options) = 0;

  std::string header(const std::string& name) const {
    auto it = response_headers.find(name);
    return it == response_headers.end() ? "" : it->second;
  }
  long status() const {
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    return code;
  }
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  return static_cast<Transfer*>(user)->body(data, size * count) ? size * count : 0;
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

// The easy handle every request shares. `stream`: a file of any size, so an attempt
// fails when no byte arrives for the timeout (huggingface_hub's read timeout), not
// when the whole transfer takes longer.
void open_easy(Transfer* t, const Options& options, bool stream) {
  init_curl_once();
  t->easy = curl_easy_init();
  if (!options.token.empty())
    t->headers = curl_slist_append(nullptr, ("Authorization: Bearer " + options.token).c_str());
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  // curl drops a custom Authorization header when a redirect leaves the host.
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (stream) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, std::max(1L, options.timeout_ms / 1000));
    // The bytes as stored: a range of a compressed reply would not be one of the file.
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "identity");
  } else {
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, options.timeout_ms);
  }
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "skillset-hub/1 libcurl");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_error);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
}

std::string escape(CURL* easy, const std::string& text) {
  char* escaped = curl_easy_escape(easy, text.c_str(), static_cast<int>(text.size()));
  std::string out = escaped;
  curl_free(escaped);
  return out;
}

Attempt fail(Transfer& t, ErrorKind kind, std::string message, bool retry = false) {
  t.error = make_error(kind, std::move(message));
  return Attempt{retry, -1, false};
}

// A transfer that curl could not complete: timeouts and broken connections may do
// better on another attempt.
Attempt curl_failure(Transfer& t, CURLcode code) {
  std::string why = t.curl_error[0] ? t.curl_error : curl_easy_strerror(code);
  if (code == CURLE_OPERATION_TIMEDOUT)
    return fail(t, ErrorKind::kTimeout, "timed out fetching '" + t.url + "' (" + why + ")", true);
  bool transient = code == CURLE_COULDNT_CONNECT || code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR ||
                   code == CURLE_GOT_NOTHING || code == CURLE_PARTIAL_FILE || code == CURLE_HTTP2 ||
                   code == CURLE_HTTP2_STREAM;
  return fail(t, ErrorKind::kNetwork, "cannot fetch '" + t.url + "': " + why, transient);
}

// A reply other than success, as the Hub words it in X-Error-Code; `missing` is the
// failure for a 404 that names no repository or revision (the entry asked for).
Attempt http_failure(Transfer& t, long status, const Options& options, const Error& missing) {
  const std::string repo = "'" + t.ref.repo_id + "'";
  const std::string code_name = t.header("x-error-code");
  const bool anonymous = options.token.empty();
  if (status == 408 || status == 429 || status >= 500) {
    Attempt a = fail(t, ErrorKind::kNetwork,
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
    return fail(t, ErrorKind::kRepoNotFound,
                "repository not found " + repo +
                    (status == 401 && anonymous ? " (set HF_TOKEN if it is private or gated)" : ""));
  if (code_name == "GatedRepo")
    return fail(t, ErrorKind::kAccessDenied,
                anonymous ? "gated repository " + repo + " (accept its terms on the Hub, then set HF_TOKEN)"
                          : "HF_TOKEN has no access to gated repository " + repo +
                                " (accept its terms on the Hub)");
  if (code_name == "RevisionNotFound")
    return fail(t, ErrorKind::kRevisionNotFound, "revision not found '" + describe(t.ref) + "'");
  if (code_name == "EntryNotFound" || status == 404) return fail(t, missing.kind, missing.message);
  if (status == 401)
    return fail(t, ErrorKind::kAccessDenied,
                anonymous ? "authentication required for " + repo + " (set HF_TOKEN)"
                          : "HF_TOKEN rejected by the hub for " + repo);
  if (status == 403) return fail(t, ErrorKind::kAccessDenied, "access denied (HTTP 403) to " + repo);
  return fail(t, ErrorKind::kNetwork, "unexpected HTTP " + std::to_string(status) + " from '" + t.url + "'");
}

// A reply held in memory (config.json, a page of a file listing), at most 16 MiB.
struct TextTransfer : Transfer {
  std::string text;
  bool too_large = false;

  std::optional<Attempt> begin() override {
    text.clear();
    too_large = false;
    return std::nullopt;
  }
  bool body(const char* data, size_t size) override {
    if (text.size() + size > kMaxTextBytes) {
      too_large = true;
      return false;
    }
    text.append(data, size);
    return true;
  }
  // The attempt's failure, or nothing when a 200 arrived.
  std::optional<Attempt> failure(CURLcode code, const Options& options, const Error& missing,
                                 const std::string& what) {
    if (too_large) return fail(*this, ErrorKind::kNetwork, what + " larger than 16 MiB '" + describe(ref) + "'");
    if (code != CURLE_OK) return curl_failure(*this, code);
    long code_http = status();
    if (code_http != 200) return http_failure(*this, code_http, options, missing);
    return std::nullopt;
  }
};

// One fetch of one config.json.
struct ConfigTransfer : TextTransfer {
  Result* out = nullptr;

  Attempt finish(CURLcode code, const Options& options) override {
    if (auto failed = failure(code, options, {ErrorKind::kNoConfig, "no config.json in '" + describe(ref) + "'"},
                              "config.json"))
      return *failed;
    std::string commit = header("x-repo-commit");
    std::string etag = header("x-linked-etag");
    if (etag.empty()) etag = header("etag");
    if (etag.rfind("W/", 0) == 0) etag.erase(0, 2);
    etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
    if (!is_safe_component(commit))
      return fail(*this, ErrorKind::kNetwork,
                  "reply without a valid X-Repo-Commit, not a Hugging Face hub? '" + url + "'");
    if (!is_safe_component(etag)) return fail(*this, ErrorKind::kNetwork, "reply without a valid ETag '" + url + "'");
    // Parsed before it is stored: a bad reply in the cache would fail every later run,
    // offline too.
    out->config.commit = commit;
    out->config.source = Source::kHub;
    if (!parse_config(text, describe(ref), &out->config.json, &error)) return {};
    std::string err;
    if (!store(options, ref, commit, etag, text, &out->config.path, &err))
      return fail(*this, ErrorKind::kCache, err);
    return {};
  }
};

// A file of a repository as its listing names it.
struct Entry {
  std::string path;
  uint64_t size = 0;
  std::string oid;     // git's blob SHA-1
  std::string sha256;  // LFS files only
  // huggingface_hub's name for it under blobs/: the ETag the Hub serves it with.
  const std::string& blob() const { return sha256.empty() ? oid : sha256; }
};

bool is_hex(std::string_view s, size_t size) {
  return s.size() == size && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The URL of rel="next" in a Link header (`<url>; rel="next", <url>; rel="prev"`).
std::string next_link(const std::string& link) {
  size_t start = 0;
  while (start < link.size()) {
    size_t comma = link.find(',', start);
    std::string part = link.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t open = part.find('<'), close = part.find('>');
    if (open != std::string::npos && close != std::string::npos && close > open &&
        (part.find("rel=\"next\"", close) != std::string::npos || part.find("rel=next", close) != std::string::npos))
      return part.substr(open + 1, close - open - 1);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return "";
}

// The files at a repository's root at one commit, page by page.
struct ListingTransfer : TextTransfer {
  std::string commit;
  std::string prefix;  // where the next page may be: the endpoint's own API
  std::vector<Entry> entries;

  Attempt finish(CURLcode code, const Options& options) override {
    const Error missing{ErrorKind::kNetwork, "no file listing of '" + describe(ref) + "' at '" + url + "'"};
    if (auto failed = failure(code, options, missing, "file listing")) return *failed;
    const std::string malformed = "malformed file listing from '" + url + "'";
    nlohmann::json page;
    std::string why;
    if (!parse_json(text, &page, &why) || !page.is_array()) return fail(*this, ErrorKind::kNetwork, malformed);
    for (const auto& item : page) {
      if (!item.is_object() || item.value("type", "") != "file") continue;
      Entry entry;
      auto path = item.find("path"), size = item.find("size"), oid = item.find("oid");
      if (path == item.end() || !path->is_string() || size == item.end() || !size->is_number_unsigned() ||
          oid == item.end() || !oid->is_string())
        return fail(*this, ErrorKind::kNetwork, malformed);
      entry.path = *path;
      entry.size = *size;
      entry.oid = *oid;
      auto lfs = item.find("lfs");
      if (lfs != item.end() && lfs->is_object()) {
        auto sha = lfs->find("oid");
        if (sha == lfs->end() || !sha->is_string() || !is_hex(sha->get<std::string>(), 64))
          return fail(*this, ErrorKind::kNetwork, malformed);
        entry.sha256 = *sha;
      } else if (!is_hex(entry.oid, 40)) {
        return fail(*this, ErrorKind::kNetwork, malformed);
      }
      entries.push_back(std::move(entry));
    }
    std::string next = next_link(header("link"));
    if (next.empty()) return {};
    // The token goes with every request: a next page elsewhere would carry it there.
    if (next.rfind(prefix, 0) != 0)
      return fail(*this, ErrorKind::kNetwork, "file listing continues off the hub at '" + next + "'");
    url = next;
    return Attempt{true, 0, true};
  }
};

// What one download_snapshots call reports as it goes.
struct Downloads {
  ProgressFn report;
  Progress progress;
  Clock::time_point started = Clock::now();
  Clock::time_point last_report = started;

  void send(bool force) {
    if (!report) return;
    auto now = Clock::now();
    if (!force && now - last_report < std::chrono::milliseconds(100)) return;
    last_report = now;
    progress.elapsed_s = std::chrono::duration<double>(now - started).count();
    report(progress);
  }
  void file_stored(const std::string& name, uint64_t size) {
    ++progress.files_done;
    progress.file_done = name;
    progress.file_size = size;
    send(true);
    progress.file_done.clear();
  }
};

// One file of a checkpoint, into blobs/<blob>.incomplete and then blobs/<blob>.
struct FileTransfer : Transfer {
  Downloads* downloads = nullptr;
  Entry entry;
  std::string blob_path, incomplete_path, lock_path;
  int lock_fd = -1;
  int fd = -1;                    // the .incomplete file
  std::optional<digest::Hasher> hasher;  // of every byte in the .incomplete file
  uint64_t offset = 0;            // bytes in the .incomplete file
  uint64_t attempt_offset = 0;    // offset when the attempt began
  bool status_seen = false;       // the first body byte of this attempt came
  bool storing = false;           // this attempt's body is the file's
  std::string local_error;        // why this side aborted the transfer
  ErrorKind local_kind = ErrorKind::kNone;

  ~FileTransfer() override {
    if (fd >= 0) ::close(fd);
    if (lock_fd >= 0) ::close(lock_fd);  // releases the lock
  }

  std::string name() const { return describe(ref) + "/" + entry.path; }

  void restart_hash() {
    hasher.emplace(entry.sha256.empty() ? digest::Hasher::Kind::kSha1 : digest::Hasher::Kind::kSha256);
    // git's blob id is the SHA-1 of a header and the content.
    if (entry.sha256.empty()) hasher->update("blob " + std::to_string(entry.size) + std::string(1, '\0'));
  }

  // Back to an empty .incomplete file.
  bool truncate() {
    downloads->progress.bytes_done -= offset;
    offset = 0;
    restart_hash();
    return ::ftruncate(fd, 0) == 0 && ::lseek(fd, 0, SEEK_SET) == 0;
  }

  Attempt local_failure(ErrorKind kind, const std::string& what, const std::string& path) {
    return fail(*this, kind, what + " '" + path + "': " + std::strerror(errno));
  }

  // Takes the lock and opens the .incomplete file, hashing what an earlier run left.
  std::optional<Attempt> open() {
    std::error_code ec;
    fs::create_directories(fs::path(lock_path).parent_path(), ec);
    fs::create_directories(fs::path(incomplete_path).parent_path(), ec);
    lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664);
    if (lock_fd < 0) return local_failure(ErrorKind::kCache, "cannot open", lock_path);
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(lock_fd);
      lock_fd = -1;
      return fail(*this, ErrorKind::kCache, "another process is downloading '" + name() + "'", true);
    }
    if (files::exists(blob_path)) return complete_elsewhere();
    fd = ::open(incomplete_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return local_failure(ErrorKind::kCache, "cannot open", incomplete_path);
    restart_hash();
    struct stat st;
    if (::fstat(fd, &st) != 0) return local_failure(ErrorKind::kCache, "cannot read", incomplete_path);
    if (static_cast<uint64_t>(st.st_size) > entry.size) {
      if (::ftruncate(fd, 0) != 0) return local_failure(ErrorKind::kCache, "cannot write", incomplete_path);
    } else {
      std::string chunk(1 << 20, '\0');
      for (ssize_t n; (n = ::read(fd, chunk.data(), chunk.size())) != 0; offset += n) {
        if (n < 0) return local_failure(ErrorKind::kCache, "cannot read", incomplete_path);
        hasher->update(std::string_view(chunk.data(), n));
      }
    }
    downloads->progress.bytes_done += offset;
    downloads->progress.bytes_resumed += offset;
    return std::nullopt;
  }

  // Another process stored the blob while this one waited for the lock.
  Attempt complete_elsewhere() {
    downloads->progress.bytes_done += entry.size - offset;
    downloads->file_stored(name(), entry.size);
    return {};
  }

  std::optional<Attempt> begin() override {
    status_seen = storing = false;
    local_error.clear();
    if (lock_fd < 0)
      if (auto done = open()) return done;
    if (offset == entry.size) return complete();
    attempt_offset = offset;
    std::string range = std::to_string(offset) + "-";
    curl_easy_setopt(easy, CURLOPT_RANGE, offset > 0 ? range.c_str() : nullptr);
    return std::nullopt;
  }

  bool abort(ErrorKind kind, std::string why) {
    local_kind = kind;
    local_error = std::move(why);
    return false;
  }

  bool body(const char* data, size_t size) override {
    if (!status_seen) {
      status_seen = true;
      long code = status();
      storing = code == 200 || code == 206;
      if (code == 206) {
        // `bytes <first>-<last>/<size>`: the range must start where the file stops.
        std::string range = header("content-range");
        if (range.rfind("bytes " + std::to_string(offset) + "-", 0) != 0)
          return abort(ErrorKind::kNetwork, "a range reply from '" + url + "' starts elsewhere ('" + range + "')");
      } else if (code == 200 && offset > 0 && !truncate()) {  // the server ignored the Range
        return abort(ErrorKind::kCache, "cannot write '" + incomplete_path + "': " + std::strerror(errno));
      }
    }
    if (!storing) return true;  // an error reply's body: the status says enough
    if (offset + size > entry.size)
      return abort(ErrorKind::kNetwork,
                   "'" + name() + "' is larger than the " + std::to_string(entry.size) + " bytes the hub lists");
    for (size_t written = 0; written < size;) {
      ssize_t n = ::write(fd, data + written, size - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return abort(ErrorKind::kCache, "cannot write '" + incomplete_path + "': " + std::strerror(errno));
      written += n;
    }
    hasher->update(std::string_view(data, size));
    offset += size;
    downloads->progress.bytes_done += size;
    downloads->send(false);
    return true;
  }

  Attempt finish(CURLcode code, const Options& options) override {
    if (!local_error.empty()) return fail(*this, local_kind, local_error);
    const bool progressed = offset > attempt_offset;
    if (code != CURLE_OK) {
      Attempt a = curl_failure(*this, code);
      a.progressed = progressed;
      return a;
    }
    long code_http = status();
    if (code_http == 416) {  // the file on disk outgrew the server's: start over
      if (!truncate()) return local_failure(ErrorKind::kCache, "cannot write", incomplete_path);
      return fail(*this, ErrorKind::kNetwork, "range refused by '" + url + "'", true);
    }
    if (code_http != 200 && code_http != 206)
      return http_failure(*this, code_http, options,
                          {ErrorKind::kNetwork, "listed but not found on the hub '" + name() + "'"});
    if (offset < entry.size) {
      Attempt a = fail(*this, ErrorKind::kNetwork,
                       "download ended at " + std::to_string(offset) + " of " + std::to_string(entry.size) +
                           " bytes '" + name() + "'",
                       true);
      a.progressed = progressed;
      return a;
    }
    return complete();
  }

  // The whole file is in .incomplete: checked, then renamed to its blob.
  Attempt complete() {
    std::string got = hasher->hex();
    const std::string& want = entry.sha256.empty() ? entry.oid : entry.sha256;
    if (got != want) {
      ::close(fd);
      fd = -1;
      ::unlink(incomplete_path.c_str());
      downloads->progress.bytes_done -= offset;
      return fail(*this, ErrorKind::kChecksum,
                  std::string(entry.sha256.empty() ? "git SHA-1" : "SHA-256") + " mismatch, download deleted '" +
                      name() + "' (hub: " + want + ", received: " + got + ")");
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      fd = -1;
      return local_failure(ErrorKind::kCache, "cannot write", incomplete_path);
    }
    fd = -1;
    if (::rename(incomplete_path.c_str(), blob_path.c_str()) != 0)
      return local_failure(ErrorKind::kCache, "cannot write", blob_path);
    downloads->file_stored(name(), entry.size);
    return {};
  }
};

long backoff_ms(const Options& options, int attempts) {
  long wait = options.backoff_ms;
  for (int i = 1; i < attempts && wait < options.max_backoff_ms; ++i) wait *= 2;
  return std::min(wait, options.max_backoff_ms);
}

// Runs every transfer to its end on one curl multi handle, retrying the transient
// failures after their wait without holding up the others. `tick` runs after every
// wake-up (progress reports).
void fetch_all(const std::vector<Transfer*>& transfers, const Options& options,
               const std::function<void()>& tick = {}) {
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, long{std::max(1, options.max_parallel)});
  std::vector<Transfer*> waiting = transfers;
  int active = 0;
  Clock::time_point next;
  // After an attempt: done, or back in the queue for the next one.
  auto settle = [&](Transfer* t, const Attempt& a) {
    t->attempts = a.progressed ? 0 : t->attempts + 1;
    if (!a.retry) return;
    if (t->attempts >= options.max_attempts) {
      t->error.message += " after " + std::to_string(t->attempts) + " attempts";
    } else if (a.retry_after_ms > options.max_retry_after_ms) {
      t->error.message += " (Retry-After " + std::to_string(a.retry_after_ms / 1000) + " s)";
    } else {
      long wait = a.retry_after_ms >= 0 ? a.retry_after_ms : backoff_ms(options, std::max(1, t->attempts));
      t->start_at = Clock::now() + std::chrono::milliseconds(wait);
      next = std::min(next, t->start_at);
      t->error = Error{};
      waiting.push_back(t);
    }
  };
  while (active > 0 || !waiting.empty()) {
    auto now = Clock::now();
    next = now + std::chrono::seconds(1);
    std::vector<Transfer*> due;
    for (auto it = waiting.begin(); it != waiting.end();) {
      if ((*it)->start_at <= now) {
        due.push_back(*it);
        it = waiting.erase(it);
      } else {
        next = std::min(next, (*it)->start_at);
        ++it;
      }
    }
    for (Transfer* t : due) {
      t->response_headers.clear();
      t->curl_error[0] = '\0';
      if (auto outcome = t->begin()) {
        settle(t, *outcome);
        continue;
      }
      curl_easy_setopt(t->easy, CURLOPT_URL, t->url.c_str());
      curl_multi_add_handle(multi, t->easy);
      ++active;
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
      settle(t, t->finish(code, options));
    }
    if (tick) tick();
    if (active > 0 || !waiting.empty()) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(std::max<long>(0, wait.count())), nullptr);
    }
  }
  curl_multi_cleanup(multi);
}

// The weights file whose link completes a snapshot: the shard index, else the one file.
constexpr const char* kWeights = "model.safetensors";
constexpr const char* kWeightsIndex = "model.safetensors.index.json";

// The shards model.safetensors.index.json names, in order, each once.
bool shards_of(const std::string& index_path, std::vector<std::string>* shards, std::string* why) {
  std::string text;
  nlohmann::json index;
  if (!files::read(index_path, &text, why) || !parse_json(text, &index, why)) return false;
  auto map = index.is_object() ? index.find("weight_map") : index.end();
  if (map == index.end() || !map->is_object() || map->empty()) {
    *why = "no weight_map";
    return false;
  }
  for (const auto& [tensor, file] : map->items()) {
    if (!file.is_string() || !is_safe_component(file.get<std::string>())) {
      *why = "a malformed weight_map entry '" + tensor + "'";
      return false;
    }
    if (std::find(shards->begin(), shards->end(), file.get<std::string>()) == shards->end())
      shards->push_back(file);
  }
  return true;
}

// One repository's part of a download_snapshots call.
struct Checkout {
  size_t index = 0;  // into the results
  std::string folder;
  std::map<std::string, Entry> listed;  // by path
  std::vector<Entry> files;             // to link, the weights last
  std::vector<std::unique_ptr<FileTransfer>> transfers;
};

std::unique_ptr<FileTransfer> make_file_transfer(const Checkout& c, const SnapshotRequest& request,
                                                 const Entry& entry, const Options& options, Downloads* downloads) {
  auto t = std::make_unique<FileTransfer>();
  t->ref = request.ref;
  t->entry = entry;
  t->downloads = downloads;
  t->blob_path = c.folder + "/blobs/" + entry.blob();
  t->incomplete_path = t->blob_path + ".incomplete";
  t->lock_path = options.cache_dir + "/.locks/" + fs::path(c.folder).filename().string() + "/" + entry.blob() + ".lock";
  open_easy(t.get(), options, true);
  t->url = options.endpoint + "/" + request.ref.repo_id + "/resolve/" + request.commit + "/" +
           escape(t->easy, entry.path);
  downloads->progress.bytes_total += entry.size;
  ++downloads->progress.files_total;
  return t;
}

// Fetches wanted[i], the files of checkouts[i] not yet in blobs/, all at once; a
// repository whose download failed gets the first failure as its error.
void fetch_files(std::vector<Checkout*> checkouts, const std::vector<std::vector<Entry>>& wanted,
                 const std::vector<SnapshotRequest>& requests, const Options& options, Downloads* downloads,
                 std::vector<SnapshotResult>* results) {
  std::vector<Transfer*> all;
  std::vector<std::pair<Checkout*, size_t>> first;  // each checkout's first transfer of this round
  for (size_t i = 0; i < checkouts.size(); ++i) {
    Checkout* c = checkouts[i];
    first.emplace_back(c, c->transfers.size());
    for (const Entry& entry : wanted[i]) {
      if (files::exists(c->folder + "/blobs/" + entry.blob())) continue;
      c->transfers.push_back(make_file_transfer(*c, requests[c->index], entry, options, downloads));
      all.push_back(c->transfers.back().get());
    }
  }
  fetch_all(all, options, [&] { downloads->send(false); });
  for (auto [c, from] : first)
    for (size_t k = from; k < c->transfers.size(); ++k)
      if (!c->transfers[k]->error.message.empty() && (*results)[c->index].ok()) {
        (*results)[c->index].error = c->transfers[k]->error;
        break;
      }
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
  std::vector<std::unique_ptr<ConfigTransfer>> transfers;
  std::vector<size_t> index_of;
  for (size_t i = 0; i < refs.size(); ++i) {
    Result& out = results[i];
    out.config.ref = refs[i];
    if (!check_ref(refs[i], &out.error) || lookup_cache(refs[i], options, &out)) continue;
    if (options.offline) {
      out.error = make_error(ErrorKind::kOfflineMiss, "not in the cache and HF_HUB_OFFLINE is set '" +
                                                          describe(refs[i]) + "'");
      continue;
    }
    auto t = std::make_unique<ConfigTransfer>();
    t->ref = refs[i];
    t->out = &out;
    open_easy(t.get(), options, false);
    t->url = options.endpoint + "/" + refs[i].repo_id + "/resolve/" + escape(t->easy, refs[i].revision) +
             "/config.json";
    transfers.push_back(std::move(t));
    index_of.push_back(i);
  }
  std::vector<Transfer*> all;
  for (const auto& t : transfers) all.push_back(t.get());
  if (!all.empty()) fetch_all(all, options);
  for (size_t k = 0; k < transfers.size(); ++k) results[index_of[k]].error = transfers[k]->error;
  return results;
}

bool is_checkpoint_file(std::string_view name) {
  if (!is_safe_component(name)) return false;  // the root only, and a name the cache can hold
  auto starts = [&](std::string_view prefix) { return name.substr(0, prefix.size()) == prefix; };
  auto ends = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  for (std::string_view exact : {"config.json", "generation_config.json", kWeights, kWeightsIndex, "merges.txt",
                                 "special_tokens_map.json", "added_tokens.json", "normalizer.json",
                                 "processor_config.json"})
    if (name == exact) return true;
  // Other weight formats share the tokenizer's prefixes (tokenizer.bin would be one).
  for (std::string_view weights : {".safetensors", ".bin", ".h5", ".msgpack", ".onnx", ".pt", ".pth", ".ckpt",
                                   ".gguf", ".ot", ".tflite"})
    if (ends(weights)) return false;
  return starts("tokenizer") || starts("vocab") || starts("chat_template.") || ends("preprocessor_config.json") ||
         ends(".model") || ends(".spm") || ends(".tiktoken");
}

bool is_complete_snapshot(const std::string& snapshot) {
  if (!files::exists(snapshot + "/config.json")) return false;
  if (files::exists(snapshot + "/" + kWeights)) return true;
  std::vector<std::string> shards;
  std::string ignored;
  if (!files::exists(snapshot + "/" + kWeightsIndex) || !shards_of(snapshot + "/" + kWeightsIndex, &shards, &ignored))
    return false;
  return std::all_of(shards.begin(), shards.end(),
                     [&](const std::string& shard) { return files::exists(snapshot + "/" + shard); });
}

std::vector<SnapshotResult> download_snapshots(const std::vector<SnapshotRequest>& requests,
                                               const Options& options, const ProgressFn& progress) {
  std::vector<SnapshotResult> results(requests.size());
  std::vector<Checkout> checkouts;
  std::vector<std::unique_ptr<ListingTransfer>> listings;
  for (size_t i = 0; i < requests.size(); ++i) {
    const SnapshotRequest& request = requests[i];
    SnapshotResult& out = results[i];
    out.snapshot.ref = request.ref;
    out.snapshot.commit = request.commit;
    if (!check_ref(request.ref, &out.error)) continue;
    if (!is_commit_sha(request.commit)) {
      out.error = make_error(ErrorKind::kInvalidRepoId, "invalid commit '" + request.commit + "'");
      continue;
    }
    std::string folder = repo_folder(options, request.ref.repo_id);
    out.snapshot.path = folder + "/snapshots/" + request.commit;
    if (is_complete_snapshot(out.snapshot.path)) {
      out.snapshot.cached = true;
      continue;
    }
    if (options.offline) {
      out.error = make_error(ErrorKind::kOfflineMiss,
                             "weights not in the cache and HF_HUB_OFFLINE is set '" + describe(request.ref) + "'");
      continue;
    }
    auto t = std::make_unique<ListingTransfer>();
    t->ref = request.ref;
    t->commit = request.commit;
    open_easy(t.get(), options, false);
    t->prefix = options.endpoint + "/api/models/" + request.ref.repo_id + "/tree/";
    t->url = t->prefix + request.commit + "?recursive=false&expand=false";
    listings.push_back(std::move(t));
    checkouts.push_back(Checkout{i, folder, {}, {}, {}});
  }
  if (listings.empty()) return results;
  std::vector<Transfer*> all;
  for (const auto& t : listings) all.push_back(t.get());
  fetch_all(all, options);

  // What each repository needs. The shard index comes first, since it names the shards.
  Downloads downloads{progress, {}};
  std::vector<Checkout*> sharded;
  std::vector<std::vector<Entry>> indexes;
  for (size_t k = 0; k < checkouts.size(); ++k) {
    Checkout& c = checkouts[k];
    SnapshotResult& out = results[c.index];
    if (!listings[k]->error.message.empty()) {
      out.error = listings[k]->error;
      continue;
    }
    for (const Entry& entry : listings[k]->entries) c.listed[entry.path] = entry;
    for (const Entry& entry : listings[k]->entries)
      if (is_checkpoint_file(entry.path) && entry.path != kWeights && entry.path != kWeightsIndex)
        c.files.push_back(entry);
    // The index wins when both are there, as in transformers.
    if (c.listed.count(kWeightsIndex)) {
      sharded.push_back(&c);
      indexes.push_back({c.listed[kWeightsIndex]});
    } else if (!c.listed.count(kWeights)) {
      out.error = make_error(ErrorKind::kNoWeights,
                             "no safetensors weights (model.safetensors or model.safetensors.index.json) in '" +
                                 describe(requests[c.index].ref) + "'");
    }
  }
  fetch_files(sharded, indexes, requests, options, &downloads, &results);

  std::vector<Checkout*> ready;
  std::vector<std::vector<Entry>> wanted;
  for (Checkout& c : checkouts) {
    SnapshotResult& out = results[c.index];
    if (!out.ok()) continue;
    const std::string subject = "' in '" + describe(requests[c.index].ref) + "'";
    if (c.listed.count(kWeightsIndex)) {
      std::vector<std::string> shards;
      std::string why;
      if (!shards_of(c.folder + "/blobs/" + c.listed[kWeightsIndex].blob(), &shards, &why)) {
        out.error = make_error(ErrorKind::kNoWeights, "unreadable shard index (" + why + ") '" +
                                                          std::string(kWeightsIndex) + subject);
        continue;
      }
      for (const std::string& shard : shards) {
        if (!c.listed.count(shard)) {
          out.error = make_error(ErrorKind::kNoWeights, "the shard index names a missing shard '" + shard + subject);
          break;
        }
        c.files.push_back(c.listed[shard]);
      }
      if (!out.ok()) continue;
      c.files.push_back(c.listed[kWeightsIndex]);  // linked last: it completes the snapshot
    } else {
      c.files.push_back(c.listed[kWeights]);
    }
    ready.push_back(&c);
    wanted.push_back(c.files);
  }
  fetch_files(ready, wanted, requests, options, &downloads, &results);
  if (downloads.progress.files_total > 0) {
    downloads.progress.finished = true;
    downloads.send(true);
  }

  // Every file of a repository is in blobs/: its links, in the order of c.files, so
  // the weights come last and a snapshot that looks complete is.
  files::HeldSignals held;
  for (Checkout* c : ready) {
    SnapshotResult& out = results[c->index];
    if (!out.ok()) continue;
    const SnapshotRequest& request = requests[c->index];
    std::string path, err;
    for (const Entry& entry : c->files) {
      if (!link_blob(c->folder, request.commit, entry.path, entry.blob(), &path, &err)) break;
      out.snapshot.files.push_back(entry.path);
    }
    if (err.empty()) write_ref(options, request.ref, request.commit, &err);
    if (!err.empty()) out.error = make_error(ErrorKind::kCache, err);
  }
  return results;
}

std::string progress_line(const Progress& p, int width) {
  double fraction = p.bytes_total ? static_cast<double>(p.bytes_done) / p.bytes_total : 1.0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  int filled = static_cast<int>(fraction * width);
  std::string bar = "[" + std::string(filled, '=') + (filled < width ? ">" : "") +
                    std::string(std::max(0, width - filled - 1), ' ') + "]";
  // The rate of this run's bytes: those resumed from disk came at no cost.
  double rate = p.elapsed_s > 0 ? (p.bytes_done - std::min(p.bytes_done, p.bytes_resumed)) / p.elapsed_s : 0;
  std::string eta = "--";
  if (p.bytes_done >= p.bytes_total) {
    eta = "0s";
  } else if (rate > 0) {
    long s = std::lround((p.bytes_total - p.bytes_done) / rate);
    eta = s >= 3600 ? std::to_string(s / 3600) + "h" + std::to_string(s / 60 % 60) + "m"
          : s >= 60 ? std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s"
                    : std::to_string(s) + "s";
  }
  char percent[8];
  std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(fraction * 100));
  return bar + " " + percent + "  " + human_bytes(p.bytes_done) + "/" + human_bytes(p.bytes_total) + "  " +
         human_bytes(static_cast<uint64_t>(rate)) + "/s  ETA " + eta + "  " + std::to_string(p.files_done) + "/" +
         std::to_string(p.files_total) + " files";
}

std::string human_bytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  return buf;
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
