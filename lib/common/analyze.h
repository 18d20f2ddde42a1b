// analyze: test results become requirements, the input of gen-skillset.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

struct Analysis {
  std::vector<nlohmann::json> requirements;  ///< one per (model type, task) whose reference passed, in that order
  std::vector<std::string> failed;           ///< "<model_type>: <why>" for references that did not pass
};

/// Turns test-result records into requirements records. Requirements hold only what
/// shapes the implementation (no timings, no backend statuses), so the same tests give
/// byte-identical requirements, and a second loop changes nothing. When a (model type,
/// task) has several results, the last one counts. The batch policy the reference found
/// (reference.batching.policy) becomes `batch_policy`.
Analysis analyze(const std::vector<nlohmann::json>& results);
