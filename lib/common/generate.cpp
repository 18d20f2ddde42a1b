#include "common/generate.h"

#include "common/files.h"
#include "common/pyliteral.h"
#include "common/records.h"
#include "common/render.h"

namespace {

// Plan and requirements fields that do not belong in generated code: they vary with
// where and how the generator ran, and generated files must not.
nlohmann::json plan_for_test(const nlohmann::json& plan) {
  nlohmann::json p = plan;
  for (const char* key : {"schema", "version", "config_source"}) p.erase(key);
  return p;
}

}  // namespace

bool write_test(const std::string& template_dir, const nlohmann::json& plan, std::string* err) {
  render::Vars vars = {
      {"ident", plan["ident"]},
      {"model_type_literal", pyliteral::literal(plan["model_type"])},
      {"plan_literal", pyliteral::literal(plan_for_test(plan))},
      {"generator_version", kToolchainVersion},
  };
  std::string text;
  if (!render::file(template_dir + "/tests", "test", vars, &text, err)) return false;
  return files::write_atomic(plan["test_file"], text, err);
}

nlohmann::json requirements_from_plan(const nlohmann::json& plan) {
  nlohmann::json r = records::make("requirements");
  records::copy_identity(plan, &r);
  for (const char* key : {"generation", "tolerance"}) r[key] = plan.value(key, nlohmann::json());
  const auto& candidate = plan["candidates"].empty() ? nlohmann::json::object() : plan["candidates"][0];
  for (const char* key : {"model_class", "auto_class", "processor_class"})
    r[key] = candidate.value(key, "");
  r["versions"] = {{"transformers", plan.value("transformers_version", "")}};
  r["signature"] = nullptr;
  r["measured"] = false;
  return r;
}

bool render_skillset(const std::string& template_dir, const nlohmann::json& requirements,
                     std::string* text, std::string* err) {
  render::Vars vars = {
      {"ident", requirements.value("ident", "")},
      {"task", requirements.value("task", "")},
      {"model_type_literal", pyliteral::literal(requirements["model_type"])},
      {"task_literal", pyliteral::literal(requirements["task"])},
      {"generation_literal", pyliteral::literal(requirements.value("generation", nlohmann::json()))},
      {"batch_size", "8"},
      {"generator_version", kToolchainVersion},
      {"transformers_version",
       requirements.value("versions", nlohmann::json::object()).value("transformers", "")},
  };
  // These appear bare in the code or name the template file, so only plain words pass.
  for (const char* key : {"task", "family"}) {
    std::string value = requirements.value(key, "");
    // A leading '_' names a partial, not a family's template.
    if (!pyliteral::is_word(value) || value[0] == '_') {
      *err = "requirements of '" + requirements.value("model_type", "?") + "' hold an invalid " +
             key + " '" + value + "'";
      return false;
    }
  }
  if (!pyliteral::is_word(vars["transformers_version"])) vars["transformers_version"] = "(unknown)";
  // Class names appear bare in the code, so only plain identifiers may pass.
  for (const char* key : {"ident", "model_class", "auto_class", "processor_class"}) {
    std::string value = requirements.value(key, "");
    if (!pyliteral::is_identifier(value)) {
      *err = "requirements of '" + requirements.value("model_type", "?") + "' hold an invalid " +
             key + " '" + value + "'";
      return false;
    }
    vars[key] = value;
  }
  return render::file(template_dir + "/skillset", requirements.value("family", ""), vars, text, err);
}
