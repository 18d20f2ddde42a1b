#include "common/junit.h"

#include <algorithm>
#include <cstdio>

namespace junit {
namespace {

std::string text_field(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

double seconds_field(const nlohmann::json& object) {
  auto it = object.find("elapsed_s");
  return it != object.end() && it->is_number() ? std::max(0.0, it->get<double>()) : 0.0;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// A name per (model type, task, precision, backend): the same model type may be tested
// for several tasks or precisions in one run, and CI systems merge cases of one name.
Case named(const nlohmann::json& record, const std::string& part) {
  Case c;
  c.classname = text_field(record, "family") + "." + text_field(record, "model_type");
  std::string task = text_field(record, "task"), precision = text_field(record, "precision");
  if (!precision.empty() && precision != "fp32") task += "," + precision;
  c.name = task.empty() ? part : part + "[" + task + "]";
  return c;
}

// A reference or backend part of a test-result ({"status", "reason"?, "class"?, "message"?,
// ...}): a skip says why with its reason, a failure with its failure class.
Case part_case(const nlohmann::json& record, const std::string& part, const nlohmann::json& outcome) {
  Case c = named(record, part);
  std::string status = outcome.is_object() ? text_field(outcome, "status") : "";
  std::string reason = outcome.is_object() ? text_field(outcome, "reason") : "";
  std::string message = outcome.is_object() ? text_field(outcome, "message") : "";
  if (status == "pass") {
    c.outcome = "pass";
  } else if (status == "skip" || status == "unimplemented" || status == "no-skillset") {
    c.outcome = "skipped";
    std::string why = reason.empty() || reason == status ? status : status + " (" + reason + ")";
    c.message = message.empty() ? why : why + ": " + first_line(message);
  } else {
    // fail, error, or anything a worker answered that is no status: has_failure counts
    // only fail and error, the rest is an error here too, never a pass.
    c.outcome = status == "fail" ? "failure" : "error";
    std::string why = status.empty() ? "no status" : status;
    std::string failure_class = outcome.is_object() ? text_field(outcome, "class") : "";
    if (!failure_class.empty()) why += " (" + failure_class + ")";
    c.message = message.empty() ? why : first_line(message);
    c.text = why + (message.empty() ? "" : ": " + message);
    if (outcome.is_object() && outcome.contains("max_abs_diff") && outcome["max_abs_diff"].is_number())
      c.text += "\nmax_abs_diff: " + outcome["max_abs_diff"].dump();
  }
  return c;
}

std::string attribute(const char* name, const std::string& value) {
  return std::string(" ") + name + "=\"" + escape(value, true) + "\"";
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

// The code point of the UTF-8 sequence at text[i] and its length, or 0 for a byte that
// starts no well-formed sequence (overlong forms and surrogates included).
size_t decode(const std::string& text, size_t i, char32_t* code) {
  unsigned char lead = text[i];
  if (lead < 0x80) {
    *code = lead;
    return 1;
  }
  size_t length = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 && lead < 0xF0 ? 3 : lead >= 0xC2 && lead < 0xE0 ? 2 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  char32_t value = lead & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) {
    unsigned char next = text[i + k];
    if ((next & 0xC0) != 0x80) return 0;
    value = (value << 6) | (next & 0x3F);
  }
  static const char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kSmallest[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *code = value;
  return length;
}

}  // namespace

std::string escape(const std::string& text, bool in_attribute) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t code = 0;
    size_t length = decode(text, i, &code);
    bool allowed = length > 0 && (code >= 0x20 || code == '\t' || code == '\n' || code == '\r') &&
                   code != 0xFFFE && code != 0xFFFF;
    if (!allowed) {
      for (size_t k = 0; k < std::max<size_t>(length, 1); ++k) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(text[i + k]));
        out += buf;
      }
      i += std::max<size_t>(length, 1);
      continue;
    }
    switch (code) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\r': out += "&#13;"; break;  // a parser turns a raw one into a newline
      case '\t': out += in_attribute ? "&#9;" : "\t"; break;
      case '\n': out += in_attribute ? "&#10;" : "\n"; break;
      default: out.append(text, i, length);
    }
    i += length;
  }
  return out;
}

std::vector<Case> result_cases(const nlohmann::json& result) {
  std::vector<Case> cases;
  const auto empty = nlohmann::json::object();
  auto reference = result.find("reference");
  cases.push_back(part_case(result, "reference", reference != result.end() ? *reference : empty));
  double backends_s = 0;
  auto backends = result.find("backends");
  if (backends != result.end() && backends->is_object())
    for (const auto& [backend, outcome] : backends->items()) {
      cases.push_back(part_case(result, backend, outcome));
      cases.back().time_s = outcome.is_object() ? seconds_field(outcome) : 0;
      backends_s += cases.back().time_s;
    }
  cases.front().time_s = std::max(0.0, seconds_field(result) - backends_s);
  return cases;
}

Case contract_case(const nlohmann::json& manifest, const std::vector<nlohmann::json>& findings) {
  Case c = named(manifest, "contract");
  if (findings.empty()) {
    c.outcome = "pass";
    return c;
  }
  c.outcome = "failure";
  for (const auto& d : findings) {
    std::string line = text_field(d, "kind");
    if (d.contains("backend")) line += " (" + text_field(d, "backend") + ")";
    line += ": " + text_field(d, "detail");
    if (c.message.empty()) c.message = first_line(line);
    c.text += line + "\n";
  }
  if (findings.size() > 1) c.message += " (and " + std::to_string(findings.size() - 1) + " more)";
  return c;
}

Case unsupported_case(const nlohmann::json& manifest) {
  Case c = named(manifest, "skillset");
  c.outcome = "skipped";
  c.message = text_field(manifest, "status");
  return c;
}

std::string document(const std::string& suite, const std::vector<Case>& cases) {
  size_t failures = 0, errors = 0, skipped = 0;
  double time_s = 0;
  std::string body;
  for (const auto& c : cases) {
    failures += c.outcome == "failure";
    errors += c.outcome == "error";
    skipped += c.outcome == "skipped";
    time_s += c.time_s;
    body += "    <testcase" + attribute("classname", c.classname) + attribute("name", c.name) +
            attribute("time", seconds(c.time_s));
    if (c.outcome == "pass") {
      body += "/>\n";
      continue;
    }
    body += ">\n      <" + c.outcome + attribute("message", c.message);
    if (c.outcome == "skipped" || c.text.empty())
      body += "/>\n";
    else
      body += ">" + escape(c.text, false) + "</" + c.outcome + ">\n";
    body += "    </testcase>\n";
  }
  std::string totals = attribute("name", suite) + attribute("tests", std::to_string(cases.size())) +
                       attribute("failures", std::to_string(failures)) + attribute("errors", std::to_string(errors)) +
                       attribute("skipped", std::to_string(skipped)) + attribute("time", seconds(time_s));
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites" + totals + ">\n  <testsuite" + totals + ">\n" +
         body + "  </testsuite>\n</testsuites>\n";
}

}  // namespace junit
