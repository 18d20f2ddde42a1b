// File system helpers: atomic writes, whole-file reads, locating the project.
#pragma once

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

/// Removes a staged file that is not to be committed.
void discard(const std::string& staged);

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
