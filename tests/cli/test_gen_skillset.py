"""bin/gen-skillset, black box: from the registry (specs, --all, --family) or from
requirements records (stdin, -r) to hf_<ident>.py skillsets and skillset-manifest
records. Bad input is exit 2 before anything is written; every generated skillset
compiles, imports by path without importing torch, and keeps the worker's contract."""
import hashlib
import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from reference_types import (BACKENDS, ONNX_TYPES, OPENVINO_TYPES, REFERENCE_TYPES, TRANSFORMERSJS_TYPES,
                             WEBNN_TYPES)

# The backends whose init_<backend> raises for every reference type here, asked with
# strict_backends: openvino, onnx and webnn because the introspection hides the
# openvino and onnxruntime packages, transformersjs-node and webgpu because it names no
# npm packages (package-missing where the family serves them, else unimplemented), and
# qualcomm because no QNN runtime is here.
UNSERVED = ("openvino", "qualcomm", "webnn", "webgpu", "onnx", "transformersjs-node")
OLD = 1_000_000_000  # an mtime (2001) no run of the tool can produce


def written(cli, out):
    return [r for r in cli.records(out) if r["status"] in ("written", "unchanged")]


# -- listings -----------------------------------------------------------------------

def servable_counts(cli, key):
    registry = json.loads((cli.root / "data" / "registry.json").read_text())
    counts = {}
    for entry in registry["models"].values():
        if entry["servable"]:
            for name in ([entry["family"]] if key == "family" else entry["tasks"]):
                counts[name] = counts.get(name, 0) + 1
    return counts


def test_gen_skillset_list_families_prints_a_table_of_the_registry(cli, tmp_path):
    rc, out, err = cli.run("gen-skillset", "--list-families", cwd=tmp_path)
    assert rc == 0 and err == ""
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows and all(len(row) == 3 for row in rows), out
    assert {row[0]: row[1] for row in rows} == {
        family: f"{count} model types" for family, count in servable_counts(cli, "family").items()}
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_list_families_tells_supported_from_unsupported(cli):
    _, out, _ = cli.run("gen-skillset", "--list-families")
    support = {row.split("\t")[0]: row.split("\t")[2] for row in out.splitlines()}
    families_with_template = {p.name[: -len(".py.mustache")]
                              for p in (cli.root / "templates" / "skillset").glob("[!_]*.py.mustache")}
    assert families_with_template >= {"text-encoder", "text-decoder", "text-encoder-decoder", "vision",
                                      "speech-seq2seq", "vision-text-dual-encoder"}
    labels_with = {support[f] for f in families_with_template if f in support}
    labels_without = {label for family, label in support.items() if family not in families_with_template}
    assert len(labels_with) == 1 and len(labels_without) == 1 and labels_with != labels_without, support


def test_gen_skillset_list_tasks_prints_a_table_of_the_registry(cli, tmp_path):
    rc, out, err = cli.run("gen-skillset", "--list-tasks", cwd=tmp_path)
    assert rc == 0 and err == ""
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows and all(len(row) == 2 for row in rows), out
    assert {row[0]: row[1] for row in rows} == {
        task: f"{count} model types" for task, count in servable_counts(cli, "task").items()}
    assert cli.files_under(tmp_path) == []


# -- from the registry ----------------------------------------------------------------

def test_gen_skillset_spec_writes_the_skillset_and_a_written_manifest(cli, tmp_path, validate):
    rc, out, err = cli.run("gen-skillset", "-o", "out", "--test-dir", "tests", "bert", cwd=tmp_path)
    assert rc == 0, err
    [manifest] = cli.records(out)
    validate(manifest, "skillset-manifest")
    assert manifest["status"] == "written"
    assert (manifest["model_type"], manifest["ident"], manifest["family"]) == ("bert", "bert", "text-encoder")
    assert manifest["skillset_file"] == str(tmp_path / "out" / "hf_bert.py")
    assert manifest["test_file"] == str(tmp_path / "tests" / "test_hf_bert.py")
    assert manifest["requirements"]["schema"] == "requirements"
    assert cli.files_under(tmp_path) == ["out/hf_bert.py"]


