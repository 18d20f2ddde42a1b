// gen-tests: writes test_hf_<ident>.py for each model spec and prints its test-plan record.
#include <unistd.h>

#include <cxxopts.hpp>

#include "common/generate.h"
#include "common/plan.h"
#include "driver.h"

static const char* kTool = "gen-tests";

// --weights' progress on stderr: on a terminal a bar redrawn in place under a line per
// file stored; otherwise (a log, CI) only the lines; with --quiet nothing.
static hub::ProgressFn show_download() {
  if (driver::quiet) return {};
  const bool terminal = ::isatty(STDERR_FILENO);
  return [terminal](const hub::Progress& p) {
    if (terminal) std::fprintf(stderr, "\r\x1b[K");
    if (!p.file_done.empty())
      driver::note(kTool, "downloaded '" + p.file_done + "' (" + hub::human_bytes(p.file_size) + ", " +
                              std::to_string(p.files_done) + "/" + std::to_string(p.files_total) + ")");
    if (p.finished) {
      double rate = p.elapsed_s > 0 ? (p.bytes_done - p.bytes_resumed) / p.elapsed_s : 0;
      char elapsed[32];
      std::snprintf(elapsed, sizeof elapsed, "%.1f s", p.elapsed_s);
      driver::note(kTool, std::to_string(p.files_done) + " of " + std::to_string(p.files_total) + " file(s), " +
                              hub::human_bytes(p.bytes_done) + " in " +
                              elapsed + " (" + hub::human_bytes(static_cast<uint64_t>(rate)) + "/s" +
                              (p.bytes_resumed ? ", " + hub::human_bytes(p.bytes_resumed) + " resumed" : "") + ")");
    } else if (terminal) {
      std::fprintf(stderr, "%s: %s", kTool, hub::progress_line(p, 30).c_str());
    }
    std::fflush(stderr);
  };
}

