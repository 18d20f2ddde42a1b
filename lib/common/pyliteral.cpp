#include "common/pyliteral.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace pyliteral {
namespace {

// Decodes one UTF-8 code point starting at s[*i]; invalid bytes come back as U+FFFD.
char32_t next_code_point(const std::string& s, size_t* i) {
  unsigned char c = s[(*i)++];
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  if (c >= 0x80 && extra == 0) return 0xFFFD;
  char32_t cp = extra == 0 ? c : c & (0x3F >> extra);
  for (int k = 0; k < extra; ++k) {
    if (*i >= s.size() || (static_cast<unsigned char>(s[*i]) & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (static_cast<unsigned char>(s[(*i)++]) & 0x3F);
  }
  return cp;
}

// `s` as a Python string in `quote` quotes.
std::string quote(const std::string& s, char quote) {
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    char32_t cp = next_code_point(s, &i);
    char buf[16];
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp >= 0x20 && cp < 0x7F) {
      out += static_cast<char>(cp);
    } else if (cp < 0x100) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      out += buf;
    } else if (cp < 0x10000) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
      out += buf;
    }
  }
  return out + quote;
}

// Double quotes unless the string holds more of them than of single ones: ruff
// format's choice, so that it leaves our strings as they are.
std::string code_string(const std::string& s) {
  auto doubles = std::count(s.begin(), s.end(), '"'), singles = std::count(s.begin(), s.end(), '\'');
  return quote(s, doubles > singles ? '\'' : '"');
}

std::string number(const nlohmann::json& value) {
  if (!value.is_number_float()) return value.dump();
  double d = value.get<double>();
  if (std::isnan(d)) return "float(\"nan\")";
  if (std::isinf(d)) return d > 0 ? "float(\"inf\")" : "-float(\"inf\")";
  std::string s = value.dump();  // the shortest form that reads back as the same double
  // ruff writes exponents without a plus sign (1e+20 as 1e20).
  if (size_t plus = s.find("e+"); plus != std::string::npos) s.erase(plus + 1, 1);
  return s;
}

// `value` on one line; `depth` counts the containers around it, itself included.
bool one_line(const nlohmann::json& value, int depth, std::string* out, std::string* err) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      *out += "None";
      return true;
    case nlohmann::json::value_t::boolean:
      *out += value.get<bool>() ? "True" : "False";
      return true;
    case nlohmann::json::value_t::string:
      *out += code_string(value.get<std::string>());
      return true;
    case nlohmann::json::value_t::array:
    case nlohmann::json::value_t::object:
      break;
    default:
      *out += number(value);
      return true;
  }
  if (depth > kMaxDepth) {
    *err = "a value nested deeper than " + std::to_string(kMaxDepth) + " levels cannot be written into code";
    return false;
  }
  bool is_object = value.is_object(), first = true;
  *out += is_object ? "{" : "[";
  for (const auto& [key, item] : value.items()) {
    *out += first ? "" : ", ";
    if (is_object) *out += code_string(key) + ": ";
    if (!one_line(item, depth + 1, out, err)) return false;
    first = false;
  }
  *out += is_object ? "}" : "]";
  return true;
}

constexpr size_t kLineWidth = 88, kIndentWidth = 4;

bool laid_out(const nlohmann::json& value, int depth, const Place& place, std::string* out,
              std::string* err) {
  std::string line;
  if (!one_line(value, depth, &line, err)) return false;
  if (!value.is_structured() || value.empty() || place.column + line.size() + place.tail <= kLineWidth) {
    *out += line;
    return true;
  }
  bool is_object = value.is_object();
  const std::string indent(place.indent + kIndentWidth, ' ');
  *out += is_object ? "{\n" : "[\n";
  for (const auto& [key, item] : value.items()) {
    std::string head = indent + (is_object ? code_string(key) + ": " : "");
    *out += head;
    if (!laid_out(item, depth + 1, {head.size(), indent.size(), 1}, out, err)) return false;
    *out += ",\n";
  }
  *out += std::string(place.indent, ' ') + (is_object ? "}" : "]");
  return true;
}

}  // namespace

bool code(const nlohmann::json& value, const Place& place, std::string* out, std::string* err) {
  std::string text;
  if (!laid_out(value, 1, place, &text, err)) return false;
  *out = std::move(text);
  return true;
}

std::string quoted(const std::string& text) { return quote(text, '"'); }

bool is_identifier(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool is_word(const std::string& word) {
  if (word.empty() || word == "." || word == "..") return false;
  for (char c : word) {
    bool ok = c == '_' || c == '-' || c == '.' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace pyliteral
