"""Task heads of the text-encoder family, for real: bert as text-classification, as
token-classification and as fill-mask, through the whole loop (gen-tests | run-tests | analyze |
gen-skillset | verify) with tiny head models built offline, and REAL CPU parity with
transformers' own pipelines."""
import json
from pathlib import Path

import pytest

HEADS = {
    "text-classification": ("BertForSequenceClassification", "AutoModelForSequenceClassification"),
    "token-classification": ("BertForTokenClassification", "AutoModelForTokenClassification"),
    "fill-mask": ("BertForMaskedLM", "AutoModelForMaskedLM"),
}


@pytest.fixture(scope="module", params=sorted(HEADS))
def head_loop(request, tmp_path_factory, cli):
    task = request.param
    work = tmp_path_factory.mktemp(task)
    outputs, text = {}, None
    # Every backend but webgpu, whose browser costs seconds a run (test_transformersjs.py
    # runs it on bert and gpt2).
    backends = ",".join(backend for backend in cli.backends if backend != "webgpu")
    stages = [("gen-tests", ["bert", "--task", task, "-o", "tests", "--skillset-dir", "skillsets",
                             "--backends", backends]),
              ("run-tests", []), ("analyze", []), ("gen-skillset", []), ("verify", [])]
    for tool, args in stages:
        rc, text, err = cli.run(tool, *args, input=text, cwd=work)
        assert rc == 0, f"{tool} exited {rc}: {err[-2000:]}"
        outputs[tool] = cli.records(text)
    return task, work, outputs


def test_the_plan_tests_the_head_the_registry_names_for_the_task(head_loop):
    task, _, outputs = head_loop
    [plan] = outputs["gen-tests"]
    model_class, auto_class = HEADS[task]
    assert plan["task"] == task
    assert plan["candidates"] == [{"model_class": model_class, "auto_class": auto_class,
                                   "processor_class": "AutoTokenizer"}]


def test_the_reference_passes_with_the_task_outputs(head_loop):
    task, _, outputs = head_loop
    [result] = outputs["run-tests"]
    assert result["reference"]["status"] == "pass", result["reference"]
    keys = {"text-classification": {"logits", "predictions"}, "token-classification": {"entities"},
            "fill-mask": {"predictions"}}[task]
    assert set(result["reference"]["signature"]["outputs"]) == keys


def test_the_skillset_serves_the_task_with_its_head_and_passes_real_parity_on_every_cpu_runtime(head_loop):
    task, work, outputs = head_loop
    [requirements] = outputs["analyze"]
    assert (requirements["task"], requirements["model_class"], requirements["auto_class"]) == (task, *HEADS[task])
    [manifest] = outputs["gen-skillset"]
    source = Path(manifest["skillset_file"]).read_text()
    assert f'TASK = "{task}"' in source and f"transformers.{HEADS[task][1]}.from_pretrained(" in source
    *discrepancies, summary = outputs["verify"]
    assert discrepancies == [] and summary["passed"] == summary["skillsets"] == 1
    # cpu, openvino, onnx and transformersjs-node pass; cuda, rocm, apple and webnn skip
    # here; qualcomm is unimplemented.
    assert summary["backend_statuses"]["pass"] == 4, json.dumps(summary)
    served = {"openvino", "onnx", "transformersjs-node"}
    assert not served & summary["unimplemented_backends"].keys(), json.dumps(summary)


# One deliberate bug per task, each in a line of the generated skillset the batch case
# exercises: scores normalised across the batch instead of across labels; special tokens
# ([CLS], [SEP], padding) reported as entities; special tokens dropped from the sequences
# of a text with two masks, which drops its other mask too.
MUTATIONS = {
    "fill-mask": ("            plain = len(masked) == 1\n", "            plain = True\n"),
    "text-classification": ("            scores = logits.softmax(dim=-1)\n",
                            "            scores = logits.softmax(dim=0)\n"),
    "token-classification": ("                if special[row][position]:\n",
                             "                if False:\n"),
}


def test_a_skillset_with_a_head_bug_fails_real_cpu_parity(head_loop, cli):
    task, work, outputs = head_loop
    [plan] = outputs["gen-tests"]
    good = Path(plan["skillset_file"]).read_text()
    old, new = MUTATIONS[task]
    assert good.count(old) == 1
    mutant = work / "mutant.py"
    mutant.write_text(good.replace(old, new))
    rc, out, err = cli.run("run-tests", input=cli.jsonl(dict(plan, skillset_file=str(mutant))), cwd=work)
    [result] = cli.records(out)
    assert rc == 1, err
    assert result["reference"]["status"] == "pass" and result["backends"]["cpu"]["status"] == "fail", result


@pytest.mark.parametrize(("architectures", "task"), [
    (["BertForSequenceClassification"], "text-classification"),
    (["BertForTokenClassification"], "token-classification"),
    (["BertForMaskedLM"], "feature-extraction"),  # a pretraining head keeps the family's default
    (["BertForPreTraining"], "feature-extraction"),
    (["BertForQuestionAnswering"], "question-answering"),
    (["BertForNextSentencePrediction"], "next-sentence-prediction"),
    (["BertLMHeadModel"], "text-generation"),  # an encoder type's causal LM head generates
    ([], "feature-extraction"),
])
def test_a_local_checkpoint_is_served_as_the_task_of_its_head(cli, tmp_path, architectures, task):
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": architectures}))
    rc, out, err = cli.run("gen-tests", checkpoint, "-o", tmp_path / "t", "--skillset-dir", tmp_path / "s", "-q")
    assert rc == 0, err
    [plan] = cli.records(out)
    assert plan["task"] == task
    rc, out, err = cli.run("gen-skillset", checkpoint, "-o", tmp_path / "s", "-q")
    assert rc == 0, err
    assert f'TASK = "{task}"' in (tmp_path / "s" / "hf_bert.py").read_text()
