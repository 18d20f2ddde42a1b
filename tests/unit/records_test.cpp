#include "common/records.h"

#include <doctest/doctest.h>

#include <sstream>

namespace {
bool read_text(const std::string& text, std::vector<nlohmann::json>* out, std::string* err) {
  std::istringstream in(text);
  return records::read(in, "in", {"test-plan"}, {"model_type"}, out, err);
}
}  // namespace

TEST_CASE("read accepts records of the expected schema and skips blank lines") {
  std::vector<nlohmann::json> out;
  std::string err;
  CHECK(read_text(R"({"schema":"test-plan","version":1,"model_type":"bert"})"
                  "\n\n"
                  R"({"schema":"test-plan","version":1,"model_type":"gpt2","extra":1})"
                  "\n",
                  &out, &err));
  REQUIRE(out.size() == 2);
  CHECK(out[1]["model_type"] == "gpt2");
}

TEST_CASE("read names the line of malformed JSON") {
  std::vector<nlohmann::json> out;
  std::string err;
  CHECK_FALSE(read_text("{\"schema\":\"test-plan\",\"version\":1,\"model_type\":\"a\"}\n{\"trunc", &out, &err));
  CHECK(err == "malformed JSON record at 'in:2'");
}

TEST_CASE("read refuses a record of another schema") {
  std::vector<nlohmann::json> out;
  std::string err;
  CHECK_FALSE(read_text(R"({"schema":"test-result","version":1,"model_type":"bert"})", &out, &err));
  CHECK(err.find("wrong schema at 'in:1'") != std::string::npos);
}

TEST_CASE("read refuses another version and missing required fields") {
  std::vector<nlohmann::json> out;
  std::string err;
  CHECK_FALSE(read_text(R"({"schema":"test-plan","version":2,"model_type":"bert"})", &out, &err));
  CHECK(err == "unsupported record version at 'in:1'");
  CHECK_FALSE(read_text(R"({"schema":"test-plan","version":1})", &out, &err));
  CHECK(err == "record without 'model_type' at 'in:1'");
}

TEST_CASE("line writes sorted compact JSON ending in a newline") {
  CHECK(records::line(nlohmann::json{{"b", 1}, {"a", "x"}}) == "{\"a\":\"x\",\"b\":1}\n");
}
