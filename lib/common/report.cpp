#include "common/report.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <tuple>

#include "common/render.h"
#include "common/schema.h"

namespace report {
namespace {

using json = nlohmann::json;

// What the page and the Markdown show of an outcome: a failure class (a field some
// results carry) is kept when present, never required.
json outcome_of(const json& from) {
  json out = {{"status", from.value("status", "")}};
  for (const char* key : {"reason", "message", "class"})
    if (auto it = from.find(key); it != from.end() && it->is_string()) out[key] = *it;
  return out;
}

json cell_of(const json& backend, const json& reference) {
  json cell = outcome_of(backend);
  for (const char* key : {"max_abs_diff", "elapsed_s"})
    if (auto it = backend.find(key); it != backend.end()) cell[key] = *it;
  cell["reference"] = reference;
  return cell;
}

std::string precision_of(const json& record) { return record.value("precision", "fp32"); }

json tally() { return {{"pass", 0}, {"tested", 0}}; }

json summary_of(const json& rows, const json& backends) {
  json summary = {{"rows", 0}, {"reference_pass", 0}, {"backends", json::object()}, {"families", json::object()}};
  for (const auto& backend : backends) summary["backends"][backend.get<std::string>()] = tally();
  for (const auto& row : rows) {
    json& family = summary["families"][row["family"].get<std::string>()];
    if (family.is_null()) {
      family = {{"rows", 0}, {"reference_pass", 0}, {"backends", json::object()}};
      for (const auto& backend : backends) family["backends"][backend.get<std::string>()] = tally();
    }
    int passed = row["reference"]["status"] == "pass";
    for (json* counts : {&summary, &family}) {
      (*counts)["rows"] = (*counts)["rows"].get<int>() + 1;
      (*counts)["reference_pass"] = (*counts)["reference_pass"].get<int>() + passed;
    }
    for (const auto& [backend, cell] : row["cells"].items()) {
      if (cell["status"] == "absent") continue;
      for (json* counts : {&summary["backends"][backend], &family["backends"][backend]}) {
        (*counts)["tested"] = (*counts)["tested"].get<int>() + 1;
        (*counts)["pass"] = (*counts)["pass"].get<int>() + (cell["status"] == "pass");
      }
      json& seconds = summary["backends"][backend]["elapsed_s"];
      seconds = (seconds.is_null() ? 0.0 : seconds.get<double>()) + cell.value("elapsed_s", 0.0);
    }
  }
  return summary;
}

// Markdown text of a value from a record: one line, no table break, no HTML.
std::string md(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\n': case '\r': case '\t': out += ' '; break;
      case '|': out += "\\|"; break;
      case '\\': case '`': case '*': case '[': case ']': out += '\\'; out += c; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      default: out += c;
    }
  }
  return out;
}

// "skip (no-device)", "fail (mismatch, class)": a status with its reason and class.
std::string label(const json& outcome) {
  std::string why;
  for (const char* key : {"reason", "class"})
    if (outcome.contains(key) && outcome[key] != outcome["status"])
      why += (why.empty() ? "" : ", ") + outcome[key].get<std::string>();
  return outcome["status"].get<std::string>() + (why.empty() ? "" : " (" + why + ")");
}

std::string number(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string row_name(const json& row) {
  std::string precision = row["precision"];
  return row["model_type"].get<std::string>() + (precision == "fp32" ? "" : " (" + precision + ")");
}

std::string table_row(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const auto& cell : cells) out += " " + cell + " |";
  return out + "\n";
}

std::string rule(size_t columns) {
  std::string out = "|";
  for (size_t i = 0; i < columns; ++i) out += "---|";
  return out + "\n";
}