def test_gen_skillset_second_identical_run_is_unchanged_and_keeps_the_mtime(cli, tmp_path):
    rc, out, err = cli.run("gen-skillset", "-q", "-o", tmp_path, "bert")
    assert rc == 0, err
    path = tmp_path / "hf_bert.py"
    os.utime(path, (OLD, OLD))
    rc, again, err = cli.run("gen-skillset", "-q", "-o", tmp_path, "bert")
    assert rc == 0, err
    [manifest] = cli.records(again)
    assert manifest["status"] == "unchanged"
    assert path.stat().st_mtime == OLD
    assert {k: v for k, v in manifest.items() if k != "status"} == \
        {k: v for k, v in cli.records(out)[0].items() if k != "status"}


def test_gen_skillset_force_rewrites_an_unchanged_skillset(cli, tmp_path):
    assert cli.run("gen-skillset", "-q", "-o", tmp_path, "bert")[0] == 0
    path = tmp_path / "hf_bert.py"
    before = path.read_bytes()
    os.utime(path, (OLD, OLD))
    rc, out, err = cli.run("gen-skillset", "-q", "--force", "-o", tmp_path, "bert")
    assert rc == 0, err
    assert cli.records(out)[0]["status"] == "written"
    assert path.stat().st_mtime != OLD and path.read_bytes() == before


def test_gen_skillset_regenerated_skillset_replaces_one_it_wrote_before(cli, tmp_path):
    assert cli.run("gen-skillset", "-q", "-o", tmp_path, "bert")[0] == 0
    record = cli.bert_requirements(tmp_path / "hf_bert.py", processor_class="BertTokenizerFast")
    rc, out, err = cli.run("gen-skillset", "-q", input=cli.jsonl(record))
    assert rc == 0, err
    assert cli.records(out)[0]["status"] == "written"
    assert "BertTokenizerFast" in (tmp_path / "hf_bert.py").read_text()


def test_gen_skillset_refuses_to_overwrite_an_edited_skillset_and_writes_nothing(cli, tmp_path):
    assert cli.run("gen-skillset", "-q", "-o", tmp_path, "bert", "gpt2")[0] == 0
    edited = cli.edit(tmp_path / "hf_bert.py")
    (tmp_path / "hf_gpt2.py").unlink()
    rc, out, err = cli.run("gen-skillset", "-q", "-o", tmp_path, "bert", "gpt2")
    assert rc == 1 and out == ""
    assert f"'{tmp_path / 'hf_bert.py'}'" in cli.assert_one_error_line("gen-skillset", err)
    assert (tmp_path / "hf_bert.py").read_bytes() == edited
    assert cli.files_under(tmp_path) == ["hf_bert.py"]


def test_gen_skillset_refuses_to_overwrite_a_file_it_did_not_write(cli, tmp_path):
    (tmp_path / "hf_bert.py").write_text("# written by hand\n")
    rc, out, err = cli.run("gen-skillset", "-q", "-o", tmp_path, "bert")
    assert rc == 1 and out == ""
    cli.assert_one_error_line("gen-skillset", err)
    assert (tmp_path / "hf_bert.py").read_text() == "# written by hand\n"


def test_gen_skillset_force_overwrites_an_edited_skillset(cli, tmp_path):
    assert cli.run("gen-skillset", "-q", "-o", tmp_path, "bert")[0] == 0
    before = (tmp_path / "hf_bert.py").read_bytes()
    cli.edit(tmp_path / "hf_bert.py")
    rc, out, err = cli.run("gen-skillset", "-q", "--force", "-o", tmp_path, "bert")
    assert rc == 0, err
    assert cli.records(out)[0]["status"] == "written"
    assert (tmp_path / "hf_bert.py").read_bytes() == before


def test_gen_skillset_skillset_header_holds_the_digest_of_the_rest(cli, tmp_path):
    assert cli.run("gen-skillset", "-q", "-o", tmp_path, "bert")[0] == 0
    first, rest = (tmp_path / "hf_bert.py").read_bytes().split(b"\n", 1)
    assert first == b"# @generated sha256:" + hashlib.sha256(rest).hexdigest().encode()


def test_gen_skillset_help_says_what_force_overwrites(cli):
    rc, out, _ = cli.run("gen-skillset", "--help")
    assert rc == 0
    [line] = [line for line in out.splitlines() if "--force" in line]
    assert "edited" in line


def numbered_requirements(cli, directory, count):
    """`count` bert requirements records of distinct model types, skillsets in `directory`."""
    return [cli.bert_requirements(directory / f"hf_bert{i}.py", model_type=f"bert{i}", ident=f"bert{i}")
            for i in range(count)]


