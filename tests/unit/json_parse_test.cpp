#include "common/json_parse.h"

#include <doctest/doctest.h>

namespace {
std::string nested(int levels) { return std::string(levels, '[') + std::string(levels, ']'); }
}  // namespace

TEST_CASE("parse_json reads a document and names the place of a syntax error") {
  nlohmann::json value;
  std::string err;
  CHECK(parse_json(R"({"a": [1, {"b": "[[[["}]})", &value, &err));
  CHECK(value["a"][1]["b"] == "[[[[");
  CHECK_FALSE(parse_json("{\"a\":\n  tru}", &value, &err));
  CHECK(err.rfind("at line 2, column ", 0) == 0);
}

TEST_CASE("parse_json accepts 64 levels of nesting and refuses 65 before building anything") {
  nlohmann::json value;
  std::string err;
  CHECK(parse_json(nested(kMaxJsonDepth), &value, &err));
  CHECK_FALSE(parse_json(nested(kMaxJsonDepth + 1), &value, &err));
  CHECK(err == "nested deeper than 64 levels");
  CHECK_FALSE(parse_json(nested(20000), &value, &err));
  CHECK(err == "nested deeper than 64 levels");
}

TEST_CASE("parse_json does not count brackets inside strings, escaped quotes included") {
  nlohmann::json value;
  std::string err;
  std::string text = "[\"\\\"" + std::string(100, '{') + "\"]";
  CHECK(parse_json(text, &value, &err));
}
