#include "common/registry.h"

#include <doctest/doctest.h>

#include "temp_dir.h"

namespace {
const char* kRegistry = R"({"schema": "registry", "version": 1, "transformers_version": "5.23.0",
 "precisions": {"fp16": {"rtol": 0.01, "atol": 0.001}},
 "families": {"text-encoder": {"default_task": "feature-extraction", "handler_tasks": ["feature-extraction"],
   "processors": ["AutoTokenizer"], "tolerance": {"rtol": 0.0001, "atol": 1e-05}, "generation": null}},
 "architectures": {"BertModel": "bert", "XLMRobertaModel": "xlm-roberta", "GPT2LMHeadModel": "gpt2"},
 "tasks": {"feature-extraction": {"auto_class": "AutoModel", "mapping": "MODEL_MAPPING_NAMES"},
           "ts": {"auto_class": null, "mapping": "X"}},
 "models": {
  "bert": {"family": "text-encoder", "servable": true, "default_task": "feature-extraction",
           "tasks": {"feature-extraction": "BertModel"}, "processors": {"tokenizer": ["BertTokenizer"]}},
  "xlm-roberta": {"family": "text-encoder", "servable": true, "default_task": "feature-extraction",
           "tasks": {"feature-extraction": "XLMRobertaModel"}, "processors": {"tokenizer": []}},
  "gpt-sw3": {"config_class": "GPT2Config", "tasks": {"text-generation": "GPT2LMHeadModel"}},
  "gpt2": {"config_class": "GPT2Config", "tasks": {"text-generation": "GPT2LMHeadModel"}},
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
  CHECK(registry.model_types() ==
        std::vector<std::string>{"bert", "bert_text_model", "gpt-sw3", "gpt2", "xlm-roberta"});
}

TEST_CASE("a class that two types list resolves to the type its config class names") {
  TempDir dir;
  Registry registry;
  std::string err;
  REQUIRE(registry.load(dir.write("r.json", kRegistry), &err));
  CHECK(registry.type_of_architecture("GPT2LMHeadModel") == "gpt2");
}

TEST_CASE("ident_of turns a model type into a Python identifier") {
  CHECK(ident_of("xlm-roberta") == "xlm_roberta");
  CHECK(ident_of("gpt2") == "gpt2");
  CHECK(ident_of("a.b-c") == "a_b_c");
}
