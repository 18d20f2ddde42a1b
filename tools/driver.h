// What every tool's main shares: the one error line, stdout writes that notice a closed
// pipe or a write error, progress on stderr, the stop signals. Only drivers print.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <cxxopts.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/exit_codes.h"
#include "common/files.h"
#include "common/records.h"
#include "common/plan.h"
#include "common/registry.h"
#include "common/schema.h"
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
    // Every tool reads or writes records: without their schemas it cannot start.
    std::string err;
    if (!schema::project(&err)) return fail(tool, err);
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

/// Why the last write to stdout failed (an errno), for output_failed().
inline int write_errno = 0;

/// Writes `text` to stdout and flushes it, so a pipeline's next stage starts at once.
/// Returns false once stdout is gone or full; end the tool with output_failed() then.
inline bool out(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0) return true;
  write_errno = errno;
  return false;
}

/// out() of a record as one canonical line.
inline bool emit(const nlohmann::json& record) { return out(records::line(record)); }

/// The exit code after a failed write to stdout: a closed pipe (EPIPE: the reader has
/// all it wants, as `| head` does) ends the tool quietly; any other error (a full disk,
/// /dev/full) is an error line and exit 2, never a silent success.
inline int output_failed(const char* tool) {
  if (write_errno == EPIPE) return exit_code::kOk;
  return fail(tool, std::string("cannot write to stdout: ") + std::strerror(write_errno));
}

/// A closed pipe must end the tool through out()'s result, not by a signal.
inline void ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }

/// The stop signal (SIGINT or SIGTERM) that came, or 0.
inline volatile std::sig_atomic_t stop_signal = 0;
/// Set by a stop signal, or by the tool itself (a closed stdout): workers' loops end.
inline volatile std::sig_atomic_t stop_requested = 0;
inline volatile std::sig_atomic_t stop_at_once = 0;

/// The exit code after a stop signal: 128 + its number, the shell's convention (130 for
/// SIGINT, 143 for SIGTERM).
inline int stopped_exit_code() { return stop_signal == SIGTERM ? exit_code::kTerminated : exit_code::kInterrupted; }

/// The one stop-signal installer (SIGINT, SIGTERM). Files staged and not yet renamed
/// are removed first (files::remove_temp_in_flight), so a killed tool never leaves
/// `*.tmp.<pid>` behind. With `at_once` (tools that only write files) the tool then
/// ends with stopped_exit_code();
/// otherwise stop_requested is set and the worker loop (RunnerOptions::stop) kills its
/// workers and returns, and the tool ends with stopped_exit_code(). No SA_RESTART:
/// poll() wakes up at once.
inline void install_stop_handler(bool at_once) {
  stop_at_once = at_once;
  struct sigaction action = {};
  action.sa_handler = [](int signal_number) {
    files::remove_temp_in_flight();
    stop_signal = signal_number;
    stop_requested = 1;
    if (stop_at_once) ::_exit(stopped_exit_code());
  };
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

/// Loads the registry from `path`, or from the project's data/ when `path` is empty.
inline bool load_registry(const std::string& path, Registry* registry, std::string* err) {
  return registry->load(path.empty() ? files::project_home() + "/data/registry.json" : path, err);
}

/// Prints plan.h's listing() for `--list-families` (families) or `--list-tasks`.
inline int print_listing(const char* tool, const Registry& registry, bool families) {
  for (const auto& line : listing(registry, families, files::project_home() + "/templates"))
    if (!out(line + "\n")) return output_failed(tool);
  return exit_code::kOk;
}

}  // namespace driver
