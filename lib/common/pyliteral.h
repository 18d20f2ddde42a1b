// The one way values from outside (model ids, config strings) enter generated code.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace pyliteral {

/// The deepest nesting of lists and dicts that code() writes. Python's parser refuses
/// about 200 nested brackets; no honest record comes near 32, and a value that does is
/// refused before anything is written.
constexpr int kMaxDepth = 32;

/// Where a literal stands in a line of code: the column of its first character, the
/// indentation of the line, and how many characters follow it on the line.
struct Place {
  size_t column = 0;
  size_t indent = 0;
  size_t tail = 0;
};

/// `value` as a Python literal (dict, list, str, int, float, True/False/None) laid out
/// as `ruff format` lays it out by default when it stands at `place`: on one line when
/// that fits in 88 columns, else one item per line, 4 spaces deeper, each with a
/// trailing comma (which keeps ruff from joining them again). A string is quoted in
/// double quotes unless single ones need fewer escapes (ruff's choice too), with every
/// character outside printable ASCII, and every backslash and its own quote, escaped:
/// no input can end the literal early. Fails for a value nested deeper than kMaxDepth.
bool code(const nlohmann::json& value, const Place& place, std::string* out, std::string* err);

/// `text` as a double-quoted Python string, escaped as code() escapes: safe in code and
/// inside a double-quoted docstring, where a single-quoted literal could end it.
std::string quoted(const std::string& text);

/// True when `name` is a plain Python identifier ([A-Za-z_][A-Za-z0-9_]*), the only
/// form in which a class name may appear bare in generated code.
bool is_identifier(const std::string& name);

/// True when `word` is a plain word of letters, digits, '.', '_' and '-' that is not
/// "." or ".." (task names, family names, version strings): safe in a docstring and as
/// a file name.
bool is_word(const std::string& word);

}  // namespace pyliteral
