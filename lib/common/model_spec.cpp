#include "common/model_spec.h"

#include <filesystem>

#include "common/files.h"

namespace fs = std::filesystem;

namespace model_spec {
namespace {

bool is_composite(const std::string& model_type) {
  return model_type == "encoder-decoder" || model_type == "vision-encoder-decoder" ||
         model_type == "speech-encoder-decoder";
}

std::string string_field(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

bool fail(Error* err, ErrorKind kind, std::string message) {
  *err = Error{kind, hub::ErrorKind::kNone, std::move(message)};
  return false;
}

Error config_error(const hub::Error& e) { return Error{ErrorKind::kConfig, e.kind, e.message}; }

// The model type named by the spec itself.
void resolve_model_type(const std::string& spec, const Lookup& lookup, Result* out) {
  if (!lookup.is_model_type(spec)) {
    std::string close = lookup.suggest ? lookup.suggest(spec) : "";
    fail(&out->error, ErrorKind::kUnknownModelType,
         "unknown model type '" + spec + "'" +
             (close.empty() ? "" : " (did you mean '" + close + "'?)"));
    return;
  }
  out->model.model_type = spec;
}

// Detection, then the trust check every config goes through.
void finish(const std::string& where, const Lookup& lookup, const Options& options,
            Result* out) {
  if (!detect(out->model.config, where, lookup, &out->model, &out->error)) return;
  if (out->model.needs_trust_remote_code && !options.trust_remote_code)
    fail(&out->error, ErrorKind::kNeedsTrustRemoteCode,
         "model type '" + out->model.model_type + "' of '" + where +
             "' exists only as remote code (config.json has auto_map; pass --trust-remote-code)");
}

void resolve_directory(const std::string& spec, const Lookup& lookup, const Options& options,
                       Result* out) {
  std::error_code ec;
  if (!fs::is_directory(spec, ec)) {
    fail(&out->error, ErrorKind::kNoSuchDirectory, "no such directory '" + spec + "'");
    return;
  }
  std::string path = (fs::path(spec) / "config.json").string();
  if (!files::exists(path)) {
    out->error = config_error({hub::ErrorKind::kNoConfig, "no config.json in directory '" + spec + "'"});
    return;
  }
  std::string text, err;
  hub::Error parse_err;
  if (!files::read(path, &text, &err)) {
    out->error = config_error({hub::ErrorKind::kCache, err});
    return;
  }
  if (!hub::parse_config(text, path, &out->model.config, &parse_err)) {
    out->error = config_error(parse_err);
    return;
  }
  out->model.config_source = Source::kLocal;
  out->model.config_path = files::absolute(path);
  finish(spec, lookup, options, out);
}

void finish_repo(const hub::Result& fetched, const std::string& spec, const Lookup& lookup,
                 const Options& options, Result* out) {
  out->model.revision = fetched.config.ref.revision;
  if (!fetched.ok()) {
    out->error = config_error(fetched.error);
    return;
  }
  out->model.commit = fetched.config.commit;
  out->model.config_source = fetched.config.source == hub::Source::kHub ? Source::kHub : Source::kCache;
  out->model.config_path = fetched.config.path;
  out->model.config = fetched.config.json;
  finish(spec, lookup, options, out);
}

}  // namespace

Kind classify(const std::string& spec) {
  std::error_code ec;
  if (fs::is_directory(spec, ec) || spec.find_first_of("/.~") == 0)
    return Kind::kDirectory;
  return spec.find_first_of("/@") == std::string::npos ? Kind::kModelType : Kind::kRepo;
}

std::string_view source_name(Source source) {
  switch (source) {
    case Source::kRegistry: return "registry";
    case Source::kCache: return "cache";
    case Source::kHub: return "hub";
    case Source::kLocal: return "local";
  }
  return "";
}

bool detect(const nlohmann::json& config, const std::string& where, const Lookup& lookup,
            Model* out, Error* err) {
  std::string type = string_field(config, "model_type");
  if (type.empty()) {
    auto archs = config.find("architectures");
    if (archs != config.end() && archs->is_array())
      for (const auto& arch : *archs)
        if (arch.is_string() && !(type = lookup.type_of_architecture(arch.get<std::string>())).empty())
          break;
    if (type.empty())
      return fail(err, ErrorKind::kUnknownArchitecture,
                  "cannot tell the model type of '" + where +
                      "' (config.json has no model_type and no architecture the registry knows)");
  }
  out->model_type = type;
  out->needs_trust_remote_code = false;
  if (!lookup.is_model_type(type)) {
    // As transformers decides: remote code is needed only when no built-in class exists.
    auto auto_map = config.find("auto_map");
    if (auto_map == config.end() || !auto_map->is_object())
      return fail(err, ErrorKind::kUnknownModelType,
                  "unknown model type '" + type + "' in config.json of '" + where + "'");
    out->needs_trust_remote_code = true;
  }
  if (!is_composite(type)) return true;
  for (const char* side : {"encoder", "decoder"}) {
    auto sub = config.find(side);
    if (sub == config.end() || !sub->is_object())
      return fail(err, ErrorKind::kUnknownArchitecture,
                  type + " config without its " + side + " sub-config '" + where + "'");
    Model part;
    if (!detect(*sub, where + " " + side, lookup, &part, err)) return false;
    (side[0] == 'e' ? out->encoder_model_type : out->decoder_model_type) = part.model_type;
    out->needs_trust_remote_code = out->needs_trust_remote_code || part.needs_trust_remote_code;
  }
  return true;
}

Result resolve(const std::string& spec, const Lookup& lookup, const Options& options) {
  return resolve_all({spec}, lookup, options).front();
}

std::vector<Result> resolve_all(const std::vector<std::string>& specs, const Lookup& lookup,
                                const Options& options) {
  std::vector<Result> results(specs.size());
  std::vector<hub::RepoRef> refs;
  std::vector<size_t> ref_of;  // refs[j] belongs to results[ref_of[j]]
  for (size_t i = 0; i < specs.size(); ++i) {
    Result& out = results[i];
    out.model.model_id = specs[i];
    switch (classify(specs[i])) {
      case Kind::kModelType:
        resolve_model_type(specs[i], lookup, &out);
        break;
      case Kind::kDirectory:
        resolve_directory(specs[i], lookup, options, &out);
        break;
      case Kind::kRepo: {
        hub::RepoRef ref;
        hub::Error err;
        if (!hub::parse_repo_ref(specs[i], &ref, &err)) {
          out.error = config_error(err);
          break;
        }
        refs.push_back(ref);
        ref_of.push_back(i);
        break;
      }
    }
  }
  std::vector<hub::Result> fetched = hub::resolve_configs(refs, options.hub);
  for (size_t j = 0; j < fetched.size(); ++j)
    finish_repo(fetched[j], specs[ref_of[j]], lookup, options, &results[ref_of[j]]);
  return results;
}

}  // namespace model_spec
