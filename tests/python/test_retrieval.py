"""The retrieval family (colpali): its tiny model, its reference, and the skillset
gen-skillset writes for it, on a real tiny model."""

import pytest

from skillkit.families import retrieval
from skillkit.output_check import schema_violation

PLAN = {"seed": 0, "task": "retrieval", "tolerance": {"rtol": 1e-4, "atol": 1e-4}}
CANDIDATE = {"model_class": "ColPaliForRetrieval", "auto_class": "ColPaliForRetrieval",
             "processor_class": "AutoProcessor"}


@pytest.fixture(scope="module")
def colpali(tmp_path_factory):
    out = tmp_path_factory.mktemp("colpali")
    retrieval.build_tiny("colpali", CANDIDATE, str(out), PLAN["seed"])
    return str(out)


def test_the_reference_scores_each_query_against_each_page_and_a_changed_score_fails(colpali):
    expected = retrieval.reference(colpali, CANDIDATE, retrieval.cases(PLAN)[0], PLAN)
    assert [len(expected[key]) for key in ("image_embeddings", "query_embeddings")] == [2, 2]
    assert [len(row) for row in expected["scores"]] == [2, 2]
    # Queries of different lengths: multi-vector embeddings of as many tokens each.
    assert len(expected["query_embeddings"][0]) < len(expected["query_embeddings"][1])
    assert retrieval.compare(expected, dict(expected), PLAN).ok
    moved = [[score + 0.01 for score in row] for row in expected["scores"]]
    assert not retrieval.compare(expected, dict(expected, scores=moved), PLAN).ok


def test_the_generated_skillset_serves_every_case_as_the_reference_in_its_schema(colpali, skillsets):
    instance = skillsets("colpali")
    _, _, handler, _, _ = instance.init_cpu(colpali, "cpu", "cpu")
    for case in retrieval.cases(PLAN):
        expected = retrieval.reference(colpali, CANDIDATE, case, PLAN)
        served = handler(case.input, **case.options)
        assert served["implementation_type"] == "REAL" and served["backend"] == "cpu"
        assert schema_violation(served, "retrieval") is None
        assert retrieval.compare(expected, served, PLAN).ok, case.name


def test_colqwen2s_pretraining_head_is_served_as_retrieval_with_its_page_prompts_image_token(tmp_path, skillsets):
    """colqwen2's one task is `pretraining` (ColQwen2ForRetrieval); its page prompt is a
    literal holding "<|image_pad|>", which the tiny tokenizer must name its image token,
    and its rotary sections are qwen2_vl's, scaled to the tiny head."""
    plan = dict(PLAN, task="pretraining")
    candidate = dict(CANDIDATE, model_class="ColQwen2ForRetrieval", auto_class="ColQwen2ForRetrieval")
    model_dir = tmp_path / "colqwen2"
    retrieval.build_tiny("colqwen2", candidate, str(model_dir), plan["seed"])
    instance = skillsets("colqwen2")
    assert instance.TASK == "pretraining"
    _, _, handler, _, _ = instance.init_cpu(str(model_dir), "cpu", "cpu")
    for case in retrieval.cases(plan):
        expected = retrieval.reference(str(model_dir), candidate, case, plan)
        served = handler(case.input, **case.options)
        assert schema_violation(served, "pretraining") is None
        assert retrieval.compare(expected, served, plan).ok, case.name
