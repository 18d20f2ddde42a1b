// A Hugging Face Hub client on libcurl: config.json of a repo id, and the files of a
// checkpoint a test loads (config, safetensors weights, tokenizer and processor files).
// It shares huggingface_hub's cache: it reads what huggingface_hub or transformers
// downloaded, and what it downloads they find offline.
#pragma once

#include <cstdint>
#include <functional>
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
  kNoWeights,         ///< the repository has no safetensors weights a test could load
  kChecksum,          ///< a download's SHA-256 (git SHA-1 for small files) is not the Hub's
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
  int max_parallel = 16;            ///< connections open at once
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

/// A checkpoint to download: a repository, its revision as the user named it, and the
/// commit resolve_config resolved that revision to (whose snapshot is filled).
struct SnapshotRequest {
  RepoRef ref;
  std::string commit;
};

/// A checkpoint in the cache.
struct Snapshot {
  RepoRef ref;
  std::string commit;
  std::string path;   ///< <repo folder>/snapshots/<commit>: a directory transformers loads
  bool cached = false;             ///< it was complete already: no request was made
  std::vector<std::string> files;  ///< the files linked into it, when it was not cached
};

/// One download's outcome: `snapshot` when `error.kind` is kNone.
struct SnapshotResult {
  Snapshot snapshot;
  Error error;
  bool ok() const { return error.kind == ErrorKind::kNone; }
};

/// How the downloads of one download_snapshots call are going, for a progress display.
struct Progress {
  uint64_t bytes_done = 0;     ///< of the files to fetch, on disk now
  uint64_t bytes_resumed = 0;  ///< of bytes_done, found in `.incomplete` files at the start
  uint64_t bytes_total = 0;    ///< of the files to fetch; grows once shard lists are read
  size_t files_done = 0;
  size_t files_total = 0;
  double elapsed_s = 0;
  std::string file_done;       ///< set when a file has just been checked and stored:
                               ///< `<repo_id>/<path>`
  uint64_t file_size = 0;      ///< its size
  bool finished = false;       ///< the last report of the call
};

/// Called on the caller's thread as bytes arrive (at most every 100 ms), once per file
/// stored, and once at the end.
using ProgressFn = std::function<void(const Progress&)>;

/// True for the files at a repository's root that a test of the checkpoint loads:
/// config.json, generation_config.json, model.safetensors or its shard index
/// model.safetensors.index.json (the shards it names are fetched too), and the
/// tokenizer and processor files (tokenizer*, vocab*, merges.txt, *.model, *.spm,
/// *.tiktoken, special_tokens_map.json, added_tokens.json, chat_template.*,
/// normalizer.json, *preprocessor_config.json, processor_config.json).
bool is_checkpoint_file(std::string_view name);

/// True when `snapshot` (a snapshots/<commit> directory) holds config.json and whole
/// safetensors weights: model.safetensors, or the index and every shard it names.
bool is_complete_snapshot(const std::string& snapshot);

/// Downloads the checkpoint files (is_checkpoint_file) of each request into the cache
/// as huggingface_hub lays them out. A complete snapshot is used as it is, without a
/// request. Otherwise the files are listed (GET /api/models/<id>/tree/<commit>) and
/// every one not yet in blobs/ fetched concurrently on one curl multi handle into
/// blobs/<blob>.incomplete under huggingface_hub's lock (.locks/<repo folder>/<blob>.lock),
/// resumed from where it stopped with an HTTP Range request (after a dropped
/// connection, or in a later run), checked against the SHA-256 the Hub lists for LFS
/// files (git's blob SHA-1 for the others; a mismatch deletes the download and is an
/// error), then renamed to blobs/<blob>. Only when every file of a repository is there
/// are the snapshot's links made, the weights last, so a snapshot is never half
/// written. Results are in the order of `requests`.
std::vector<SnapshotResult> download_snapshots(const std::vector<SnapshotRequest>& requests,
                                               const Options& options, const ProgressFn& progress = {});

/// One line for a terminal: a bar `width` wide, percent, bytes, rate, ETA and files,
/// such as `[=======>        ]  45%  39.1/86.7 MiB  12.3 MiB/s  ETA 4s  2/6 files`.
std::string progress_line(const Progress& progress, int width);

/// `bytes` for people: `512 B`, `1.5 KiB`, `86.7 MiB`, `1.2 GiB`.
std::string human_bytes(uint64_t bytes);

}  // namespace hub
