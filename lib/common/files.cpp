#include "common/files.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace files {
namespace {

// The temporary file of the write_atomic in progress, for remove_temp_in_flight() in a
// signal handler: a fixed buffer (no allocation there), valid while the flag is set.
char g_temp[4096];
volatile std::sig_atomic_t g_temp_set = 0;

struct TempInFlight {
  explicit TempInFlight(const std::string& path) {
    if (path.size() >= sizeof g_temp) return;  // too long to track; such a path fails to open anyway
    std::memcpy(g_temp, path.c_str(), path.size() + 1);
    g_temp_set = 1;
  }
  ~TempInFlight() { g_temp_set = 0; }
};

}  // namespace

void remove_temp_in_flight() {
  if (g_temp_set) ::unlink(g_temp);
}

bool read(const std::string& path, std::string* out, std::string* err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = "cannot open '" + path + "': " + std::strerror(errno);
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    *err = "cannot read '" + path + "'";
    return false;
  }
  *out = buf.str();
  return true;
}

bool write_atomic(const std::string& path, const std::string& content, std::string* err) {
  fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) {
      *err = "cannot create directory '" + target.parent_path().string() + "': " + ec.message();
      return false;
    }
  }
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  TempInFlight in_flight(tmp);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      *err = "cannot write '" + path + "'";
      return false;
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    *err = "cannot write '" + path + "': " + ec.message();
    return false;
  }
  return true;
}

bool write_if_changed(const std::string& path, const std::string& content, bool* changed,
                      std::string* err) {
  std::string old, ignored;
  *changed = !(read(path, &old, &ignored) && old == content);
  return !*changed || write_atomic(path, content, err);
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  return (ec ? fs::path(path) : p).lexically_normal().string();
}

std::string project_home() {
  if (const char* home = std::getenv("SKILLSET_HOME"); home && *home) return absolute(home);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return absolute(".");
  return exe.parent_path().parent_path().string();
}

std::string python_interpreter() {
  if (const char* py = std::getenv("SKILLSET_PYTHON"); py && *py) return py;
  std::string venv = project_home() + "/.venv/bin/python";
  if (::access(venv.c_str(), X_OK) == 0) return venv;
  return "python3";
}

}  // namespace files
