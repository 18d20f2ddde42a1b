from skillkit import greedy
from skillkit.expected import Expected

PLAN = {"tolerance": {"rtol": 0.0, "atol": 1e-3}}


def _expected(gap):
    expected = Expected({"token_ids": [[5, 6, 7]], "texts": ["abc"]})
    expected.margins.append([greedy.margin([2.0, 1.0]), greedy.margin([3.0, 3.0 - gap]), greedy.margin([1.0, 0.0])])
    return expected


def test_equal_ids_and_texts_pass():
    assert greedy.compare(_expected(1.0), {"token_ids": [[5, 6, 7]], "texts": ["abc"]}, PLAN).ok


def test_a_divergence_at_a_tie_is_accepted_and_named():
    result = greedy.compare(_expected(1e-4), {"token_ids": [[5, 9, 9]], "texts": ["axx"]}, PLAN)
    assert result.ok and "tie at step 1" in result.message


def test_a_divergence_where_greedy_led_clearly_fails():
    result = greedy.compare(_expected(1.0), {"token_ids": [[5, 9, 9]], "texts": ["axx"]}, PLAN)
    assert not result.ok and "first difference at step 1" in result.message


def test_a_shorter_sequence_or_another_text_fails():
    assert not greedy.compare(_expected(1.0), {"token_ids": [[5, 6]], "texts": ["ab"]}, PLAN).ok
    assert not greedy.compare(_expected(1.0), {"token_ids": [[5, 6, 7]], "texts": ["abd"]}, PLAN).ok
    assert not greedy.compare(_expected(1.0), {"token_ids": "5 6 7", "texts": ["abc"]}, PLAN).ok
