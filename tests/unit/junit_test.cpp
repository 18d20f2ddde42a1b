#include "common/junit.h"

#include <doctest/doctest.h>

#include <map>

namespace {
nlohmann::json result() {
  return {{"model_type", "bert"},
          {"family", "text-encoder"},
          {"task", "feature-extraction"},
          {"reference", {{"status", "pass"}}},
          {"backends",
           {{"cpu", {{"status", "pass"}, {"elapsed_s", 0.5}}},
            {"cuda", {{"status", "skip"}, {"reason", "no-device"}, {"message", "no CUDA device"}}},
            {"onnx",
             {{"status", "fail"}, {"class", "parity"}, {"message", "max abs diff 0.3\nat case two"}, {"max_abs_diff", 0.3}}},
            {"openvino", {{"status", "error"}, {"class", "conversion"}, {"message", "convert failed"}, {"elapsed_s", 1.0}}},
            {"webnn", {{"status", "unimplemented"}, {"reason", "unimplemented"}}},
            {"webgpu", {{"status", "no-skillset"}}}}},
          {"elapsed_s", 4.0}};
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("escape writes markup characters as entities, in text and in attributes") {
  CHECK(junit::escape("a<b>&\"c'", false) == "a&lt;b&gt;&amp;&quot;c&apos;");
  CHECK(junit::escape("a<b>&\"c'", true) == "a&lt;b&gt;&amp;&quot;c&apos;");
}

TEST_CASE("escape keeps tabs and newlines in text and writes them as references in attributes") {
  CHECK(junit::escape("a\tb\nc\rd", false) == "a\tb\nc&#13;d");
  CHECK(junit::escape("a\tb\nc\rd", true) == "a&#9;b&#10;c&#13;d");
}

TEST_CASE("escape writes control characters XML 1.0 cannot hold as visible \\xNN") {
  CHECK(junit::escape(std::string("a\0b\x01\x1b[0m\x7f", 9), true) == "a\\x00b\\x01\\x1b[0m\x7f");
  CHECK(junit::escape("\xef\xbf\xbe\xef\xbf\xbf", false) == "\\xef\\xbf\\xbe\\xef\\xbf\\xbf");  // U+FFFE, U+FFFF
}

TEST_CASE("escape keeps well-formed UTF-8 and writes malformed bytes as \\xNN") {
  CHECK(junit::escape("caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80", true) == "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80");
  CHECK(junit::escape("\xc3", false) == "\\xc3");                   // cut short
  CHECK(junit::escape("\xc0\xaf", false) == "\\xc0\\xaf");          // overlong '/'
  CHECK(junit::escape("\xed\xa0\x80", false) == "\\xed\\xa0\\x80");  // a surrogate
  CHECK(junit::escape("\xff", false) == "\\xff");
}

TEST_CASE("result_cases gives the reference and each backend, with the outcome each status means") {
  auto cases = junit::result_cases(result());
  REQUIRE(cases.size() == 7);
  CHECK(cases[0].name == "reference[feature-extraction]");
  CHECK(cases[0].classname == "text-encoder.bert");
  CHECK(cases[0].outcome == "pass");
  std::map<std::string, junit::Case> by_name;
  for (const auto& c : cases) by_name[c.name] = c;
  CHECK(by_name["cpu[feature-extraction]"].outcome == "pass");
  CHECK(by_name["cuda[feature-extraction]"].outcome == "skipped");
  CHECK(by_name["cuda[feature-extraction]"].message == "skip (no-device): no CUDA device");
  CHECK(by_name["onnx[feature-extraction]"].outcome == "failure");
  CHECK(by_name["onnx[feature-extraction]"].message == "max abs diff 0.3");
  CHECK(by_name["onnx[feature-extraction]"].text == "fail (parity): max abs diff 0.3\nat case two\nmax_abs_diff: 0.3");
  CHECK(by_name["openvino[feature-extraction]"].outcome == "error");
  CHECK(by_name["openvino[feature-extraction]"].text == "error (conversion): convert failed");
  CHECK(by_name["webnn[feature-extraction]"].outcome == "skipped");
  CHECK(by_name["webnn[feature-extraction]"].message == "unimplemented");
  CHECK(by_name["webgpu[feature-extraction]"].outcome == "skipped");
  CHECK(by_name["webgpu[feature-extraction]"].message == "no-skillset");
}

TEST_CASE("result_cases gives the reference what the backends' own times leave of the test's") {
  auto cases = junit::result_cases(result());
  double total = 0;
  for (const auto& c : cases) total += c.time_s;
  CHECK(cases[0].time_s == doctest::Approx(2.5));
  CHECK(total == doctest::Approx(4.0));
}

TEST_CASE("result_cases names a precision other than fp32 beside the task") {
  auto record = result();
  record["precision"] = "fp16";
  CHECK(junit::result_cases(record)[0].name == "reference[feature-extraction,fp16]");
  record["precision"] = "fp32";
  CHECK(junit::result_cases(record)[0].name == "reference[feature-extraction]");
}

TEST_CASE("result_cases makes a status that is none of the schema's an error, never a pass") {
  auto record = result();
  record["backends"] = {{"cpu", {{"status", "maybe"}}}, {"cuda", "not an object"}};
  auto cases = junit::result_cases(record);
  REQUIRE(cases.size() == 3);
  CHECK(cases[1].outcome == "error");
  CHECK(cases[2].outcome == "error");
}

TEST_CASE("document totals tests, failures, errors, skipped and time on the suite and the root") {
  std::string xml = junit::document("run-tests", junit::result_cases(result()));
  std::string totals = "name=\"run-tests\" tests=\"7\" failures=\"1\" errors=\"1\" skipped=\"3\" time=\"4.000\"";
  CHECK(count(xml, "<testsuites " + totals + ">") == 1);
  CHECK(count(xml, "<testsuite " + totals + ">") == 1);
  CHECK(count(xml, "<testcase ") == 7);
  CHECK(count(xml, "<skipped message=\"skip (no-device): no CUDA device\"/>") == 1);
  CHECK(count(xml, "<failure message=\"max abs diff 0.3\">fail (parity): max abs diff 0.3\nat case two\nmax_abs_diff: 0.3</failure>") == 1);
  CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 0) == 0);
}

