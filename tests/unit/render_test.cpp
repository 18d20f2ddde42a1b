#include "common/render.h"

#include <doctest/doctest.h>

#include "temp_dir.h"

TEST_CASE("file renders variables verbatim and includes partials") {
  TempDir dir;
  dir.write("main.py.mustache", "{{> head}}x = {{{value}}}\n");
  dir.write("_head.py.mustache", "# {{name}} & co\n");
  std::string out, err;
  REQUIRE(render::file(dir.path(), "main", {{"name", "<b>"}, {"value", "\"a\""}}, &out, &err));
  CHECK(out == "# <b> & co\nx = \"a\"\n");
}

TEST_CASE("file replaces a partial tag alone on its line by the partial's lines") {
  TempDir dir;
  dir.write("main.py.mustache", "a\n{{> part}}\nb\n");
  dir.write("_part.py.mustache", "p\n");
  std::string out, err;
  REQUIRE(render::file(dir.path(), "main", {}, &out, &err));
  CHECK(out == "a\np\nb\n");
}

TEST_CASE("file refuses a template that names an undefined variable") {
  TempDir dir;
  dir.write("main.py.mustache", "x = {{tpyo}}\n");
  std::string out, err;
  CHECK_FALSE(render::file(dir.path(), "main", {{"typo", "1"}}, &out, &err));
  CHECK(err.find("undefined variable 'tpyo'") != std::string::npos);
}

TEST_CASE("file refuses a missing partial and a missing template") {
  TempDir dir;
  dir.write("main.py.mustache", "{{> nowhere}}\n");
  std::string out, err;
  CHECK_FALSE(render::file(dir.path(), "main", {}, &out, &err));
  CHECK(err.find("missing partial 'nowhere'") != std::string::npos);
  CHECK_FALSE(render::file(dir.path(), "absent", {}, &out, &err));
}
