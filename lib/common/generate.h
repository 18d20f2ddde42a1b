// Generated files: tests from test plans, skillsets from requirements, each carrying a
// digest of its own text, and writing them all or none.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/version.h"

/// A generated file: where it goes and its whole text, digest line first.
struct Output {
  std::string path;
  std::string text;
};

/// Renders the test of `plan` (a test-plan record) for its test_file.
bool render_test(const std::string& template_dir, const nlohmann::json& plan, Output* out, std::string* err);

/// The requirements a skillset is generated from when no test has measured any yet: the
/// plan's first candidate, with the plan's generation kwargs and tolerance.
nlohmann::json requirements_from_plan(const nlohmann::json& plan);

/// Renders the skillset of `requirements` for its skillset_file, refusing values that
/// could not appear safely in code (see docs/DESIGN.md, "Injection safety").
bool render_skillset(const std::string& template_dir, const nlohmann::json& requirements, Output* out,
                     std::string* err);

/// How write_outputs ended.
enum class Written {
  kAll,     ///< every output is on disk
  kEdited,  ///< nothing written: a file was edited since it was generated
  kFailed,  ///< nothing written: a file could not be (see docs/DESIGN.md for a failed rename)
};

/// Writes every output or none. A file whose text on disk no longer matches its own
/// digest (edited by hand, or not generated at all) is overwritten only with `force`;
/// one that already holds its output is left untouched (mtime too) unless `force`.
/// Outputs of one path and one text are one file; of one path and two texts, a failure.
/// `(*changed)[i]` tells whether outputs[i] was written. Every file is checked, then
/// staged beside its target, and only then renamed into place, with SIGINT, SIGTERM and
/// SIGHUP held back meanwhile so that a stop leaves no temporary file.
Written write_outputs(const std::vector<Output>& outputs, bool force, std::vector<bool>* changed,
                      std::string* err);
