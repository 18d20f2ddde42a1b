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

TEST_CASE("stage leaves the file untouched until commit renames the staged copy onto it") {
  TempDir dir;
  std::string path = dir.write("f.txt", "old"), staged, err, back;
  REQUIRE(files::stage(path, "new", &staged, &err));
  REQUIRE(files::read(path, &back, &err));
  CHECK(back == "old");
  REQUIRE(files::commit(staged, path, &err));
  REQUIRE(files::read(path, &back, &err));
  CHECK(back == "new");
  CHECK_FALSE(std::filesystem::exists(staged));
}

TEST_CASE("discard removes a staged file and leaves its target as it was") {
  TempDir dir;
  std::string path = dir.path() + "/f.txt", staged, err;
  REQUIRE(files::stage(path, "new", &staged, &err));
  files::discard(staged);
  CHECK_FALSE(std::filesystem::exists(staged));
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("stage fails, naming the directory, when a file stands where a directory should") {
  TempDir dir;
  std::string blocker = dir.write("blocker", "x"), staged, err;
  CHECK_FALSE(files::stage(blocker + "/f.txt", "new", &staged, &err));
  CHECK(err.find("'" + blocker + "'") != std::string::npos);
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

TEST_CASE("can_write leaves nothing behind where it can write, and names the place where it cannot") {
  TempDir dir;
  std::string err;
  CHECK(files::can_write(dir.path() + "/report.xml", &err));
  CHECK(std::filesystem::is_empty(dir.path()));
  std::string blocker = dir.write("blocker", "x");
  CHECK_FALSE(files::can_write(blocker + "/report.xml", &err));
  CHECK(err.find("'" + blocker + "'") != std::string::npos);
}

TEST_CASE("home_of is the directory above bin/ in a checkout, which holds schemas/") {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/schemas");
  std::filesystem::create_directories(dir.path() + "/share/hf-skillsets/schemas");
  CHECK(files::home_of(dir.path() + "/bin/run-tests") == dir.path());
}

TEST_CASE("home_of is <prefix>/share/hf-skillsets for a tool make install put in <prefix>/bin") {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/share/hf-skillsets/schemas");
  CHECK(files::home_of(dir.path() + "/bin/run-tests") == dir.path() + "/share/hf-skillsets");
}

TEST_CASE("home_of is the directory above bin/ when neither holds schemas/, so the error names it") {
  TempDir dir;
  CHECK(files::home_of(dir.path() + "/bin/run-tests") == dir.path());
}
