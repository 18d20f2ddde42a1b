"""bin/gen-tests, black box: model specs in, test_hf_<ident>.py files and test-plan
records out. Bad input (an unknown model type, backend, task or family) is exit 2 before
any file is written; a model type that cannot be tested yet is a note and exit 1."""
import ast
import hashlib
import json
from pathlib import Path

import pytest

from reference_types import BACKENDS, REFERENCE_TYPES



def gen_tests(cli, tmp_path, *args, **kwargs):
    """gen-tests with tests to tmp_path/tests and skillsets named under tmp_path/skillsets."""
    return cli.run("gen-tests", "-o", tmp_path / "tests", "--skillset-dir", tmp_path / "skillsets",
                   *args, cwd=tmp_path, **kwargs)


def plan_of(test_file):
    """The PLAN dict literal of a generated test file, read without running it."""
    tree = ast.parse(Path(test_file).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["PLAN"]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"no PLAN in {test_file}")


def test_gen_tests_unknown_model_type_suggests_and_exits_2(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "berta")
    assert rc == 2 and out == ""
    assert err == (
        "gen-tests: error: unknown model type 'berta' (did you mean 'bert'?); as a Hub repo id: "
        "not in the cache and HF_HUB_OFFLINE is set 'berta@main'\n")
    assert cli.files_under(tmp_path) == []


@pytest.mark.parametrize("specs", [("berta", "bert"), ("bert", "xlm-roberta", "berta")],
                         ids=["bad-first", "bad-last"])
def test_gen_tests_unknown_model_type_beside_valid_ones_writes_nothing(cli, tmp_path, specs):
    rc, out, err = gen_tests(cli, tmp_path, *specs)
    assert rc == 2 and out == ""
    assert err == (
        "gen-tests: error: unknown model type 'berta' (did you mean 'bert'?); as a Hub repo id: "
        "not in the cache and HF_HUB_OFFLINE is set 'berta@main'\n")
    assert cli.files_under(tmp_path) == []


def test_gen_tests_no_spec_is_exit_2(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path)
    assert rc == 2 and out == ""
    cli.assert_one_error_line("gen-tests", err)
    assert cli.files_under(tmp_path) == []


def test_gen_tests_valid_spec_writes_the_test_and_prints_its_plan(cli, tmp_path, validate):
    rc, out, err = cli.run("gen-tests", "-o", "rel/tests", "--skillset-dir", "rel/skillsets", "bert",
                           cwd=tmp_path)
    assert rc == 0, err
    [plan] = cli.records(out)
    validate(plan, "test-plan")
    assert plan["schema"] == "test-plan" and plan["version"] == 1
    assert (plan["model_type"], plan["ident"], plan["model_id"]) == ("bert", "bert", "bert")
    assert (plan["family"], plan["task"]) == ("text-encoder", "feature-extraction")
    # Relative directories become absolute paths, so the record works from any cwd.
    assert plan["test_file"] == str(tmp_path / "rel" / "tests" / "test_hf_bert.py")
    assert plan["skillset_file"] == str(tmp_path / "rel" / "skillsets" / "hf_bert.py")
    assert cli.files_under(tmp_path) == ["rel/tests/test_hf_bert.py"]


def test_gen_tests_plan_tries_bert_model_first_on_every_backend(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "bert")
    assert rc == 0, err
    [plan] = cli.records(out)
    assert plan["candidates"][0] == {"model_class": "BertModel", "auto_class": "AutoModel",
                                     "processor_class": "AutoTokenizer"}
    assert plan["backends"] == list(BACKENDS)


def test_gen_tests_progress_goes_to_stderr_and_quiet_silences_it(cli, tmp_path):
    (tmp_path / "loud").mkdir()
    (tmp_path / "quiet").mkdir()
    rc, out, err = gen_tests(cli, tmp_path / "loud", "bert")
    assert rc == 0 and err != "" and "gen-tests:" in err
    rc, quiet_out, quiet_err = gen_tests(cli, tmp_path / "quiet", "-q", "bert")
    assert rc == 0 and quiet_err == ""
    assert len(cli.records(quiet_out)) == 1


def test_gen_tests_dashed_model_type_gets_an_underscored_ident(cli, tmp_path, validate):
    rc, out, err = gen_tests(cli, tmp_path, "xlm-roberta")
    assert rc == 0, err
    [plan] = cli.records(out)
    validate(plan, "test-plan")
    assert (plan["model_type"], plan["ident"]) == ("xlm-roberta", "xlm_roberta")
    assert plan["test_file"] == str(tmp_path / "tests" / "test_hf_xlm_roberta.py")
    assert plan["skillset_file"] == str(tmp_path / "skillsets" / "hf_xlm_roberta.py")
    assert Path(plan["test_file"]).is_file()


