// report: test-result and benchmark records become the compatibility matrix (model types
// by backend and task, grouped by family) and the benchmark figures, written as JSON
// (schemas/report.schema.json), Markdown and one self-contained HTML page.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace report {

/// chart.js's browser build, relative to the project root (js/package.json pins it).
constexpr const char* kChartJs = "js/node_modules/chart.js/dist/chart.umd.min.js";

/// The report document of `records` (test-result and benchmark records, already valid
/// against their schemas, in input order). A later test-result replaces an earlier one's
/// cell of the same model type, task, precision and backend (and the row's reference);
/// a later benchmark an earlier one of the same model type, task, precision, backend,
/// checkpoint and batch size. `history` is null (no history) or an object keyed
/// "model_type|task|precision|backend" (what history::Database::cell_history gives),
/// each an array of past runs {"run", "recorded_at", "status", "reason", "versions"},
/// oldest first: the cell of that key carries its array as `history`. Fails when the document breaks its schema (a malformed history).
bool build(const std::vector<nlohmann::json>& records, const nlohmann::json& history, nlohmann::json* out,
           std::string* err);

/// The report as Markdown: the summary counts, the counts per family, the matrix, what
/// did not pass with its message, and the benchmark figures.
std::string markdown(const nlohmann::json& report);

/// The report as one HTML page needing nothing at view time: `<template_dir>/report.html.mustache`
/// with the report's data and `chart_js` (chart.js's text, inlined; empty when it is not
/// there, and the page then says how to get the charts) in the page.
bool html(const nlohmann::json& report, const std::string& template_dir, const std::string& chart_js,
          std::string* out, std::string* err);

}  // namespace report