def test_gen_skillset_tenth_file_that_cannot_be_written_leaves_none_written(cli, tmp_path):
    # DESIGN: a run writes every file or none, and prints records only once all are written.
    records = numbered_requirements(cli, tmp_path / "out", 10)
    (tmp_path / "blocker").write_text("a file where a directory should be\n")
    records[9]["skillset_file"] = str(tmp_path / "blocker" / "hf_bert9.py")
    rc, out, err = cli.run("gen-skillset", "-q", input=cli.jsonl(*records))
    assert rc == 2 and out == ""
    assert "blocker" in cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == ["blocker"]


def test_gen_skillset_directory_in_the_way_of_the_tenth_file_leaves_none_written(cli, tmp_path):
    records = numbered_requirements(cli, tmp_path, 10)
    (tmp_path / "hf_bert9.py").mkdir()
    rc, out, err = cli.run("gen-skillset", "-q", input=cli.jsonl(*records))
    assert rc == 2 and out == ""
    assert "hf_bert9.py" in cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


def gpt2_requirements(skillset_file, generation):
    return {
        "schema": "requirements", "version": 1, "model_type": "gpt2", "ident": "gpt2", "model_id": "gpt2",
        "family": "text-decoder", "task": "text-generation", "tasks": ["text-generation"],
        "model_class": "GPT2LMHeadModel", "auto_class": "AutoModelForCausalLM",
        "processor_class": "AutoTokenizer", "signature": None, "generation": generation,
        "tolerance": {"rtol": 1e-4, "atol": 1e-5}, "versions": {"transformers": "5.23.0"},
        "measured": False, "test_file": "/nonexistent/test_hf_gpt2.py", "skillset_file": str(skillset_file),
    }