TEST_CASE("document of no cases is an empty suite") {
  CHECK(junit::document("verify", {}).find("<testsuite name=\"verify\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0.000\">") !=
        std::string::npos);
}

TEST_CASE("document escapes every name, message and text it writes") {
  junit::Case c;
  c.classname = "x.<a&b>";
  c.name = "reference[\"q\"]";
  c.outcome = "error";
  c.message = "bad \x01 thing";
  c.text = "</error><x>";
  std::string xml = junit::document("s\"", {c});
  CHECK(xml.find("classname=\"x.&lt;a&amp;b&gt;\" name=\"reference[&quot;q&quot;]\"") != std::string::npos);
  CHECK(xml.find("<error message=\"bad \\x01 thing\">&lt;/error&gt;&lt;x&gt;</error>") != std::string::npos);
  CHECK(xml.find("name=\"s&quot;\"") != std::string::npos);
}

TEST_CASE("contract_case fails with every static finding, and passes without one") {
  nlohmann::json manifest = {{"model_type", "bert"}, {"family", "text-encoder"}, {"task", "feature-extraction"}};
  CHECK(junit::contract_case(manifest, {}).outcome == "pass");
  auto c = junit::contract_case(manifest, {{{"kind", "missing-init"}, {"detail", "no init_cpu"}, {"backend", "cpu"}},
                                           {{"kind", "missing-handler"}, {"detail", "no handler"}}});
  CHECK(c.outcome == "failure");
  CHECK(c.name == "contract[feature-extraction]");
  CHECK(c.message == "missing-init (cpu): no init_cpu (and 1 more)");
  CHECK(c.text == "missing-init (cpu): no init_cpu\nmissing-handler: no handler\n");
}

TEST_CASE("unsupported_case is skipped with the manifest's status as the reason") {
  auto c = junit::unsupported_case({{"model_type", "x"}, {"family", "audio-text-to-text"}, {"task", "t"}, {"status", "unsupported-family"}});
  CHECK(c.outcome == "skipped");
  CHECK(c.message == "unsupported-family");
  CHECK(c.classname == "audio-text-to-text.x");
  CHECK(c.name == "skillset[t]");
  CHECK(junit::unsupported_case({{"model_type", "x"}, {"family", "audio-text-to-text"}, {"status", "not-servable"}}).name == "skillset");
}
