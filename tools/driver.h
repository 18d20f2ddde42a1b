// What every tool's main shares: the one error line, stdout writes that notice a closed
// pipe, progress on stderr, and reading record operands. Only drivers print.
#pragma once

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/exit_codes.h"
#include "common/files.h"
#include "common/records.h"
#include "common/registry.h"

namespace driver {

inline bool quiet = false;

/// Prints `<tool>: error: <message>` and returns the bad-input exit code.
inline int fail(const char* tool, const std::string& message) {
  std::fprintf(stderr, "%s: error: %s\n", tool, message.c_str());
  return exit_code::kBadInput;
}

/// Progress and notes on stderr, unless --quiet.
inline void note(const char* tool, const std::string& message) {
  if (!quiet) std::fprintf(stderr, "%s: %s\n", tool, message.c_str());
}

/// Writes a record to stdout and flushes it, so a pipeline's next stage starts at once.
/// Returns false once stdout is gone (a closed pipe ends the tool quietly).
inline bool emit(const nlohmann::json& record) {
  std::string line = records::line(record);
  return std::fwrite(line.data(), 1, line.size(), stdout) == line.size() && std::fflush(stdout) == 0;
}

/// A closed pipe must end the tool through emit()'s result, not by a signal.
inline void ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }

/// Reads the records of `operands` (files, or stdin for none or "-").
inline bool read_records(const std::vector<std::string>& operands,
                         const std::vector<std::string>& schemas,
                         const std::vector<std::string>& required, std::vector<nlohmann::json>* out,
                         std::string* err) {
  std::vector<std::string> sources = operands.empty() ? std::vector<std::string>{"-"} : operands;
  for (const auto& source : sources) {
    if (source == "-") {
      // Records come from a pipe or a file; nobody types JSON Lines at a terminal.
      if (::isatty(STDIN_FILENO)) {
        *err = "no input: pipe records in or name record files (try --help)";
        return false;
      }
      if (!records::read(std::cin, "<stdin>", schemas, required, out, err)) return false;
      continue;
    }
    std::ifstream in(source);
    if (!in) {
      *err = "cannot open '" + source + "'";
      return false;
    }
    if (!records::read(in, source, schemas, required, out, err)) return false;
  }
  return true;
}

/// Loads the registry from `path`, or from the project's data/ when `path` is empty.
inline bool load_registry(const std::string& path, Registry* registry, std::string* err) {
  return registry->load(path.empty() ? files::project_home() + "/data/registry.json" : path, err);
}

}  // namespace driver
