#include "common/schema.h"

#include <doctest/doctest.h>

#include "temp_dir.h"

namespace {
// A directory of schemas: `thing` refers to `color` (another file) and to a $defs entry.
struct Schemas {
  TempDir dir;
  schema::Set set;
  std::string err;
  bool load(const std::string& thing) {
    dir.write("color.schema.json", R"({"$id": "color.schema.json", "enum": ["red", "green"]})");
    dir.write("thing.schema.json", thing);
    return set.load(dir.path(), &err);
  }
  std::string problem(const nlohmann::json& value) {
    std::string why;
    return set.check("thing", value, &why) ? "" : why;
  }
};

const char* kThing = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "pattern": "^[a-z]+$"},
    "color": {"$ref": "color.schema.json"},
    "size": {"type": ["integer", "null"], "minimum": 0},
    "parts": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/part"}},
    "counts": {"type": "object", "propertyNames": {"$ref": "color.schema.json"}, "additionalProperties": {"type": "integer"}},
    "kind": {"oneOf": [{"const": "a"}, {"type": "null"}]}
  },
  "required": ["name"],
  "allOf": [{"if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["size"]}}],
  "$defs": {"part": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}}
})";
}  // namespace

TEST_CASE("check accepts a value that keeps every rule") {
  Schemas s;
  REQUIRE(s.load(kThing));
  CHECK(s.problem({{"name", "box"}, {"color", "red"}, {"size", 3}, {"parts", {{{"id", "x"}}}},
                   {"counts", {{"green", 2}}}, {"kind", "a"}, {"other", true}}) == "");
  CHECK(s.problem({{"name", "box"}, {"size", nullptr}}) == "");
}

TEST_CASE("check names a missing required field by its path") {
  Schemas s;
  REQUIRE(s.load(kThing));
  CHECK(s.problem(nlohmann::json::object()) == "without 'name'");
  CHECK(s.problem({{"name", "box"}, {"parts", {nlohmann::json::object()}}}) == "without 'parts/0/id'");
  CHECK(s.problem({{"name", "box"}, {"kind", "a"}}) == "without 'size'");
}

TEST_CASE("check names the field that breaks a rule") {
  Schemas s;
  REQUIRE(s.load(kThing));
  CHECK(s.problem({{"name", nlohmann::json::array()}}) == "with a malformed 'name'");
  CHECK(s.problem({{"name", ""}}) == "with a malformed 'name'");
  CHECK(s.problem({{"name", "Box"}}) == "with a malformed 'name'");
  CHECK(s.problem({{"name", "box"}, {"color", "blue"}}) == "with a malformed 'color'");
  CHECK(s.problem({{"name", "box"}, {"size", -1}}) == "with a malformed 'size'");
  CHECK(s.problem({{"name", "box"}, {"size", 1.5}}) == "with a malformed 'size'");
  CHECK(s.problem({{"name", "box"}, {"parts", nlohmann::json::array()}}) == "with a malformed 'parts'");
  CHECK(s.problem({{"name", "box"}, {"counts", {{"blue", 1}}}}) == "with a malformed 'counts/blue'");
  CHECK(s.problem({{"name", "box"}, {"counts", {{"red", "1"}}}}) == "with a malformed 'counts/red'");
  CHECK(s.problem({{"name", "box"}, {"kind", "b"}}) == "with a malformed 'kind'");
  CHECK(s.problem("box") == "with a malformed '<record>'");
}

TEST_CASE("enum_of and properties_of read a schema's own lists") {
  Schemas s;
  REQUIRE(s.load(kThing));
  CHECK(s.set.enum_of("color") == std::vector<std::string>{"red", "green"});
  CHECK(s.set.properties_of("thing") == std::vector<std::string>{"color", "counts", "kind", "name", "parts", "size"});
}

TEST_CASE("load refuses a keyword outside the subset, a $ref to nothing and a malformed file") {
  Schemas s;
  CHECK_FALSE(s.load(R"({"type": "object", "maxLength": 3})"));
  CHECK(s.err == "schema 'thing': unsupported keyword 'maxLength'");
  Schemas t;
  CHECK_FALSE(t.load(R"({"properties": {"a": {"$ref": "shape.schema.json"}}})"));
  CHECK(t.err == "schema 'thing': unresolved $ref \"shape.schema.json\"");
  Schemas u;
  CHECK_FALSE(u.load(R"({"properties": )"));
  CHECK(u.err.find("malformed schema '" + u.dir.path() + "/thing.schema.json': at line ") == 0);
}

TEST_CASE("load refuses a directory without schemas") {
  TempDir dir;
  schema::Set set;
  std::string err;
  CHECK_FALSE(set.load(dir.path() + "/none", &err));
  CHECK(err.find("cannot read the schemas in '" + dir.path() + "/none'") == 0);
}

TEST_CASE("load reads the directory's own schemas, never a subdirectory's") {
  // schemas/outputs/ holds the handler results' schemas, which skillkit reads with the
  // whole of JSON Schema (unevaluatedProperties is outside the subset read here).
  Schemas s;
  std::filesystem::create_directories(s.dir.path() + "/outputs");
  s.dir.write("outputs/result.schema.json", R"({"$id": "outputs/result.schema.json", "unevaluatedProperties": false})");
  REQUIRE_MESSAGE(s.load(kThing), s.err);
  CHECK(s.set.has("thing"));
  CHECK_FALSE(s.set.has("result"));
  CHECK_FALSE(s.set.has("outputs/result"));
}

TEST_CASE("the project's schemas load and hold the backend list and the identity fields") {
  std::string err;
  const schema::Set* set = schema::project(&err);
  REQUIRE_MESSAGE(set, err);
  CHECK(set->enum_of("backend").front() == "cpu");
  for (const char* name : {"test-plan", "test-result", "requirements", "skillset-manifest", "discrepancy", "verify-summary"})
    CHECK(set->has(name));
  CHECK(set->properties_of("identity") ==
        std::vector<std::string>{"config_source", "family", "ident", "model_id", "model_type", "precision",
                                 "skillset_file", "task", "tasks", "test_file"});
}
