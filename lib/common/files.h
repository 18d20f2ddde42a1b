// File system helpers: atomic writes, whole-file reads, locating the project.
#pragma once

#include <csignal>
#include <string>

namespace files {

/// Reads the whole file at `path` into `*out`.
bool read(const std::string& path, std::string* out, std::string* err);

/// Writes `content` to `path` through a temporary file in the same directory and a
/// rename, creating missing parent directories: readers never see half a file.
bool write_atomic(const std::string& path, const std::string& content, std::string* err);

/// The first half of write_atomic: writes `content` to a new temporary file beside
/// `path` (creating missing parent directories) and names it in `*staged`.
bool stage(const std::string& path, const std::string& content, std::string* staged, std::string* err);

/// The second half of write_atomic: renames the file `staged` onto `path`, or removes it
/// when that fails.
bool commit(const std::string& staged, const std::string& path, std::string* err);

/// Stages an empty file beside `path` and removes it: whether write_atomic(path) can
/// work, asked before a long run rather than after it (missing directories are made).
bool can_write(const std::string& path, std::string* err);

/// Removes a staged file that is not to be committed.
void discard(const std::string& staged);

/// Removes every file staged and not yet committed or discarded. Async-signal-safe: for
/// a stop-signal handler, so that a killed tool leaves no `*.tmp.<pid>` behind.
void remove_temp_in_flight();

/// Holds back the signals that stop a tool (SIGINT, SIGTERM, SIGHUP) while it lives, so
/// that a stop lands before or after what it guards, never in the middle.
class HeldSignals {
 public:
  HeldSignals();
  ~HeldSignals();
  HeldSignals(const HeldSignals&) = delete;
  HeldSignals& operator=(const HeldSignals&) = delete;

 private:
  sigset_t previous_;
};

/// True when `path` names an existing regular file.
bool exists(const std::string& path);

/// `path` made absolute against the current directory and normalised lexically.
std::string absolute(const std::string& path);

/// The project root of a tool at `executable`, <dir>/bin/<tool>: <dir> when it holds
/// schemas/ (a checkout), else <dir>/share/hf-skillsets when that does (where `make
/// install` puts the data, beside <prefix>/bin), else <dir>.
std::string home_of(const std::string& executable);

/// The project root: $SKILLSET_HOME, else home_of() the running executable.
std::string project_home();

/// The Python interpreter the tests run with: $SKILLSET_PYTHON, else the project's
/// .venv/bin/python when it exists, else python3 from PATH.
std::string python_interpreter();

}  // namespace files
