// File system helpers: atomic writes, whole-file reads, locating the project.
#pragma once

#include <string>

namespace files {

/// Reads the whole file at `path` into `*out`.
bool read(const std::string& path, std::string* out, std::string* err);

/// Writes `content` to `path` through a temporary file in the same directory and a
/// rename, creating missing parent directories: readers never see half a file.
bool write_atomic(const std::string& path, const std::string& content, std::string* err);

/// Removes the temporary file of a write_atomic in progress, if any. Async-signal-safe:
/// for a stop-signal handler, so that a killed tool leaves no `*.tmp.<pid>` behind.
void remove_temp_in_flight();

/// Like write_atomic, but leaves a file that already holds `content` untouched (its
/// mtime too, for make); `*changed` tells which happened.
bool write_if_changed(const std::string& path, const std::string& content, bool* changed,
                      std::string* err);

/// True when `path` names an existing regular file.
bool exists(const std::string& path);

/// `path` made absolute against the current directory and normalised lexically.
std::string absolute(const std::string& path);

/// The project root: $SKILLSET_HOME, else the parent of the directory holding the
/// running executable (tools live in <root>/bin).
std::string project_home();

/// The Python interpreter the tests run with: $SKILLSET_PYTHON, else the project's
/// .venv/bin/python when it exists, else python3 from PATH.
std::string python_interpreter();

}  // namespace files