std::string md_summary(const json& report) {
  const json& summary = report["summary"];
  std::string out = std::to_string(summary["rows"].get<int>()) +
                    " model types tested (a row per model type, task and precision); the reference passes on " +
                    std::to_string(summary["reference_pass"].get<int>()) + ".\n\n";
  out += table_row({"backend", "pass", "tested", "seconds"}) + rule(4);
  for (const auto& backend : report["backends"]) {
    const json& t = summary["backends"][backend.get<std::string>()];
    out += table_row({md(backend), std::to_string(t["pass"].get<int>()), std::to_string(t["tested"].get<int>()),
                      number("%.0f", t.value("elapsed_s", 0.0))});
  }
  std::vector<std::string> head = {"family", "rows", "reference"};
  for (const auto& backend : report["backends"]) head.push_back(md(backend));
  out += "\n" + table_row(head) + rule(head.size());
  auto family_row = [&](const std::string& name, const json& counts) {
    std::vector<std::string> cells = {name, std::to_string(counts["rows"].get<int>()),
                                      std::to_string(counts["reference_pass"].get<int>())};
    for (const auto& backend : report["backends"]) {
      const json& t = counts["backends"][backend.get<std::string>()];
      cells.push_back(std::to_string(t["pass"].get<int>()) + " of " + std::to_string(t["tested"].get<int>()));
    }
    return table_row(cells);
  };
  for (const auto& [family, counts] : summary["families"].items()) out += family_row(md(family), counts);
  out += family_row("all", summary);
  return out;
}

std::string md_matrix(const json& report) {
  std::vector<std::string> head = {"family", "model type", "task", "reference"};
  for (const auto& backend : report["backends"]) head.push_back(md(backend));
  std::string out = table_row(head) + rule(head.size());
  std::string failures;
  for (const auto& row : report["rows"]) {
    std::vector<std::string> cells = {md(row["family"]), md(row_name(row)), md(row["task"]), md(label(row["reference"]))};
    std::string where = md(row_name(row)) + ", " + md(row["task"]);
    if (row["reference"].contains("message") && row["reference"]["status"] != "pass")
      failures += "- " + where + ", reference: " + md(label(row["reference"])) + ": " +
                  md(row["reference"]["message"]) + "\n";
    for (const auto& backend : report["backends"]) {
      const json& cell = row["cells"][backend.get<std::string>()];
      cells.push_back(md(label(cell)));
      if ((cell["status"] == "fail" || cell["status"] == "error") && cell.contains("message"))
        failures += "- " + where + ", " + md(backend) + ": " + md(label(cell)) + ": " + md(cell["message"]) + "\n";
    }
    out += table_row(cells);
  }
  if (!failures.empty()) out += "\n### What did not pass\n\n" + failures;
  return out;
}

std::string md_benchmarks(const json& report) {
  std::string out = table_row({"model type", "checkpoint", "backend", "batch", "median ms", "p95 ms",
                               "direct median ms", "direct p95 ms", "inputs/s", "direct inputs/s",
                               "peak MiB", "overhead %"}) +
                    rule(12);
  for (const auto& b : report["benchmarks"]) {
    const json &s = b["skillset"], &d = b["direct"];
    out += table_row({md(row_name(b)), md(b["checkpoint"]), md(b["backend"]), std::to_string(b["batch_size"].get<int>()),
                      number("%.2f", s["latency_ms_median"]), number("%.2f", s["latency_ms_p95"]),
                      number("%.2f", d["latency_ms_median"]), number("%.2f", d["latency_ms_p95"]),
                      number("%.1f", s["throughput_per_s"]), number("%.1f", d["throughput_per_s"]),
                      number("%.1f", s["peak_memory_bytes"].get<double>() / (1 << 20)),
                      number("%+.1f", b["overhead_pct"])});
  }
  return out;
}

// `text` made safe inside a <script> element: nothing in it can close the element or
// open a comment. In JSON, `<`, `>` and `&` occur only inside strings, where the \u
// escapes mean the same.
std::string json_for_script(const json& value) {
  std::string out;
  for (char c : value.dump(-1, ' ', false, json::error_handler_t::replace)) {
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else out += c;
  }
  return out;
}

// chart.js's text for a <script> element: a `</script` in it (none in 4.6.1, but the
// file is not ours; it can only stand in a string or a regular expression, where `<\/`
// means the same) escaped, and the source-map comment cut, so the page names no other file.
std::string script_for_page(std::string text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (size_t at = lower.size(); at > 0 && (at = lower.rfind("</script", at - 1)) != std::string::npos;)
    text.insert(at + 1, "\\");
  if (size_t map = text.rfind("\n//# sourceMappingURL="); map != std::string::npos) text.erase(map + 1);
  return text;
}

}  // namespace

