#include "common/report.h"

#include <doctest/doctest.h>

#include "temp_dir.h"

namespace {
using json = nlohmann::json;

json result(const std::string& type, const std::string& family, json backends, const std::string& reference = "pass") {
  return {{"schema", "test-result"}, {"version", 1},         {"model_type", type},
          {"ident", type},           {"family", family},     {"task", "feature-extraction"},
          {"test_file", "/t.py"},    {"skillset_file", "/s.py"}, {"backends", backends},
          {"reference", {{"status", reference}}},           {"versions", {{"torch", "2.13.0"}}}};
}

json benchmark(const std::string& backend, int batch, double median) {
  json timings = {{"latency_ms_median", median}, {"latency_ms_p95", median * 1.5}, {"throughput_per_s", 100.0},
                  {"peak_memory_bytes", 1 << 20}};
  return {{"schema", "benchmark"},   {"version", 1},        {"model_type", "bert"}, {"ident", "bert"},
          {"family", "text-encoder"}, {"task", "feature-extraction"}, {"backend", backend},
          {"checkpoint", "tiny"},     {"batch_size", batch}, {"repeats", 20},        {"skillset", timings},
          {"direct", timings},        {"overhead_pct", 1.5}};
}

json built(const std::vector<json>& records, const json& history = nullptr) {
  json doc;
  std::string err;
  REQUIRE_MESSAGE(report::build(records, history, &doc, &err), err);
  return doc;
}
}  // namespace

TEST_CASE("build makes a row per model type with a cell per backend column, in the backend list's order") {
  json doc = built({result("gpt2", "text-decoder", {{"openvino", {{"status", "pass"}}}}),
                    result("bert", "text-encoder", {{"cpu", {{"status", "skip"}, {"reason", "no-device"}}}})});
  CHECK(doc["backends"] == json({"cpu", "openvino"}));
  REQUIRE(doc["rows"].size() == 2);
  CHECK(doc["rows"][0]["model_type"] == "gpt2");  // by family: text-decoder first
  CHECK(doc["rows"][0]["cells"]["cpu"] == json({{"status", "absent"}}));
  CHECK(doc["rows"][1]["cells"]["cpu"]["reason"] == "no-device");
  CHECK(doc["rows"][1]["cells"]["cpu"]["reference"]["status"] == "pass");
  CHECK(doc["rows"][1]["precision"] == "fp32");
}

TEST_CASE("build lets a later record replace the cell of the same model type, task, precision and backend") {
  json first = result("bert", "text-encoder", {{"cpu", {{"status", "fail"}}}, {"onnx", {{"status", "pass"}}}}, "fail");
  json later = result("bert", "text-encoder", {{"cpu", {{"status", "pass"}}}});
  json fp16 = result("bert", "text-encoder", {{"cpu", {{"status", "error"}}}});
  fp16["precision"] = "fp16";
  json doc = built({first, later, fp16});
  REQUIRE(doc["rows"].size() == 2);
  const json& row = doc["rows"][0];
  CHECK(row["precision"] == "fp16");
  CHECK(doc["rows"][1]["cells"]["cpu"]["status"] == "pass");
  CHECK(doc["rows"][1]["cells"]["onnx"]["status"] == "pass");  // only in the first record: kept
  CHECK(doc["rows"][1]["cells"]["onnx"]["reference"]["status"] == "fail");  // that record's reference
  CHECK(doc["rows"][1]["reference"]["status"] == "pass");                    // the row's: the latest
}

TEST_CASE("build counts per backend what passes of what was tested, and the reference, as make survey does") {
  json doc = built({result("bert", "text-encoder", {{"cpu", {{"status", "pass"}, {"elapsed_s", 1.5}}}}),
                    result("roberta", "text-encoder", {{"cpu", {{"status", "fail"}, {"elapsed_s", 2.0}}}}, "fail"),
                    result("gpt2", "text-decoder", {{"openvino", {{"status", "pass"}}}})});
  const json& s = doc["summary"];
  CHECK(s["rows"] == 3);
  CHECK(s["reference_pass"] == 2);
  CHECK(s["backends"]["cpu"] == json({{"pass", 1}, {"tested", 2}, {"elapsed_s", 3.5}}));
  CHECK(s["backends"]["openvino"]["pass"] == 1);
  CHECK(s["backends"]["openvino"]["tested"] == 1);
  CHECK(s["families"]["text-encoder"]["rows"] == 2);
  CHECK(s["families"]["text-encoder"]["backends"]["openvino"] == json({{"pass", 0}, {"tested", 0}}));
}

TEST_CASE("build keeps a failure class beside the reason when a result carries one") {
  json doc = built({result("bert", "text-encoder",
                           {{"cpu", {{"status", "fail"}, {"class", "mismatch"}, {"message", "off by 1e-3"}}}})});
  const json& cell = doc["rows"][0]["cells"]["cpu"];
  CHECK(cell["class"] == "mismatch");
  CHECK(cell["message"] == "off by 1e-3");
  CHECK(report::markdown(doc).find("| fail (mismatch) |") != std::string::npos);
}

