// Writing generated files: tests from test plans, skillsets from requirements.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/version.h"

/// Renders the test of `plan` (a test-plan record) and writes it atomically to its test_file.
bool write_test(const std::string& template_dir, const nlohmann::json& plan, std::string* err);

/// The requirements a skillset is generated from when no test has measured any yet: the
/// plan's first candidate, with the plan's generation kwargs and tolerance.
nlohmann::json requirements_from_plan(const nlohmann::json& plan);

/// Renders the skillset of `requirements` into `*text`, refusing values that could not
/// appear safely in code (see docs/DESIGN.md, "Injection safety").
bool render_skillset(const std::string& template_dir, const nlohmann::json& requirements,
                     std::string* text, std::string* err);