def test_gen_tests_not_servable_type_is_a_note_and_exit_1(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "clip_text_model")
    assert rc == 1 and out == ""
    assert "clip_text_model" in err and "error:" not in err
    assert cli.files_under(tmp_path) == []


def test_gen_tests_family_without_template_is_a_note_and_exit_1(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "muse_glimmer_assistant")  # generation-assistant: no template yet
    assert rc == 1 and out == ""
    assert "muse_glimmer_assistant" in err and "error:" not in err
    assert cli.files_under(tmp_path) == []


def test_gen_tests_unsupported_type_beside_a_valid_one_still_writes_the_valid_one(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "bert", "muse_glimmer_assistant")
    assert rc == 1
    assert [p["model_type"] for p in cli.records(out)] == ["bert"]
    assert "muse_glimmer_assistant" in err
    assert cli.files_under(tmp_path) == ["tests/test_hf_bert.py"]


def test_gen_tests_unknown_backend_is_exit_2(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "--backends", "cpu,foo", "bert")
    assert rc == 2 and out == ""
    assert err == "gen-tests: error: unknown backend 'foo'\n"
    assert cli.files_under(tmp_path) == []


def test_gen_tests_backends_flag_limits_the_plan_and_the_test(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "--backends", "cpu,webnn", "bert")
    assert rc == 0, err
    [plan] = cli.records(out)
    assert plan["backends"] == ["cpu", "webnn"]
    assert plan_of(plan["test_file"])["backends"] == ["cpu", "webnn"]


def test_gen_tests_unknown_task_is_exit_2(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "--task", "nonsense", "bert")
    assert rc == 2 and out == ""
    assert "'nonsense'" in cli.assert_one_error_line("gen-tests", err)
    assert cli.files_under(tmp_path) == []


def test_gen_tests_unknown_family_is_exit_2(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "--all", "--family", "nope")
    assert rc == 2 and out == ""
    assert "'nope'" in cli.assert_one_error_line("gen-tests", err)
    assert cli.files_under(tmp_path) == []


def test_gen_tests_missing_registry_is_exit_2(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "--registry", tmp_path / "none.json", "bert")
    assert rc == 2 and out == ""
    cli.assert_one_error_line("gen-tests", err)
    assert cli.files_under(tmp_path) == []


def test_gen_tests_all_with_family_writes_a_test_per_model_type_of_it(cli, tmp_path, validate):
    rc, out, err = gen_tests(cli, tmp_path, "-q", "--all", "--family", "vision-text-dual-encoder")
    assert rc == 0, err
    plans = cli.records(out)
    assert plans and {p["family"] for p in plans} == {"vision-text-dual-encoder"}
    assert "clip" in {p["model_type"] for p in plans}
    for plan in plans:
        validate(plan, "test-plan")
    assert cli.files_under(tmp_path / "tests") == sorted(f"test_hf_{p['ident']}.py" for p in plans)


@pytest.fixture(scope="module")
def reference_tests(tmp_path_factory, cli):
    """gen-tests of one model type per supported family, written once."""
    work = tmp_path_factory.mktemp("reference-tests")
    rc, out, err = cli.run("gen-tests", "-q", "-o", work / "tests", "--skillset-dir", work / "skillsets",
                           *REFERENCE_TYPES, cwd=work)
    assert rc == 0, err
    return {plan["model_type"]: plan for plan in cli.records(out)}


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_gen_tests_generated_test_compiles(reference_tests, model_type):
    path = reference_tests[model_type]["test_file"]
    compile(Path(path).read_text(), path, "exec")


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_gen_tests_test_file_plan_matches_the_printed_record(reference_tests, model_type):
    record = reference_tests[model_type]
    plan = plan_of(record["test_file"])
    assert plan, "empty PLAN"
    for key, value in plan.items():
        if key in record:
            assert record[key] == value, key
    for key in ("model_type", "ident", "family", "task", "candidates", "backends", "tolerance",
                "test_file", "skillset_file"):
        assert plan[key] == record[key], key


def test_gen_tests_second_run_is_byte_identical(cli, tmp_path):
    first = gen_tests(cli, tmp_path, "-q", *REFERENCE_TYPES)
    files = {name: (tmp_path / name).read_bytes() for name in cli.files_under(tmp_path)}
    second = gen_tests(cli, tmp_path, "-q", *REFERENCE_TYPES)
    assert first[0] == 0 and first == second
    assert {name: (tmp_path / name).read_bytes() for name in cli.files_under(tmp_path)} == files