READ_GENERATION = (
    "import importlib.util, json, sys\n"
    "spec = importlib.util.spec_from_file_location('hf_gpt2', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "print(json.dumps(module.hf_gpt2._generation_settings()))\n")


def test_gen_skillset_large_floats_reach_the_skillset_as_themselves(cli, tmp_path):
    generation = {"max_new_tokens": 8, "two_to_53": 9007199254740992.0, "big": 1.5e300,
                  "negative": -2.0 ** 60, "tiny": 5e-324}
    rc, out, err = cli.run("gen-skillset", "-q", input=cli.jsonl(gpt2_requirements(tmp_path / "hf_gpt2.py",
                                                                                 generation)))
    assert rc == 0, err
    done = subprocess.run([cli.python, "-c", READ_GENERATION, tmp_path / "hf_gpt2.py"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == generation


# DESIGN: values rendered into code nest at most 32 levels (Python refuses ~200); a
# record nesting beyond 64 is refused as it is read, before any value reaches code.
@pytest.mark.parametrize("depth, limit", [(33, "32"), (300, "64")])
def test_gen_skillset_value_nested_too_deep_for_code_is_exit_2_and_writes_nothing(cli, tmp_path, depth, limit):
    generation = {"max_new_tokens": 8}
    for _ in range(depth - 1):
        generation = {"nested": generation}
    good = cli.bert_requirements(tmp_path / "hf_bert.py")
    deep = gpt2_requirements(tmp_path / "hf_gpt2.py", generation)
    rc, out, err = cli.run("gen-skillset", "-q", input=cli.jsonl(good, deep))
    assert rc == 2 and out == ""
    assert limit in cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_value_nested_32_levels_is_generated(cli, tmp_path):
    generation = {"max_new_tokens": 8}
    for _ in range(31):
        generation = {"nested": generation}
    rc, out, err = cli.run("gen-skillset", "-q", input=cli.jsonl(gpt2_requirements(tmp_path / "hf_gpt2.py",
                                                                                 generation)))
    assert rc == 0, err
    compile((tmp_path / "hf_gpt2.py").read_text(), "hf_gpt2.py", "exec")


@pytest.fixture(scope="module")
def task_runs(tmp_path_factory, cli):
    """gen-skillset and gen-tests --all --task text-generation, into one directory."""
    work = tmp_path_factory.mktemp("task")
    skillsets = cli.run("gen-skillset", "-q", "--all", "--task", "text-generation", "-o", work / "s")
    tests = cli.run("gen-tests", "-q", "--all", "--task", "text-generation", "-o", work / "t",
                    "--skillset-dir", work / "s")
    return work, skillsets, tests


def test_gen_skillset_all_with_a_task_writes_only_skillsets_serving_it(cli, task_runs, validate):
    work, (rc, out, err), _ = task_runs
    assert rc == 0, err
    manifests = cli.records(out)
    made = written(cli, out)
    assert {"gpt2", "bert"} <= {m["model_type"] for m in made}  # bert's BertLMHeadModel too
    for manifest in manifests:
        validate(manifest, "skillset-manifest")
        assert manifest["status"] in ("written", "unsupported-task", "unsupported-family"), manifest
    registry = json.loads((cli.root / "data" / "registry.json").read_text())["models"]
    for manifest in made:
        task = manifest["task"]
        assert task == manifest["requirements"]["task"]
        assert f'TASK = "{task}"' in Path(manifest["skillset_file"]).read_text()
        # A template serving another task of the same model class serves text-generation
        # as that one (gemma3's text-generation class is its image-text-to-text class).
        tasks = registry[manifest["model_type"]]["tasks"]
        assert task == "text-generation" or tasks[task] == tasks["text-generation"], manifest
    # bart has a text-generation head (BartForCausalLM), which its family's template does
    # not serve, and no served task of that class.
    assert {m["model_type"]: m["status"] for m in manifests}["bart"] == "unsupported-task"
    assert cli.files_under(work / "s") == sorted(f"hf_{m['ident']}.py" for m in made)


def test_gen_skillset_and_gen_tests_mean_the_same_by_task(cli, task_runs):
    _, (rc, skillsets, err), (test_rc, plans, test_err) = task_runs
    assert rc == 0 and test_rc == 0, err + test_err
    assert {p["model_type"] for p in cli.records(plans)} == {m["model_type"] for m in written(cli, skillsets)}
    assert {p["task"] for p in cli.records(plans)} == {m["task"] for m in written(cli, skillsets)}


def test_gen_skillset_serves_a_task_as_the_served_task_of_the_same_model_class(cli, tmp_path):
    # gemma3's pretraining class is its image-text-to-text class, a task the template
    # does not serve by name.
    rc, out, err = cli.run("gen-skillset", "-q", "--task", "pretraining", "-o", tmp_path, "gemma3")
    assert rc == 0, err
    [manifest] = cli.records(out)
    assert (manifest["status"], manifest["task"]) == ("written", "image-text-to-text")
    assert 'TASK = "image-text-to-text"' in (tmp_path / "hf_gemma3.py").read_text()


def test_gen_skillset_spec_with_a_task_its_family_does_not_serve_is_unsupported_task(cli, tmp_path):
    rc, out, err = cli.run("gen-skillset", "-q", "--task", "text-generation", "-o", tmp_path, "bart")
    assert rc == 1
    [manifest] = cli.records(out)
    assert manifest["status"] == "unsupported-task"
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_unknown_model_type_suggests_and_exits_2(cli, tmp_path):
    rc, out, err = cli.run("gen-skillset", "-o", tmp_path / "s", "bert", "berta", cwd=tmp_path)
    assert rc == 2 and out == ""
    assert err == (
        "gen-skillset: error: unknown model type 'berta' (did you mean 'bert'?); as a Hub repo id: "
        "not in the cache and HF_HUB_OFFLINE is set 'berta@main'\n")
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_family_without_template_spec_is_a_record_and_exit_1(cli, tmp_path, validate):
    rc, out, err = cli.run("gen-skillset", "-o", tmp_path / "s", "muse_glimmer_assistant", cwd=tmp_path)
    assert rc == 1
    [manifest] = cli.records(out)
    validate(manifest, "skillset-manifest")
    assert (manifest["model_type"], manifest["status"]) == ("muse_glimmer_assistant", "unsupported-family")
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_not_servable_spec_is_a_record_and_exit_1(cli, tmp_path, validate):
    rc, out, err = cli.run("gen-skillset", "-o", tmp_path / "s", "clip_text_model", cwd=tmp_path)
    assert rc == 1
    [manifest] = cli.records(out)
    validate(manifest, "skillset-manifest")
    assert (manifest["model_type"], manifest["status"]) == ("clip_text_model", "not-servable")
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_unknown_family_is_exit_2(cli, tmp_path):
    rc, out, err = cli.run("gen-skillset", "--family", "nope", "-o", tmp_path / "s", cwd=tmp_path)
    assert rc == 2 and out == ""
    assert "'nope'" in cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_family_flag_writes_only_that_family(cli, tmp_path):
    rc, out, err = cli.run("gen-skillset", "-q", "--family", "vision-text-dual-encoder", "-o", tmp_path)
    assert rc == 0, err
    manifests = cli.records(out)
    assert {m["family"] for m in manifests} == {"vision-text-dual-encoder"}
    assert "clip" in {m["model_type"] for m in manifests}
    assert cli.files_under(tmp_path) == sorted(f"hf_{m['ident']}.py" for m in written(cli, out))


@pytest.fixture(scope="module")
def all_runs(tmp_path_factory, cli):
    """gen-skillset --all, twice, into two directories."""
    runs = []
    for name in ("first", "second"):
        out_dir = tmp_path_factory.mktemp(f"all-{name}")
        rc, out, err = cli.run("gen-skillset", "--all", "-o", out_dir, cwd=out_dir)
        runs.append((out_dir, rc, out, err))
    return runs


def test_gen_skillset_all_exits_0_and_writes_a_file_per_written_manifest(cli, all_runs):
    out_dir, rc, out, err = all_runs[0]
    assert rc == 0, err
    made = written(cli, out)
    assert len(made) > 6
    assert cli.files_under(out_dir) == sorted(f"hf_{m['ident']}.py" for m in made)
    assert all(m["skillset_file"] == str(out_dir / f"hf_{m['ident']}.py") for m in made)


def test_gen_skillset_all_reports_unsupported_families_and_writes_no_file_for_them(cli, all_runs, validate):
    out_dir, rc, out, _ = all_runs[0]
    unsupported = [m for m in cli.records(out) if m["status"] == "unsupported-family"]
    templated = {m["family"] for m in written(cli, out)}
    assert unsupported and not templated & {m["family"] for m in unsupported}
    for manifest in unsupported:
        validate(manifest, "skillset-manifest")
        assert not (out_dir / f"hf_{manifest['ident']}.py").exists()
    assert rc == 0


def test_gen_skillset_all_covers_every_family_with_a_template(cli, all_runs):
    families = {m["model_type"]: m["family"] for m in written(cli, all_runs[0][2])}
    assert set(REFERENCE_TYPES) <= set(families)
    assert len({families[t] for t in REFERENCE_TYPES}) == len(REFERENCE_TYPES)


def test_gen_skillset_all_is_byte_identical_across_two_runs(cli, all_runs):
    (first, _, out1, _), (second, _, out2, _) = all_runs
    names = cli.files_under(first)
    assert names == cli.files_under(second)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    # The manifests differ only in the output directory.
    assert out1.replace(str(first), "<dir>") == out2.replace(str(second), "<dir>")


# -- from requirements ----------------------------------------------------------------

def test_gen_skillset_requirements_on_stdin_write_the_skillset(cli, tmp_path, validate):
    requirements = cli.bert_requirements(tmp_path / "out" / "hf_bert.py")
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(requirements), cwd=tmp_path)
    assert rc == 0, err
    [manifest] = cli.records(out)
    validate(manifest, "skillset-manifest")
    assert manifest["status"] == "written"
    assert manifest["skillset_file"] == requirements["skillset_file"]
    assert manifest["test_file"] == requirements["test_file"]
    assert manifest["requirements"] == requirements
    assert cli.files_under(tmp_path) == ["out/hf_bert.py"]


def test_gen_skillset_requirements_from_analyze_write_the_skillset(cli, tmp_path, validate):
    rc, requirements, err = cli.run("analyze", input=cli.jsonl(cli.bert_result()))
    assert rc == 0, err
    rc, out, err = cli.run("gen-skillset", "-o", tmp_path, input=requirements)
    assert rc == 0, err
    [manifest] = cli.records(out)
    validate(manifest, "skillset-manifest")
    assert manifest["status"] == "written" and manifest["skillset_file"] == str(tmp_path / "hf_bert.py")
    assert cli.files_under(tmp_path) == ["hf_bert.py"]


def test_gen_skillset_requirements_file_operand_is_read(cli, tmp_path):
    path = tmp_path / "requirements.jsonl"
    path.write_text(cli.jsonl(cli.bert_requirements(tmp_path / "out" / "hf_bert.py")))
    rc, out, err = cli.run("gen-skillset", "-r", path, input="")
    assert rc == 0, err
    assert cli.records(out)[0]["status"] == "written"
    assert (tmp_path / "out" / "hf_bert.py").is_file()


def test_gen_skillset_output_dir_overrides_the_requirements_skillset_file(cli, tmp_path):
    requirements = cli.bert_requirements(tmp_path / "elsewhere" / "hf_bert.py")
    rc, out, err = cli.run("gen-skillset", "-o", "here", input=cli.jsonl(requirements), cwd=tmp_path)
    assert rc == 0, err
    assert cli.records(out)[0]["skillset_file"] == str(tmp_path / "here" / "hf_bert.py")
    assert cli.files_under(tmp_path) == ["here/hf_bert.py"]


def test_gen_skillset_malformed_line_is_exit_2_naming_it_and_writes_nothing(cli, tmp_path):
    good = cli.bert_requirements(tmp_path / "hf_bert.py")
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(good, "{not json"))
    assert rc == 2 and out == ""
    assert "'<stdin>:2'" in cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_malformed_line_of_a_file_names_the_file_and_line(cli, tmp_path):
    path = tmp_path / "requirements.jsonl"
    path.write_text(cli.jsonl(cli.bert_requirements(tmp_path / "hf_bert.py"), "", "[1, 2"))
    rc, out, err = cli.run("gen-skillset", "-r", path)
    assert rc == 2 and out == ""
    assert f"'{path}:3'" in cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == ["requirements.jsonl"]


def test_gen_skillset_record_of_another_schema_is_exit_2(cli, tmp_path):
    rc, out, err = cli.run("gen-skillset", "-o", tmp_path, input=cli.jsonl(cli.bert_result()))
    assert rc == 2 and out == ""
    assert "'<stdin>:1'" in cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_record_of_another_version_is_exit_2(cli, tmp_path):
    record = cli.bert_requirements(tmp_path / "hf_bert.py", version=2)
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_record_without_a_required_field_is_exit_2(cli, tmp_path):
    record = cli.bert_requirements(tmp_path / "hf_bert.py")
    del record["model_class"]
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    assert "model_class" in cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


@pytest.mark.parametrize("text", ["", "\n\n  \n"], ids=["empty", "blank-lines"])
def test_gen_skillset_empty_stdin_is_exit_2(cli, tmp_path, text):
    rc, out, err = cli.run("gen-skillset", "-o", tmp_path, input=text)
    assert rc == 2 and out == ""
    cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_requirements_of_a_family_without_template_is_exit_2(cli, tmp_path):
    record = cli.bert_requirements(tmp_path / "hf_muse_glimmer_assistant.py", model_type="muse_glimmer_assistant",
                                   ident="muse_glimmer_assistant", family="generation-assistant")
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    assert "'generation-assistant'" in cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_bad_record_after_a_good_one_writes_nothing(cli, tmp_path):
    # DESIGN: bad input is exit 2 "before anything is written".
    good = cli.bert_requirements(tmp_path / "hf_bert.py")
    bad = cli.bert_requirements(tmp_path / "hf_bad.py", ident="bad", model_class="BertModel; import os")
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(good, bad))
    assert rc == 2 and out == ""
    cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


