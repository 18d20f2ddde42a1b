// The one way values from outside (model ids, config strings) enter generated code.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace pyliteral {

/// `value` as a Python literal (dict, list, str, int, float, True/False/None). Strings
/// are double-quoted with every character outside printable ASCII, and every quote and
/// backslash, escaped: no input can end the literal early.
std::string literal(const nlohmann::json& value);

/// True when `name` is a plain Python identifier ([A-Za-z_][A-Za-z0-9_]*), the only
/// form in which a class name may appear bare in generated code.
bool is_identifier(const std::string& name);

/// True when `word` is a plain word of letters, digits, '.', '_' and '-' that is not
/// "." or ".." (task names, family names, version strings): safe in a docstring and as
/// a file name.
bool is_word(const std::string& word);

}  // namespace pyliteral
