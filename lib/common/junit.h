// JUnit XML reports of test results (run-tests --junit, verify --junit), which every CI
// system shows without a plugin: one test case per model type and backend, plus one for
// the reference.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace junit {

/// One test case of the report.
struct Case {
  std::string classname;  ///< "<family>.<model_type>"
  std::string name;       ///< "reference", a backend or "contract", then "[<task>]" (and the precision)
  std::string outcome;    ///< "pass", "failure", "error" or "skipped"
  std::string message;    ///< why it did not pass, on one line (the message attribute)
  std::string text;       ///< the whole story, for a failure or an error (the element's text)
  double time_s = 0;
};

/// The cases of one test-result record: its reference, then each backend. A backend's
/// time is its own elapsed_s; the reference gets the rest of the record's elapsed_s
/// (building the model and computing the expectations), so the cases' times add up to
/// the test's. skip, unimplemented and no-skillset are skipped, with the reason.
std::vector<Case> result_cases(const nlohmann::json& result);

/// The case of verify's static checks of `manifest`'s skillset: a failure listing
/// `findings` (its discrepancy records), or a pass when there are none.
Case contract_case(const nlohmann::json& manifest, const std::vector<nlohmann::json>& findings);

/// The case of a manifest without a skillset (unsupported-family, not-servable, ...):
/// skipped, its status as the reason.
Case unsupported_case(const nlohmann::json& manifest);

/// The XML document: one testsuite named `suite` holding `cases`, its totals (tests,
/// failures, errors, skipped, time) on it and on the testsuites root.
std::string document(const std::string& suite, const std::vector<Case>& cases);

/// `text` as XML 1.0 character data (`in_attribute` false) or a quoted attribute value:
/// markup characters as entities; in an attribute also tab, newline and carriage return
/// as character references, which a parser would otherwise turn into spaces. What XML
/// 1.0 cannot hold at all, even as a reference (control characters, U+FFFE, U+FFFF),
/// and bytes that are not UTF-8 are written as visible `\xNN`.
std::string escape(const std::string& text, bool in_attribute);

}  // namespace junit
