// Model specs and architecture detection, on the fake Hub's real-shaped configs read as
// local directories and from a hand-seeded cache; no network (hub_test covers fetching).
#include "common/model_spec.h"

#include <unistd.h>

#include <doctest/doctest.h>
#include <filesystem>
#include <map>
#include <set>

#include "common/files.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

namespace {

// A registry of a few model types, enough for the fake Hub's configs.
model_spec::Lookup test_lookup() {
  static const std::set<std::string> types = {
      "bert", "gpt2", "t5", "vit", "whisper", "clip", "llama", "roberta", "bart", "distilbert", "phi",
      "wav2vec2", "encoder-decoder", "vision-encoder-decoder", "speech-encoder-decoder"};
  static const std::map<std::string, std::string> architectures = {
      {"BertForMaskedLM", "bert"}, {"RobertaForMaskedLM", "roberta"}, {"GPT2LMHeadModel", "gpt2"},
      {"EncoderDecoderModel", "encoder-decoder"}};
  model_spec::Lookup lookup;
  lookup.is_model_type = [](const std::string& t) { return types.count(t) > 0; };
  lookup.type_of_architecture = [](const std::string& a) {
    auto it = architectures.find(a);
    return it == architectures.end() ? std::string() : it->second;
  };
  lookup.suggest = [](const std::string& name) { return name == "berta" ? "bert" : ""; };
  return lookup;
}

std::string repo_dir(const std::string& repo_id) {
  return files::project_home() + "/tests/fake_hub/repos/" + repo_id;
}

// Offline options on an empty cache at `cache`: nothing can reach a network.
model_spec::Options offline(const TempDir& cache) {
  model_spec::Options o;
  o.hub.endpoint = "http://127.0.0.1:9";
  o.hub.cache_dir = cache.path();
  o.hub.offline = true;
  return o;
}

// Puts `repo_id`'s fake-Hub config.json in the cache the way huggingface_hub would.
void seed_cache(const model_spec::Options& o, const std::string& repo_id, const std::string& commit) {
  std::string text, err;
  REQUIRE(files::read(repo_dir(repo_id) + "/config.json", &text, &err));
  std::string folder = hub::repo_folder(o.hub, repo_id);
  REQUIRE(files::write_atomic(folder + "/blobs/0123abcd", text, &err));
  fs::create_directories(folder + "/snapshots/" + commit);
  fs::create_symlink("../../blobs/0123abcd", folder + "/snapshots/" + commit + "/config.json");
  REQUIRE(files::write_atomic(folder + "/refs/main", commit, &err));
}

model_spec::Result resolve(const std::string& spec, bool trust = false) {
  TempDir cache;
  model_spec::Options o = offline(cache);
  o.trust_remote_code = trust;
  return model_spec::resolve_all({spec}, test_lookup(), o).front();
}

const std::string kCommit = "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd";

}  // namespace

TEST_CASE("classify tells model types, repo ids and directories apart") {
  using model_spec::Kind;
  CHECK(model_spec::classify("bert") == Kind::kModelType);
  CHECK(model_spec::classify("xlm-roberta") == Kind::kModelType);
  CHECK(model_spec::classify("google-bert/bert-base-uncased") == Kind::kRepo);
  CHECK(model_spec::classify("org/name@v1.0") == Kind::kRepo);
  CHECK(model_spec::classify("gpt2@main") == Kind::kRepo);
  CHECK(model_spec::classify("/no/such/dir") == Kind::kDirectory);
  CHECK(model_spec::classify("./model") == Kind::kDirectory);
  CHECK(model_spec::classify("~/model") == Kind::kDirectory);
}

TEST_CASE("an existing directory wins over a repo id of the same name") {
  TempDir dir;
  fs::create_directories(dir.path() + "/org/name");
  fs::path before = fs::current_path();
  fs::current_path(dir.path());
  model_spec::Kind kind = model_spec::classify("org/name");
  fs::current_path(before);
  CHECK(kind == model_spec::Kind::kDirectory);
}

TEST_CASE("a model type spec resolves from the registry") {
  model_spec::Result r = resolve("bert");
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(r.model.model_type == "bert");
  CHECK(r.model.model_id == "bert");
  CHECK(r.model.config_source == model_spec::Source::kRegistry);
  CHECK(r.model.config.is_null());
}

TEST_CASE("an unknown model type is looked up as a bare Hub repo id, keeping the suggestion") {
  model_spec::Result r = resolve("berta");
  CHECK(r.error.kind == model_spec::ErrorKind::kUnknownModelType);
  CHECK(r.error.hub_kind == hub::ErrorKind::kOfflineMiss);
  CHECK(r.error.message ==
        "unknown model type 'berta' (did you mean 'bert'?); as a Hub repo id: "
        "not in the cache and HF_HUB_OFFLINE is set 'berta@main'");
  r = resolve("not a repo id!");
  CHECK(r.error.kind == model_spec::ErrorKind::kUnknownModelType);
  CHECK(r.error.message == "unknown model type 'not a repo id!'");
}

