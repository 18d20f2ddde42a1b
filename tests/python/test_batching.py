"""skillkit.batching: the batches each policy makes, and the policy chosen on real tiny
models (bert needs none; nystromformer's padded batch differs from each text alone;
textnet's image processor gives images of two sizes that no batch can hold)."""
import json
from pathlib import Path

import pytest

from skillkit import batching, families
from skillkit.tiny_cache import tiny_model_dir

text_encoder = families.load("text-encoder")
POLICIES = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "batch-policy.schema.json").read_text())


def test_batches_groups_inputs_as_each_policy_says():
    lengths = [3, 5, 3, 3]
    assert batching.batches("batched", lengths) == [[0, 1, 2, 3]]
    assert batching.batches("equal-length", lengths) == [[0, 2, 3], [1]]
    assert batching.batches("single", lengths) == [[0], [1], [2], [3]]


def test_every_policy_of_the_schema_makes_batches_and_no_other_does():
    for policy in POLICIES["enum"]:
        assert sorted(i for batch in batching.batches(policy, [2, 1, 2]) for i in batch) == [0, 1, 2]
    with pytest.raises(ValueError, match="unknown batch policy 'sorted'"):
        batching.batches("sorted", [1])


def _choose(plan, family=text_encoder):
    candidate = plan["candidates"][0]
    model_dir = str(tiny_model_dir(family, plan, candidate))
    return batching.choose(family, model_dir, candidate, plan, family.cases(plan))


def test_choose_keeps_the_default_where_a_padded_batch_changes_nothing(bert_plan):
    bert_plan["batch_policies"] = ["batched", "equal-length", "single"]
    chosen = _choose(bert_plan)
    assert chosen["policy"] == "batched" and [t["status"] for t in chosen["tried"]] == ["pass"]
    assert chosen["tried"][0]["max_abs_diff"] < bert_plan["tolerance"]["atol"]


def test_choose_moves_on_where_padding_changes_a_text_and_stops_at_the_first_that_holds(bert_plan):
    plan = dict(bert_plan, model_type="nystromformer", ident="nystromformer",
                batch_policies=["batched", "equal-length", "single"])
    plan["candidates"] = [{"model_class": "NystromformerModel", "auto_class": "AutoModel",
                           "processor_class": "AutoTokenizer"}]
    chosen = _choose(plan)
    assert [(t["policy"], t["status"]) for t in chosen["tried"]] == [("batched", "fail"), ("equal-length", "pass")]
    assert chosen["policy"] == "equal-length" and "differ beyond" in chosen["tried"][0]["message"]


def test_choose_tries_nothing_where_the_plan_names_no_policies(bert_plan):
    bert_plan.pop("batch_policies", None)
    assert _choose(bert_plan) is None


def test_choose_counts_a_batch_the_model_refuses_as_a_failed_policy(bert_plan):
    plan = dict(bert_plan, model_type="textnet", ident="textnet", family="vision", task="image-classification",
                tolerance={"rtol": 1e-4, "atol": 1e-4}, batch_policies=["batched", "single"])
    plan["candidates"] = [{"model_class": "TextNetForImageClassification",
                           "auto_class": "AutoModelForImageClassification", "processor_class": "AutoImageProcessor"}]
    chosen = _choose(plan, families.load("vision"))
    batched, single = chosen["tried"]
    assert batched["status"] == "fail" and batched["max_abs_diff"] is None and "pixel_values" in batched["message"]
    assert single["status"] == "pass" and chosen["policy"] == "single"


def test_choose_measures_questions_with_their_contexts_where_padding_changes_an_answer(bert_plan):
    plan = dict(bert_plan, model_type="nystromformer", ident="nystromformer", task="question-answering",
                batch_policies=["batched", "equal-length", "single"])
    plan["candidates"] = [{"model_class": "NystromformerForQuestionAnswering",
                           "auto_class": "AutoModelForQuestionAnswering", "processor_class": "AutoTokenizer"}]
    chosen = _choose(plan)
    assert [(t["policy"], t["status"]) for t in chosen["tried"]] == [("batched", "fail"), ("equal-length", "pass")]


def test_choose_reads_each_vision_tasks_own_output(bert_plan):
    # pixtral joins a batch's images into one sequence of patches: no row per image.
    plan = dict(bert_plan, model_type="pixtral", ident="pixtral", family="vision", task="feature-extraction",
                tolerance={"rtol": 1e-4, "atol": 1e-4}, batch_policies=["batched", "single"])
    plan["candidates"] = [{"model_class": "PixtralVisionModel", "auto_class": "AutoModel",
                           "processor_class": "AutoImageProcessor"}]
    chosen = _choose(plan, families.load("vision"))
    assert [(t["policy"], t["status"]) for t in chosen["tried"]] == [("batched", "fail"), ("single", "pass")]
    assert "3 images gave 1 rows" in chosen["tried"][0]["message"]  # the case's two and its first again


def test_choose_generates_alone_for_a_decoder_whose_generate_takes_no_attention_mask(bert_plan):
    # rwkv's recurrence reads the left padding as text: a padded prompt continues otherwise.
    plan = dict(bert_plan, model_type="rwkv", ident="rwkv", family="text-decoder", task="text-generation",
                generation={"max_new_tokens": 8}, batch_policies=["batched", "single"])
    plan["candidates"] = [{"model_class": "RwkvForCausalLM", "auto_class": "AutoModelForCausalLM",
                           "processor_class": "AutoTokenizer"}]
    chosen = _choose(plan, families.load("text-decoder"))
    assert [(t["policy"], t["status"]) for t in chosen["tried"]] == [("batched", "fail"), ("single", "pass")]
