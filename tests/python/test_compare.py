import math

from skillkit.compare import allclose, outputs_allclose, ranked_predictions


def test_allclose_passes_within_tolerance_and_reports_the_largest_difference():
    result = allclose([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0001], [3.0, 4.0]], rtol=1e-3, atol=0)
    assert result.ok and bool(result)
    assert math.isclose(result.max_abs_diff, 1e-4, rel_tol=1e-6)


def test_allclose_fails_beyond_tolerance_naming_the_worst_element():
    result = allclose([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.5, 4.1]], rtol=0, atol=1e-3)
    assert not result.ok
    assert math.isclose(result.max_abs_diff, 0.5)
    assert "2 of 4" in result.message and "[1, 0]" in result.message


def test_allclose_scales_tolerance_with_the_expected_magnitude():
    assert allclose([1000.0], [1000.5], rtol=1e-3, atol=0).ok
    assert not allclose([1.0], [1.5], rtol=1e-3, atol=0).ok


def test_allclose_requires_the_same_shape():
    result = allclose([[1.0, 2.0]], [1.0, 2.0], rtol=1, atol=1)
    assert not result.ok and result.max_abs_diff is None
    assert "shape [2]" in result.message


def test_allclose_rejects_ragged_or_non_numeric_output():
    assert not allclose([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0]], rtol=1, atol=1).ok
    assert not allclose([1.0], ["one"], rtol=1, atol=1).ok


def test_allclose_matches_nan_only_with_nan():
    assert allclose([1.0, math.nan], [1.0, math.nan], rtol=0, atol=0).ok
    result = allclose([1.0, 2.0], [1.0, math.nan], rtol=1, atol=1)
    assert not result.ok and "NaN" in result.message


def test_ranked_predictions_accept_a_tie_swapped_and_name_it():
    want = [[{"label": "cat", "score": 0.5}, {"label": "dog", "score": 0.49999}, {"label": "fox", "score": 0.1}]]
    swapped = [[{"label": "dog", "score": 0.5}, {"label": "cat", "score": 0.49999}, {"label": "fox", "score": 0.1}]]
    result, ties = ranked_predictions(want, swapped, rtol=0, atol=1e-4)
    assert result.ok and ties == ["input 0 rank 0: tie 'cat' / 'dog'", "input 0 rank 1: tie 'dog' / 'cat'"]


def test_ranked_predictions_fail_a_label_out_of_its_rank():
    want = [[{"label": "cat", "score": 0.9}, {"label": "dog", "score": 0.1}]]
    wrong = [[{"label": "dog", "score": 0.9}, {"label": "cat", "score": 0.1}]]
    result, ties = ranked_predictions(want, wrong, rtol=0, atol=1e-4)
    assert not result.ok and "rank 0" in result.message and ties == []
    assert not ranked_predictions(want, None, rtol=0, atol=1e-4)[0].ok


def test_outputs_allclose_compares_ragged_outputs_entry_by_entry_and_names_the_worst_place():
    plan = {"tolerance": {"rtol": 0, "atol": 1e-3}}
    want = {"paths": [[1.0, 2.0], [3.0]], "scores": [0.5, 0.25]}
    close = {"paths": [[1.0, 2.0005], [3.0]], "scores": [0.5, 0.25], "extra": 1}
    result = outputs_allclose(want, close, plan, per_entry=["paths"])
    assert result.ok and math.isclose(result.max_abs_diff, 5e-4, rel_tol=1e-3)
    far = {"paths": [[1.0, 2.0], [3.5]], "scores": [0.5, 0.25]}
    assert outputs_allclose(want, far, plan, per_entry=["paths"]).message.startswith("paths[1]:")
    assert not outputs_allclose(want, {"paths": [[1.0, 2.0]], "scores": [0.5, 0.25]}, plan, per_entry=["paths"]).ok
    assert "['scores']" in outputs_allclose(want, {"paths": want["paths"]}, plan, per_entry=["paths"]).message