@pytest.mark.parametrize("field,value", [("ident", 5), ("skillset_file", 7), ("model_type", None),
                                         ("model_class", ["BertModel"])])
def test_gen_skillset_required_field_of_the_wrong_type_is_exit_2_not_a_crash(cli, tmp_path, field, value):
    record = dict(cli.bert_requirements(tmp_path / "hf_bert.py"), **{field: value})
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(record))
    assert rc == 2 and out == "", (rc, err)
    cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []


def test_gen_skillset_relative_skillset_file_never_reaches_a_manifest(cli, tmp_path, validate):
    # Manifests name absolute paths (DESIGN); a relative one is bad input or made absolute.
    record = cli.bert_requirements("rel/hf_bert.py")
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(record), cwd=tmp_path)
    if rc == 2:
        assert out == "" and cli.files_under(tmp_path) == []
    else:
        assert rc == 0, err
        [manifest] = cli.records(out)
        validate(manifest, "skillset-manifest")
        assert manifest["skillset_file"] == str(tmp_path / "rel" / "hf_bert.py")


# -- what every generated skillset is -------------------------------------------------

INTROSPECT = textwrap.dedent("""\
    import importlib.util, inspect, json, os, sys
    path, ident = sys.argv[1], sys.argv[2]
    spec = importlib.util.spec_from_file_location("hf_" + ident, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    facts = {"torch_at_import": "torch" in sys.modules,
             "transformers_at_import": "transformers" in sys.modules,
             "summary": (module.__doc__ or "").split("\\n")[0]}
    cls = getattr(module, "hf_" + ident, None)
    facts["TASK"] = getattr(cls, "TASK", None)
    facts["class"] = inspect.isclass(cls)
    signatures = {}
    for name in ["__init__"] + ["init_" + b.replace("-", "_") for b in %(backends)r]:
        method = getattr(cls, name, None)
        signatures[name] = None if method is None else [
            [p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
            for p in inspect.signature(method).parameters.values()]
    facts["signatures"] = signatures
    raised = {}
    # As if not installed: their import raises ImportError.
    sys.modules["openvino"] = sys.modules["onnxruntime"] = None
    os.environ.pop("TRANSFORMERSJS_DIR", None)  # nor are transformers.js's npm packages
    instance = cls(metadata={"strict_backends": True})
    for backend in %(raising)r:
        args = ["/nonexistent/model", backend + ":0", backend + ":0"]
        if backend == "openvino":
            args.insert(1, "feature-extraction")
        try:
            getattr(instance, "init_" + backend.replace("-", "_"))(*args)
            raised[backend] = None
        except Exception as exc:
            raised[backend] = {
                "type": type(exc).__name__, "runtime_error": isinstance(exc, RuntimeError),
                "the_skillsets": type(exc) is getattr(cls, "BackendUnavailable", None),
                "reason": getattr(exc, "reason", None), "message": str(exc)}
    facts["raised"] = raised
    print(json.dumps(facts))
""") % {"backends": list(BACKENDS), "raising": list(UNSERVED)}


