#include "common/render.h"

#include <kainjow/mustache.hpp>
#include <regex>

#include "common/files.h"

namespace render {
namespace {

// A partial tag alone on its line stands for whole lines (the mustache spec's
// "standalone" rule): drop the tag line's own newline so that the partial's text,
// which ends in one, takes the line's place instead of adding a blank line.
std::string join_standalone_partials(const std::string& text) {
  static const std::regex standalone(R"([ \t]*(\{\{>\s*[A-Za-z0-9_.-]+\s*\}\})[ \t]*)");
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

// Checks every tag of `text` (and, recursively, of its partials) against `vars`,
// loading each partial once into `partials`.
bool load_checked(const std::string& dir, const std::string& path, const std::string& text,
                  const Vars& vars, std::map<std::string, std::string>* partials, std::string* err) {
  static const std::regex tag(R"(\{\{\{?\s*([#^/>!]?)\s*([A-Za-z0-9_.-]+))");
  for (std::sregex_iterator it(text.begin(), text.end(), tag), end; it != end; ++it) {
    std::string sigil = (*it)[1], name = (*it)[2];
    if (sigil == "!" || sigil == "/") continue;
    if (sigil == ">") {
      if (partials->count(name)) continue;
      std::string partial_path = dir + "/_" + name + ".py.mustache", partial_text;
      if (!files::read(partial_path, &partial_text, err)) {
        *err = "template '" + path + "' includes a missing partial '" + name + "'";
        return false;
      }
      partial_text = join_standalone_partials(partial_text);
      (*partials)[name] = partial_text;
      if (!load_checked(dir, partial_path, partial_text, vars, partials, err)) return false;
    } else if (!vars.count(name)) {
      *err = "template '" + path + "' uses an undefined variable '" + name + "'";
      return false;
    }
  }
  return true;
}

}  // namespace

bool file(const std::string& dir, const std::string& name, const Vars& vars, std::string* out,
          std::string* err) {
  std::string path = dir + "/" + name + ".py.mustache", text;
  if (!files::read(path, &text, err)) return false;
  text = join_standalone_partials(text);
  std::map<std::string, std::string> partials;
  if (!load_checked(dir, path, text, vars, &partials, err)) return false;

  kainjow::mustache::mustache tmpl{text};
  if (!tmpl.is_valid()) {
    *err = "template '" + path + "': " + tmpl.error_message();
    return false;
  }
  tmpl.set_custom_escape([](const std::string& s) { return s; });
  kainjow::mustache::data data;
  for (const auto& [key, value] : vars) data.set(key, value);
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

}  // namespace render
