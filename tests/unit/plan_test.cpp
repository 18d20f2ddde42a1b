#include "common/plan.h"

#include <doctest/doctest.h>

#include "common/files.h"
#include "common/json_parse.h"
#include "temp_dir.h"

namespace {
// A registry of three types and a template directory with one family's template.
struct Fixture {
  TempDir dir;
  Registry registry;
  PlanOptions options;
  Fixture() {
    std::string err;
    dir.write("registry.json", R"({"schema": "registry", "version": 1, "transformers_version": "5.23.0",
 "precisions": {"fp16": {"rtol": 0.01, "atol": 0.001}},
 "families": {"text-encoder": {"default_task": "feature-extraction", "handler_tasks": ["feature-extraction"],
   "processors": ["AutoTokenizer"], "tolerance": {"rtol": 0.0001, "atol": 1e-05}, "generation": null},
   "vision-detection": {"default_task": "object-detection", "handler_tasks": ["object-detection"], "processors": []}},
 "tasks": {"feature-extraction": {"auto_class": "AutoModel"}, "fill-mask": {"auto_class": "AutoModelForMaskedLM"},
           "object-detection": {"auto_class": "AutoModelForObjectDetection"}},
 "models": {
  "bert": {"family": "text-encoder", "servable": true, "default_task": "fill-mask",
           "tasks": {"feature-extraction": "BertModel", "fill-mask": "BertForMaskedLM"},
           "processors": {"tokenizer": ["BertTokenizer"]}},
  "detr": {"family": "vision-detection", "servable": true, "default_task": "object-detection",
           "tasks": {"object-detection": "DetrForObjectDetection"}, "processors": {}},
  "bert_text_model": {"family": "other", "servable": false, "default_task": null, "tasks": {}}}})");
    registry.load(dir.path() + "/registry.json", &err);
    dir.write("skillset/text-encoder.py.mustache", "x\n");
    options = PlanOptions{dir.path(), "/t", "/s", "", {}, "fp32"};
  }
};
}  // namespace

TEST_CASE("make_plan prefers the family's task and lists the candidates the registry allows") {
  Fixture f;
  nlohmann::json plan;
  Unsupported why;
  std::string err;
  REQUIRE(make_plan(f.registry, Target{"bert", "bert", "registry"}, f.options, &plan, &why, &err));
  CHECK(why == Unsupported::kNone);
  CHECK(plan["task"] == "feature-extraction");
  CHECK(plan["candidates"] == nlohmann::json::parse(
                                  R"([{"auto_class": "AutoModel", "model_class": "BertModel", "processor_class": "AutoTokenizer"}])"));
  CHECK(plan["test_file"] == "/t/test_hf_bert.py");
  CHECK(plan["skillset_file"] == "/s/hf_bert.py");
  CHECK(plan["backends"].size() == all_backends().size());
}

TEST_CASE("make_plan suggests a name for an unknown model type") {
  Fixture f;
  nlohmann::json plan;
  Unsupported why;
  std::string err;
  CHECK_FALSE(make_plan(f.registry, Target{"berta", "berta", "registry"}, f.options, &plan, &why, &err));
  CHECK(err == "unknown model type 'berta' (did you mean 'bert'?)");
}

TEST_CASE("make_plan reports types it cannot serve without failing") {
  Fixture f;
  nlohmann::json plan;
  Unsupported why;
  std::string err;
  REQUIRE(make_plan(f.registry, Target{"bert_text_model", "x", "registry"}, f.options, &plan, &why, &err));
  CHECK(why == Unsupported::kNotServable);
  REQUIRE(make_plan(f.registry, Target{"detr", "detr", "registry"}, f.options, &plan, &why, &err));
  CHECK(why == Unsupported::kFamily);
  f.options.task = "fill-mask";
  REQUIRE(make_plan(f.registry, Target{"bert", "bert", "registry"}, f.options, &plan, &why, &err));
  CHECK(why == Unsupported::kTask);
}

TEST_CASE("make_plan at a reduced precision takes each tolerance bound the looser of the family's and the precision's") {
  Fixture f;
  nlohmann::json plan;
  Unsupported why;
  std::string err;
  f.options.precision = "fp16";
  REQUIRE(make_plan(f.registry, Target{"bert", "bert", "registry"}, f.options, &plan, &why, &err));
  CHECK(plan["precision"] == "fp16");
  CHECK(plan["tolerance"]["rtol"] == 0.01);   // the precision's: looser than 1e-4
  CHECK(plan["tolerance"]["atol"] == 0.001);  // the precision's: looser than 1e-5
  f.options.precision = "fp32";
  REQUIRE(make_plan(f.registry, Target{"bert", "bert", "registry"}, f.options, &plan, &why, &err));
  CHECK(plan["tolerance"] == nlohmann::json{{"rtol", 0.0001}, {"atol", 1e-05}});
}

