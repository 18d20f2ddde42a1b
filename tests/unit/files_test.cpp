#include "common/files.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "temp_dir.h"

TEST_CASE("write_atomic creates parent directories and leaves no temporary file") {
  TempDir dir;
  std::string path = dir.path() + "/a/b/file.txt", err, back;
  REQUIRE(files::write_atomic(path, "content", &err));
  REQUIRE(files::read(path, &back, &err));
  CHECK(back == "content");
  size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() + "/a/b")) entries += !entry.path().empty();
  CHECK(entries == 1);
}

TEST_CASE("write_if_changed leaves a file with the same content untouched") {
  TempDir dir;
  std::string path = dir.write("f.txt", "same"), err;
  auto before = std::filesystem::last_write_time(path);
  bool changed = true;
  REQUIRE(files::write_if_changed(path, "same", &changed, &err));
  CHECK_FALSE(changed);
  CHECK(std::filesystem::last_write_time(path) == before);
  REQUIRE(files::write_if_changed(path, "other", &changed, &err));
  CHECK(changed);
}

TEST_CASE("read names the file it cannot open") {
  std::string out, err;
  CHECK_FALSE(files::read("/nonexistent/x", &out, &err));
  CHECK(err.find("cannot open '/nonexistent/x'") == 0);
}

TEST_CASE("absolute normalises relative paths against the current directory") {
  CHECK(files::absolute("/a/./b/../c") == "/a/c");
  CHECK(files::absolute("x")[0] == '/');
}
