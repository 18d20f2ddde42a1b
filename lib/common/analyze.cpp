#include "common/analyze.h"

#include <map>

#include "common/records.h"

Analysis analyze(const std::vector<nlohmann::json>& results) {
  // A model type tested on several tasks (survey.sh's TASKS=all) has a skillset per
  // task, so each (type, task) gets requirements of its own.
  std::map<std::pair<std::string, std::string>, const nlohmann::json*> latest;
  for (const auto& result : results) latest[{result.value("model_type", ""), result.value("task", "")}] = &result;

  Analysis analysis;
  for (const auto& [key, result] : latest) {
    const std::string& model_type = key.first;
    const auto reference = result->value("reference", nlohmann::json::object());
    std::string status = reference.value("status", "missing");
    if (status != "pass") {
      analysis.failed.push_back(model_type + ": reference " + status +
                                (reference.contains("message") ? " (" + reference.value("message", "") + ")" : ""));
      continue;
    }
    if (!reference.value("tolerance", nlohmann::json()).is_object()) {
      analysis.failed.push_back(model_type + ": reference passed but states no tolerance");
      continue;
    }
    nlohmann::json r = records::make("requirements");
    records::copy_identity(*result, &r);
    const auto candidate = reference.value("candidate", nlohmann::json::object());
    if (!candidate.is_object() || !candidate.value("model_class", nlohmann::json()).is_string() ||
        !candidate.value("auto_class", nlohmann::json()).is_string() ||
        !candidate.value("processor_class", nlohmann::json()).is_string()) {
      analysis.failed.push_back(model_type + ": reference passed but names no complete candidate");
      continue;
    }
    for (const char* key : {"model_class", "auto_class", "processor_class"})
      r[key] = candidate.value(key, "");
    for (const char* key : {"signature", "generation", "tolerance"})
      r[key] = reference.value(key, nlohmann::json());
    // The batch policy the test found, without what it measured on the way (the
    // differences vary with the machine; the policy does not). Where none was tried or
    // none held, the template batches its own way.
    const auto batching = reference.value("batching", nlohmann::json());
    if (batching.is_object() && batching.value("policy", nlohmann::json()).is_string())
      r["batch_policy"] = batching["policy"];
    r["versions"] = result->value("versions", nlohmann::json::object());
    r["measured"] = true;
    analysis.requirements.push_back(std::move(r));
  }
  return analysis;
}
