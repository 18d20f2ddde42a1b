#include "common/model_spec.h"

#include <cstdio>
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

// Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF.
bool is_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 4;
    if (extra == 4 || i + extra >= s.size()) return false;
    char32_t cp = extra == 0 ? c : c & (0x3F >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      unsigned char next = s[i + k];
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3F);
    }
    static const char32_t kLeast[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kLeast[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// `s` with every byte outside printable ASCII as \xNN, so a message can name it.
std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += c >= 0x20 && c < 0x7F && c != '\\' ? std::string(1, static_cast<char>(c)) : buf;
  }
  return out;
}

// "unknown model type 'x'", with the registry's closest type when there is one.
std::string unknown_type(const std::string& spec, const Lookup& lookup) {
  std::string close = lookup.suggest ? lookup.suggest(spec) : "";
  return "unknown model type '" + spec + "'" + (close.empty() ? "" : " (did you mean '" + close + "'?)");
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
  finish(spec, lookup, options, out);
}

// `bare`: the spec is no model type of the registry and was tried as a Hub repo id; its
// failure says both, keeping the suggestion a misspelt model type needs.
void finish_repo(const hub::Result& fetched, const std::string& spec, bool bare,
                 const Lookup& lookup, const Options& options, Result* out) {
  if (!fetched.ok()) {
    out->error = config_error(fetched.error);
    if (bare) {
      hub::ErrorKind why = fetched.error.kind;
      if (why == hub::ErrorKind::kRepoNotFound || why == hub::ErrorKind::kOfflineMiss)
        out->error.kind = ErrorKind::kUnknownModelType;
      out->error.message = unknown_type(spec, lookup) + "; as a Hub repo id: " + fetched.error.message;
    }
    return;
  }
  out->model.config_source = fetched.config.source == hub::Source::kHub ? Source::kHub : Source::kCache;
  out->model.config = fetched.config.json;
  out->model.repo = fetched.config.ref;
  out->model.commit = fetched.config.commit;
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

std::vector<Result> resolve_all(const std::vector<std::string>& specs, const Lookup& lookup,
                                const Options& options) {
  std::vector<Result> results(specs.size());
  std::vector<hub::RepoRef> refs;
  std::vector<size_t> ref_of;  // refs[j] belongs to results[ref_of[j]]
  std::vector<bool> bare;      // refs[j] is a spec that was no model type
  for (size_t i = 0; i < specs.size(); ++i) {
    Result& out = results[i];
    out.model.model_id = specs[i];
    if (!is_utf8(specs[i])) {
      fail(&out.error, ErrorKind::kNotUtf8, "spec is not valid UTF-8 '" + escaped(specs[i]) + "'");
      continue;
    }
    switch (classify(specs[i])) {
      case Kind::kModelType:
        if (lookup.is_model_type(specs[i])) {
          out.model.model_type = specs[i];
        } else if (hub::is_valid_repo_id(specs[i])) {
          refs.push_back(hub::RepoRef{specs[i]});
          ref_of.push_back(i);
          bare.push_back(true);
        } else {
          fail(&out.error, ErrorKind::kUnknownModelType, unknown_type(specs[i], lookup));
        }
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
        bare.push_back(false);
        break;
      }
    }
  }
  std::vector<hub::Result> fetched = hub::resolve_configs(refs, options.hub);
  for (size_t j = 0; j < fetched.size(); ++j)
    finish_repo(fetched[j], specs[ref_of[j]], bare[j], lookup, options, &results[ref_of[j]]);
  return results;
}

}  // namespace model_spec
