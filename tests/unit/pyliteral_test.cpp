#include "common/pyliteral.h"

#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace {

// `value` as code at the start of a line of its own.
std::string code(const nlohmann::json& value, pyliteral::Place place = {}) {
  std::string out, err;
  REQUIRE(pyliteral::code(value, place, &out, &err));
  return out;
}

nlohmann::json nested(int depth) {
  nlohmann::json value = 1;
  for (int i = 0; i < depth; ++i) value = nlohmann::json{{"a", value}};
  return value;
}

}  // namespace

TEST_CASE("code writes JSON scalars as Python literals") {
  CHECK(code(nullptr) == "None");
  CHECK(code(true) == "True");
  CHECK(code(false) == "False");
  CHECK(code(42) == "42");
  CHECK(code(1e-05) == "1e-05");
  CHECK(code(-0.0) == "-0.0");
}

TEST_CASE("code writes floats of 2^53 and beyond as themselves, not as infinity") {
  CHECK(code(9007199254740992.0) == "9.007199254740992e15");
  CHECK(code(-1.152921504606847e+18) == "-1.152921504606847e18");
  CHECK(code(1.5e300) == "1.5e300");
  CHECK(code(std::numeric_limits<double>::max()) == "1.7976931348623157e308");
  CHECK(code(std::numeric_limits<double>::infinity()) == "float(\"inf\")");
  CHECK(code(-std::numeric_limits<double>::infinity()) == "-float(\"inf\")");
  CHECK(code(std::nan("")) == "float(\"nan\")");
}

TEST_CASE("code writes nested containers with sorted keys") {
  auto value = nlohmann::json::parse(R"({"b": [1, "x"], "a": {"c": null}})");
  CHECK(code(value) == R"({"a": {"c": None}, "b": [1, "x"]})");
}

TEST_CASE("code escapes quotes, backslashes and newlines so a string cannot end early") {
  std::string hostile = "bert\"\"\"\nimport os; os.system('x')\\";
  CHECK(code(hostile) == R"('bert"""\x0aimport os; os.system(\'x\')\\')");
  CHECK(code("it's") == R"("it's")");
  CHECK(code("a\"b'c") == R"("a\"b'c")");
}

TEST_CASE("code escapes every character outside printable ASCII") {
  CHECK(code("caf\xc3\xa9") == R"("caf\xe9")");
  CHECK(code("\xe2\x80\xa8") == R"("\u2028")");
  CHECK(code("\xf0\x9f\x98\x80") == R"("\U0001f600")");
  CHECK(code(std::string("a\0b", 3)) == R"("a\x00b")");
}

TEST_CASE("code replaces invalid UTF-8 with U+FFFD") { CHECK(code("\xff") == R"("\ufffd")"); }

TEST_CASE("code keeps a value on one line while the line fits in 88 columns") {
  nlohmann::json value = {{"key", std::string(70, 'v')}};  // {"key": "vvv..."} is 81 wide
  CHECK(code(value, {7, 0, 0}) == code(value));
  CHECK(code(value, {7, 0, 1}).find('\n') != std::string::npos);
}

TEST_CASE("code puts each item of a value too long for its line on a line of its own") {
  nlohmann::json value = nlohmann::json::parse(R"({"a": [1, 2], "b": {"c": ")" + std::string(90, 'x') +
                                               R"("}, "d": []})");
  CHECK(code(value, {7, 0, 0}) ==
        "{\n"
        "    \"a\": [1, 2],\n"
        "    \"b\": {\n"
        "        \"c\": \"" + std::string(90, 'x') + "\",\n"
        "    },\n"
        "    \"d\": [],\n"
        "}");
}

TEST_CASE("code indents the items of a value that stands in an indented line") {
  nlohmann::json value = {std::string(80, 'x')};
  CHECK(code(value, {12, 8, 0}) == "[\n            \"" + std::string(80, 'x') + "\",\n        ]");
}

TEST_CASE("code refuses a value nested deeper than kMaxDepth") {
  std::string out, err;
  CHECK(pyliteral::code(nested(pyliteral::kMaxDepth), {}, &out, &err));
  CHECK_FALSE(pyliteral::code(nested(pyliteral::kMaxDepth + 1), {}, &out, &err));
  CHECK(err.find(std::to_string(pyliteral::kMaxDepth)) != std::string::npos);
  CHECK_FALSE(pyliteral::code(nested(300), {}, &out, &err));
}

TEST_CASE("quoted always uses double quotes, safe inside a docstring") {
  CHECK(pyliteral::quoted("bert\"\"\"x") == R"("bert\"\"\"x")");
  CHECK(pyliteral::quoted("a\nb") == R"("a\x0ab")");
}

TEST_CASE("is_identifier accepts only plain Python identifiers") {
  CHECK(pyliteral::is_identifier("BertModel"));
  CHECK(pyliteral::is_identifier("_x1"));
  CHECK_FALSE(pyliteral::is_identifier(""));
  CHECK_FALSE(pyliteral::is_identifier("1x"));
  CHECK_FALSE(pyliteral::is_identifier("Bert.Model"));
  CHECK_FALSE(pyliteral::is_identifier("os.system('x')"));
}

TEST_CASE("is_word rejects path escapes and quotes") {
  CHECK(pyliteral::is_word("text-encoder"));
  CHECK(pyliteral::is_word("5.23.0"));
  CHECK_FALSE(pyliteral::is_word(".."));
  CHECK_FALSE(pyliteral::is_word("../x"));
  CHECK_FALSE(pyliteral::is_word("a\"b"));
}
