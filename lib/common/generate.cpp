#include "common/generate.h"


#include <filesystem>
#include <map>

#include "common/digest.h"
#include "common/files.h"
#include "common/pyliteral.h"
#include "common/records.h"
#include "common/render.h"

namespace {

const std::string kDigestPrefix = "# @generated sha256:";

// Plan and requirements fields that do not belong in generated code: they vary with
// where and how the generator ran, and generated files must not.
nlohmann::json plan_for_test(const nlohmann::json& plan) {
  nlohmann::json p = plan;
  for (const char* key : {"schema", "version", "config_source"}) p.erase(key);
  return p;
}

// `text` after a first line holding its digest, which tells a later run whether a
// person has edited the file since.
std::string with_digest(const std::string& text) {
  return kDigestPrefix + digest::sha256_hex(text) + "\n" + text;
}

// True when `text` is as with_digest() wrote it: nobody has edited it since.
bool matches_own_digest(const std::string& text) {
  size_t newline = text.find('\n');
  return newline != std::string::npos && with_digest(text.substr(newline + 1)) == text;
}

}  // namespace

bool render_test(const std::string& template_dir, const nlohmann::json& plan, Output* out, std::string* err) {
  render::Vars vars = {
      {"ident", plan["ident"]},
      {"model_type_quoted", pyliteral::quoted(plan["model_type"])},
      {"generator_version", kToolchainVersion},
  };
  std::string text;
  if (!render::file(template_dir + "/tests", "test", vars, {{"plan_literal", plan_for_test(plan)}}, &text, err)) {
    *err = "test plan of '" + plan.value("model_type", "?") + "': " + *err;
    return false;
  }
  *out = {plan["test_file"], with_digest(text)};
  return true;
}

nlohmann::json requirements_from_plan(const nlohmann::json& plan) {
  nlohmann::json r = records::make("requirements");
  records::copy_identity(plan, &r);
  for (const char* key : {"generation", "tolerance"}) r[key] = plan.value(key, nlohmann::json());
  const auto& candidate = plan["candidates"].empty() ? nlohmann::json::object() : plan["candidates"][0];
  for (const char* key : {"model_class", "auto_class", "processor_class"})
    r[key] = candidate.value(key, "");
  // Untested, the skillset batches as the family does by default: the plan's first policy.
  const auto policies = plan.value("batch_policies", nlohmann::json::array());
  if (!policies.empty()) r["batch_policy"] = policies[0];
  r["versions"] = {{"transformers", plan.value("transformers_version", "")}};
  r["signature"] = nullptr;
  r["measured"] = false;
  return r;
}

bool render_skillset(const std::string& template_dir, const nlohmann::json& requirements, Output* out,
                     std::string* err) {
  render::Vars vars = {
      {"model_type_quoted", pyliteral::quoted(requirements["model_type"])},
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
  vars["task"] = requirements["task"];
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
  render::Values values = {
      {"task_literal", requirements["task"]},
      {"generation_literal", requirements.value("generation", nlohmann::json())},
  };
  // How the handler runs a list of inputs (schemas/batch-policy.schema.json). "batched"
  // is what every template does of itself; another policy is code a template writes
  // only when asked, through _per_batch and the policy's _batches.
  const std::string policy = requirements.value("batch_policy", "batched");
  render::Flags flags = {{"in_batches", policy != "batched"},
                         {"batch_single", policy == "single"},
                         {"batch_equal_length", policy == "equal-length"}};
  std::string text;
  if (!render::file(template_dir + "/skillset", requirements["family"], vars, values, &text, err, flags)) {
    *err = "requirements of '" + requirements.value("model_type", "?") + "': " + *err;
    return false;
  }
  if (policy != "batched" && (text.find("    def _per_batch(") == std::string::npos ||
                              text.find("    def _batches(") == std::string::npos)) {
    *err = "requirements of '" + requirements.value("model_type", "?") + "' ask for batch policy '" + policy +
           "', which the template of family '" + requirements.value("family", "") + "' does not write";
    return false;
  }
  *out = {requirements["skillset_file"], with_digest(text)};
  return true;
}

Written write_outputs(const std::vector<Output>& outputs, bool force, std::vector<bool>* changed,
                      std::string* err) {
  changed->assign(outputs.size(), true);
  // Several specs may name one model type (bert, google-bert/bert-base-uncased): the
  // same file, written once. Two different texts for one file are a conflict.
  std::map<std::string, size_t> first_of;
  std::vector<bool> repeated(outputs.size(), false);
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto [it, fresh] = first_of.emplace(outputs[i].path, i);
    if (fresh) continue;
    if (outputs[it->second].text != outputs[i].text) {
      *err = "two different files would be written to '" + outputs[i].path + "'";
      return Written::kFailed;
    }
    repeated[i] = true;
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Output& output = outputs[i];
    if (repeated[i]) continue;
    std::error_code ec;
    auto status = std::filesystem::status(output.path, ec);
    if (!std::filesystem::exists(status)) continue;
    std::string on_disk;
    if (!std::filesystem::is_regular_file(status)) {
      *err = "cannot write '" + output.path + "': something other than a file is in the way";
      return Written::kFailed;
    }
    if (!files::read(output.path, &on_disk, err)) return Written::kFailed;
    (*changed)[i] = force || on_disk != output.text;
    if ((*changed)[i] && !force && !matches_own_digest(on_disk)) {
      *err = "refusing to overwrite '" + output.path +
             "': edited since it was generated (its digest no longer matches); --force overwrites it";
      return Written::kEdited;
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    if (repeated[i]) (*changed)[i] = (*changed)[first_of[outputs[i].path]];
  // A stop while staging removes the staged files (files::remove_temp_in_flight); the
  // renames are held together, so a stop lands before all of them or after.
  std::vector<std::string> staged(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    if ((*changed)[i] && !repeated[i] && !files::stage(outputs[i].path, outputs[i].text, &staged[i], err)) {
      for (const auto& tmp : staged)
        if (!tmp.empty()) files::discard(tmp);
      return Written::kFailed;
    }
  }
  files::HeldSignals held;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (staged[i].empty()) continue;
    if (!files::commit(staged[i], outputs[i].path, err)) {
      // Staged beside their targets, files rename without copying; a rename fails only
      // when something changed the directory meanwhile. The files renamed so far stay.
      for (size_t k = i + 1; k < outputs.size(); ++k)
        if (!staged[k].empty()) files::discard(staged[k]);
      return Written::kFailed;
    }
  }
  return Written::kAll;
}