TEST_CASE("a spec that is not valid UTF-8 is refused with its bytes escaped") {
  TempDir dir;
  for (const std::string& name : {std::string("\xf4\x90\x80\x80"), std::string("a\xff"),
                                  std::string("\xed\xa0\x80"), std::string("\xc0\xaf")}) {
    std::string spec = dir.path() + "/" + name;
    fs::create_directories(spec);
    std::string err;
    REQUIRE(files::write_atomic(spec + "/config.json", "{\"model_type\": \"bert\"}", &err));
    model_spec::Result r = resolve(spec);
    CHECK(r.error.kind == model_spec::ErrorKind::kNotUtf8);
    CHECK(r.error.message.rfind("spec is not valid UTF-8 '" + dir.path() + "/", 0) == 0);
    CHECK(r.error.message.find_first_of("\x80\xff") == std::string::npos);
  }
  CHECK(resolve(dir.path() + "/caf\xc3\xa9").error.kind == model_spec::ErrorKind::kNoSuchDirectory);
}

TEST_CASE("a local directory resolves from its config.json") {
  std::string dir = repo_dir("google-bert/bert-base-uncased");
  model_spec::Result r = resolve(dir);
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(r.model.model_type == "bert");
  CHECK(r.model.model_id == dir);
  CHECK(r.model.config_source == model_spec::Source::kLocal);
  CHECK(r.model.config["hidden_size"] == 768);
}

TEST_CASE("real-shaped configs of a dozen architectures give their model type") {
  const std::map<std::string, std::string> expected = {
      {"google-bert/bert-base-uncased", "bert"},      {"openai-community/gpt2", "gpt2"},
      {"google-t5/t5-small", "t5"},                   {"google/vit-base-patch16-224", "vit"},
      {"openai/whisper-tiny", "whisper"},             {"openai/clip-vit-base-patch32", "clip"},
      {"meta-llama/Llama-3.2-1B", "llama"},           {"FacebookAI/roberta-base", "roberta"},
      {"facebook/bart-base", "bart"},                 {"fake-org/private-model", "distilbert"},
      {"microsoft/phi-1_5", "phi"},                   {"fake-org/roberta-no-model-type", "roberta"},
      {"patrickvonplaten/bert2gpt2-cnn_dailymail-fp16", "encoder-decoder"},
      {"nlpconnect/vit-gpt2-image-captioning", "vision-encoder-decoder"},
      {"fake-org/wav2vec2-bert2bert", "speech-encoder-decoder"}};
  for (const auto& [repo, type] : expected) {
    model_spec::Result r = resolve(repo_dir(repo));
    CHECK_MESSAGE(r.ok(), repo << ": " << r.error.message);
    CHECK_MESSAGE(r.model.model_type == type, repo);
    CHECK_MESSAGE(!r.model.needs_trust_remote_code, repo);
  }
}

TEST_CASE("without model_type the type comes from architectures, never from the name") {
  model_spec::Result r = resolve(repo_dir("fake-org/roberta-no-model-type"));
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(r.model.model_type == "roberta");

  model_spec::Model m;
  model_spec::Error err;
  nlohmann::json config = {{"architectures", {"MysteryModel"}}, {"_name_or_path", "bert-base"}};
  CHECK(!model_spec::detect(config, "x", test_lookup(), &m, &err));
  CHECK(err.kind == model_spec::ErrorKind::kUnknownArchitecture);
  CHECK(err.message ==
        "cannot tell the model type of 'x' (config.json has no model_type and no architecture the registry knows)");
}

TEST_CASE("composite configs are told by their encoder and decoder sub-configs") {
  struct Case {
    const char* repo;
    const char* encoder;
    const char* decoder;
  };
  for (const Case& c : {Case{"patrickvonplaten/bert2gpt2-cnn_dailymail-fp16", "bert", "gpt2"},
                        Case{"nlpconnect/vit-gpt2-image-captioning", "vit", "gpt2"},
                        Case{"fake-org/wav2vec2-bert2bert", "wav2vec2", "bert"}}) {
    model_spec::Result r = resolve(repo_dir(c.repo));
    REQUIRE_MESSAGE(r.ok(), r.error.message);
    CHECK(r.model.encoder_model_type == c.encoder);
    CHECK(r.model.decoder_model_type == c.decoder);
  }
  CHECK(resolve(repo_dir("google-bert/bert-base-uncased")).model.encoder_model_type.empty());
}

TEST_CASE("a composite config needs both sub-configs") {
  model_spec::Model m;
  model_spec::Error err;
  nlohmann::json config = {{"model_type", "encoder-decoder"}, {"encoder", {{"model_type", "bert"}}}};
  CHECK(!model_spec::detect(config, "x", test_lookup(), &m, &err));
  CHECK(err.kind == model_spec::ErrorKind::kUnknownArchitecture);
  CHECK(err.message == "encoder-decoder config without its decoder sub-config 'x'");
}

