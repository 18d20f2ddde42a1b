"""scripts/survey_report.py: REAL CPU parity over the registry's servable model types and
(type, task) pairs, and a class for every servable type that does not pass."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "data" / "registry.json"
spec = importlib.util.spec_from_file_location("survey_report", ROOT / "scripts" / "survey_report.py")
survey_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(survey_report)


def result(model_type, task, reference="pass", cpu="pass", **cpu_fields):
    return {"model_type": model_type, "family": "text-encoder", "task": task,
            "reference": {"status": reference, **({"class": "tiny-model"} if reference != "pass" else {})},
            "backends": {"cpu": {"status": cpu, **cpu_fields}}}


def write(out, manifests, results):
    (out / "manifests.jsonl").write_text("".join(json.dumps(m) + "\n" for m in manifests))
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))


def test_the_denominators_are_the_registrys_whatever_was_surveyed(tmp_path):
    registry = json.loads(REGISTRY.read_text())
    servable = [name for name, entry in registry["models"].items() if entry["servable"]]
    pairs = sum(len(registry["models"][name]["tasks"]) for name in servable)
    write(tmp_path, [{"model_type": "muse_glimmer_assistant", "status": "unsupported-family"}],
          [result("bert", "feature-extraction"), result("bert", "text-classification"),
           result("roberta", "feature-extraction", cpu="fail", **{"class": "parity"}),
           result("gpt2", "text-generation", reference="error", cpu="skip", reason="no-reference")])
    text = survey_report.report(tmp_path, REGISTRY)
    assert f"REAL CPU parity: 1 of {len(servable)} ({100 / len(servable):.0f}%) model types" in text
    assert f"REAL CPU parity: 2 of {pairs} ({100 * 2 / pairs:.0f}%) (type, task) pairs" in text


def test_every_servable_type_gets_pass_or_a_class(tmp_path):
    registry = json.loads(REGISTRY.read_text())
    classes = survey_report.type_classes(
        registry, [{"model_type": "muse_glimmer_assistant", "status": "unsupported-family"}],
        [result("bert", "feature-extraction"),
         result("roberta", "feature-extraction", cpu="error", **{"class": "crash"}),
         result("gpt2", "text-generation", reference="error", cpu="skip", reason="no-reference")])
    assert set(classes) == {name for name, entry in registry["models"].items() if entry["servable"]}
    assert (classes["bert"], classes["roberta"], classes["gpt2"], classes["muse_glimmer_assistant"], classes["t5"]) == (
        "pass", "crash", "tiny-model", "no-template", "not-surveyed")


def test_other_tasks_are_the_served_tasks_beside_each_types_default():
    registry = json.loads(REGISTRY.read_text())
    pending = survey_report.other_tasks(registry, ["bert", "gpt2", "muse_glimmer_assistant"])
    assert "gpt2" in pending["feature-extraction"] and "gpt2" in pending["text-classification"]
    assert "bert" in pending["fill-mask"] and "bert" not in pending.get("feature-extraction", [])
    assert "gpt2" not in pending.get("text-generation", [])  # its default
    assert all("muse_glimmer_assistant" not in names for names in pending.values())  # no template


def test_a_type_tested_on_several_tasks_counts_once_in_its_family(tmp_path):
    write(tmp_path, [], [result("bert", "feature-extraction"), result("bert", "text-classification"),
                         result("bert", "fill-mask", cpu="fail", **{"class": "parity"})])
    lines = survey_report.report(tmp_path, REGISTRY).splitlines()
    assert next(line for line in lines if line.startswith("text-encoder")).split() == ["text-encoder", "1", "1", "1"]
    assert "    0 of 1     fill-mask" in lines and "    1 of 1     text-classification" in lines


def test_a_task_of_the_same_model_class_as_a_served_one_passes_with_it(tmp_path):
    # A family serving "fill-mask" by name; "pretraining" is the same class, "next" another.
    registry = {"families": {"text-encoder": {"handler_tasks": ["feature-extraction", "fill-mask"]}},
                "models": {"camembert": {"family": "text-encoder", "servable": True,
                                         "default_task": "feature-extraction",
                                         "tasks": {"feature-extraction": "CamembertModel",
                                                   "fill-mask": "CamembertForMaskedLM",
                                                   "pretraining": "CamembertForMaskedLM",
                                                   "next": "CamembertForNext"}}}}
    assert survey_report.served_as(registry, "camembert", "pretraining") == "fill-mask"
    assert survey_report.served_as(registry, "camembert", "next") == "next"  # a class of its own
    assert survey_report.other_tasks(registry) == {"fill-mask": ["camembert"]}
    write(tmp_path, [], [result("camembert", "fill-mask")])
    rows = survey_report._records(tmp_path / "results.jsonl")
    # fill-mask and pretraining pass, the second as the first; of four pairs.
    assert survey_report.passing_pairs(registry, rows) == (2, 4, 1)


def test_a_test_the_loops_turn_rewrote_passes_when_verify_finds_no_cpu_discrepancy(tmp_path):
    registry = json.loads(REGISTRY.read_text())
    servable = sum(entry["servable"] for entry in registry["models"].values())
    write(tmp_path, [], [result("canine", "feature-extraction", cpu="fail", **{"class": "parity"}),
                         result("funnel", "feature-extraction", cpu="fail", **{"class": "parity"}),
                         result("bert", "feature-extraction")])
    rewritten = [{"model_type": name, "task": "feature-extraction", "status": "written"} for name in ("canine", "funnel")]
    (tmp_path / "loop-manifests.jsonl").write_text("".join(json.dumps(m) + "\n" for m in rewritten))
    # funnel's rewritten skillset still differs on cpu; canine's only on another backend.
    discrepancies = [{"schema": "discrepancy", "model_type": "funnel", "task": "feature-extraction", "backend": "cpu"},
                     {"schema": "discrepancy", "model_type": "canine", "task": "feature-extraction",
                      "backend": "openvino"},
                     {"schema": "verify-summary"}]
    (tmp_path / "loop-verify.jsonl").write_text("".join(json.dumps(d) + "\n" for d in discrepancies))
    text = survey_report.report(tmp_path, REGISTRY)
    assert "rewrote 2 skillsets of tests whose reference passed and cpu did not, and turned 1 of those" in text
    assert f"written from the registry alone: 1 of {servable} " in text
    assert f"REAL CPU parity: 2 of {servable} " in text


def test_the_loop_candidates_are_the_tests_whose_reference_passed_and_cpu_did_not(tmp_path):
    write(tmp_path, [], [result("canine", "feature-extraction", cpu="fail", **{"class": "parity"}),
                         result("gpt2", "text-generation", reference="error", cpu="skip", reason="no-reference"),
                         result("bert", "feature-extraction")])
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "survey_report.py"), "--loop-candidates", str(tmp_path)],
                         capture_output=True, text=True, check=True)
    assert [json.loads(line)["model_type"] for line in run.stdout.splitlines()] == ["canine"]


def test_every_type_that_does_not_pass_is_listed_with_its_class_and_message(tmp_path):
    registry = json.loads(REGISTRY.read_text())
    servable = sum(entry["servable"] for entry in registry["models"].values())
    write(tmp_path, [], [result("bert", "feature-extraction"),
                         result("roberta", "feature-extraction", cpu="fail", message="case batch: 3 of 64 differ",
                                **{"class": "parity"})])
    survey_report.report(tmp_path, REGISTRY)
    listed = [line.split("\t") for line in (tmp_path / "not-passing.tsv").read_text().splitlines()[1:]]
    assert len(listed) == servable - 1 and "bert" not in {fields[2] for fields in listed}
    assert ["text-encoder", "parity", "roberta", "case batch: 3 of 64 differ"] in listed
    assert ["text-decoder", "not-surveyed", "gpt2", ""] in listed
