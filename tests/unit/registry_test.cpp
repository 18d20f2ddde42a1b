#include "common/registry.h"

#include <doctest/doctest.h>

#include "temp_dir.h"

namespace {
const char* kRegistry = R"({"schema": "registry", "version": 1, "transformers_version": "5.23.0",
 "families": {"text-encoder": {"default_task": "feature-extraction", "handler_tasks": ["feature-extraction"],
   "processors": ["AutoTokenizer"], "tolerance": {"rtol": 0.0001, "atol": 1e-05}, "generation": null}},
 "tasks": {"feature-extraction": {"auto_class": "AutoModel", "mapping": "MODEL_MAPPING_NAMES"},
           "ts": {"auto_class": null, "mapping": "X"}},
 "models": {
  "bert": {"family": "text-encoder", "servable": true, "default_task": "feature-extraction",
           "tasks": {"feature-extraction": "BertModel"}, "processors": {"tokenizer": ["BertTokenizer"]}},
  "xlm-roberta": {"family": "text-encoder", "servable": true, "default_task": "feature-extraction",
           "tasks": {"feature-extraction": "XLMRobertaModel"}, "processors": {"tokenizer": []}},
  "bert_text_model": {"family": "other", "servable": false, "default_task": null, "tasks": {}}}})";
}  // namespace

TEST_CASE("load refuses a file that is not a registry") {
  TempDir dir;
  Registry registry;
  std::string err;
  CHECK_FALSE(registry.load(dir.write("r.json", "{\"schema\": \"other\"}"), &err));
  CHECK(err.find("malformed registry") == 0);
  CHECK_FALSE(registry.load(dir.path() + "/absent.json", &err));
}

TEST_CASE("find, suggest and type_of_architecture answer from the models table") {
  TempDir dir;
  Registry registry;
  std::string err;
  REQUIRE(registry.load(dir.write("r.json", kRegistry), &err));
  CHECK(registry.find("bert") != nullptr);
  CHECK(registry.find("berta") == nullptr);
  CHECK(registry.suggest("berta") == "bert");
  CHECK(registry.suggest("completely-different-name") == "");
  CHECK(registry.type_of_architecture("XLMRobertaModel") == "xlm-roberta");
  CHECK(registry.type_of_architecture("NoSuchModel") == "");
  CHECK(registry.model_types() == std::vector<std::string>{"bert", "bert_text_model", "xlm-roberta"});
}

TEST_CASE("ident_of turns a model type into a Python identifier") {
  CHECK(ident_of("xlm-roberta") == "xlm_roberta");
  CHECK(ident_of("gpt2") == "gpt2");
  CHECK(ident_of("a.b-c") == "a_b_c");
}
