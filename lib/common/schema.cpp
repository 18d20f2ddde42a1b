#include "common/schema.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <regex>
#include <string_view>

#include "common/files.h"
#include "common/json_parse.h"

namespace schema {
namespace {

// Constants, not std::string or std::set globals: schemas may be loaded during another
// unit's static initialisation (all_backends() at start-up), before those would exist.
constexpr std::string_view kSuffix = ".schema.json";

// Keywords that only annotate: read by people, never checked.
constexpr std::array<std::string_view, 8> kAnnotations = {"$schema", "$id",     "$defs",   "$comment",
                                                          "title",   "description", "default", "examples"};
// Keywords whose value is a schema, a list of schemas, or a map of schemas.
constexpr std::array<std::string_view, 6> kOneSchema = {"additionalProperties", "propertyNames", "items", "if", "then", "else"};
constexpr std::array<std::string_view, 3> kSchemaLists = {"allOf", "oneOf", "anyOf"};
constexpr std::array<std::string_view, 2> kSchemaMaps = {"properties", "$defs"};
// Keywords with a plain value.
constexpr std::array<std::string_view, 11> kPlain = {"$ref",     "type",     "const",     "enum",     "required",     "pattern",
                                                     "minimum",  "minLength", "minItems", "minProperties", "uniqueItems"};

template <size_t N>
bool in(const std::array<std::string_view, N>& list, const std::string& key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

bool ends_with_suffix(const std::string& name) {
  return name.size() > kSuffix.size() && name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "/" + key;
}

bool has_type(const nlohmann::json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "number") return value.is_number();
  if (type == "integer") return value.is_number_integer();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  return false;
}

// Whether `pattern` (ECMAScript, as JSON Schema's) finds a match in `text`; each pattern
// is compiled once.
bool matches(const std::string& pattern, const std::string& text) {
  static std::map<std::string, std::regex> compiled;
  auto it = compiled.find(pattern);
  if (it == compiled.end()) it = compiled.emplace(pattern, std::regex(pattern)).first;
  return std::regex_search(text, it->second);
}

// Code points of a UTF-8 string: bytes that do not continue a sequence.
size_t code_points(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

bool Set::load(const std::string& dir, std::string* err) {
  std::error_code ec;
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (ends_with_suffix(name)) paths.push_back(entry.path().string());
  }
  if (ec || paths.empty()) {
    *err = "cannot read the schemas in '" + dir + "'" + (ec ? ": " + ec.message() : "");
    return false;
  }
  for (const auto& path : paths) {
    std::string text, why;
    nlohmann::json doc;
    if (!files::read(path, &text, err)) return false;
    if (!parse_json(text, &doc, &why) || !doc.is_object()) {
      *err = "malformed schema '" + path + "'" + (why.empty() ? "" : ": " + why);
      return false;
    }
    std::string name = std::filesystem::path(path).filename().string();
    docs_[name.substr(0, name.size() - kSuffix.size())] = std::move(doc);
  }
  for (const auto& [name, doc] : docs_)
    if (!walk(doc, name, err)) {
      *err = "schema '" + name + "': " + *err;
      return false;
    }
  return true;
}

// Refuses keywords outside the subset and $refs that lead nowhere, so check() never
// meets either.
bool Set::walk(const nlohmann::json& node, const std::string& doc, std::string* err) const {
  if (node.is_boolean()) return true;
  if (!node.is_object()) {
    *err = "a schema that is not an object";
    return false;
  }
  for (const auto& [key, value] : node.items()) {
    bool ok = true;
    if (in(kOneSchema, key)) {
      ok = walk(value, doc, err);
    } else if (in(kSchemaLists, key)) {
      if (!value.is_array()) ok = false;
      for (const auto& item : value) ok = ok && walk(item, doc, err);
    } else if (in(kSchemaMaps, key)) {
      if (!value.is_object()) ok = false;
      for (const auto& [name, item] : value.items()) ok = ok && walk(item, doc, err);
    } else if (key == "$ref") {
      const std::string* target_doc = nullptr;
      if (!value.is_string() || !resolve(value, doc, &target_doc)) {
        *err = "unresolved $ref " + value.dump();
        return false;
      }
    } else if (!in(kPlain, key) && !in(kAnnotations, key)) {
      *err = "unsupported keyword '" + key + "'";
      return false;
    }
    if (!ok) {
      if (err->empty()) *err = "malformed '" + key + "'";
      return false;
    }
  }
  return true;
}

// "other.schema.json", "other.schema.json#/$defs/x" or "#/$defs/x" (within `doc`).
const nlohmann::json* Set::resolve(const std::string& ref, const std::string& doc,
                                   const std::string** target_doc) const {
  size_t hash = ref.find('#');
  std::string file = ref.substr(0, hash), pointer = hash == std::string::npos ? "" : ref.substr(hash + 1);
  std::string name = doc;
  if (!file.empty()) {
    if (!ends_with_suffix(file)) return nullptr;
    name = file.substr(0, file.size() - kSuffix.size());
  }
  auto it = docs_.find(name);
  if (it == docs_.end()) return nullptr;
  *target_doc = &it->first;
  try {
    const nlohmann::json& target = it->second.at(nlohmann::json::json_pointer(pointer));
    return &target;
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

bool Set::check(const std::string& name, const nlohmann::json& value, std::string* problem) const {
  auto it = docs_.find(name);
  if (it == docs_.end()) {
    *problem = "of the unknown schema '" + name + "'";
    return false;
  }
  return valid(it->second, value, Where{&it->first, ""}, problem);
}

bool Set::valid(const nlohmann::json& node, const nlohmann::json& value, const Where& where,
                std::string* problem) const {
  if (node.is_boolean()) {
    if (!node.get<bool>()) *problem = "with a malformed '" + where.path + "'";
    return node.get<bool>();
  }
  auto malformed = [&] {
    *problem = "with a malformed '" + (where.path.empty() ? std::string("<record>") : where.path) + "'";
    return false;
  };
  if (auto ref = node.find("$ref"); ref != node.end()) {
    const std::string* target_doc = nullptr;
    const nlohmann::json* target = resolve(*ref, *where.doc, &target_doc);  // walk() saw it resolve
    if (!valid(*target, value, Where{target_doc, where.path}, problem)) return false;
  }
  if (auto type = node.find("type"); type != node.end()) {
    bool ok = false;
    if (type->is_string()) ok = has_type(value, *type);
    else
      for (const auto& t : *type) ok = ok || has_type(value, t);
    if (!ok) return malformed();
  }
  if (auto c = node.find("const"); c != node.end() && value != *c) return malformed();
  if (auto e = node.find("enum"); e != node.end() && std::find(e->begin(), e->end(), value) == e->end())
    return malformed();
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (auto n = node.find("minLength"); n != node.end() && code_points(text) < n->get<size_t>()) return malformed();
    if (auto p = node.find("pattern"); p != node.end() && !matches(*p, text)) return malformed();
  }
  if (value.is_number())
    if (auto m = node.find("minimum"); m != node.end() && value.get<double>() < m->get<double>()) return malformed();
  if (value.is_array()) {
    if (auto n = node.find("minItems"); n != node.end() && value.size() < n->get<size_t>()) return malformed();
    if (node.value("uniqueItems", false))
      for (size_t i = 0; i < value.size(); ++i)
        for (size_t j = i + 1; j < value.size(); ++j)
          if (value[i] == value[j]) return malformed();
    if (auto items = node.find("items"); items != node.end())
      for (size_t i = 0; i < value.size(); ++i)
        if (!valid(*items, value[i], Where{where.doc, join(where.path, std::to_string(i))}, problem)) return false;
  }
  if (value.is_object()) {
    if (auto n = node.find("minProperties"); n != node.end() && value.size() < n->get<size_t>()) return malformed();
    for (const auto& key : node.value("required", nlohmann::json::array()))
      if (!value.contains(key.get<std::string>())) {
        *problem = "without '" + join(where.path, key) + "'";
        return false;
      }
    const nlohmann::json properties = node.value("properties", nlohmann::json::object());
    auto names = node.find("propertyNames");
    auto others = node.find("additionalProperties");
    for (const auto& [key, item] : value.items()) {
      Where inner{where.doc, join(where.path, key)};
      if (names != node.end() && !valid(*names, key, inner, problem)) return false;
      auto declared = properties.find(key);
      if (declared != properties.end()) {
        if (!valid(*declared, item, inner, problem)) return false;
      } else if (others != node.end() && !valid(*others, item, inner, problem)) {
        return false;
      }
    }
  }
  for (const char* key : {"allOf", "anyOf", "oneOf"}) {
    auto list = node.find(key);
    if (list == node.end()) continue;
    int passed = 0;
    std::string first;
    for (const auto& sub : *list) {
      std::string why;
      if (valid(sub, value, where, &why)) ++passed;
      else if (first.empty()) first = why;
    }
    bool ok = std::string(key) == "allOf" ? passed == static_cast<int>(list->size())
              : std::string(key) == "anyOf" ? passed > 0
                                            : passed == 1;
    if (!ok) {
      if (std::string(key) == "allOf") *problem = first;
      else return malformed();
      return false;
    }
  }
  if (auto condition = node.find("if"); condition != node.end()) {
    std::string ignored;
    auto branch = node.find(valid(*condition, value, where, &ignored) ? "then" : "else");
    if (branch != node.end() && !valid(*branch, value, where, problem)) return false;
  }
  return true;
}

std::vector<std::string> Set::enum_of(const std::string& name) const {
  std::vector<std::string> out;
  auto it = docs_.find(name);
  if (it != docs_.end())
    for (const auto& item : it->second.value("enum", nlohmann::json::array()))
      if (item.is_string()) out.push_back(item);
  return out;
}

std::vector<std::string> Set::properties_of(const std::string& name) const {
  std::vector<std::string> out;
  auto it = docs_.find(name);
  if (it != docs_.end())
    for (const auto& [key, ignored] : it->second["properties"].items()) out.push_back(key);
  return out;
}

const Set* project(std::string* err) {
  static std::string load_error;
  static const Set* loaded = [] {
    static Set set;
    return set.load(files::project_home() + "/schemas", &load_error) ? &set : nullptr;
  }();
  if (!loaded) *err = load_error;
  return loaded;
}

}  // namespace schema
