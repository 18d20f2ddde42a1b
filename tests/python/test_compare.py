import math

from skillkit.compare import Comparison, allclose, equal_ids


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


def test_equal_ids():
    assert equal_ids([[1, 2, 3], [4]], [[1, 2, 3], [4]]) == Comparison(True, None, "")
    differ = equal_ids([[1, 2, 3], [4, 5]], [[1, 2, 3], [4, 6]])
    assert not differ.ok and "input 1" in differ.message and "position 1" in differ.message
    shorter = equal_ids([[1, 2, 3]], [[1, 2]])
    assert not shorter.ok and "position 2" in shorter.message
    assert not equal_ids([[1]], [[1], [2]]).ok
    assert not equal_ids([[1]], None).ok
