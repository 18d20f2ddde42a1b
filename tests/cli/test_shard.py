"""run-tests --shard K/N, black box: a bad K/N is exit 2; the N shards of a suite hold every
model type exactly once, whatever order each machine reads the plans in; and the
results of the shards, concatenated, analyze to byte for byte the requirements of one
unsharded run.

The split is checked over every model type of the registry with a stand-in worker that
answers each request at once (SKILLSET_HOME points run-tests at it), since what is
checked is which plans run, not what they find; the merge is checked on a real run."""
import json
import random
import sys
import textwrap

import pytest

# Answers every request with an error at once: its record still names the model type.
INSTANT_WORKER = textwrap.dedent("""\
    import json, os, sys
    answers = os.fdopen(os.dup(1), "w")
    for line in sys.stdin:
        answers.write(json.dumps({"id": json.loads(line)["id"], "error": "not run"}) + "\\n")
        answers.flush()
""")


@pytest.mark.parametrize("shard", ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", ""])
def test_bad_shard_is_exit_2_in_one_line(cli, shard):
    rc, out, err = cli.run("run-tests", "--shard", shard, input="")
    assert rc == 2 and out == ""
    assert cli.assert_one_error_line("run-tests", err) == (
        f"run-tests: error: --shard is not K/N with 1 <= K <= N '{shard}'")


@pytest.fixture
def instant(tmp_path, cli):
    """The environment that runs the instant worker, and a plan per registry model type."""
    home = tmp_path / "home"
    (home / "python" / "skillkit").mkdir(parents=True)
    (home / "python" / "skillkit" / "__init__.py").write_text("")
    (home / "python" / "skillkit" / "worker.py").write_text(INSTANT_WORKER)
    (home / "schemas").symlink_to(cli.root / "schemas")
    env = {"SKILLSET_HOME": str(home), "SKILLSET_PYTHON": sys.executable, "PYTHONPATH": None}
    registry = json.loads((cli.root / "data" / "registry.json").read_text())
    plans = [{
        "schema": "test-plan", "version": 1, "model_type": model_type,
        "ident": model_type.replace("-", "_").replace(".", "_"), "model_id": model_type,
        "family": "text-encoder", "task": "feature-extraction", "tasks": ["feature-extraction"],
        "candidates": [{"model_class": "BertModel", "auto_class": "AutoModel", "processor_class": "AutoTokenizer"}],
        "backends": ["cpu"], "tolerance": {"rtol": 1e-4, "atol": 1e-5},
        "test_file": str(tmp_path / "test.py"), "skillset_file": str(tmp_path / "hf.py"),
    } for model_type in registry["models"]]
    return env, plans


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_shards_hold_every_model_type_exactly_once_whatever_the_order(cli, instant, count):
    env, plans = instant
    ran = []
    for index in range(1, count + 1):
        shuffled = random.Random(index).sample(plans, len(plans))  # another order on each machine
        rc, out, err = cli.run("run-tests", "-j", "1", "--shard", f"{index}/{count}",
                               input=cli.jsonl(*shuffled), env=env)
        assert rc in (0, 1), err  # 1: every instant answer is an error
        mine = [r["model_type"] for r in cli.records(out)]
        assert f"run-tests: shard {index}/{count}: {len(mine)} of {len(plans)} test plans\n" in err
        if count > 1:
            assert 0 < len(mine) < len(plans)
        ran += mine
    assert sorted(ran) == sorted(p["model_type"] for p in plans)


def test_a_shard_without_plans_runs_nothing_and_succeeds(cli, instant, tmp_path):
    env, plans = instant
    # bert is in shard 1 of 2 (tests/unit/shard_test.cpp pins it).
    bert = [p for p in plans if p["model_type"] == "bert"]
    report = tmp_path / "empty.xml"
    rc, out, err = cli.run("run-tests", "--shard", "2/2", "--junit", report, input=cli.jsonl(*bert), env=env)
    assert (rc, out) == (0, ""), err
    assert 'tests="0"' in report.read_text()


def test_shards_concatenated_analyze_as_the_unsharded_run(cli, tmp_path):
    # bert is in shard 1 of 2 and t5 in shard 2 (tests/unit/shard_test.cpp pins them).
    rc, plans, err = cli.run("gen-tests", "-q", "-o", tmp_path / "tests", "--skillset-dir",
                             tmp_path / "skillsets", "--backends", "cpu", "bert", "t5")
    assert rc == 0, err
    (tmp_path / "plans.jsonl").write_text(plans)
    rc, whole, err = cli.run("run-tests", "-q", "-j", "1", tmp_path / "plans.jsonl")
    assert rc == 0, err
    shards = []
    for index in (1, 2):
        rc, out, err = cli.run("run-tests", "-q", "-j", "1", "--shard", f"{index}/2", tmp_path / "plans.jsonl")
        assert rc == 0, err
        shards.append(out)
    assert [[r["model_type"] for r in cli.records(out)] for out in shards] == [["bert"], ["t5"]]
    (tmp_path / "merged.jsonl").write_text("".join(shards))  # what cat does
    rc, merged_requirements, err = cli.run("analyze", tmp_path / "merged.jsonl")
    assert rc == 0, err
    rc, whole_requirements, err = cli.run("analyze", input=whole)
    assert rc == 0, err
    assert [r["model_type"] for r in cli.records(whole_requirements)] == ["bert", "t5"]
    assert merged_requirements == whole_requirements
