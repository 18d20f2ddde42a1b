#include "common/pyliteral.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

TEST_CASE("literal writes JSON scalars as Python literals") {
  CHECK(pyliteral::literal(nullptr) == "None");
  CHECK(pyliteral::literal(true) == "True");
  CHECK(pyliteral::literal(false) == "False");
  CHECK(pyliteral::literal(42) == "42");
  CHECK(pyliteral::literal(1e-05) == "1e-05");
}

TEST_CASE("literal writes nested containers with sorted keys") {
  auto value = nlohmann::json::parse(R"({"b": [1, "x"], "a": {"c": null}})");
  CHECK(pyliteral::literal(value) == R"({"a": {"c": None}, "b": [1, "x"]})");
}

TEST_CASE("literal escapes quotes, backslashes and newlines so a string cannot end early") {
  std::string hostile = "bert\"\"\"\nimport os; os.system('x')\\";
  CHECK(pyliteral::literal(hostile) == R"("bert\"\"\"\x0aimport os; os.system('x')\\")");
}

TEST_CASE("literal escapes every character outside printable ASCII") {
  CHECK(pyliteral::literal("caf\xc3\xa9") == R"("caf\xe9")");
  CHECK(pyliteral::literal("\xe2\x80\xa8") == R"("\u2028")");
  CHECK(pyliteral::literal("\xf0\x9f\x98\x80") == R"("\U0001f600")");
  CHECK(pyliteral::literal(std::string("a\0b", 3)) == R"("a\x00b")");
}

TEST_CASE("literal replaces invalid UTF-8 with U+FFFD") {
  CHECK(pyliteral::literal("\xff") == R"("\ufffd")");
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
