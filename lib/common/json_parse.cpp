#include "common/json_parse.h"

namespace {

// The deepest nesting of arrays and objects in `text`, counting brackets outside strings
// (stops counting past `limit`).
int nesting_depth(const std::string& text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

bool parse_json(const std::string& text, nlohmann::json* out, std::string* err) {
  if (nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    *err = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  try {
    *out = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann says "[json.exception.parse_error.101] parse error at line 3, column 5: ...".
    std::string what = e.what();
    size_t at = what.find("at line ");
    *err = at == std::string::npos ? what : what.substr(at);
    return false;
  }
  return true;
}
