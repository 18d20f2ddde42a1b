// verify: what still differs between a skillset, its requirements and a fresh test run.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

/// Static checks of the skillset file a manifest names against the contract and its
/// requirements: the class, every init with the worker's signature, the handler, the
/// auto class and processor the requirements chose. One discrepancy record each.
std::vector<nlohmann::json> check_static(const nlohmann::json& manifest);

/// Discrepancies in a fresh test-result body of `manifest`'s skillset: a reference
/// that did not pass, a backend that failed or errored, a missing skillset. Skips and
/// unimplemented backends are not discrepancies; they are counted in the summary.
std::vector<nlohmann::json> check_result(const nlohmann::json& manifest, const nlohmann::json& result);

/// Tallies for the verify-summary record.
struct VerifyTally {
  int skillsets = 0, passed = 0, unsupported = 0, discrepancies = 0;
  std::map<std::string, int> statuses;       ///< backend status -> count
  std::map<std::string, int> unimplemented;  ///< backend -> skillsets where it is unimplemented

  /// Counts one skillset's result and its discrepancies.
  void add(const nlohmann::json& result, size_t discrepancy_count);
  nlohmann::json summary() const;
};