@pytest.fixture(scope="module")
def reference_skillsets(tmp_path_factory, cli):
    """hf_<type>.py of one model type per family, with what a fresh interpreter sees in each."""
    work = tmp_path_factory.mktemp("reference-skillsets")
    rc, out, err = cli.run("gen-skillset", "-q", "-o", work / "skillsets", *REFERENCE_TYPES, cwd=work)
    assert rc == 0, err
    found = {}
    for manifest in cli.records(out):
        done = subprocess.run([cli.python, "-c", INTROSPECT, manifest["skillset_file"], manifest["ident"]],
                              cwd=work, capture_output=True, text=True, timeout=120)
        facts = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr}
        found[manifest["model_type"]] = dict(manifest=manifest, facts=facts)
    return found


def test_gen_skillset_reference_types_are_written_one_per_family(reference_skillsets):
    assert sorted(reference_skillsets) == sorted(REFERENCE_TYPES)
    assert {s["manifest"]["status"] for s in reference_skillsets.values()} == {"written"}
    assert len({s["manifest"]["family"] for s in reference_skillsets.values()}) == len(REFERENCE_TYPES)


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_gen_skillset_skillset_compiles(reference_skillsets, model_type):
    path = reference_skillsets[model_type]["manifest"]["skillset_file"]
    compile(Path(path).read_text(), path, "exec")


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_gen_skillset_skillset_imports_by_path_without_torch(reference_skillsets, model_type):
    facts = reference_skillsets[model_type]["facts"]
    assert "error" not in facts, facts.get("error")
    assert facts["torch_at_import"] is False
    assert facts["transformers_at_import"] is False


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_gen_skillset_skillset_names_its_model_type_and_task(reference_skillsets, model_type):
    facts, manifest = reference_skillsets[model_type]["facts"], reference_skillsets[model_type]["manifest"]
    assert facts["summary"] == f'Skillset for Hugging Face model type "{model_type}".'
    assert facts["TASK"] == manifest["task"]


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_gen_skillset_skillset_has_the_class_and_constructor_of_the_contract(reference_skillsets, model_type):
    facts = reference_skillsets[model_type]["facts"]
    assert facts["class"] is True
    assert facts["signatures"]["__init__"] == [
        ["self", "POSITIONAL_OR_KEYWORD", None],
        ["resources", "POSITIONAL_OR_KEYWORD", "None"],
        ["metadata", "POSITIONAL_OR_KEYWORD", "None"]]


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_gen_skillset_skillset_has_every_init_with_the_contract_signature(reference_skillsets, model_type, backend):
    signature = reference_skillsets[model_type]["facts"]["signatures"]["init_" + backend.replace("-", "_")]
    assert signature is not None, f"no init_{backend}"
    names = [(name, kind) for name, kind, _ in signature]
    if backend == "openvino":
        assert names == [("self", "POSITIONAL_OR_KEYWORD"), ("model_name", "POSITIONAL_OR_KEYWORD"),
                         ("model_type", "POSITIONAL_OR_KEYWORD"), ("device", "POSITIONAL_OR_KEYWORD"),
                         ("openvino_label", "POSITIONAL_OR_KEYWORD"), ("helpers", "VAR_POSITIONAL")]
    else:
        assert names == [("self", "POSITIONAL_OR_KEYWORD"), ("model_name", "POSITIONAL_OR_KEYWORD"),
                         ("device", "POSITIONAL_OR_KEYWORD"), ("label", "POSITIONAL_OR_KEYWORD")]