TEST_CASE("build gives each cell the history of its model type, task, precision and backend") {
  json history = {{"bert|feature-extraction|fp32|cpu",
                   {{{"run", 1}, {"recorded_at", "2026-11-30T01:00:00Z"}, {"status", "pass"}, {"reason", nullptr},
                     {"versions", {{"transformers", "5.22.0"}}}},
                    {{"run", 2}, {"recorded_at", "2026-12-01T01:00:00Z"}, {"status", "fail"}, {"reason", nullptr},
                     {"versions", {{"transformers", "5.23.0"}}}}}}};
  json doc = built({result("bert", "text-encoder", {{"cpu", {{"status", "fail"}}}, {"onnx", {{"status", "pass"}}}})},
                   history);
  const json& cells = doc["rows"][0]["cells"];
  REQUIRE(cells["cpu"]["history"].size() == 2);
  CHECK(cells["cpu"]["history"][1]["run"] == 2);
  CHECK_FALSE(cells["onnx"].contains("history"));
  CHECK_FALSE(built({result("bert", "text-encoder", {{"cpu", {{"status", "fail"}}}})})["rows"][0]["cells"]["cpu"].contains(
      "history"));
}

TEST_CASE("build refuses a history of another shape") {
  json doc;
  std::string err;
  std::vector<json> records = {result("bert", "text-encoder", {{"cpu", {{"status", "pass"}}}})};
  CHECK_FALSE(report::build(records, json::array(), &doc, &err));
  CHECK(err.find("history") != std::string::npos);
  CHECK_FALSE(report::build(records, {{"bert|feature-extraction|fp32|cpu", {{{"run", 1}}}}}, &doc, &err));
  CHECK(err.find("recorded_at") != std::string::npos);
}

TEST_CASE("build keeps the later benchmark of the same backend and batch size, ordered by backend then batch") {
  json doc = built({benchmark("onnx", 1, 9.0), benchmark("cpu", 8, 5.0), benchmark("cpu", 1, 3.0),
                    benchmark("cpu", 8, 4.0)});
  REQUIRE(doc["benchmarks"].size() == 3);
  CHECK(doc["benchmarks"][0]["backend"] == "cpu");
  CHECK(doc["benchmarks"][0]["batch_size"] == 1);
  CHECK(doc["benchmarks"][1]["skillset"]["latency_ms_median"] == 4.0);
  CHECK(doc["benchmarks"][2]["backend"] == "onnx");
  CHECK(doc["benchmarks"][0]["precision"] == "fp32");
  CHECK(doc["rows"].empty());
}

TEST_CASE("markdown shows the summary, the matrix and the benchmark figures") {
  json doc = built({result("bert", "text-encoder", {{"cpu", {{"status", "pass"}, {"elapsed_s", 1.0}}},
                                                    {"cuda", {{"status", "skip"}, {"reason", "no-device"}}}}),
                    benchmark("cpu", 1, 3.0)});
  std::string text = report::markdown(doc);
  CHECK(text.find("| cpu | 1 | 1 | 1 |") != std::string::npos);
  CHECK(text.find("| text-encoder | 1 | 1 | 1 of 1 | 0 of 1 |") != std::string::npos);
  CHECK(text.find("| text-encoder | bert | feature-extraction | pass | pass | skip (no-device) |") != std::string::npos);
  CHECK(text.find("| bert | tiny | cpu | 1 | 3.00 | 4.50 | 3.00 | 4.50 | 100.0 | 100.0 | 1.0 | +1.5 |") !=
        std::string::npos);
}

TEST_CASE("markdown writes a record's text as text: no table break, no HTML") {
  json doc = built({result("bert", "text-encoder",
                           {{"cpu", {{"status", "error"}, {"message", "a|b <script>x</script> & `c`\nd"}}}})});
  std::string text = report::markdown(doc);
  CHECK(text.find("a\\|b &lt;script&gt;x&lt;/script&gt; &amp; \\`c\\` d") != std::string::npos);
  CHECK(text.find("<script>") == std::string::npos);
}

TEST_CASE("html puts the report in the page where no string of it can end the script") {
  TempDir dir;
  dir.write("report.html.mustache", "<script type=\"application/json\">{{{report_json}}}</script>\n<script>{{{chart_js}}}</script>\n");
  json doc = built({result("bert", "text-encoder", {{"cpu", {{"status", "fail"}, {"message", "</script><b>&"}}}})});
  std::string page, err;
  REQUIRE_MESSAGE(report::html(doc, dir.path(), "var a = \"</SCRIPT>\";\n//# sourceMappingURL=chart.umd.min.js.map\n",
                               &page, &err),
                  err);
  CHECK(page.find("\\u003c/script\\u003e\\u003cb\\u003e\\u0026") != std::string::npos);
  CHECK(page.find("var a = \"<\\/SCRIPT>\";") != std::string::npos);
  CHECK(page.find("sourceMappingURL") == std::string::npos);
  CHECK(page.find("</script>") == page.rfind("</script>", page.find("<script>", 1)));  // only the first element's end
}
