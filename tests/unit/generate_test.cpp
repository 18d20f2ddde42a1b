#include "common/generate.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "common/digest.h"
#include "common/files.h"
#include "temp_dir.h"

namespace {

// What render_* puts out: a text behind the digest line of it.
Output generated(const std::string& path, const std::string& body) {
  return {path, "# @generated sha256:" + digest::sha256_hex(body) + "\n" + body};
}

std::string read(const std::string& path) {
  std::string text, err;
  REQUIRE(files::read(path, &text, &err));
  return text;
}

size_t entries(const std::string& dir) {
  size_t count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) count += !entry.path().empty();
  return count;
}

}  // namespace

TEST_CASE("write_outputs writes every output and tells which it wrote") {
  TempDir dir;
  std::vector<bool> changed;
  std::string err;
  std::vector<Output> outputs = {generated(dir.path() + "/a.py", "a\n"), generated(dir.path() + "/sub/b.py", "b\n")};
  REQUIRE(write_outputs(outputs, false, &changed, &err) == Written::kAll);
  CHECK(changed == std::vector<bool>{true, true});
  CHECK(read(outputs[1].path) == outputs[1].text);
}

TEST_CASE("write_outputs leaves a file that already holds its output untouched unless forced") {
  TempDir dir;
  std::vector<bool> changed;
  std::string err;
  std::vector<Output> outputs = {generated(dir.path() + "/a.py", "a\n")};
  REQUIRE(write_outputs(outputs, false, &changed, &err) == Written::kAll);
  auto old = std::filesystem::file_time_type::clock::now() - std::chrono::hours(24);
  std::filesystem::last_write_time(outputs[0].path, old);
  REQUIRE(write_outputs(outputs, false, &changed, &err) == Written::kAll);
  CHECK(changed == std::vector<bool>{false});
  CHECK(std::filesystem::last_write_time(outputs[0].path) == old);
  REQUIRE(write_outputs(outputs, true, &changed, &err) == Written::kAll);
  CHECK(changed == std::vector<bool>{true});
  CHECK(std::filesystem::last_write_time(outputs[0].path) != old);
}

TEST_CASE("write_outputs replaces a generated file whose digest still matches") {
  TempDir dir;
  std::vector<bool> changed;
  std::string err;
  REQUIRE(write_outputs({generated(dir.path() + "/a.py", "old\n")}, false, &changed, &err) == Written::kAll);
  REQUIRE(write_outputs({generated(dir.path() + "/a.py", "new\n")}, false, &changed, &err) == Written::kAll);
  CHECK(read(dir.path() + "/a.py") == generated("", "new\n").text);
}

TEST_CASE("write_outputs refuses, writing nothing, when a file was edited since it was generated") {
  TempDir dir;
  std::vector<bool> changed;
  std::string err;
  std::string edited = generated("", "old\n").text + "# an edit\n";
  dir.write("a.py", edited);
  std::vector<Output> outputs = {generated(dir.path() + "/b.py", "b\n"), generated(dir.path() + "/a.py", "new\n")};
  CHECK(write_outputs(outputs, false, &changed, &err) == Written::kEdited);
  CHECK(err.find("'" + dir.path() + "/a.py'") != std::string::npos);
  CHECK(read(dir.path() + "/a.py") == edited);
  CHECK_FALSE(files::exists(dir.path() + "/b.py"));
  REQUIRE(write_outputs(outputs, true, &changed, &err) == Written::kAll);
  CHECK(read(dir.path() + "/a.py") == outputs[1].text);
}

TEST_CASE("write_outputs refuses to overwrite a file it did not generate") {
  TempDir dir;
  std::vector<bool> changed;
  std::string err;
  dir.write("a.py", "# by hand\n");
  CHECK(write_outputs({generated(dir.path() + "/a.py", "new\n")}, false, &changed, &err) == Written::kEdited);
  CHECK(read(dir.path() + "/a.py") == "# by hand\n");
}

TEST_CASE("write_outputs writes nothing and leaves no temporary file when one output cannot be written") {
  TempDir dir;
  std::vector<bool> changed;
  std::string err;
  dir.write("blocker", "a file where a directory should be");
  std::vector<Output> outputs = {generated(dir.path() + "/out/a.py", "a\n"),
                                 generated(dir.path() + "/blocker/b.py", "b\n")};
  CHECK(write_outputs(outputs, false, &changed, &err) == Written::kFailed);
  CHECK(err.find("blocker") != std::string::npos);
  CHECK(entries(dir.path()) == 2);  // blocker, and out/ created while staging
  CHECK_FALSE(files::exists(dir.path() + "/out/a.py"));
}

TEST_CASE("write_outputs fails before writing when a directory stands where a file goes") {
  TempDir dir;
  std::vector<bool> changed;
  std::string err;
  std::filesystem::create_directories(dir.path() + "/b.py");
  std::vector<Output> outputs = {generated(dir.path() + "/a.py", "a\n"), generated(dir.path() + "/b.py", "b\n")};
  CHECK(write_outputs(outputs, true, &changed, &err) == Written::kFailed);
  CHECK(err.find("b.py") != std::string::npos);
  CHECK_FALSE(files::exists(dir.path() + "/a.py"));
}

TEST_CASE("write_outputs writes the same output twice as one file and refuses two texts for one file") {
  TempDir dir;
  std::vector<bool> changed;
  std::string err;
  Output a = generated(dir.path() + "/a.py", "a\n");
  REQUIRE(write_outputs({a, a}, false, &changed, &err) == Written::kAll);
  CHECK(changed == std::vector<bool>{true, true});
  REQUIRE(write_outputs({a, a}, false, &changed, &err) == Written::kAll);
  CHECK(changed == std::vector<bool>{false, false});
  CHECK(write_outputs({a, generated(a.path, "other\n")}, false, &changed, &err) == Written::kFailed);
  CHECK(err.find("'" + a.path + "'") != std::string::npos);
  CHECK(read(a.path) == a.text);
}

TEST_CASE("requirements_from_plan keep the family's default batch policy, the plan's first") {
  nlohmann::json plan = {{"model_type", "bert"}, {"ident", "bert"}, {"family", "text-encoder"},
                         {"task", "feature-extraction"}, {"skillset_file", "/s/hf_bert.py"},
                         {"candidates", {{{"model_class", "BertModel"}, {"auto_class", "AutoModel"},
                                          {"processor_class", "AutoTokenizer"}}}},
                         {"batch_policies", {"batched", "equal-length", "single"}}};
  CHECK(requirements_from_plan(plan)["batch_policy"] == "batched");
  plan.erase("batch_policies");
  CHECK_FALSE(requirements_from_plan(plan).contains("batch_policy"));
}
