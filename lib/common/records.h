// JSON Lines records between the tools: reading them strictly against schemas/, writing
// them canonically.
#pragma once

#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace records {

constexpr int kVersion = 1;  ///< the version every record this build writes carries

/// A fresh record of `schema`, with its name and version set.
nlohmann::json make(const std::string& schema);

/// Reads every line of `in` (blank lines skipped) as a record of one of `schemas`, each
/// valid against its schemas/<name>.schema.json (schema::project()). Fails on the first
/// bad line, naming `source` and the line number; reads everything before returning, so
/// callers can refuse bad input before writing anything.
bool read(std::istream& in, const std::string& source, const std::vector<std::string>& schemas,
          std::vector<nlohmann::json>* out, std::string* err);

/// read() over `operands`: files, or stdin for none or "-" (refused when it is a
/// terminal: nobody types JSON Lines).
bool read_operands(const std::vector<std::string>& operands, const std::vector<std::string>& schemas,
                   std::vector<nlohmann::json>* out, std::string* err);

/// Copies the identity fields (schemas/identity.schema.json) that `from` has into `*to`.
void copy_identity(const nlohmann::json& from, nlohmann::json* to);

/// `record` as one line: compact, keys sorted, UTF-8, ending in a newline.
std::string line(const nlohmann::json& record);

}  // namespace records
