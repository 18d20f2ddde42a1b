#include "common/render.h"

#include <algorithm>
#include <kainjow/mustache.hpp>
#include <regex>
#include <set>

#include "common/files.h"
#include "common/pyliteral.h"

namespace render {
namespace {

// A partial or section tag alone on its line stands for whole lines (the mustache
// spec's "standalone" rule, which kainjow keeps only in part): drop the tag line's own
// newline so that the partial's text, which ends in one, takes the line's place, and a
// section's tags leave no blank line behind.
std::string join_standalone_tags(const std::string& text) {
  static const std::regex standalone(R"([ \t]*(\{\{[>#^/]\s*[A-Za-z0-9_.-]+\s*\}\})[ \t]*)");
  std::string out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    bool has_newline = end != std::string::npos;
    std::string line = text.substr(begin, has_newline ? end - begin : std::string::npos);
    std::smatch match;
    if (has_newline && std::regex_match(line, match, standalone)) {
      out += match[1].str();
    } else {
      out += line;
      if (has_newline) out += '\n';
    }
    begin = has_newline ? end + 1 : text.size();
  }
  return out;
}

// Checks every tag of `text` (and, recursively, of its partials, `<dir>/_<name><suffix>`)
// against `vars`, loading each partial once into `partials`.
bool load_checked(const std::string& dir, const std::string& suffix, const std::string& path,
                  const std::string& text, const std::set<std::string>& names,
                  std::map<std::string, std::string>* partials, std::string* err) {
  static const std::regex tag(R"(\{\{\{?\s*([#^/>!]?)\s*([A-Za-z0-9_.-]+))");
  for (std::sregex_iterator it(text.begin(), text.end(), tag), end; it != end; ++it) {
    std::string sigil = (*it)[1], name = (*it)[2];
    if (sigil == "!" || sigil == "/") continue;
    if (sigil == ">") {
      if (partials->count(name)) continue;
      std::string partial_path = dir + "/_" + name + suffix, partial_text;
      if (!files::read(partial_path, &partial_text, err)) {
        *err = "template '" + path + "' includes a missing partial '" + name + "'";
        return false;
      }
      partial_text = join_standalone_tags(partial_text);
      (*partials)[name] = partial_text;
      if (!load_checked(dir, suffix, partial_path, partial_text, names, partials, err)) return false;
    } else if (!names.count(name)) {
      *err = "template '" + path + "' uses an undefined variable '" + name + "'";
      return false;
    }
  }
  return true;
}

// A value's tag renders first as this marker (control characters, which neither a
// template nor a verbatim variable holds); the literal replaces it once the marker's
// place in the finished text is known.
const char kMarker = '\x01';

std::string marker(const std::string& name) { return kMarker + name + kMarker; }

// Replaces each value's marker in `text` by its literal, laid out for its place.
bool place_values(const std::string& text, const Values& values, std::string* out, std::string* err) {
  out->clear();
  size_t at = 0;
  for (size_t begin; (begin = text.find(kMarker, at)) != std::string::npos;) {
    size_t end = text.find(kMarker, begin + 1);
    const auto& value = values.at(text.substr(begin + 1, end - begin - 1));
    *out += text.substr(at, begin - at);
    size_t line_start = out->rfind('\n') + 1;  // npos + 1 is 0: the first line
    size_t first = out->find_first_not_of(' ', line_start);
    size_t indent = (first == std::string::npos ? out->size() : first) - line_start;
    size_t line_end = std::min(text.find('\n', end), text.size());
    pyliteral::Place place{out->size() - line_start, indent, line_end - end - 1};
    std::string literal;
    if (!pyliteral::code(value, place, &literal, err)) return false;
    *out += literal;
    at = end + 1;
  }
  *out += text.substr(at);
  return true;
}

// Renders `<dir>/<name><suffix>`: `vars` in place of their tags (HTML-escaped by
// `{{x}}` when `escape_html`, else verbatim), each value's tag as its marker, each flag
// deciding its sections.
bool render_text(const std::string& dir, const std::string& name, const std::string& suffix, const Vars& vars,
                 const Values& values, const Flags& flags, bool escape_html, std::string* out,
                 std::string* err) {
  std::string path = dir + "/" + name + suffix, text;
  if (!files::read(path, &text, err)) return false;
  text = join_standalone_tags(text);
  std::set<std::string> names;
  for (const auto& [key, value] : vars) names.insert(key);
  for (const auto& [key, value] : values) names.insert(key);
  for (const auto& [key, value] : flags) names.insert(key);
  std::map<std::string, std::string> partials;
  if (!load_checked(dir, suffix, path, text, names, &partials, err)) return false;

  kainjow::mustache::mustache tmpl{text};
  if (!tmpl.is_valid()) {
    *err = "template '" + path + "': " + tmpl.error_message();
    return false;
  }
  if (!escape_html) tmpl.set_custom_escape([](const std::string& s) { return s; });
  kainjow::mustache::data data;
  for (const auto& [key, value] : vars) data.set(key, value);
  for (const auto& [key, value] : values) data.set(key, marker(key));
  for (const auto& [key, value] : flags) data.set(key, kainjow::mustache::data(value));
  for (const auto& [key, value] : partials) {
    std::string body = value;
    data.set(key, kainjow::mustache::partial{[body] { return body; }});
  }
  *out = tmpl.render(data);
  if (!tmpl.is_valid()) {
    *err = "template '" + path + "': " + tmpl.error_message();
    return false;
  }
  return true;
}

}  // namespace

bool file(const std::string& dir, const std::string& name, const Vars& vars, const Values& values,
          std::string* out, std::string* err, const Flags& flags) {
  std::string rendered;
  if (!render_text(dir, name, ".py.mustache", vars, values, flags, /*escape_html=*/false, &rendered, err))
    return false;
  return place_values(rendered, values, out, err);
}

bool html(const std::string& dir, const std::string& name, const Vars& vars, std::string* out, std::string* err) {
  return render_text(dir, name, ".html.mustache", vars, {}, {}, /*escape_html=*/true, out, err);
}

}  // namespace render
