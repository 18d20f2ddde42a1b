import pytest

from skillkit.expected import Expected
from skillkit.families import Case
from skillkit.signature import signature


def test_outputs_are_the_keys_of_expected_with_shapes_none_where_they_vary():
    cases = [Case("one", "a"), Case("two", ["a", "bb"])]
    one = Expected({"token_ids": [[1, 2, 3]], "texts": ["abc"]})
    two = Expected({"token_ids": [[1, 2], [3, 4, 5]], "texts": ["ab", "cde"]})
    described = signature(cases, [one, two])
    assert described["outputs"] == {"token_ids": {"dtype": "int", "shape": [None, None]},
                                    "texts": {"dtype": "str", "shape": [None]}}
    assert described["inputs"] == {"one": {"input": "str", "options": {}},
                                   "two": {"input": ["str", "str"], "options": {}}}


def test_reference_only_data_never_becomes_an_output():
    expected = Expected({"token_ids": [[1]], "texts": ["a"]})
    expected.margins.append([{"gap": 0.5, "top": 1.0}])
    assert set(signature([Case("one", "a")], [expected])["outputs"]) == {"token_ids", "texts"}


def test_anything_but_an_expected_is_refused():
    with pytest.raises(TypeError, match="'one' is a dict, not an Expected"):
        signature([Case("one", "a")], [{"token_ids": [[1]], "margins": [[]]}])
