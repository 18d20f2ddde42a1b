#include "common/plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/files.h"
#include "common/hub.h"
#include "common/model_spec.h"
#include "common/records.h"
#include "common/schema.h"

namespace {

// The registry's processor kinds each Auto processor class needs.
const char* processor_kind(const std::string& auto_processor) {
  if (auto_processor == "AutoTokenizer") return "tokenizer";
  if (auto_processor == "AutoImageProcessor") return "image_processor";
  if (auto_processor == "AutoFeatureExtractor") return "feature_extractor";
  if (auto_processor == "AutoVideoProcessor") return "video_processor";
  return "processor";
}

// The string at `key`, or "" when it is missing or null (the registry writes null for
// "nothing to name").
std::string text_at(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

bool has_kind(const nlohmann::json& entry, const std::string& kind) {
  const auto& processors = entry.value("processors", nlohmann::json::object());
  auto it = processors.find(kind);
  return it != processors.end() && it->is_array() && !it->empty();
}

// Heads a checkpoint is pretrained with rather than fine-tuned for: such a checkpoint
// (bert-base-uncased is a BertForMaskedLM) keeps its family's default task.
const std::set<std::string> kPretrainingTasks = {"fill-mask", "pretraining"};

// The task a checkpoint's head was trained for: the first of its architectures that is
// the model class of one of `tasks` the family's template serves; "" when none is.
std::string head_task(const std::vector<std::string>& architectures, const nlohmann::json& tasks,
                      const nlohmann::json& handler_tasks) {
  for (const auto& architecture : architectures) {
    for (const auto& task : handler_tasks) {
      if (!task.is_string() || kPretrainingTasks.count(task.get<std::string>())) continue;
      if (text_at(tasks, task.get<std::string>().c_str()) == architecture) return task.get<std::string>();
    }
  }
  return "";
}

// The task the template serves `task` as: itself when the template serves it by name;
// else the served task whose model class is the same class (llava's any-to-any is its
// image-text-to-text class, camembert's pretraining head its fill-mask one), since the
// same class takes the same inputs and gives the same outputs; else itself, unserved.
std::string served_as(const std::string& task, const nlohmann::json& tasks, const nlohmann::json& handler_tasks) {
  if (std::find(handler_tasks.begin(), handler_tasks.end(), task) != handler_tasks.end()) return task;
  const std::string model_class = text_at(tasks, task.c_str());
  if (model_class.empty()) return task;
  for (const auto& served : handler_tasks) {
    if (served.is_string() && text_at(tasks, served.get<std::string>().c_str()) == model_class)
      return served.get<std::string>();
  }
  return task;
}

// A family's tolerance at a reduced precision: each bound the looser of the family's and
// the precision's, since the reference it is compared with runs in fp32.
nlohmann::json tolerance_at(nlohmann::json family, const nlohmann::json& precision) {
  for (const char* key : {"rtol", "atol"})
    if (precision.contains(key) && precision[key].get<double>() > family.value(key, 0.0)) family[key] = precision[key];
  return family;
}

}  // namespace

const std::vector<std::string>& all_backends() {
  static const std::vector<std::string> backends = [] {
    std::string ignored;  // the tools refuse to start without their schemas (driver::parse)
    const schema::Set* formats = schema::project(&ignored);
    return formats ? formats->enum_of("backend") : std::vector<std::string>{};
  }();
  return backends;
}

const std::vector<std::string>& all_precisions() {
  static const std::vector<std::string> precisions = [] {
    std::string ignored;
    const schema::Set* formats = schema::project(&ignored);
    return formats ? formats->enum_of("precision") : std::vector<std::string>{};
  }();
  return precisions;
}

std::string init_method(const std::string& backend) {
  std::string name = "init_" + backend;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string describe(Unsupported why) {
  switch (why) {
    case Unsupported::kNotServable: return "not servable on its own";
    case Unsupported::kFamily: return "its family has no template yet";
    case Unsupported::kTask: return "its family's template does not serve its task";
    case Unsupported::kNone: break;
  }
  return "supported";
}

std::string skillset_template_path(const std::string& template_dir, const std::string& family) {
  return template_dir + "/skillset/" + family + ".py.mustache";
}

bool make_plan(const Registry& registry, const Target& target, const PlanOptions& options,
               nlohmann::json* plan, Unsupported* unsupported, std::string* err) {
  *unsupported = Unsupported::kNone;
  const nlohmann::json* entry = registry.find(target.model_type);
  if (!entry) {
    std::string hint = registry.suggest(target.model_type);
    *err = "unknown model type '" + target.model_type + "'" +
           (hint.empty() ? "" : " (did you mean '" + hint + "'?)");
    return false;
  }
  const std::string family = text_at(*entry, "family");
  const auto& tasks = entry->value("tasks", nlohmann::json::object());
  const auto& families = registry.families();
  const auto& family_info = families.contains(family) ? families[family] : nlohmann::json::object();
  const auto handler_tasks = family_info.value("handler_tasks", nlohmann::json::array());
  // The task asked for; else the checkpoint's head's; else the family's when the model
  // has it, since that is what the family's template serves; else the model's own.
  std::string task = options.task;
  if (task.empty()) task = head_task(target.architectures, tasks, handler_tasks);
  if (task.empty()) {
    task = text_at(family_info, "default_task");
    if (!tasks.contains(task)) task = text_at(*entry, "default_task");
  }
  if (!options.task.empty() && !tasks.contains(task)) {
    *err = "model type '" + target.model_type + "' has no task '" + task + "'";
    return false;
  }
  task = served_as(task, tasks, handler_tasks);
  if (!entry->value("servable", false)) {
    *unsupported = Unsupported::kNotServable;
    return true;
  }
  if (!files::exists(skillset_template_path(options.template_dir, family))) {
    *unsupported = Unsupported::kFamily;
    return true;
  }
  if (task.empty() || !tasks.contains(task) || !registry.tasks().contains(task) ||
      std::find(handler_tasks.begin(), handler_tasks.end(), task) == handler_tasks.end()) {
    *unsupported = Unsupported::kTask;
    return true;
  }

  nlohmann::json candidates = nlohmann::json::array();
  const std::string model_class = tasks[task];
  // A task table without an Auto class (time-series classification, REGISTRY.md "Tasks"):
  // its class is loaded by name, so the class is its own loader.
  std::string auto_class = text_at(registry.tasks()[task], "auto_class");
  if (auto_class.empty()) auto_class = model_class;
  nlohmann::json processors = family_info.value("processors", nlohmann::json::array());
  for (const auto& processor : processors) {
    if (!has_kind(*entry, processor_kind(processor))) continue;
    candidates.push_back(
        {{"model_class", model_class}, {"auto_class", auto_class}, {"processor_class", processor}});
  }
  if (candidates.empty()) {
    // The registry knows no processor of the listed kinds; let the test try them all.
    for (const auto& processor : processors)
      candidates.push_back(
          {{"model_class", model_class}, {"auto_class", auto_class}, {"processor_class", processor}});
  }

  const std::string ident = ident_of(target.model_type);
  nlohmann::json p = records::make("test-plan");
  p["model_type"] = target.model_type;
  p["ident"] = ident;
  p["model_id"] = target.model_id;
  p["config_source"] = target.config_source;
  p["family"] = family;
  p["task"] = task;
  p["tasks"] = handler_tasks;
  p["candidates"] = candidates;
  // The ways of batching the family's skillset knows, its default first: the test tries
  // them in order, so the default stays unless a measurement moves it.
  if (family_info.contains("batch_policies")) p["batch_policies"] = family_info["batch_policies"];
  p["backends"] = options.backends.empty() ? all_backends() : options.backends;
  p["precision"] = options.precision;
  p["tolerance"] = tolerance_at(family_info.value("tolerance", nlohmann::json{{"rtol", 1e-4}, {"atol", 1e-5}}),
                                registry.precisions().value(options.precision, nlohmann::json::object()));
  p["generation"] = family_info.value("generation", nlohmann::json());
  p["seed"] = 0;
  p["transformers_version"] = registry.transformers_version();
  // A real checkpoint, when there is one, is what the test runs.
  p["checkpoint"] = target.checkpoint.empty() ? nlohmann::json() : nlohmann::json(target.checkpoint);
  p["test_file"] = files::absolute(options.test_dir + "/test_hf_" + ident + ".py");
  p["skillset_file"] = files::absolute(options.skillset_dir + "/hf_" + ident + ".py");
  *plan = std::move(p);
  return true;
}

bool select_types(const Registry& registry, const std::string& family, const std::string& task,
                  std::vector<std::string>* types, std::string* err) {
  if (!family.empty() && !registry.families().contains(family)) {
    *err = "unknown family '" + family + "'";
    return false;
  }
  if (!task.empty() && !registry.tasks().contains(task)) {
    *err = "unknown task '" + task + "'";
    return false;
  }
  for (const auto& type : registry.model_types()) {
    const nlohmann::json& entry = *registry.find(type);
    if (!entry.value("servable", false)) continue;
    if (!family.empty() && entry.value("family", "") != family) continue;
    if (!task.empty() && !entry.value("tasks", nlohmann::json::object()).contains(task)) continue;
    types->push_back(type);
  }
  return true;
}

bool resolve_targets(const Registry& registry, const std::vector<std::string>& specs,
                     bool trust_remote_code, std::vector<Target>* targets, std::string* err) {
  model_spec::Lookup lookup{
      [&](const std::string& type) { return registry.find(type) != nullptr; },
      [&](const std::string& architecture) { return registry.type_of_architecture(architecture); },
      [&](const std::string& name) { return registry.suggest(name); }};
  auto results = model_spec::resolve_all(specs, lookup, {hub::options_from_env(), trust_remote_code});
  for (const auto& r : results) {
    if (!r.ok()) {
      *err = r.error.message;
      return false;
    }
    std::vector<std::string> architectures;
    const auto named = r.model.config.is_object() ? r.model.config.value("architectures", nlohmann::json())
                                                  : nlohmann::json();
    if (named.is_array())
      for (const auto& name : named)
        if (name.is_string()) architectures.push_back(name.get<std::string>());
    // A local directory is a checkpoint of its own: its test runs that real model.
    std::string checkpoint =
        r.model.config_source == model_spec::Source::kLocal ? files::absolute(r.model.model_id) : "";
    targets->push_back(Target{r.model.model_type, r.model.model_id,
                              std::string(model_spec::source_name(r.model.config_source)), architectures,
                              checkpoint, r.model.repo, r.model.commit});
  }
  return true;
}

bool fetch_checkpoints(std::vector<Target>* targets, const hub::ProgressFn& progress, std::string* err) {
  std::vector<hub::SnapshotRequest> requests;
  std::vector<Target*> wanting;
  for (Target& target : *targets) {
    if (target.commit.empty()) continue;
    requests.push_back({target.repo, target.commit});
    wanting.push_back(&target);
  }
  std::vector<hub::SnapshotResult> results = hub::download_snapshots(requests, hub::options_from_env(), progress);
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      *err = results[i].error.message;
      return false;
    }
    wanting[i]->checkpoint = results[i].snapshot.path;
  }
  return true;
}

std::vector<std::string> listing(const Registry& registry, bool families, const std::string& template_dir) {
  std::map<std::string, int> counts;
  for (const auto& type : registry.model_types()) {
    const auto& entry = *registry.find(type);
    if (!entry.value("servable", false)) continue;
    if (families) {
      ++counts[entry.value("family", "other")];
    } else {
      const nlohmann::json tasks = entry.value("tasks", nlohmann::json::object());
      for (const auto& [task, model_class] : tasks.items()) ++counts[task];
    }
  }
  std::vector<std::string> lines;
  for (const auto& [name, count] : counts) {
    std::string support =
        !families ? "" : files::exists(skillset_template_path(template_dir, name)) ? "\ttemplate" : "\tno template yet";
    lines.push_back(name + "\t" + std::to_string(count) + " model types" + support);
  }
  return lines;
}
