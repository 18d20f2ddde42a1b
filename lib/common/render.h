// Renders the mustache templates of generated code (templates/<kind>/*.py.mustache).
#pragma once

#include <map>
#include <string>

namespace render {

using Vars = std::map<std::string, std::string>;

/// Renders `<dir>/<name>.py.mustache` with `vars`, verbatim (no HTML escaping): callers
/// pass only identifiers and Python literals. `{{> part}}` includes `<dir>/_part.py.mustache`.
/// A variable or partial the template names but `vars` or `dir` lacks is an error, so a
/// typo in a template cannot silently render as nothing.
bool file(const std::string& dir, const std::string& name, const Vars& vars, std::string* out,
          std::string* err);

}  // namespace render
