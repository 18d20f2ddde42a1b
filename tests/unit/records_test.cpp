#include "common/records.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <sstream>

#include "temp_dir.h"

namespace {
// A test-plan record the schema accepts.
nlohmann::json plan(const std::string& model_type = "bert") {
  nlohmann::json p = records::make("test-plan");
  p.update({{"model_type", model_type}, {"ident", model_type}, {"family", "text-encoder"},
            {"task", "feature-extraction"}, {"tasks", {"feature-extraction"}},
            {"candidates", {{{"model_class", "BertModel"}, {"auto_class", "AutoModel"}, {"processor_class", "AutoTokenizer"}}}},
            {"backends", {"cpu"}}, {"tolerance", {{"rtol", 1e-4}, {"atol", 1e-5}}},
            {"test_file", "/t/test_hf_bert.py"}, {"skillset_file", "/s/hf_bert.py"}});
  return p;
}

bool read_text(const std::string& text, std::vector<nlohmann::json>* out, std::string* err) {
  std::istringstream in(text);
  return records::read(in, "in", {"test-plan"}, out, err);
}

std::string without(nlohmann::json record, const std::string& key) {
  record.erase(key);
  return record.dump();
}

std::string with(nlohmann::json record, const nlohmann::json::json_pointer& at, const nlohmann::json& value) {
  record[at] = value;
  return record.dump();
}
}  // namespace

TEST_CASE("read accepts records of the expected schema and skips blank lines") {
  std::vector<nlohmann::json> out;
  std::string err;
  nlohmann::json extra = plan("gpt2");
  extra["extra"] = 1;
  CHECK(read_text(plan().dump() + "\n\n" + extra.dump() + "\n", &out, &err));
  REQUIRE(out.size() == 2);
  CHECK(out[1]["model_type"] == "gpt2");
}

TEST_CASE("read names the line of malformed JSON") {
  std::vector<nlohmann::json> out;
  std::string err;
  CHECK_FALSE(read_text(plan().dump() + "\n{\"trunc", &out, &err));
  CHECK(err == "malformed JSON record at 'in:2'");
}

TEST_CASE("read refuses a record nested deeper than the limit") {
  std::vector<nlohmann::json> out;
  std::string err;
  std::string deep = plan().dump();
  deep.insert(deep.size() - 1, ",\"x\":" + std::string(20000, '[') + std::string(20000, ']'));
  CHECK_FALSE(read_text(deep, &out, &err));
  CHECK(err == "malformed JSON record at 'in:1' (nested deeper than 64 levels)");
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
  CHECK_FALSE(read_text(with(plan(), "/version"_json_pointer, 2), &out, &err));
  CHECK(err == "unsupported record version at 'in:1'");
  CHECK_FALSE(read_text(without(plan(), "model_type"), &out, &err));
  CHECK(err == "record without 'model_type' at 'in:1'");
  CHECK_FALSE(read_text(without(plan(), "tolerance"), &out, &err));
  CHECK(err == "record without 'tolerance' at 'in:1'");
}

TEST_CASE("read takes the types of fields from the schema, nested ones and shared definitions included") {
  std::vector<nlohmann::json> out;
  std::string err;
  CHECK_FALSE(read_text(with(plan(), "/ident"_json_pointer, {"bert"}), &out, &err));
  CHECK(err == "record with a malformed 'ident' at 'in:1'");
  CHECK_FALSE(read_text(with(plan(), "/model_type"_json_pointer, ""), &out, &err));
  CHECK(err == "record with a malformed 'model_type' at 'in:1'");
  CHECK_FALSE(read_text(with(plan(), "/backends/0"_json_pointer, "tpu"), &out, &err));
  CHECK(err == "record with a malformed 'backends/0' at 'in:1'");
  CHECK_FALSE(read_text(with(plan(), "/candidates/0/auto_class"_json_pointer, "not a name"), &out, &err));
  CHECK(err == "record with a malformed 'candidates/0/auto_class' at 'in:1'");
  nlohmann::json no_rtol = plan();
  no_rtol["tolerance"].erase("rtol");
  CHECK_FALSE(read_text(no_rtol.dump(), &out, &err));
  CHECK(err == "record without 'tolerance/rtol' at 'in:1'");
}

TEST_CASE("read_operands reads every file named, in order, and names one it cannot open") {
  TempDir dir;
  std::string a = dir.write("a.jsonl", plan("bert").dump() + "\n"), b = dir.write("b.jsonl", plan("gpt2").dump() + "\n");
  std::vector<nlohmann::json> out;
  std::string err;
  REQUIRE(records::read_operands({a, b}, {"test-plan"}, &out, &err));
  REQUIRE(out.size() == 2);
  CHECK(out[0]["model_type"] == "bert");
  CHECK(out[1]["model_type"] == "gpt2");
  CHECK_FALSE(records::read_operands({dir.path() + "/none.jsonl"}, {"test-plan"}, &out, &err));
  CHECK(err == "cannot open '" + dir.path() + "/none.jsonl'");
  CHECK_FALSE(records::read_operands({b, dir.write("c.jsonl", "{}\n")}, {"test-plan"}, &out, &err));
  CHECK(err == "record of the wrong schema at '" + dir.path() + "/c.jsonl:1' (expected test-plan)");
}

TEST_CASE("copy_identity copies the identity fields present and nothing else") {
  nlohmann::json to = records::make("requirements");
  nlohmann::json from = plan();
  from.erase("task");
  records::copy_identity(from, &to);
  CHECK(to["model_type"] == "bert");
  CHECK(to["tasks"] == nlohmann::json{"feature-extraction"});
  CHECK(to["test_file"] == "/t/test_hf_bert.py");
  CHECK_FALSE(to.contains("task"));
  CHECK_FALSE(to.contains("candidates"));
  CHECK(to["schema"] == "requirements");
}

TEST_CASE("line writes sorted compact JSON ending in a newline") {
  CHECK(records::line(nlohmann::json{{"b", 1}, {"a", "x"}}) == "{\"a\":\"x\",\"b\":1}\n");
}
