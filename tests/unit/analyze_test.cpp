#include "common/analyze.h"

#include <doctest/doctest.h>

namespace {
nlohmann::json result(const std::string& type, const std::string& status, double elapsed) {
  return {{"schema", "test-result"},
          {"version", 1},
          {"model_type", type},
          {"ident", type},
          {"family", "text-encoder"},
          {"task", "feature-extraction"},
          {"elapsed_s", elapsed},
          {"backends", {{"cpu", {{"status", "pass"}}}}},
          {"reference",
           {{"status", status},
            {"candidate", {{"model_class", "BertModel"}, {"auto_class", "AutoModel"}, {"processor_class", "AutoTokenizer"}}},
            {"tolerance", {{"rtol", 1e-4}, {"atol", 1e-5}}}}}};
}
}  // namespace

TEST_CASE("analyze turns a passing reference into requirements with its candidate") {
  Analysis a = analyze({result("bert", "pass", 1.0)});
  REQUIRE(a.requirements.size() == 1);
  CHECK(a.failed.empty());
  CHECK(a.requirements[0]["schema"] == "requirements");
  CHECK(a.requirements[0]["auto_class"] == "AutoModel");
  CHECK(a.requirements[0]["measured"] == true);
}

TEST_CASE("analyze gives the same requirements whatever the timings and backend statuses") {
  auto first = result("bert", "pass", 1.0);
  auto second = result("bert", "pass", 7.5);
  second["backends"]["cpu"]["status"] = "no-skillset";
  CHECK(analyze({first}).requirements[0].dump() == analyze({second}).requirements[0].dump());
}

TEST_CASE("analyze reports a failed reference and writes no requirements for it") {
  Analysis a = analyze({result("bert", "error", 1.0), result("gpt2", "pass", 1.0)});
  REQUIRE(a.requirements.size() == 1);
  CHECK(a.requirements[0]["model_type"] == "gpt2");
  REQUIRE(a.failed.size() == 1);
  CHECK(a.failed[0].rfind("bert: reference error", 0) == 0);
}

TEST_CASE("analyze keeps the last result of a model type") {
  Analysis a = analyze({result("bert", "error", 1.0), result("bert", "pass", 1.0)});
  CHECK(a.requirements.size() == 1);
  CHECK(a.failed.empty());
}

TEST_CASE("analyze carries the batch policy the test found, and not what it measured") {
  auto r = result("canine", "pass", 1.0);
  r["reference"]["batching"] = {
      {"policy", "equal-length"},
      {"tried",
       {{{"policy", "batched"}, {"status", "fail"}, {"max_abs_diff", 3.2}},
        {{"policy", "equal-length"}, {"status", "pass"}, {"max_abs_diff", 2e-6}}}}};
  Analysis a = analyze({r});
  REQUIRE(a.requirements.size() == 1);
  CHECK(a.requirements[0]["batch_policy"] == "equal-length");
  auto elsewhere = r;
  elsewhere["reference"]["batching"]["tried"][0]["max_abs_diff"] = 2.9;
  CHECK(analyze({elsewhere}).requirements[0].dump() == a.requirements[0].dump());
  CHECK(a.requirements[0].dump().find("max_abs_diff") == std::string::npos);
}

TEST_CASE("analyze writes no batch policy where none was tried or none held") {
  CHECK_FALSE(analyze({result("gpt2", "pass", 1.0)}).requirements[0].contains("batch_policy"));
  auto r = result("mobilenet_v2", "pass", 1.0);
  r["reference"]["batching"] = {{"policy", nullptr}, {"tried", nlohmann::json::array()}};
  CHECK_FALSE(analyze({r}).requirements[0].contains("batch_policy"));
}

TEST_CASE("analyze writes requirements for each task a model type was tested on") {
  auto classification = result("canine", "pass", 1.0);
  classification["task"] = "text-classification";
  Analysis a = analyze({result("canine", "pass", 1.0), classification});
  REQUIRE(a.requirements.size() == 2);
  CHECK(a.requirements[0]["task"] == "feature-extraction");
  CHECK(a.requirements[1]["task"] == "text-classification");
}
