"""The time-series family on real tiny models: every type's tiny model forecasts, the
reference is deterministic, and a generated skillset matches it (and would not with the
bugs its cases are there to catch)."""
import json
from pathlib import Path

import pytest

from skillkit.families import Case, time_series
from skillkit.output_check import schema_violation

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = json.loads((ROOT / "data" / "registry.json").read_text(encoding="utf-8"))
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
FORECAST, CLASSIFY = "time-series-forecasting", "time-series-classification"


def _plan(model_type, task=FORECAST):
    return {"model_type": model_type, "task": task, "seed": 0, "tolerance": TOLERANCE}


def _built(model_type, task, tmp_path):
    candidate = {"model_class": REGISTRY["models"][model_type]["tasks"][task]}
    time_series.build_tiny(model_type, candidate, str(tmp_path), 0)
    return candidate




@pytest.mark.parametrize("model_type", sorted(time_series.TINY))
def test_every_time_series_type_gets_a_tiny_model_forecasting_its_horizon(model_type, tmp_path):
    assert REGISTRY["models"][model_type]["family"] == "time-series"
    candidate = _built(model_type, FORECAST, tmp_path)
    plan = _plan(model_type)
    config = time_series._config(plan)
    horizon = getattr(config, "prediction_length", None) or config.horizon_length
    for case in time_series.cases(plan):
        forecasts = time_series.reference(str(tmp_path), candidate, case, plan)["forecasts"]
        width = time_series.channels(config)
        for forecast in forecasts:
            assert len(forecast) == horizon
            assert all(isinstance(step, float) if width == 1 else len(step) == width for step in forecast)


def test_a_sampled_forecast_depends_on_the_seed_and_not_on_the_batch(tmp_path):
    candidate = _built("informer", FORECAST, tmp_path)
    plan = _plan("informer")
    one, two = time_series.cases(plan)[1].input
    batch = time_series.reference(str(tmp_path), candidate, Case("b", [one, two]), plan)["forecasts"]
    alone = time_series.reference(str(tmp_path), candidate, Case("a", two), plan)["forecasts"]
    assert batch[1] == alone[0]
    other_seed = time_series.reference(str(tmp_path), candidate, Case("s", two, {"seed": 7}), plan)
    assert other_seed["forecasts"][0] != alone[0]


@pytest.mark.parametrize("model_type,task", [
    ("patchtst", FORECAST), ("patchtsmixer", CLASSIFY), ("informer", FORECAST), ("timesfm", FORECAST),
])
def test_a_generated_skillset_matches_the_reference_on_every_case(model_type, task, tmp_path, skillsets):
    candidate = _built(model_type, task, tmp_path)
    plan = _plan(model_type, task)
    _, _, handler, _, _ = skillsets(model_type, task).init_cpu(str(tmp_path))
    for case in time_series.cases(plan):
        expected = time_series.reference(str(tmp_path), candidate, case, plan)
        result = time_series.compare(expected, handler(case.input, **case.options), plan)
        assert result.ok, (case.name, result.message)


def test_a_forecast_of_the_oldest_steps_instead_of_the_latest_is_caught(tmp_path, skillsets):
    candidate = _built("patchtst", FORECAST, tmp_path)
    plan = _plan("patchtst")
    case = time_series.cases(plan)[1]  # two series, both longer than the model reads
    expected = time_series.reference(str(tmp_path), candidate, case, plan)
    _, _, handler, _, _ = skillsets("patchtst", FORECAST).init_cpu(str(tmp_path))
    oldest = [series[:16] for series in case.input]  # the window a wrong slice reads
    assert not time_series.compare(expected, handler(oldest), plan).ok


def test_classification_ranks_every_label_by_default_and_top_k_cuts(tmp_path, skillsets):
    _built("patchtst", CLASSIFY, tmp_path)
    _, _, handler, _, _ = skillsets("patchtst", CLASSIFY).init_cpu(str(tmp_path))
    series = time_series.cases(_plan("patchtst", CLASSIFY))[0].input
    every = handler(series)["predictions"][0]
    assert sorted(p["label"] for p in every) == sorted(time_series.LABELS)
    assert [p["score"] for p in every] == sorted((p["score"] for p in every), reverse=True)
    assert handler(series, top_k=1)["predictions"][0] == every[:1]


def test_the_handler_refuses_an_option_its_model_does_not_take_and_a_too_short_series(tmp_path, skillsets):
    _built("patchtst", FORECAST, tmp_path)
    _, _, handler, _, _ = skillsets("patchtst", FORECAST).init_cpu(str(tmp_path))
    series = time_series.cases(_plan("patchtst"))[0].input
    with pytest.raises(TypeError, match="seed"):
        handler(series, seed=1)  # patchtst's forecast draws nothing
    with pytest.raises(ValueError, match="the model reads 16"):
        handler(series[:10])


@pytest.mark.parametrize("task", [FORECAST, CLASSIFY])
def test_handler_results_follow_the_output_schema_of_their_task(task, tmp_path, skillsets):
    _built("patchtst", task, tmp_path)
    _, _, handler, _, _ = skillsets("patchtst", task).init_cpu(str(tmp_path))
    for case in time_series.cases(_plan("patchtst", task)):
        assert schema_violation(handler(case.input, **case.options), task) is None
    assert schema_violation({"forecasts": "not a list", "logits": None}, task) is not None


def test_compare_fails_forecasts_beyond_the_tolerance():
    plan = _plan("patchtst")
    want = {"forecasts": [[1.0, 2.0]]}
    assert time_series.compare(want, {"forecasts": [[1.0, 2.00001]]}, plan).ok
    assert not time_series.compare(want, {"forecasts": [[1.0, 2.1]]}, plan).ok
    assert not time_series.compare(want, {"forecasts": [[1.0, 2.0], [3.0, 4.0]]}, plan).ok
    assert not time_series.compare(want, {}, plan).ok
