#include "common/records.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "common/json_parse.h"
#include "common/schema.h"

namespace records {

nlohmann::json make(const std::string& schema) {
  return nlohmann::json{{"schema", schema}, {"version", kVersion}};
}

bool read(std::istream& in, const std::string& source, const std::vector<std::string>& schemas,
          std::vector<nlohmann::json>* out, std::string* err) {
  const schema::Set* formats = schema::project(err);
  if (!formats) return false;
  std::string text;
  size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = source + ":" + std::to_string(number), why;
    nlohmann::json record;
    if (!parse_json(text, &record, &why) || !record.is_object()) {
      bool deep = why.rfind("nested", 0) == 0;
      *err = "malformed JSON record at '" + where + "'" + (deep ? " (" + why + ")" : "");
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
    if (!formats->check(*schema, record, &why)) {
      *err = "record " + why + " at '" + where + "'";
      return false;
    }
    out->push_back(std::move(record));
  }
  if (in.bad()) {
    *err = "cannot read '" + source + "'";
    return false;
  }
  return true;
}

bool read_operands(const std::vector<std::string>& operands, const std::vector<std::string>& schemas,
                   std::vector<nlohmann::json>* out, std::string* err) {
  for (const auto& source : operands.empty() ? std::vector<std::string>{"-"} : operands) {
    if (source == "-") {
      if (::isatty(STDIN_FILENO)) {
        *err = "no input: pipe records in or name record files (try --help)";
        return false;
      }
      if (!read(std::cin, "<stdin>", schemas, out, err)) return false;
      continue;
    }
    std::ifstream in(source);
    if (!in) {
      *err = "cannot open '" + source + "'";
      return false;
    }
    if (!read(in, source, schemas, out, err)) return false;
  }
  return true;
}

void copy_identity(const nlohmann::json& from, nlohmann::json* to) {
  static const std::vector<std::string> fields = [] {
    std::string ignored;
    const schema::Set* formats = schema::project(&ignored);
    return formats ? formats->properties_of("identity") : std::vector<std::string>{};
  }();
  for (const auto& key : fields)
    if (auto it = from.find(key); it != from.end()) (*to)[key] = *it;
}

std::string line(const nlohmann::json& record) {
  // nlohmann's default object type is a std::map: keys come out sorted.
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace records
