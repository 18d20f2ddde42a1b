// schemas/ read at run time: the one place the record formats are written down. A small
// reader of the subset of JSON Schema (draft 2020-12) the project's schemas use; a
// schema with any other keyword is refused when it is loaded, never half-checked.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace schema {

/// Every schemas/<name>.schema.json of one directory, by name ("test-plan", "backend").
class Set {
 public:
  /// Loads every *.schema.json of `dir`; fails on a file that does not parse, uses a
  /// keyword outside the subset, or refers ($ref) to a schema or definition not there.
  bool load(const std::string& dir, std::string* err);

  bool has(const std::string& name) const { return docs_.count(name) > 0; }

  /// Checks `value` against schema `name`. On failure `*problem` says what, naming the
  /// first offending field by its path: "without 'reference/status'" for a missing
  /// required field, "with a malformed 'ident'" for any other violation.
  bool check(const std::string& name, const nlohmann::json& value, std::string* problem) const;

  /// The strings of schema `name`'s top-level "enum" (the backend list).
  std::vector<std::string> enum_of(const std::string& name) const;

  /// The names of schema `name`'s top-level "properties" (the identity fields).
  std::vector<std::string> properties_of(const std::string& name) const;

 private:
  struct Where {
    const std::string* doc;  // the schema file a $ref without a file refers into
    std::string path;        // the field being checked, "a/b/0"
  };
  bool valid(const nlohmann::json& node, const nlohmann::json& value, const Where& where,
             std::string* problem) const;
  const nlohmann::json* resolve(const std::string& ref, const std::string& doc,
                                const std::string** target_doc) const;
  bool walk(const nlohmann::json& node, const std::string& doc, std::string* err) const;

  std::map<std::string, nlohmann::json> docs_;
};

/// The project's schemas (files::project_home()/schemas), loaded once; nullptr with
/// `*err` when they cannot be read.
const Set* project(std::string* err);

}  // namespace schema