TEST_CASE("auto_map with a model type only remote code knows needs --trust-remote-code") {
  std::string dir = repo_dir("THUDM/chatglm-6b");
  model_spec::Result r = resolve(dir);
  CHECK(r.error.kind == model_spec::ErrorKind::kNeedsTrustRemoteCode);
  CHECK(r.error.message == "model type 'chatglm' of '" + dir +
                               "' exists only as remote code (config.json has auto_map; pass --trust-remote-code)");
  r = resolve(dir, /*trust=*/true);
  REQUIRE_MESSAGE(r.ok(), r.error.message);
  CHECK(r.model.model_type == "chatglm");
  CHECK(r.model.needs_trust_remote_code);
}

TEST_CASE("an unknown model_type without auto_map is an error") {
  model_spec::Model m;
  model_spec::Error err;
  CHECK(!model_spec::detect({{"model_type", "not_a_type"}}, "x", test_lookup(), &m, &err));
  CHECK(err.kind == model_spec::ErrorKind::kUnknownModelType);
  CHECK(err.message == "unknown model type 'not_a_type' in config.json of 'x'");
}

TEST_CASE("a missing directory, a directory without config.json and a malformed one") {
  model_spec::Result r = resolve("/no/such/dir");
  CHECK(r.error.kind == model_spec::ErrorKind::kNoSuchDirectory);
  CHECK(r.error.message == "no such directory '/no/such/dir'");

  std::string dir = repo_dir("fake-org/no-config");
  r = resolve(dir);
  CHECK(r.error.kind == model_spec::ErrorKind::kConfig);
  CHECK(r.error.hub_kind == hub::ErrorKind::kNoConfig);
  CHECK(r.error.message == "no config.json in directory '" + dir + "'");

  r = resolve(repo_dir("fake-org/malformed"));
  CHECK(r.error.hub_kind == hub::ErrorKind::kMalformedConfig);
  CHECK(r.error.message.find("at line 5, column 14:") != std::string::npos);
}

TEST_CASE("a repo id, bare or not, resolves from the cache") {
  TempDir cache;
  model_spec::Options o = offline(cache);
  for (auto [repo_id, model_type] : {std::pair{"openai/whisper-tiny", "whisper"}, {"gpt2-medium", "gpt2"}}) {
    seed_cache(o, repo_id, kCommit);
    model_spec::Result r = model_spec::resolve_all({repo_id}, test_lookup(), o).front();
    REQUIRE_MESSAGE(r.ok(), r.error.message);
    CHECK(r.model.model_type == model_type);
    CHECK(r.model.model_id == repo_id);
    CHECK(r.model.config_source == model_spec::Source::kCache);
  }
}

TEST_CASE("a repo id the cache lacks, offline, is a config error") {
  model_spec::Result r = resolve("openai/whisper-tiny@v1.0");
  CHECK(r.error.kind == model_spec::ErrorKind::kConfig);
  CHECK(r.error.hub_kind == hub::ErrorKind::kOfflineMiss);
}

TEST_CASE("an invalid repo id is refused before any lookup") {
  for (const char* spec : {"org/../x", "a/b/c", "org/name@../../x", "org--x/y"}) {
    model_spec::Result r = resolve(spec);
    CHECK_MESSAGE(r.error.hub_kind == hub::ErrorKind::kInvalidRepoId, spec);
  }
}

TEST_CASE("resolve_all keeps the order of mixed specs") {
  TempDir cache;
  model_spec::Options o = offline(cache);
  seed_cache(o, "openai-community/gpt2", kCommit);
  std::vector<model_spec::Result> rs = model_spec::resolve_all(
      {"bert", repo_dir("openai/clip-vit-base-patch32"), "openai-community/gpt2", "berta", "org/absent"},
      test_lookup(), o);
  REQUIRE(rs.size() == 5);
  CHECK(rs[0].model.model_type == "bert");
  CHECK(rs[1].model.model_type == "clip");
  CHECK(rs[2].model.model_type == "gpt2");
  CHECK(rs[2].model.config_source == model_spec::Source::kCache);
  CHECK(rs[3].error.kind == model_spec::ErrorKind::kUnknownModelType);
  CHECK(rs[4].error.hub_kind == hub::ErrorKind::kOfflineMiss);
  CHECK(rs[4].model.model_id == "org/absent");
}

TEST_CASE("source_name gives the words records carry") {
  CHECK(model_spec::source_name(model_spec::Source::kRegistry) == "registry");
  CHECK(model_spec::source_name(model_spec::Source::kCache) == "cache");
  CHECK(model_spec::source_name(model_spec::Source::kHub) == "hub");
  CHECK(model_spec::source_name(model_spec::Source::kLocal) == "local");
}