bool build(const std::vector<json>& records, const json& history, json* out, std::string* err) {
  if (!history.is_null() && !history.is_object()) {
    *err = "history is not an object keyed 'model_type|task|precision|backend'";
    return false;
  }
  const schema::Set* formats = schema::project(err);
  if (!formats) return false;
  using RowKey = std::tuple<std::string, std::string, std::string, std::string>;  // family first: the page groups by it
  std::map<std::tuple<std::string, std::string, std::string>, json> rows;  // model type, task, precision
  // model type, task, precision, backend, checkpoint, batch size
  std::map<std::tuple<std::string, std::string, std::string, std::string, std::string, int>, json> benchmarks;
  std::vector<std::string> order = formats->enum_of("backend");
  std::vector<bool> seen(order.size(), false);
  for (const auto& record : records) {
    std::string model_type = record["model_type"], task = record["task"], precision = precision_of(record);
    if (record["schema"] == "benchmark") {
      json figures = {{"precision", precision}};
      for (const char* key : {"model_type", "family", "task", "backend", "checkpoint", "batch_size", "repeats",
                              "skillset", "direct", "overhead_pct"})
        figures[key] = record[key];
      benchmarks[{model_type, task, precision, record["backend"], record["checkpoint"], record["batch_size"]}] = figures;
      continue;
    }
    json& row = rows[{model_type, task, precision}];
    json reference = outcome_of(record["reference"]);
    json cells = row.is_null() ? json::object() : row["cells"];
    row = {{"model_type", model_type}, {"family", record["family"]}, {"task", task}, {"precision", precision},
           {"reference", reference}, {"versions", record.value("versions", json::object())}};
    for (const auto& [backend, outcome] : record["backends"].items()) {
      cells[backend] = cell_of(outcome, reference);
      seen[std::find(order.begin(), order.end(), backend) - order.begin()] = true;
    }
    row["cells"] = cells;
  }

  json backends = json::array();
  for (size_t i = 0; i < order.size(); ++i)
    if (seen[i]) backends.push_back(order[i]);
  std::map<RowKey, json> sorted;
  for (auto& [key, row] : rows) {
    for (const auto& backend : backends) {
      json& cell = row["cells"][backend.get<std::string>()];
      if (cell.is_null()) cell = {{"status", "absent"}};
      if (history.is_object()) {
        std::string history_key = row["model_type"].get<std::string>() + "|" + row["task"].get<std::string>() + "|" +
                                  row["precision"].get<std::string>() + "|" + backend.get<std::string>();
        if (auto it = history.find(history_key); it != history.end()) cell["history"] = *it;
      }
    }
    RowKey place{row["family"], std::get<0>(key), std::get<1>(key), std::get<2>(key)};
    sorted[place] = std::move(row);
  }
  json doc = {{"schema", "report"}, {"version", 1}, {"backends", backends}, {"rows", json::array()},
              {"benchmarks", json::array()}};
  for (auto& [key, row] : sorted) doc["rows"].push_back(std::move(row));
  // By family, model type, task, checkpoint and precision, then backend in the columns'
  // order, then batch size.
  std::vector<json> figures;
  for (auto& [key, b] : benchmarks) figures.push_back(std::move(b));
  auto rank = [&](const json& b) { return std::find(order.begin(), order.end(), b["backend"]) - order.begin(); };
  std::stable_sort(figures.begin(), figures.end(), [&](const json& a, const json& b) {
    auto key = [&](const json& x) {
      return std::make_tuple(x["family"], x["model_type"], x["task"], x["checkpoint"], x["precision"], rank(x),
                             x["batch_size"]);
    };
    return key(a) < key(b);
  });
  doc["benchmarks"] = figures;
  doc["summary"] = summary_of(doc["rows"], backends);

  std::string why;
  if (!formats->check("report", doc, &why)) {
    *err = "report " + why + " (a malformed history)";
    return false;
  }
  *out = std::move(doc);
  return true;
}

std::string markdown(const json& report) {
  std::string out = "# Compatibility matrix\n\n" + md_summary(report);
  if (!report["rows"].empty()) out += "\n## Matrix\n\n" + md_matrix(report);
  if (!report["benchmarks"].empty()) out += "\n## Benchmarks\n\n" + md_benchmarks(report);
  return out;
}

bool html(const json& report, const std::string& template_dir, const std::string& chart_js, std::string* out,
          std::string* err) {
  return render::html(template_dir, "report",
                      {{"report_json", json_for_script(report)}, {"chart_js", script_for_page(chart_js)}}, out, err);
}

}  // namespace report