# Each backend the introspection leaves without its package, the reference types whose
# family serves it, and the package its message names.
WITHOUT_PACKAGE = [("openvino", OPENVINO_TYPES, "'openvino'"), ("onnx", ONNX_TYPES, "'onnxruntime'"),
                   ("webnn", WEBNN_TYPES, "'onnxruntime'"),
                   ("transformersjs-node", TRANSFORMERSJS_TYPES, "'@huggingface/transformers'"),
                   ("webgpu", TRANSFORMERSJS_TYPES, "'@huggingface/transformers'")]


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
@pytest.mark.parametrize("backend, served, package", WITHOUT_PACKAGE)
def test_gen_skillset_init_without_its_package_raises_package_missing_where_served(
        reference_skillsets, model_type, backend, served, package):
    raised = reference_skillsets[model_type]["facts"]["raised"][backend]
    assert raised is not None, f"init_{backend} returned instead of raising"
    assert raised["type"] == "BackendUnavailable" and raised["the_skillsets"] and raised["runtime_error"]
    if model_type in served:
        assert raised["reason"] == "package-missing" and package in raised["message"]
    else:
        assert raised["reason"] == "unimplemented" and raised["message"]


COPY_CONVERTED_ENDPOINTS = textwrap.dedent("""\
    import copy, importlib.util, sys, types
    spec = importlib.util.spec_from_file_location("hf_bert", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    openvino = types.SimpleNamespace(Core=lambda: "core")
    model = types.SimpleNamespace(config="the config")
    endpoints = (module.hf_bert._OpenVINOModel(openvino, None, model, "source", "/cache"),
                 module.hf_bert._ONNXModel(None, None, model, "source", "/cache"))
    for endpoint in endpoints:
        for twin in (copy.copy(endpoint), copy.deepcopy(endpoint)):
            assert twin.config == "the config", twin.config
    print("ok")
""")


