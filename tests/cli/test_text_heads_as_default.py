"""The text families' heads served as another task serves them: a pretraining head keeps
its family's default (bert's BertForPreTraining embeds, gpt2's GPT2LMHeadModel and t5's
T5ForConditionalGeneration generate), t5's encoder model and token classifier are
served as the text-encoder family serves those tasks, and bert's BertLMHeadModel
generates as the text-decoder family does. Each on a tiny model of that very
head, against the family's reference."""
import json
from pathlib import Path

import pytest

from skillkit import families
from skillkit.output_check import schema_violation
from skillkit.skillset import instantiate

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = json.loads((ROOT / "data" / "registry.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("model_type,task", [
    ("bert", "pretraining"),
    ("gpt2", "pretraining"),
    ("t5", "pretraining"),
    ("t5", "text-encoding"),
    ("t5", "token-classification"),
    # An encoder type's causal LM head generates: bert's, and roberta's, whose positions
    # count from past its padding id.
    ("bert", "text-generation"),
    ("roberta", "text-generation"),
    ("bert", "next-sentence-prediction"),
    # DPR's question encoder gives its pooled embedding alone, as the pipeline does.
    ("dpr", "feature-extraction"),
])
def test_a_text_head_served_as_its_task_matches_the_reference_on_every_case(tmp_path, run_tool, model_type, task):
    entry = REGISTRY["models"][model_type]
    family = families.load(entry["family"])
    candidate = {"model_class": entry["tasks"][task], "auto_class": REGISTRY["tasks"][task]["auto_class"],
                 "processor_class": "AutoTokenizer"}
    rc, _, err = run_tool("gen-skillset", "-q", "--task", task, "-o", tmp_path, model_type)
    assert rc == 0, err
    model_dir = tmp_path / "model"
    family.build_tiny(model_type, candidate, str(model_dir), 0)
    hf = instantiate(str(tmp_path / f"hf_{model_type}.py"), model_type)
    assert hf.TASK == task
    _, _, handler, _, _ = hf.init_cpu(str(model_dir))
    plan = {"task": task, "model_type": model_type, "tolerance": {"rtol": 1e-4, "atol": 1e-5},
            "generation": REGISTRY["families"][entry["family"]]["generation"]}
    for case in family.cases(plan):
        actual = handler(case.input, **case.options)
        assert schema_violation(actual, task) is None
        comparison = family.compare(family.reference(str(model_dir), candidate, case, plan), actual, plan)
        assert comparison.ok, f"{case.name}: {comparison.message}"


@pytest.mark.parametrize("init", ["init_openvino", "init_onnx", "init_webnn"])
def test_an_encoder_types_generation_on_a_converted_backend_is_unimplemented_not_a_failure(tmp_path, run_tool,
                                                                                          init):
    rc, _, err = run_tool("gen-skillset", "-q", "--task", "text-generation", "-o", tmp_path, "bert")
    assert rc == 0, err
    hf = instantiate(str(tmp_path / "hf_bert.py"), "bert")
    args = ("bert", "bert", "openvino:0", "openvino:0") if init == "init_openvino" else ("bert",)
    with pytest.raises(hf.BackendUnavailable) as raised:
        getattr(hf, init)(*args)
    assert raised.value.reason == "unimplemented" and "torch only" in str(raised.value)
