"""The decision family (decision_transformer): its tiny model, its reference, and the
skillset gen-skillset writes for it, on a real tiny model."""

import numpy as np
import pytest

from skillkit.families import Case, decision
from skillkit.output_check import schema_violation

PLAN = {"seed": 0, "task": "feature-extraction", "tolerance": {"rtol": 1e-4, "atol": 1e-4}}
CANDIDATE = {"model_class": "DecisionTransformerModel", "auto_class": "AutoModel", "processor_class": "AutoConfig"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("decision_transformer")
    decision.build_tiny("decision_transformer", CANDIDATE, str(out), PLAN["seed"])
    return str(out)


def test_the_reference_predicts_every_step_of_each_trajectory_and_later_steps_differ(model_dir):
    case = decision.cases(PLAN)[1]
    expected = decision.reference(model_dir, CANDIDATE, case, PLAN)
    assert [len(rows) for rows in expected["action_preds"]] == [3, 6]
    assert len(expected["state_preds"][1][0]) == decision.STATE_DIM
    # The same steps counted from a later timestep are other inputs: other predictions.
    trajectory = case.input[1]
    shifted = dict(trajectory, timesteps=[step - 10 for step in trajectory["timesteps"]])
    moved = decision.reference(model_dir, CANDIDATE, Case("from 0", shifted), PLAN)
    assert np.abs(np.subtract(moved["action_preds"][0], expected["action_preds"][1])).max() > 1e-3


def test_a_prediction_beyond_the_tolerance_or_a_missing_trajectory_fails(model_dir):
    expected = decision.reference(model_dir, CANDIDATE, decision.cases(PLAN)[1], PLAN)
    assert decision.compare(expected, dict(expected), PLAN).ok
    moved = [[[value + 0.01 for value in row] for row in rows] for rows in expected["return_preds"]]
    assert not decision.compare(expected, dict(expected, return_preds=moved), PLAN).ok
    assert not decision.compare(expected, dict(expected, action_preds=expected["action_preds"][:1]), PLAN).ok


def test_jev_has_no_tiny_recipe(tmp_path):
    with pytest.raises(NotImplementedError, match="no tiny-model recipe"):
        decision.build_tiny("jev", {"model_class": "JevForDecision"}, str(tmp_path), 0)


def test_the_generated_skillset_serves_every_case_as_the_reference_and_refuses_a_wrong_width(model_dir, skillsets):
    instance = skillsets("decision_transformer")
    _, _, handler, _, _ = instance.init_cpu(model_dir, "cpu", "cpu")
    for case in decision.cases(PLAN):
        expected = decision.reference(model_dir, CANDIDATE, case, PLAN)
        served = handler(case.input, **case.options)
        assert served["implementation_type"] == "REAL" and served["backend"] == "cpu"
        assert schema_violation(served, "feature-extraction") is None
        assert decision.compare(expected, served, PLAN).ok, case.name
    narrow = decision.cases(PLAN)[0].input
    narrow = dict(narrow, states=[row[:-1] for row in narrow["states"]])
    with pytest.raises(ValueError, match="states must be"):
        handler(narrow)
