#include "common/verify.h"

#include <doctest/doctest.h>

#include "common/plan.h"
#include "temp_dir.h"

namespace {
// A skillset that keeps the contract: an init of the worker's signature per backend.
std::string skillset() {
  std::string text = R"(class hf_bert:
    def __init__(self, resources=None, metadata=None):
        pass

    def init_cpu(self, model_name, device="cpu", label="cpu"):
        def handler(input, **options):
            return transformers.AutoModel.from_pretrained(model_name), transformers.AutoTokenizer.from_pretrained(model_name)
)";
  for (const auto& b : all_backends())
    if (b == "openvino")
      text += "    def init_openvino(self, model_name, model_type, device=\"openvino:0\", openvino_label=\"openvino:0\", *helpers): pass\n";
    else if (b != "cpu")
      text += "    def " + init_method(b) + "(self, model_name, device=\"" + b + ":0\", label=\"" + b + ":0\"): pass\n";
  return text;
}
nlohmann::json manifest(const std::string& path) {
  return {{"model_type", "bert"}, {"ident", "bert"}, {"skillset_file", path},
          {"requirements", {{"auto_class", "AutoModel"}, {"processor_class", "AutoTokenizer"}}}};
}
}  // namespace

TEST_CASE("check_static finds nothing in a skillset that keeps the contract") {
  TempDir dir;
  CHECK(check_static(manifest(dir.write("hf_bert.py", skillset()))).empty());
}

TEST_CASE("check_static names a missing init and the wrong auto class") {
  TempDir dir;
  std::string text = skillset();
  text.replace(text.find("def init_webgpu"), 15, "def nit_webgpu_");
  text.replace(text.find("AutoModel."), 10, "AutoModelForMaskedLM.");
  auto found = check_static(manifest(dir.write("hf_bert.py", text)));
  REQUIRE(found.size() == 2);
  CHECK(found[0]["kind"] == "missing-init");
  CHECK(found[0]["backend"] == "webgpu");
  CHECK(found[1]["kind"] == "requirement-not-met");
}

TEST_CASE("check_result counts fails and errors, not skips or unimplemented backends") {
  auto result = nlohmann::json::parse(R"({"reference": {"status": "pass"}, "backends": {
    "cpu": {"status": "fail", "message": "max_abs_diff 0.3"}, "cuda": {"status": "skip", "reason": "no-device"},
    "webnn": {"status": "unimplemented"}}})");
  auto found = check_result(manifest("/x"), result);
  REQUIRE(found.size() == 1);
  CHECK(found[0]["kind"] == "backend-fail");
  VerifyTally tally;
  tally.add(result, found.size());
  auto summary = tally.summary();
  CHECK(summary["failed"] == 1);
  CHECK(summary["unimplemented_backends"]["webnn"] == 1);
  CHECK(summary["backend_statuses"]["skip"] == 1);
}

TEST_CASE("check_static names a batch policy the skillset does not follow") {
  TempDir dir;
  auto wanting = manifest(dir.write("hf_bert.py", skillset()));
  wanting["requirements"]["batch_policy"] = "single";
  auto found = check_static(wanting);
  REQUIRE(found.size() == 1);
  CHECK(found[0]["kind"] == "requirement-not-met");
  CHECK(found[0]["detail"] == "batch policy 'single' is not how the skillset batches");
  auto following = manifest(dir.write(
      "hf_bert.py", skillset() + "    def _per_batch(self, endpoint, processor, device, input, **options):\n"));
  following["requirements"]["batch_policy"] = "single";
  CHECK(check_static(following).empty());
  wanting["requirements"]["batch_policy"] = "batched";
  CHECK(check_static(wanting).empty());
}
