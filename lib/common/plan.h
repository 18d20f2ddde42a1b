// What gen-tests and gen-skillset decide from the registry: a model type's test plan
// and, when no measured requirements exist yet, its default implementation choice.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/hub.h"
#include "common/registry.h"

/// Where a model came from: the spec as given and where its config was found.
struct Target {
  std::string model_type;
  std::string model_id;       ///< the spec as the user gave it
  std::string config_source;  ///< registry, cache, hub or local
  /// config.json's `architectures`: the checkpoint's head classes (none for registry specs)
  std::vector<std::string> architectures = {};
  /// A directory holding the real checkpoint the test runs instead of a tiny model: a
  /// local spec's directory, or a Hub snapshot fetch_checkpoints downloaded; "" for none.
  std::string checkpoint = {};
  hub::RepoRef repo = {};    ///< Hub specs (config_source hub or cache): the repository
  std::string commit = {};   ///< Hub specs: the commit its revision resolved to
};

struct PlanOptions {
  std::string template_dir;   ///< templates/ of the project
  std::string test_dir;       ///< where test_hf_<ident>.py goes
  std::string skillset_dir;   ///< where hf_<ident>.py goes
  std::string task;           ///< a task to test instead of the family's default; "" for default
  std::vector<std::string> backends;
  std::string precision = "fp32";  ///< one of all_precisions()
};

/// Every backend a skillset serves, in the worker's order: schemas/backend.schema.json's
/// "enum" (empty when the schemas cannot be read).
const std::vector<std::string>& all_backends();
/// Every precision a skillset can be asked for, fp32 first: schemas/precision.schema.json's
/// "enum" (empty when the schemas cannot be read).
const std::vector<std::string>& all_precisions();
// The skillset method that serves `backend`: init_<backend>, a hyphen written as '_'.
std::string init_method(const std::string& backend);

/// Why a model type gets no test or skillset: it is fine input, just not supported.
enum class Unsupported { kNone, kNotServable, kFamily, kTask };

/// Why, in words: "not servable on its own", "family 'x' has no template yet", ...
std::string describe(Unsupported why);

/// Resolves model specs (a model type, a Hub repo id with an optional @revision, or a
/// local directory holding config.json) to targets, fetching Hub configs concurrently
/// through the cache. Fails on the first spec that does not resolve.
bool resolve_targets(const Registry& registry, const std::vector<std::string>& specs,
                     bool trust_remote_code, std::vector<Target>* targets, std::string* err);

/// Downloads the real checkpoint of every Hub spec among `targets` into the Hugging
/// Face cache (hub::download_snapshots, options from the environment) and sets its
/// `checkpoint` to the snapshot. `progress` as there. Fails on the first spec whose
/// download failed.
bool fetch_checkpoints(std::vector<Target>* targets, const hub::ProgressFn& progress, std::string* err);

/// Builds the test-plan record of `target` (see schemas/test-plan.schema.json). The task
/// is options.task; else the one the checkpoint's head was trained for (the first of its
/// `architectures` that is the model class of a task the family's template serves, a
/// pretraining head aside); else the family's default when the type has it; else the
/// type's own. Returns
/// false with `*err` for bad input (unknown type, unknown task); sets `*unsupported`
/// (and still returns true, with an empty plan) when the type cannot be served yet.
bool make_plan(const Registry& registry, const Target& target, const PlanOptions& options,
               nlohmann::json* plan, Unsupported* unsupported, std::string* err);

/// The path of the skillset template of `family`; it exists exactly when the family is supported.
std::string skillset_template_path(const std::string& template_dir, const std::string& family);

/// `--list-families` / `--list-tasks`: servable model types counted per family (with
/// whether the family has a template in `template_dir`) or per task, one line each
/// ("text-encoder\t12 model types\ttemplate"), sorted by name.
std::vector<std::string> listing(const Registry& registry, bool families, const std::string& template_dir);

/// The model types `--all` selects (servable ones), narrowed by `family` and `task` when
/// not empty. Fails on a family or task the registry does not know.
bool select_types(const Registry& registry, const std::string& family, const std::string& task,
                  std::vector<std::string>* types, std::string* err);
