// The one parse of JSON that comes from outside (records, config.json, the registry,
// Hub replies, worker answers): syntax checked and nesting bounded.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

/// Deeper than this is refused. nlohmann's parser is iterative, but copying, dumping and
/// rendering a value recurse once per level, and ~20,000 levels overflow the stack;
/// Python's own parser stops at 200 nested brackets in generated code. The deepest JSON
/// the project reads legitimately is about 8 levels (a test-result's reference signature,
/// a composite model's config.json); 64 leaves room for any real config and stays far
/// below both limits.
constexpr int kMaxJsonDepth = 64;

/// Parses `text` into `*out`. Fails with `*err` = "nested deeper than 64 levels" or
/// nlohmann's reason from "at line L, column C: ..." on; `*out` is untouched then. The
/// depth is measured on the text before parsing, so a deep document is never built.
bool parse_json(const std::string& text, nlohmann::json* out, std::string* err);