static int run(int argc, char** argv) {
  driver::ignore_sigpipe();
  driver::install_stop_handler(/*at_once=*/true);
  cxxopts::Options cli(kTool,
                       "Write a pytest/standalone test per model type and print its test-plan "
                       "record (JSON Lines) on stdout.\n\nSPEC is a model type (bert), a Hub repo id with an "
                       "optional @revision (google-bert/bert-base-uncased@main) or a local "
                       "directory holding config.json.");
  cli.positional_help("SPEC...");
  cli.add_options()
      ("model", "a model spec (repeatable; same as an operand)", cxxopts::value<std::vector<std::string>>())
      ("generate", "same as --model (the original toolkit's word)", cxxopts::value<std::vector<std::string>>())
      ("all", "every servable model type of a supported family")
      ("list-families", "list the families with their model-type counts and whether they have a template")
      ("family", "only model types of this family (with --all)", cxxopts::value<std::string>()->default_value(""))
      ("task", "test this task instead of the family's default (with --all: only model types that "
               "have it)", cxxopts::value<std::string>()->default_value(""))
      ("o,output-dir", "where tests go", cxxopts::value<std::string>()->default_value("test/skills"))
      ("skillset-dir", "where the skillsets under test live",
       cxxopts::value<std::string>()->default_value("ipfs_accelerate_py/worker/skillset"))
      ("backends", "comma-separated backends to test (default: every one)", cxxopts::value<std::vector<std::string>>())
      ("precision", "the precision every backend is asked for (fp32, fp16, bf16, int8); the tolerance "
                    "widens to data/families.json's for it",
       cxxopts::value<std::string>()->default_value("fp32"))
      ("force", "overwrite tests edited since they were generated (their digest no longer matches); "
                "without it an edited file stops the run (exit 1) before anything is written")
      ("trust-remote-code", "accept models whose config needs remote code (off: such code is never run)")
      ("weights", "download the real checkpoint of each Hub repo id (config, safetensors weights, tokenizer "
                  "and processor files) into the Hugging Face cache and test it instead of a tiny random "
                  "model; a complete snapshot in the cache is used without a request")
      ("registry", "the registry file (default: the project's data/registry.json)", cxxopts::value<std::string>()->default_value(""))
      ("specs", "", cxxopts::value<std::vector<std::string>>());
  driver::add_standard_options(cli);
  cli.parse_positional({"specs"});

  std::vector<std::string> specs;
  PlanOptions options;
  bool all = false, force = false, trust_remote_code = false, list_families = false, weights = false;
  std::string family, registry_path;
  if (auto rc = driver::parse(cli, kTool, argc, argv, [&](const cxxopts::ParseResult& args) {
      for (const char* key : {"specs", "model", "generate"})
        if (args.count(key))
          for (const auto& s : args[key].as<std::vector<std::string>>()) specs.push_back(s);
      all = args.count("all") > 0;
      force = args.count("force") > 0;
      family = args["family"].as<std::string>();
      options.task = args["task"].as<std::string>();
      options.test_dir = args["output-dir"].as<std::string>();
      options.skillset_dir = args["skillset-dir"].as<std::string>();
      if (args.count("backends")) options.backends = args["backends"].as<std::vector<std::string>>();
      options.precision = args["precision"].as<std::string>();
      registry_path = args["registry"].as<std::string>();
      list_families = args.count("list-families") > 0;
      trust_remote_code = args.count("trust-remote-code") > 0;
      weights = args.count("weights") > 0;
      }))
    return *rc;
  for (const auto& backend : options.backends) {
    const auto& known = all_backends();
    if (std::find(known.begin(), known.end(), backend) == known.end())
      return driver::fail(kTool, "unknown backend '" + backend + "'");
  }
  const auto& precisions = all_precisions();
  if (std::find(precisions.begin(), precisions.end(), options.precision) == precisions.end())
    return driver::fail(kTool, "unknown precision '" + options.precision + "'");
  std::string err;
  Registry registry;
  if (!driver::load_registry(registry_path, &registry, &err)) return driver::fail(kTool, err);
  if (list_families) return driver::print_listing(kTool, registry, true);
  if (specs.empty() && !all) return driver::fail(kTool, "no model spec given (try --help)");
  options.template_dir = files::project_home() + "/templates";
  if (all && !select_types(registry, family, options.task, &specs, &err)) return driver::fail(kTool, err);

  // Resolve and plan everything first: bad input must stop us before any file is written.
  std::vector<Target> targets;
  if (!resolve_targets(registry, specs, trust_remote_code, &targets, &err)) return driver::fail(kTool, err);
  std::vector<nlohmann::json> plans;
  std::vector<Target> planned;  // the target of each plan
  int unsupported_count = 0;
  for (const auto& target : targets) {
    nlohmann::json plan;
    Unsupported unsupported;
    if (!make_plan(registry, target, options, &plan, &unsupported, &err)) return driver::fail(kTool, err);
    if (unsupported != Unsupported::kNone) {
      ++unsupported_count;
      if (!all) driver::note(kTool, "no test for '" + target.model_id + "': " + describe(unsupported));
      continue;
    }
    plans.push_back(std::move(plan));
    planned.push_back(target);
  }
  // Downloads only for the tests that will be written, after every other check.
  if (weights) {
    if (!fetch_checkpoints(&planned, show_download(), &err)) return driver::fail(kTool, err);
    for (size_t i = 0; i < plans.size(); ++i) {
      if (planned[i].commit.empty()) continue;
      plans[i]["checkpoint"] = planned[i].checkpoint;
      driver::note(kTool, "checkpoint of '" + planned[i].model_id + "': '" + planned[i].checkpoint + "'");
    }
  }
  std::vector<Output> outputs(plans.size());
  for (size_t i = 0; i < plans.size(); ++i)
    if (!render_test(options.template_dir, plans[i], &outputs[i], &err)) return driver::fail(kTool, err);
  std::vector<bool> changed;
  if (Written result = write_outputs(outputs, force, &changed, &err); result != Written::kAll) {
    driver::fail(kTool, err);
    return result == Written::kEdited ? exit_code::kFindings : exit_code::kBadInput;
  }
  for (const auto& plan : plans)
    if (!driver::emit(plan)) return driver::output_failed(kTool);
  driver::note(kTool, std::to_string(plans.size()) + " test(s) written to '" + options.test_dir + "'" +
                          (unsupported_count ? ", " + std::to_string(unsupported_count) + " model type(s) not supported yet" : ""));
  return (unsupported_count && !all) ? exit_code::kFindings : exit_code::kOk;
}

int main(int argc, char** argv) {
  return driver::guard(kTool, [&] { return run(argc, argv); });
}
