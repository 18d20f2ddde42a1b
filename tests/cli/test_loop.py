"""The loop learns (make loop, scripts/loop.sh): a padding-sensitive model type goes from
fail to pass through tests -> analyze -> gen-skillset -> verify, its requirements carry
the batch policy its test found, and a type that needs nothing keeps the default, its
skillset byte-identical to the one written from the registry alone.

nystromformer is the cheapest of the six types whose padded batch differs from each input
run alone (its landmark attention averages over padding); fnet's tokenizer gives no
attention mask, so padding is part of what it mixes; bert needs nothing. One real loop
over the three, on cpu, runs once for the module (~40 s with a warm tiny-model cache)."""
import json
import os
import subprocess
from types import SimpleNamespace

import pytest

LEARNING, DEFAULT, MASKLESS = "nystromformer", "bert", "fnet"


@pytest.fixture(scope="module")
def loop(cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("loop")
    env = dict(os.environ, TYPES=f"{LEARNING} {DEFAULT} {MASKLESS}", JOBS="1", HF_HUB_OFFLINE="1",
               SKILLSET_BIN=str(cli.bin))
    done = subprocess.run([str(cli.root / "scripts" / "loop.sh"), str(out)], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr

    def by_type(name):
        return {r["model_type"]: r for r in cli.records((out / name).read_text())}

    return SimpleNamespace(out=out, report=done.stdout, stderr=done.stderr, plans=by_type("plans.jsonl"),
                           baseline=by_type("results-1.jsonl"), requirements=by_type("requirements-1.jsonl"),
                           manifests=by_type("manifests-1.jsonl"))


def report_row(report, model_type):
    return next(line.split() for line in report.splitlines() if line.split()[:1] == [model_type])


def test_loop_turns_a_padding_sensitive_type_from_fail_to_pass(loop):
    cpu = loop.baseline[LEARNING]["backends"]["cpu"]
    assert cpu["status"] == "fail" and cpu["message"].startswith("case batch:"), cpu
    assert report_row(loop.report, LEARNING)[:3] == [LEARNING, "fail", "pass"]
    assert report_row(loop.report, DEFAULT)[:4] == [DEFAULT, "pass", "pass", "-"]
    assert f"loop: 2 pass only because of the loop: {MASKLESS} {LEARNING}\n" in loop.report
    # verify passed in the first round, so the loop stopped there.
    assert not (loop.out / "results-2.jsonl").exists()
    assert json.loads((loop.out / "verify-1.jsonl").read_text().splitlines()[-1])["failed"] == 0


def test_loop_turns_a_type_without_attention_mask_from_fail_to_pass(loop):
    # The embedding's mean runs over every position where the tokenizer gives no mask.
    cpu = loop.baseline[MASKLESS]["backends"]["cpu"]
    assert cpu["status"] == "fail" and cpu["message"].startswith("case batch:"), cpu
    assert report_row(loop.report, MASKLESS) == [MASKLESS, "fail", "pass", "batch", "policy", "equal-length"]


def test_loop_test_result_records_each_batch_policy_it_tried(loop, validate):
    for result in loop.baseline.values():
        validate(result)
    batching = loop.baseline[LEARNING]["reference"]["batching"]
    assert [(t["policy"], t["status"]) for t in batching["tried"]] == [("batched", "fail"), ("equal-length", "pass")]
    assert batching["tried"][0]["max_abs_diff"] > 1e-3 and batching["policy"] == "equal-length"
    assert loop.baseline[DEFAULT]["reference"]["batching"]["policy"] == "batched"


def test_loop_requirements_carry_the_learned_batch_policy(loop, validate):
    for requirements in loop.requirements.values():
        validate(requirements)
    assert loop.plans[LEARNING]["batch_policies"] == ["batched", "equal-length", "single"]
    assert loop.requirements[LEARNING]["batch_policy"] == "equal-length"
    assert loop.requirements[DEFAULT]["batch_policy"] == "batched"
    assert "max_abs_diff" not in json.dumps(loop.requirements[LEARNING])


def test_loop_skillset_honours_the_learned_batch_policy(loop, cli):
    assert loop.manifests[LEARNING]["status"] == "written"
    text = (loop.out / "skillsets" / f"hf_{LEARNING}.py").read_text()
    assert "outputs = self._per_batch(endpoint, processor, device, input, **options)" in text
    assert "    def _batches(self, processor, items):" in text
    ruff = str(cli.root / ".venv" / "bin" / "ruff")
    for command in ([ruff, "check", "--no-cache", "-q"], [ruff, "format", "--check", "--no-cache", "-q"]):
        done = subprocess.run([*command, str(loop.out / "skillsets")], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_loop_keeps_the_default_for_a_type_that_needs_nothing(loop, cli, tmp_path):
    assert loop.manifests[DEFAULT]["status"] == "unchanged"
    rc, _, err = cli.run("gen-skillset", "-q", "-o", tmp_path, DEFAULT)
    assert rc == 0, err
    registry_alone = (tmp_path / f"hf_{DEFAULT}.py").read_bytes()
    assert (loop.out / "skillsets" / f"hf_{DEFAULT}.py").read_bytes() == registry_alone
    assert b"_per_batch" not in registry_alone


def test_gen_tests_plans_carry_only_the_batch_policies_their_family_declares(cli, tmp_path):
    rc, out, err = cli.run("gen-tests", "-q", "-o", tmp_path, "--backends", "cpu", "bert", "vit", "gpt2", "t5")
    assert rc == 0, err
    policies = {plan["model_type"]: plan.get("batch_policies") for plan in cli.records(out)}
    assert policies == {"bert": ["batched", "equal-length", "single"], "vit": ["batched", "single"],
                        "gpt2": ["batched", "single"], "t5": None}


@pytest.mark.parametrize("family, policy", [("vision", "equal-length"), ("text-decoder", "equal-length")])
def test_gen_skillset_refuses_a_batch_policy_its_family_does_not_write(cli, tmp_path, family, policy):
    requirements = cli.bert_requirements(tmp_path / "hf_bert.py", family=family, batch_policy=policy)
    rc, out, err = cli.run("gen-skillset", "-q", input=cli.jsonl(requirements))
    assert rc == 2 and out == ""
    line = cli.assert_one_error_line("gen-skillset", err)
    assert f"batch policy '{policy}'" in line and f"family '{family}'" in line
    assert cli.files_under(tmp_path) == []


@pytest.mark.parametrize("args, types", [(["MODEL=canine"], "canine"), (["MODELS=canine bert"], "canine bert"),
                                         ([], "")])
def test_make_loop_runs_the_loop_for_one_type_a_list_or_every_one(cli, args, types):
    # No MODEL or MODELS: every servable type (loop.sh's --all), not the pipeline's MODELS.
    dry = subprocess.run(["make", "-n", "loop", *args], capture_output=True, text=True, cwd=cli.root)
    assert dry.returncode == 0, dry.stderr
    assert f'TYPES="{types}" scripts/loop.sh' in dry.stdout