def test_gen_tests_stdout_is_json_lines_only(reference_tests):
    # reference_tests parsed every stdout line as JSON; each is a test-plan of version 1.
    assert {p["schema"] for p in reference_tests.values()} == {"test-plan"}
    assert {p["version"] for p in reference_tests.values()} == {1}
    assert sorted(reference_tests) == sorted(REFERENCE_TYPES)


def test_gen_tests_list_families_names_each_family_and_its_template(cli):
    rc, out, err = cli.run("gen-tests", "--list-families")
    assert rc == 0, err
    rows = dict(line.split("\t", 1) for line in out.splitlines())
    assert rows["text-encoder"].endswith("\ttemplate")
    assert rows["generation-assistant"].endswith("\tno template yet")


# -- writing: digests, edits, all or nothing ------------------------------------------------

def test_gen_tests_test_header_holds_the_digest_of_the_rest(cli, tmp_path):
    assert gen_tests(cli, tmp_path, "-q", "bert")[0] == 0
    first, rest = (tmp_path / "tests" / "test_hf_bert.py").read_bytes().split(b"\n", 1)
    assert first == b"# @generated sha256:" + hashlib.sha256(rest).hexdigest().encode()


def test_gen_tests_refuses_to_overwrite_an_edited_test_and_writes_nothing(cli, tmp_path):
    assert gen_tests(cli, tmp_path, "-q", "bert", "gpt2")[0] == 0
    edited = cli.edit(tmp_path / "tests" / "test_hf_bert.py")
    (tmp_path / "tests" / "test_hf_gpt2.py").unlink()
    rc, out, err = gen_tests(cli, tmp_path, "-q", "bert", "gpt2")
    assert rc == 1 and out == ""
    assert f"'{tmp_path / 'tests' / 'test_hf_bert.py'}'" in cli.assert_one_error_line("gen-tests", err)
    assert (tmp_path / "tests" / "test_hf_bert.py").read_bytes() == edited
    assert cli.files_under(tmp_path) == ["tests/test_hf_bert.py"]


def test_gen_tests_force_overwrites_an_edited_test(cli, tmp_path):
    assert gen_tests(cli, tmp_path, "-q", "bert")[0] == 0
    before = (tmp_path / "tests" / "test_hf_bert.py").read_bytes()
    cli.edit(tmp_path / "tests" / "test_hf_bert.py")
    rc, out, err = gen_tests(cli, tmp_path, "-q", "--force", "bert")
    assert rc == 0, err
    assert [p["model_type"] for p in cli.records(out)] == ["bert"]
    assert (tmp_path / "tests" / "test_hf_bert.py").read_bytes() == before


def test_gen_tests_regenerated_test_replaces_one_it_wrote_before(cli, tmp_path):
    assert gen_tests(cli, tmp_path, "-q", "bert")[0] == 0
    rc, out, err = gen_tests(cli, tmp_path, "-q", "--backends", "cpu", "bert")
    assert rc == 0, err
    assert plan_of(tmp_path / "tests" / "test_hf_bert.py")["backends"] == ["cpu"]


TEN = ("bert", "gpt2", "t5", "vit", "whisper", "clip", "roberta", "albert", "distilbert", "electra")


def test_gen_tests_tenth_file_that_cannot_be_written_leaves_none_written(cli, tmp_path):
    # DESIGN: a run writes every file or none, and prints records only once all are written.
    (tmp_path / "tests" / "test_hf_electra.py").mkdir(parents=True)
    rc, out, err = gen_tests(cli, tmp_path, "-q", *TEN)
    assert rc == 2 and out == ""
    assert "test_hf_electra.py" in cli.assert_one_error_line("gen-tests", err)
    assert cli.files_under(tmp_path) == []


def test_gen_tests_all_with_a_task_plans_that_task_for_every_test(cli, tmp_path):
    rc, out, err = gen_tests(cli, tmp_path, "-q", "--all", "--task", "text2text-generation")
    assert rc == 0, err
    plans = cli.records(out)
    assert "t5" in {p["model_type"] for p in plans}
    registry = json.loads((cli.root / "data" / "registry.json").read_text())["models"]
    for plan in plans:
        # Or the task the template serves in its place, of the same model class
        # (granite_speech's text2text-generation class is its speech recognizer).
        tasks = registry[plan["model_type"]]["tasks"]
        assert tasks[plan["task"]] == tasks["text2text-generation"], plan
