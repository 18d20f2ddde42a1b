// A Hugging Face Hub client for one file, config.json, on libcurl. It shares
// huggingface_hub's cache: it reads what huggingface_hub or transformers downloaded, and
// what it downloads they find offline.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace hub {

/// Why a lookup failed; every kind is bad input to the tools (exit 2).
enum class ErrorKind {
  kNone,
  kInvalidRepoId,     ///< not a repo id or revision, or one that would leave the cache
  kRepoNotFound,      ///< no such repository (or private, when no token was sent)
  kRevisionNotFound,  ///< the repository has no such branch, tag or commit
  kNoConfig,          ///< the repository or directory has no config.json
  kAccessDenied,      ///< gated or private: HF_TOKEN missing, rejected or without access
  kOfflineMiss,       ///< not in the cache and HF_HUB_OFFLINE is set
  kMalformedConfig,   ///< config.json is not a JSON object; the message has line and column
  kTimeout,           ///< every attempt timed out
  kNetwork,           ///< connection failures, 429/5xx after every retry, unexpected replies
  kCache,             ///< reading or writing the cache failed
};

/// A failure: its kind, and one line for people (`<what> '<subject>'`, never the token).
struct Error {
  ErrorKind kind = ErrorKind::kNone;
  std::string message;
};

/// How to reach the Hub and where its cache is.
struct Options {
  std::string endpoint = "https://huggingface.co";
  std::string cache_dir;  ///< the hub cache root (holds models--org--name/)
  std::string token;      ///< sent as a Bearer header when not empty; never printed
  bool offline = false;   ///< cache only
  long timeout_ms = 10000;          ///< per attempt, whole transfer
  long connect_timeout_ms = 10000;  ///< per attempt
  int max_attempts = 5;             ///< on 408, 429, 5xx, timeouts and connection errors
  long backoff_ms = 1000;           ///< first wait between attempts; doubles each time
  long max_backoff_ms = 8000;       ///< cap on the doubling
  long max_retry_after_ms = 60000;  ///< a longer Retry-After fails at once instead
  int max_parallel = 16;            ///< connections open at once in resolve_configs
};

/// Options from the environment, as huggingface_hub reads it: HF_ENDPOINT; HF_HUB_CACHE,
/// else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub;
/// HF_TOKEN, else the file $HF_TOKEN_PATH, else $HF_HOME/token; HF_HUB_OFFLINE (or
/// TRANSFORMERS_OFFLINE) = 1/true/yes/on; HF_HUB_DOWNLOAD_TIMEOUT in seconds.
Options options_from_env();

/// A repository at a revision (branch, tag or commit sha).
struct RepoRef {
  std::string repo_id;
  std::string revision = "main";
};

/// Parses `org/name` or `org/name@revision` and checks both parts (see is_valid_repo_id).
bool parse_repo_ref(std::string_view text, RepoRef* out, Error* err);

/// True for huggingface_hub's repo ids: `name` or `org/name` of [A-Za-z0-9_.-], no `--`
/// or `..`, parts not starting or ending with `-` or `.`, at most 96 characters.
bool is_valid_repo_id(std::string_view repo_id);

/// The folder of a repository in the cache: `<cache_dir>/models--org--name`.
std::string repo_folder(const Options& options, const std::string& repo_id);

/// Where config.json came from.
enum class Source { kCache, kHub };

/// A resolved config.json.
struct Config {
  RepoRef ref;
  std::string commit;  ///< the commit sha the revision resolved to
  Source source = Source::kCache;
  std::string path;     ///< snapshots/<commit>/config.json in the cache
  nlohmann::json json;  ///< the parsed object
};

/// One lookup's outcome: `config` when `error.kind` is kNone.
struct Result {
  Config config;
  Error error;
  bool ok() const { return error.kind == ErrorKind::kNone; }
};

/// config.json of `ref`: from the cache when it is there, else fetched from the Hub
/// and stored in the cache (blob, relative symlink, refs file; each written atomically).
Result resolve_config(const RepoRef& ref, const Options& options);

/// resolve_config for many refs; the fetches run concurrently (curl multi, up to
/// options.max_parallel connections). Results are in the order of `refs`.
std::vector<Result> resolve_configs(const std::vector<RepoRef>& refs, const Options& options);

/// Parses config.json text into a JSON object; `where` names it in errors, which give
/// the line and column of a syntax error.
bool parse_config(const std::string& text, const std::string& where, nlohmann::json* out,
                  Error* err);

}  // namespace hub
