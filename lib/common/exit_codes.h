// The exit codes every tool uses; see docs/DESIGN.md.
#pragma once

namespace exit_code {
constexpr int kOk = 0;           ///< success
constexpr int kFindings = 1;     ///< failed tests, discrepancies
constexpr int kBadInput = 2;     ///< usage, bad input, I/O error
constexpr int kInterrupted = 130;  ///< SIGINT (128 + the signal, the shell's convention)
constexpr int kTerminated = 143;   ///< SIGTERM
}  // namespace exit_code
