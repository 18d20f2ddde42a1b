// JSON Lines records between the tools: reading them strictly, writing them canonically.
#pragma once

#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace records {

constexpr int kVersion = 1;  ///< the version every record this build writes carries

/// A fresh record of `schema`, with its name and version set.
nlohmann::json make(const std::string& schema);

/// Reads every line of `in` (blank lines skipped) as a record of one of `schemas`,
/// with the fields in `required` present and well-typed (`reference` and `requirements`
/// objects, `backends` an array or object, `candidates` and `tasks` arrays, any other a
/// non-empty string). Fails on the first malformed line, naming
/// `source` and the line number; reads everything before returning, so callers can
/// refuse bad input before writing anything.
bool read(std::istream& in, const std::string& source, const std::vector<std::string>& schemas,
          const std::vector<std::string>& required, std::vector<nlohmann::json>* out,
          std::string* err);

/// `record` as one line: compact, keys sorted, UTF-8, ending in a newline.
std::string line(const nlohmann::json& record);

}  // namespace records
