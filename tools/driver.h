// What every tool's main shares: the one error line, stdout writes that notice a closed
// pipe, progress on stderr, and reading record operands. Only drivers print.
#pragma once

#include <unistd.h>

#include <csignal>
#include <cxxopts.hpp>
#include <functional>
#include <map>
#include <optional>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/exit_codes.h"
#include "common/files.h"
#include "common/records.h"
#include "common/plan.h"
#include "common/registry.h"
#include "common/version.h"

namespace driver {

inline bool quiet = false;

/// Adds the options every tool has: --quiet, --version, --help.
inline void add_standard_options(cxxopts::Options& cli) {
  cli.add_options()
      ("q,quiet", "no progress on stderr")
      ("version", "print the version")
      ("h,help", "print this help");
}

inline int fail(const char* tool, const std::string& message);

/// cxxopts' messages in our style: lower-case start, plain quotes.
inline std::string plain_message(std::string text) {
  for (const char* curly : {"\xe2\x80\x98", "\xe2\x80\x99"})
    for (size_t at; (at = text.find(curly)) != std::string::npos;) text.replace(at, 3, "'");
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

/// Parses the command line and hands the result to `read`; --help and --version print
/// to stdout. Returns the exit code to end with, or nothing to go on. A bad flag or
/// value is the one error line and exit 2.
inline std::optional<int> parse(cxxopts::Options& cli, const char* tool, int argc, char** argv,
                                const std::function<void(const cxxopts::ParseResult&)>& read) {
  try {
    auto args = cli.parse(argc, argv);
    if (args.count("help")) {
      std::printf("%s", cli.help().c_str());
      return exit_code::kOk;
    }
    if (args.count("version")) {
      std::printf("%s %s\n", tool, kToolchainVersion);
      return exit_code::kOk;
    }
    read(args);
    quiet = args.count("quiet") > 0;
  } catch (const cxxopts::exceptions::exception& e) {
    return fail(tool, plain_message(e.what()));
  }
  return std::nullopt;
}

/// `text` with every byte that could break a line (controls, DEL, and UTF-8's NEL,
/// LINE and PARAGRAPH SEPARATOR) written as \xNN: a message stays one line whatever
/// the input it quotes.
inline std::string one_line(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = text[i];
    size_t width = 1;
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x85) width = 2;
    if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(text[i + 2]) & 0xFE) == 0xA8)
      width = 3;
    if (c < 0x20 || c == 0x7F || width > 1) {
      for (size_t k = 0; k < width; ++k) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(text[i + k]));
        out += buf;
      }
      i += width - 1;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

/// Prints `<tool>: error: <message>` on one line and returns the bad-input exit code.
inline int fail(const char* tool, const std::string& message) {
  std::fprintf(stderr, "%s: error: %s\n", tool, one_line(message).c_str());
  return exit_code::kBadInput;
}

/// Runs a tool's body; a record field of the wrong type (nlohmann's exceptions) is bad
/// input, reported in the one error line, never a crash.
inline int guard(const char* tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const nlohmann::json::exception& e) {
    return fail(tool, std::string("bad input: ") + e.what());
  }
}

/// Progress and notes on stderr, unless --quiet.
inline void note(const char* tool, const std::string& message) {
  if (!quiet) std::fprintf(stderr, "%s: %s\n", tool, one_line(message).c_str());
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

/// `--list-families` / `--list-tasks`: servable model types counted per family (with
/// whether the family has a template) or per task, one line each.
inline int print_listing(const Registry& registry, bool families) {
  std::map<std::string, int> counts;
  for (const auto& type : registry.model_types()) {
    const auto& entry = *registry.find(type);
    if (!entry.value("servable", false)) continue;
    if (families) {
      ++counts[entry.value("family", "other")];
    } else {
      const nlohmann::json tasks = entry.value("tasks", nlohmann::json::object());
      for (const auto& [task, model_class] : tasks.items()) ++counts[task];
    }
  }
  std::string template_dir = files::project_home() + "/templates";
  for (const auto& [name, count] : counts) {
    std::string support =
        families ? (files::exists(::skillset_template_path(template_dir, name)) ? "\ttemplate" : "\tno template yet") : "";
    std::printf("%s\t%d model types%s\n", name.c_str(), count, support.c_str());
  }
  return exit_code::kOk;
}

}  // namespace driver
