// data/registry.json: every model type of the pinned transformers, with its family,
// tasks and processors (written by scripts/build_registry.py).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

class Registry {
 public:
  /// Loads and checks the registry file at `path`.
  bool load(const std::string& path, std::string* err);

  /// The entry of `model_type`, or nullptr when there is none.
  const nlohmann::json* find(const std::string& model_type) const;

  /// The known model type closest to `name` by edit distance, or "" when none is close.
  std::string suggest(const std::string& name) const;

  /// The model type a config.json naming `class_name` in `architectures` (and no
  /// `model_type`) is read as, from the registry's `architectures` table; or "".
  std::string type_of_architecture(const std::string& class_name) const;

  /// Every model type, sorted.
  std::vector<std::string> model_types() const;

  const nlohmann::json& families() const { return doc_["families"]; }
  const nlohmann::json& tasks() const { return doc_["tasks"]; }
  /// The tolerance of each precision but fp32 (data/families.json's "precisions").
  const nlohmann::json& precisions() const { return doc_["precisions"]; }
  std::string transformers_version() const { return doc_["transformers_version"]; }

 private:
  nlohmann::json doc_;
};

/// The Python identifier form of a model type: `-` and `.` become `_`.
std::string ident_of(const std::string& model_type);
