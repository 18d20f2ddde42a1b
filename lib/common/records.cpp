#include "common/records.h"

#include <algorithm>

namespace records {
namespace {

// The type a required field must have: the few structured ones by name, strings else.
bool has_expected_type(const std::string& field, const nlohmann::json& value) {
  if (field == "reference" || field == "requirements") return value.is_object();
  if (field == "backends") return value.is_array() || value.is_object();
  if (field == "candidates" || field == "tasks") return value.is_array();
  return value.is_string() && !value.get_ref<const std::string&>().empty();
}

}  // namespace

nlohmann::json make(const std::string& schema) {
  return nlohmann::json{{"schema", schema}, {"version", kVersion}};
}

bool read(std::istream& in, const std::string& source, const std::vector<std::string>& schemas,
          const std::vector<std::string>& required, std::vector<nlohmann::json>* out,
          std::string* err) {
  std::string text;
  size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = source + ":" + std::to_string(number);
    nlohmann::json record = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded() || !record.is_object()) {
      *err = "malformed JSON record at '" + where + "'";
      return false;
    }
    auto schema = record.find("schema");
    if (schema == record.end() || !schema->is_string() ||
        std::find(schemas.begin(), schemas.end(), schema->get<std::string>()) == schemas.end()) {
      std::string expected;
      for (const auto& s : schemas) expected += (expected.empty() ? "" : " or ") + s;
      *err = "record of the wrong schema at '" + where + "' (expected " + expected + ")";
      return false;
    }
    auto version = record.find("version");
    if (version == record.end() || !version->is_number_integer() || *version != kVersion) {
      *err = "unsupported record version at '" + where + "'";
      return false;
    }
    for (const auto& field : required) {
      auto value = record.find(field);
      if (value == record.end()) {
        *err = "record without '" + field + "' at '" + where + "'";
        return false;
      }
      if (!has_expected_type(field, *value)) {
        *err = "record with a malformed '" + field + "' at '" + where + "'";
        return false;
      }
    }
    out->push_back(std::move(record));
  }
  if (in.bad()) {
    *err = "cannot read '" + source + "'";
    return false;
  }
  return true;
}

std::string line(const nlohmann::json& record) {
  // nlohmann's default object type is a std::map: keys come out sorted.
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace records