def test_gen_skillset_openvino_and_onnx_endpoints_read_the_models_attributes_and_can_be_copied(cli, tmp_path):
    rc, out, err = cli.run("gen-skillset", "-q", "-o", tmp_path, "bert")
    assert rc == 0, err
    done = subprocess.run([cli.python, "-c", COPY_CONVERTED_ENDPOINTS, str(tmp_path / "hf_bert.py")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr[-2000:]


def test_gen_skillset_one_model_type_named_twice_is_one_file_and_two_manifests(cli, tmp_path):
    rc, out, err = cli.run("gen-skillset", "-q", "-o", tmp_path, "bert", "bert")
    assert rc == 0, err
    assert [m["status"] for m in cli.records(out)] == ["written", "written"]
    assert cli.files_under(tmp_path) == ["hf_bert.py"]


def test_gen_skillset_two_different_skillsets_for_one_file_is_exit_2_and_writes_nothing(cli, tmp_path):
    first = cli.bert_requirements(tmp_path / "hf_bert.py")
    second = cli.bert_requirements(tmp_path / "hf_bert.py", processor_class="BertTokenizerFast")
    rc, out, err = cli.run("gen-skillset", "-q", input=cli.jsonl(first, second))
    assert rc == 2 and out == ""
    assert f"'{tmp_path / 'hf_bert.py'}'" in cli.assert_one_error_line("gen-skillset", err)
    assert cli.files_under(tmp_path) == []
