#include "common/render.h"

#include <doctest/doctest.h>

#include "temp_dir.h"

TEST_CASE("file renders variables verbatim and includes partials") {
  TempDir dir;
  dir.write("main.py.mustache", "{{> head}}x = {{{value}}}\n");
  dir.write("_head.py.mustache", "# {{name}} & co\n");
  std::string out, err;
  REQUIRE(render::file(dir.path(), "main", {{"name", "<b>"}, {"value", "\"a\""}}, {}, &out, &err));
  CHECK(out == "# <b> & co\nx = \"a\"\n");
}

TEST_CASE("file replaces a partial tag alone on its line by the partial's lines") {
  TempDir dir;
  dir.write("main.py.mustache", "a\n{{> part}}\nb\n");
  dir.write("_part.py.mustache", "p\n");
  std::string out, err;
  REQUIRE(render::file(dir.path(), "main", {}, {}, &out, &err));
  CHECK(out == "a\np\nb\n");
}

TEST_CASE("file refuses a template that names an undefined variable") {
  TempDir dir;
  dir.write("main.py.mustache", "x = {{tpyo}}\n");
  std::string out, err;
  CHECK_FALSE(render::file(dir.path(), "main", {{"typo", "1"}}, {}, &out, &err));
  CHECK(err.find("undefined variable 'tpyo'") != std::string::npos);
}

TEST_CASE("file refuses a missing partial and a missing template") {
  TempDir dir;
  dir.write("main.py.mustache", "{{> nowhere}}\n");
  std::string out, err;
  CHECK_FALSE(render::file(dir.path(), "main", {}, {}, &out, &err));
  CHECK(err.find("missing partial 'nowhere'") != std::string::npos);
  CHECK_FALSE(render::file(dir.path(), "absent", {}, {}, &out, &err));
}

TEST_CASE("file writes a value as a literal laid out for where its tag stands") {
  TempDir dir;
  dir.write("main.py.mustache", "X = {{{short}}}\n    Y = f({{{long}}})\n");
  nlohmann::json long_value = {std::string(80, 'x')};
  std::string out, err;
  REQUIRE(render::file(dir.path(), "main", {}, {{"short", {{"a", 1}}}, {"long", long_value}}, &out, &err));
  CHECK(out == "X = {\"a\": 1}\n    Y = f([\n        \"" + std::string(80, 'x') + "\",\n    ])\n");
}

TEST_CASE("file refuses a value nested too deep for code") {
  TempDir dir;
  dir.write("main.py.mustache", "X = {{{value}}}\n");
  nlohmann::json value = 1;
  for (int i = 0; i < 300; ++i) value = nlohmann::json::array({value});
  std::string out, err;
  CHECK_FALSE(render::file(dir.path(), "main", {}, {{"value", value}}, &out, &err));
  CHECK(err.find("nested deeper") != std::string::npos);
}

TEST_CASE("html escapes {{x}} for HTML and leaves {{{x}}} verbatim") {
  TempDir dir;
  dir.write("page.html.mustache", "<p title=\"{{text}}\">{{text}}</p>{{{raw}}}\n");
  std::string out, err;
  REQUIRE(render::html(dir.path(), "page", {{"text", "<a href='x'>\"&"}, {"raw", "<b>"}}, &out, &err));
  CHECK(out == "<p title=\"&lt;a href=&apos;x&apos;&gt;&quot;&amp;\">&lt;a href=&apos;x&apos;&gt;&quot;&amp;</p><b>\n");
}

TEST_CASE("html refuses a template that names an undefined variable") {
  TempDir dir;
  dir.write("page.html.mustache", "{{tpyo}}\n");
  std::string out, err;
  CHECK_FALSE(render::html(dir.path(), "page", {{"typo", "1"}}, &out, &err));
  CHECK(err.find("undefined variable 'tpyo'") != std::string::npos);
}

TEST_CASE("file writes a section only when its flag is set, its tag lines leaving no line behind") {
  TempDir dir;
  dir.write("main.py.mustache", "a\n{{#on}}\nyes\n{{/on}}\n{{^on}}\nno\n{{/on}}\nb\n");
  std::string out, err;
  REQUIRE(render::file(dir.path(), "main", {}, {}, &out, &err, {{"on", true}}));
  CHECK(out == "a\nyes\nb\n");
  REQUIRE(render::file(dir.path(), "main", {}, {}, &out, &err, {{"on", false}}));
  CHECK(out == "a\nno\nb\n");
}

TEST_CASE("file refuses a section whose flag it was not given") {
  TempDir dir;
  dir.write("main.py.mustache", "{{#tpyo}}\nx\n{{/tpyo}}\n");
  std::string out, err;
  CHECK_FALSE(render::file(dir.path(), "main", {}, {}, &out, &err, {{"typo", true}}));
  CHECK(err.find("undefined variable 'tpyo'") != std::string::npos);
}