TEST_CASE("make_plan takes the task of the checkpoint's head when its family serves it") {
  Fixture f;
  std::string err;
  f.dir.write("heads.json", R"({"schema": "registry", "version": 1, "transformers_version": "5.23.0",
 "precisions": {"fp16": {"rtol": 0.01, "atol": 0.001}},
 "families": {"text-encoder": {"default_task": "feature-extraction", "processors": ["AutoTokenizer"],
   "handler_tasks": ["feature-extraction", "text-classification", "fill-mask"]}},
 "tasks": {"feature-extraction": {"auto_class": "AutoModel"}, "fill-mask": {"auto_class": "AutoModelForMaskedLM"},
           "text-classification": {"auto_class": "AutoModelForSequenceClassification"},
           "question-answering": {"auto_class": "AutoModelForQuestionAnswering"}},
 "models": {"bert": {"family": "text-encoder", "servable": true, "default_task": "fill-mask",
   "tasks": {"feature-extraction": "BertModel", "fill-mask": "BertForMaskedLM",
             "text-classification": "BertForSequenceClassification", "question-answering": "BertForQuestionAnswering"},
   "processors": {"tokenizer": ["BertTokenizer"]}}}})");
  Registry registry;
  REQUIRE(registry.load(f.dir.path() + "/heads.json", &err));
  auto task_of = [&](std::vector<std::string> architectures, const std::string& asked = "") {
    nlohmann::json plan;
    Unsupported why;
    PlanOptions options = f.options;
    options.task = asked;
    REQUIRE(make_plan(registry, Target{"bert", "/ckpt", "local", architectures}, options, &plan, &why, &err));
    REQUIRE(why == Unsupported::kNone);
    return std::make_pair(plan["task"].get<std::string>(), plan["candidates"][0]["model_class"].get<std::string>());
  };
  CHECK(task_of({"BertForSequenceClassification"}) ==
        std::make_pair(std::string("text-classification"), std::string("BertForSequenceClassification")));
  // A pretraining head, a head the template does not serve, none named: the family's default.
  CHECK(task_of({"BertForMaskedLM"}).first == "feature-extraction");
  CHECK(task_of({"BertForQuestionAnswering"}).first == "feature-extraction");
  CHECK(task_of({}).first == "feature-extraction");
  CHECK(task_of({"SomethingElse", "BertForSequenceClassification"}).first == "text-classification");
  // --task wins over the head.
  CHECK(task_of({"BertForSequenceClassification"}, "fill-mask").first == "fill-mask");
}

TEST_CASE("select_types narrows --all by family and refuses unknown names") {
  Fixture f;
  std::vector<std::string> types;
  std::string err;
  REQUIRE(select_types(f.registry, "", "", &types, &err));
  CHECK(types == std::vector<std::string>{"bert", "detr"});
  types.clear();
  REQUIRE(select_types(f.registry, "vision-detection", "", &types, &err));
  CHECK(types == std::vector<std::string>{"detr"});
  CHECK_FALSE(select_types(f.registry, "no-family", "", &types, &err));
  CHECK(err == "unknown family 'no-family'");
}

TEST_CASE("listing counts servable types per family, saying which have a template") {
  Fixture f;
  CHECK(listing(f.registry, true, f.dir.path()) ==
        std::vector<std::string>{"text-encoder\t1 model types\ttemplate", "vision-detection\t1 model types\tno template yet"});
}

TEST_CASE("listing counts servable types per task") {
  Fixture f;
  CHECK(listing(f.registry, false, f.dir.path()) ==
        std::vector<std::string>{"feature-extraction\t1 model types", "fill-mask\t1 model types",
                                 "object-detection\t1 model types"});
}

TEST_CASE("all_backends is the enum of schemas/backend.schema.json, in its order") {
  std::string text, err;
  nlohmann::json schema;
  REQUIRE(files::read(files::project_home() + "/schemas/backend.schema.json", &text, &err));
  REQUIRE(parse_json(text, &schema, &err));
  CHECK(all_backends() == schema["enum"].get<std::vector<std::string>>());
  CHECK(all_backends().front() == "cpu");
}

TEST_CASE("init_method writes a backend's hyphen as an underscore") {
  CHECK(init_method("cpu") == "init_cpu");
  CHECK(init_method("transformersjs-node") == "init_transformersjs_node");
}

TEST_CASE("make_plan loads a task's class by name where its table has no Auto class") {
  TempDir dir;
  std::string err;
  dir.write("registry.json", R"({"schema": "registry", "version": 1, "transformers_version": "5.23.0",
 "precisions": {},
 "families": {"time-series": {"default_task": "time-series-forecasting",
   "handler_tasks": ["time-series-forecasting", "time-series-classification"],
   "processors": ["AutoConfig"], "tolerance": {"rtol": 0.0001, "atol": 0.0001}, "generation": null}},
 "tasks": {"time-series-forecasting": {"auto_class": "AutoModelForTimeSeriesPrediction"},
           "time-series-classification": {"auto_class": null}},
 "models": {"patchtst": {"family": "time-series", "servable": true, "default_task": "time-series-forecasting",
   "tasks": {"time-series-forecasting": "PatchTSTForPrediction",
             "time-series-classification": "PatchTSTForClassification"}, "processors": {}}}})");
  Registry registry;
  REQUIRE(registry.load(dir.path() + "/registry.json", &err));
  dir.write("skillset/time-series.py.mustache", "x\n");
  PlanOptions options{dir.path(), "/t", "/s", "time-series-classification", {}, "fp32"};
  nlohmann::json plan;
  Unsupported why;
  REQUIRE(make_plan(registry, Target{"patchtst", "patchtst", "registry"}, options, &plan, &why, &err));
  CHECK(why == Unsupported::kNone);
  CHECK(plan["task"] == "time-series-classification");
  CHECK(plan["candidates"] == nlohmann::json::parse(
                                  R"([{"auto_class": "PatchTSTForClassification", "model_class": "PatchTSTForClassification", "processor_class": "AutoConfig"}])"));
}
