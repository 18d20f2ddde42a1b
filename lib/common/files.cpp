#include "common/files.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;

namespace files {
namespace {

// The temporary files staged and not yet committed or discarded, for
// remove_temp_in_flight() in a signal handler. Changed only with the stop signals held,
// so a handler never sees it half changed.
std::vector<std::string> g_in_flight;

void forget(const std::string& staged) {
  HeldSignals held;
  auto at = std::find(g_in_flight.begin(), g_in_flight.end(), staged);
  if (at != g_in_flight.end()) g_in_flight.erase(at);
}

}  // namespace

HeldSignals::HeldSignals() {
  sigset_t held;
  sigemptyset(&held);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&held, signal);
  sigprocmask(SIG_BLOCK, &held, &previous_);
}

HeldSignals::~HeldSignals() { sigprocmask(SIG_SETMASK, &previous_, nullptr); }

void remove_temp_in_flight() {
  for (const auto& path : g_in_flight) ::unlink(path.c_str());
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

bool stage(const std::string& path, const std::string& content, std::string* staged, std::string* err) {
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
  {
    HeldSignals held;
    g_in_flight.push_back(tmp);
  }
  // Written with the stop signals let through: a write can block (a full pipe, a FIFO),
  // and the handler then removes this file.
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) {
    discard(tmp);
    *err = "cannot write '" + path + "'";
    return false;
  }
  *staged = tmp;
  return true;
}

bool commit(const std::string& staged, const std::string& path, std::string* err) {
  HeldSignals held;  // renamed and forgotten together
  std::error_code ec;
  fs::rename(staged, path, ec);
  if (ec) {
    discard(staged);
    *err = "cannot write '" + path + "': " + ec.message();
    return false;
  }
  forget(staged);
  return true;
}

void discard(const std::string& staged) {
  std::error_code ignored;
  fs::remove(staged, ignored);
  forget(staged);
}

bool can_write(const std::string& path, std::string* err) {
  std::string staged;
  if (!stage(path, "", &staged, err)) return false;
  discard(staged);
  return true;
}

bool write_atomic(const std::string& path, const std::string& content, std::string* err) {
  std::string staged;
  return stage(path, content, &staged, err) && commit(staged, path, err);
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

std::string home_of(const std::string& executable) {
  fs::path above_bin = fs::path(absolute(executable)).parent_path().parent_path();
  fs::path installed = above_bin / "share" / "hf-skillsets";
  std::error_code ec;
  if (!fs::is_directory(above_bin / "schemas", ec) && fs::is_directory(installed / "schemas", ec))
    return installed.string();
  return above_bin.string();
}

std::string project_home() {
  if (const char* home = std::getenv("SKILLSET_HOME"); home && *home) return absolute(home);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return absolute(".");
  return home_of(exe.string());
}

std::string python_interpreter() {
  if (const char* py = std::getenv("SKILLSET_PYTHON"); py && *py) return py;
  std::string venv = project_home() + "/.venv/bin/python";
  if (::access(venv.c_str(), X_OK) == 0) return venv;
  return "python3";
}

}  // namespace files
