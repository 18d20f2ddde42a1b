// Renders the mustache templates of generated code (templates/<kind>/*.py.mustache) and
// of report's page (templates/report/*.html.mustache).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace render {

/// Text put in verbatim: identifiers, plain words and quoted strings.
using Vars = std::map<std::string, std::string>;
/// Values written as Python literals (pyliteral::code), laid out for where their tag
/// stands. Such a tag stands in code, never inside a string: a literal may be quoted in
/// single quotes.
using Values = std::map<std::string, nlohmann::json>;
/// Switches for sections (`{{#name}}...{{/name}}`, `{{^name}}...{{/name}}`): what a
/// template writes only for some inputs.
using Flags = std::map<std::string, bool>;

/// Renders `<dir>/<name>.py.mustache` with `vars`, `values` and `flags`, verbatim (no
/// HTML escaping). `{{> part}}` includes `<dir>/_part.py.mustache`. A variable, section
/// or partial the template names but `vars`, `values`, `flags` or `dir` lacks is an
/// error, so a typo in a template cannot silently render as nothing; so is a value
/// pyliteral::code refuses.
bool file(const std::string& dir, const std::string& name, const Vars& vars, const Values& values,
          std::string* out, std::string* err, const Flags& flags = {});

/// Renders `<dir>/<name>.html.mustache` with `vars`: `{{x}}` HTML-escaped, `{{{x}}}`
/// verbatim (for text made safe for its place by the caller). `{{> part}}` includes
/// `<dir>/_part.html.mustache`; an undefined variable or partial is an error, as in file().
bool html(const std::string& dir, const std::string& name, const Vars& vars, std::string* out, std::string* err);

}  // namespace render
