#include "common/verify.h"

#include <regex>

#include "common/files.h"
#include "common/plan.h"
#include "common/records.h"

namespace {

nlohmann::json discrepancy(const nlohmann::json& manifest, const std::string& kind,
                           const std::string& detail, const std::string& backend = "") {
  nlohmann::json d = records::make("discrepancy");
  records::copy_identity(manifest, &d);
  d["kind"] = kind;
  d["detail"] = detail;
  if (!backend.empty()) d["backend"] = backend;
  return d;
}

bool has(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern, std::regex::multiline));
}

}  // namespace

std::vector<nlohmann::json> check_static(const nlohmann::json& manifest) {
  std::vector<nlohmann::json> found;
  std::string text, err;
  if (!files::read(manifest.value("skillset_file", ""), &text, &err)) {
    found.push_back(discrepancy(manifest, "missing-skillset", err));
    return found;
  }
  const std::string ident = manifest.value("ident", "");
  if (!has(text, "^class hf_" + ident + "\\b"))
    found.push_back(discrepancy(manifest, "missing-class", "no class 'hf_" + ident + "'"));
  if (!has(text, R"(^    def __init__\(self, resources=None, metadata=None\):)"))
    found.push_back(discrepancy(manifest, "bad-constructor", "no __init__(self, resources=None, metadata=None)"));
  for (const auto& backend : all_backends()) {
    std::string signature = backend == "openvino"
                                ? R"(\(self, model_name, model_type, device\b[^)]*, openvino_label\b[^)]*, \*helpers\))"
                                : R"(\(self, model_name, device\b[^)]*, label\b[^)]*\))";
    if (!has(text, "^    def " + init_method(backend) + signature))
      found.push_back(discrepancy(manifest, "missing-init",
                                  "no " + init_method(backend) + " with the worker's signature", backend));
  }
  if (!has(text, R"(def handler\(input, \*\*options\):)"))
    found.push_back(discrepancy(manifest, "missing-handler", "no handler(input, **options)"));
  const auto requirements = manifest.value("requirements", nlohmann::json::object());
  for (const char* key : {"auto_class", "processor_class"}) {
    std::string name = requirements.value(key, "");
    if (!name.empty() && !has(text, "\\btransformers\\." + name + "\\.from_pretrained\\("))
      found.push_back(discrepancy(manifest, "requirement-not-met",
                                  std::string(key) + " '" + name + "' is not what the skillset loads"));
  }
  // A batch policy other than the default is code of its own (gen-skillset's
  // _per_batch); a skillset without it batches the way its tests found wrong.
  const std::string policy = requirements.value("batch_policy", "batched");
  if (policy != "batched" && !has(text, R"(^    def _per_batch\(self, endpoint, processor, device, input, \*\*options\):)"))
    found.push_back(discrepancy(manifest, "requirement-not-met",
                                "batch policy '" + policy + "' is not how the skillset batches"));
  return found;
}

std::vector<nlohmann::json> check_result(const nlohmann::json& manifest, const nlohmann::json& result) {
  std::vector<nlohmann::json> found;
  const auto reference = result.value("reference", nlohmann::json::object());
  std::string status = reference.value("status", "missing");
  if (status != "pass")
    found.push_back(discrepancy(manifest, "reference-" + status, reference.value("message", "")));
  const auto backends = result.value("backends", nlohmann::json::object());
  for (const auto& [backend, outcome] : backends.items()) {
    std::string s = outcome.value("status", "missing");
    if (s == "fail" || s == "error" || s == "no-skillset" || s == "missing")
      found.push_back(discrepancy(manifest, "backend-" + s, outcome.value("message", ""), backend));
  }
  return found;
}

void VerifyTally::add(const nlohmann::json& result, size_t discrepancy_count) {
  ++skillsets;
  if (discrepancy_count == 0) ++passed;
  discrepancies += static_cast<int>(discrepancy_count);
  const auto backends = result.value("backends", nlohmann::json::object());
  for (const auto& [backend, outcome] : backends.items()) {
    std::string s = outcome.value("status", "missing");
    ++statuses[s];
    if (s == "unimplemented") ++unimplemented[backend];
  }
}

nlohmann::json VerifyTally::summary() const {
  nlohmann::json s = records::make("verify-summary");
  s["skillsets"] = skillsets;
  s["passed"] = passed;
  s["failed"] = skillsets - passed;
  s["unsupported"] = unsupported;
  s["discrepancies"] = discrepancies;
  s["backend_statuses"] = statuses;
  s["unimplemented_backends"] = unimplemented;
  return s;
}
