// Model specs: what a tool is asked to work on. A spec is a model type from the
// registry (`bert`), a Hub repo id with an optional revision (`org/name@v1.0`, or a bare
// `gpt2-medium` that is no model type), or a local directory holding config.json. The
// model type comes from config.json, never from the name.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/hub.h"

namespace model_spec {

/// What detection needs from the registry; callbacks, so this module does not depend on
/// it (wire Registry::find, Registry::type_of_architecture and Registry::suggest). The
/// first two are required.
struct Lookup {
  std::function<bool(const std::string& model_type)> is_model_type;
  /// The model type of an architecture class name (`BertForMaskedLM`), or "".
  std::function<std::string(const std::string& class_name)> type_of_architecture;
  /// Optional: the known model type closest to a misspelt one, or "".
  std::function<std::string(const std::string& name)> suggest;
};

struct Options {
  hub::Options hub;                ///< usually hub::options_from_env()
  bool trust_remote_code = false;  ///< allow configs whose model type only remote code knows
};

enum class Kind { kModelType, kRepo, kDirectory };

/// An existing directory wins (as in transformers), and so does anything starting with
/// '/', '.' or '~'; then a spec with '/' or '@' is a repo id; anything else a model type
/// (resolve_all looks one the registry lacks up as a bare Hub repo id).
Kind classify(const std::string& spec);

enum class ErrorKind {
  kNone,
  kNotUtf8,               ///< the spec is not valid UTF-8 (it could name nothing safely)
  kUnknownModelType,      ///< not in the registry (spec, config.json or a sub-config);
                          ///< for a bare spec, not on the Hub either
  kNoSuchDirectory,       ///< a path spec that names no directory
  kUnknownArchitecture,   ///< no model_type and no architecture the registry knows
  kNeedsTrustRemoteCode,  ///< auto_map and a model type only remote code knows
  kConfig,                ///< getting config.json failed; `hub_kind` says why (a bare
                          ///< spec's message also says it is no model type)
};

/// A failure: one line for people, the kind for tests and callers.
struct Error {
  ErrorKind kind = ErrorKind::kNone;
  hub::ErrorKind hub_kind = hub::ErrorKind::kNone;
  std::string message;
};

/// Where the model's config came from.
enum class Source { kRegistry, kCache, kHub, kLocal };

/// "registry", "cache", "hub" or "local", as records carry it.
std::string_view source_name(Source source);

/// A resolved spec.
struct Model {
  std::string model_id;    ///< the spec as given
  std::string model_type;  ///< from config.json, or the spec itself for kRegistry
  Source config_source = Source::kRegistry;
  nlohmann::json config;    ///< config.json's object; null for kRegistry
  std::string encoder_model_type;  ///< composite configs (encoder-decoder, ...) only
  std::string decoder_model_type;  ///< composite configs only
  bool needs_trust_remote_code = false;  ///< true only when options allowed it
  hub::RepoRef repo;       ///< kHub and kCache: the repository and revision
  std::string commit;      ///< kHub and kCache: the commit the revision resolved to
};

struct Result {
  Model model;
  Error error;
  bool ok() const { return error.kind == ErrorKind::kNone; }
};

/// Resolves specs; repo ids not in the cache are fetched concurrently. Results are in
/// the order of `specs`. A spec that is not valid UTF-8 is refused, whatever its kind.
std::vector<Result> resolve_all(const std::vector<std::string>& specs, const Lookup& lookup,
                                const Options& options);

/// Fills out->model_type (and the composite and remote-code fields) from a parsed
/// config.json: `model_type`, else the first of `architectures` the registry knows;
/// encoder-decoder, vision-encoder-decoder and speech-encoder-decoder by their
/// `encoder` and `decoder` sub-configs. `where` names the config in errors.
bool detect(const nlohmann::json& config, const std::string& where, const Lookup& lookup,
            Model* out, Error* err);

}  // namespace model_spec
