#include "common/registry.h"

#include <algorithm>

#include "common/files.h"
#include "common/json_parse.h"

bool Registry::load(const std::string& path, std::string* err) {
  std::string text;
  if (!files::read(path, &text, err)) return false;
  std::string why;
  if (!parse_json(text, &doc_, &why) || !doc_.is_object() || doc_.value("schema", "") != "registry" ||
      !doc_.contains("models") || !doc_["models"].is_object() || !doc_.contains("families") ||
      !doc_.contains("tasks") || !doc_.contains("transformers_version") || !doc_.contains("precisions") ||
      !doc_["precisions"].is_object()) {
    *err = "malformed registry '" + path + "'";
    return false;
  }
  return true;
}

const nlohmann::json* Registry::find(const std::string& model_type) const {
  const auto& models = doc_["models"];
  auto it = models.find(model_type);
  return it == models.end() ? nullptr : &*it;
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string Registry::suggest(const std::string& name) const {
  std::string best;
  size_t best_distance = std::max<size_t>(2, name.size() / 3) + 1;
  for (const auto& [type, entry] : doc_["models"].items()) {
    size_t d = edit_distance(name, type);
    if (d < best_distance) {
      best_distance = d;
      best = type;
    }
  }
  return best;
}

std::string Registry::type_of_architecture(const std::string& class_name) const {
  // build_registry.py decides between types that list the same class (gpt-sw3 and gpt2
  // both list GPT2LMHeadModel); a registry without the table knows no architecture.
  auto table = doc_.find("architectures");
  if (table == doc_.end() || !table->is_object()) return "";
  auto it = table->find(class_name);
  return it != table->end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> Registry::model_types() const {
  std::vector<std::string> types;
  for (const auto& [type, entry] : doc_["models"].items()) types.push_back(type);
  return types;  // json objects iterate in key order
}

std::string ident_of(const std::string& model_type) {
  std::string ident = model_type;
  std::replace(ident.begin(), ident.end(), '-', '_');
  std::replace(ident.begin(), ident.end(), '.', '_');
  return ident;
}
