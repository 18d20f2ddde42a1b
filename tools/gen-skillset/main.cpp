// gen-skillset: writes hf_<ident>.py skillsets from requirements (stdin or --requirements
// files), or from the registry alone for model specs and --all; prints manifest records.
#include <cxxopts.hpp>

#include "common/generate.h"
#include "common/plan.h"
#include "driver.h"

static const char* kTool = "gen-skillset";

namespace {

nlohmann::json manifest(const nlohmann::json& requirements, const std::string& status) {
  nlohmann::json m = records::make("skillset-manifest");
  records::copy_identity(requirements, &m);
  m["status"] = status;
  m["requirements"] = requirements;
  return m;
}

nlohmann::json unsupported_record(const Target& target, const nlohmann::json& entry, Unsupported why) {
  nlohmann::json m = records::make("skillset-manifest");
  m["model_type"] = target.model_type;
  m["model_id"] = target.model_id;
  m["ident"] = ident_of(target.model_type);
  m["family"] = entry.value("family", "other");
  m["status"] = why == Unsupported::kNotServable ? "not-servable"
                : why == Unsupported::kTask      ? "unsupported-task"
                                                 : "unsupported-family";
  return m;
}

}  // namespace

static int run(int argc, char** argv) {
  driver::ignore_sigpipe();
  driver::install_stop_handler(/*at_once=*/true);
  cxxopts::Options cli(kTool,
                       "Write hf_<ident>.py skillsets and print a skillset-manifest record per model "
                       "type (JSON Lines) on stdout.\n\nWith SPECs, --all or --family, the "
                       "implementation choice comes from the registry; with neither, requirements "
                       "records are read from --requirements files or stdin (the pipeline).\n\nSPEC is a "
                       "model type (bert), a Hub repo id with an optional @revision "
                       "(google-bert/bert-base-uncased@main) or a local directory holding config.json.");
  cli.positional_help("[SPEC...]");
  cli.add_options()
      ("model", "a model spec (repeatable; same as an operand)", cxxopts::value<std::vector<std::string>>())
      ("r,requirements", "a requirements file (repeatable; - for stdin)", cxxopts::value<std::vector<std::string>>())
      ("all", "every servable model type")
      ("family", "only model types of this family", cxxopts::value<std::string>()->default_value(""))
      ("task", "serve this task instead of the family's default (with --all or --family: only model "
               "types that have it; one whose family's template serves another is unsupported-task)",
       cxxopts::value<std::string>()->default_value(""))
      ("list-families", "list the families with their model-type counts and support")
      ("list-tasks", "list the tasks with their model-type counts")
      ("o,output-dir", "where skillsets go (default: each requirement's skillset_file, else ipfs_accelerate_py/worker/skillset)",
       cxxopts::value<std::string>()->default_value(""))
      ("test-dir", "where the matching tests live, for the manifest (specs only)",
       cxxopts::value<std::string>()->default_value("test/skills"))
      ("force", "overwrite skillsets edited since they were generated (their digest no longer "
                "matches), and rewrite unchanged ones; without it an edited file stops the run (exit 1) "
                "before anything is written")
      ("trust-remote-code", "accept models whose config needs remote code (off: such code is never run)")
      ("registry", "the registry file (default: the project's data/registry.json)", cxxopts::value<std::string>()->default_value(""))
      ("specs", "", cxxopts::value<std::vector<std::string>>());
  driver::add_standard_options(cli);
  cli.parse_positional({"specs"});

  std::vector<std::string> specs, requirement_files;
  bool all = false, force = false, trust_remote_code = false, list_families = false, list_tasks = false;
  std::string family, task, output_dir, test_dir, registry_path;
  if (auto rc = driver::parse(cli, kTool, argc, argv, [&](const cxxopts::ParseResult& args) {
      for (const char* key : {"specs", "model"})
        if (args.count(key))
          for (const auto& s : args[key].as<std::vector<std::string>>()) specs.push_back(s);
      if (args.count("requirements")) requirement_files = args["requirements"].as<std::vector<std::string>>();
      all = args.count("all") > 0;
      force = args.count("force") > 0;
      list_families = args.count("list-families") > 0;
      list_tasks = args.count("list-tasks") > 0;
      family = args["family"].as<std::string>();
      task = args["task"].as<std::string>();
      output_dir = args["output-dir"].as<std::string>();
      test_dir = args["test-dir"].as<std::string>();
      registry_path = args["registry"].as<std::string>();
      trust_remote_code = args.count("trust-remote-code") > 0;
      }))
    return *rc;

  std::string err;
  Registry registry;
  if (!driver::load_registry(registry_path, &registry, &err)) return driver::fail(kTool, err);
  if (list_families || list_tasks) return driver::print_listing(kTool, registry, list_families);
  const std::string template_dir = files::project_home() + "/templates";

  // Gather every requirement (or unsupported record) before writing anything.
  std::vector<nlohmann::json> requirements, unsupported;
  bool from_registry = all || !family.empty() || !specs.empty();
  if (from_registry) {
    if ((all || !family.empty()) && !select_types(registry, family, task, &specs, &err))
      return driver::fail(kTool, err);
    PlanOptions options{template_dir, test_dir,
                        output_dir.empty() ? "ipfs_accelerate_py/worker/skillset" : output_dir, task, {}};
    std::vector<Target> targets;
    if (!resolve_targets(registry, specs, trust_remote_code, &targets, &err)) return driver::fail(kTool, err);
    for (const auto& target : targets) {
      nlohmann::json plan;
      Unsupported why;
      if (!make_plan(registry, target, options, &plan, &why, &err)) return driver::fail(kTool, err);
      if (why != Unsupported::kNone)
        unsupported.push_back(unsupported_record(target, *registry.find(target.model_type), why));
      else
        requirements.push_back(requirements_from_plan(plan));
    }
  } else {
    if (!records::read_operands(requirement_files, {"requirements"}, &requirements, &err))
      return driver::fail(kTool, err);
    if (requirements.empty()) return driver::fail(kTool, "no requirements on input");
    if (!output_dir.empty())
      for (auto& r : requirements)
        r["skillset_file"] = files::absolute(output_dir + "/hf_" + r["ident"].get<std::string>() + ".py");
    for (const auto& r : requirements)
      if (!files::exists(skillset_template_path(template_dir, r.value("family", ""))))
        return driver::fail(kTool, "no template for family '" + r.value("family", "") + "' of '" +
                                       r.value("model_type", "") + "'");
  }

  // Render everything before writing anything: a bad record must leave no file behind.
  std::vector<Output> outputs(requirements.size());
  for (size_t i = 0; i < requirements.size(); ++i) {
    auto& r = requirements[i];
    r["skillset_file"] = files::absolute(r["skillset_file"].get<std::string>());
    if (!render_skillset(template_dir, r, &outputs[i], &err)) return driver::fail(kTool, err);
  }
  std::vector<bool> changed;
  if (Written result = write_outputs(outputs, force, &changed, &err); result != Written::kAll) {
    driver::fail(kTool, err);
    return result == Written::kEdited ? exit_code::kFindings : exit_code::kBadInput;
  }
  size_t written = std::count(changed.begin(), changed.end(), true);
  for (size_t i = 0; i < requirements.size(); ++i)
    if (!driver::emit(manifest(requirements[i], changed[i] ? "written" : "unchanged"))) return driver::output_failed(kTool);
  for (const auto& record : unsupported)
    if (!driver::emit(record)) return driver::output_failed(kTool);
  driver::note(kTool, std::to_string(requirements.size()) + " skillset(s), " + std::to_string(written) +
                          " written, " + std::to_string(unsupported.size()) + " model type(s) unsupported");
  // Asking for one model type by name that cannot be generated is a finding; --all
  // reports the unsupported ones and succeeds.
  return (!unsupported.empty() && !all && family.empty()) ? exit_code::kFindings : exit_code::kOk;
}

int main(int argc, char** argv) {
  return driver::guard(kTool, [&] { return run(argc, argv); });
}
