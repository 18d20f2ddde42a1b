#include "common/pyliteral.h"

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

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    char32_t cp = next_code_point(s, &i);
    char buf[16];
    if (cp == '"' || cp == '\\') {
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
  return out + "\"";
}

}  // namespace

std::string literal(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "None";
    case nlohmann::json::value_t::boolean:
      return value.get<bool>() ? "True" : "False";
    case nlohmann::json::value_t::string:
      return quote(value.get<std::string>());
    case nlohmann::json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < value.size(); ++i) out += (i ? ", " : "") + literal(value[i]);
      return out + "]";
    }
    case nlohmann::json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        out += (first ? "" : ", ") + quote(key) + ": " + literal(item);
        first = false;
      }
      return out + "}";
    }
    case nlohmann::json::value_t::number_float: {
      double d = value.get<double>();
      if (d != d) return "float(\"nan\")";
      if (d == d + 1 && d != 0) return d > 0 ? "float(\"inf\")" : "-float(\"inf\")";
      std::string s = value.dump();  // shortest round-trip form
      return s;
    }
    default:  // integers
      return value.dump();
  }
}

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
