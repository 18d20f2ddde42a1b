import math

import transformers

from skillkit import families
from skillkit.families import Case

text_encoder = families.load("text-encoder")


def test_load_maps_family_names_to_modules():
    assert text_encoder.__name__ == "skillkit.families.text_encoder"


def test_cases_include_a_batch_of_two_inputs_of_different_lengths(bert_plan):
    cases = text_encoder.cases(bert_plan)
    batch = [case for case in cases if isinstance(case.input, list)]
    assert batch and len(batch[0].input) == 2 and len(set(map(len, batch[0].input))) == 2
    assert all(isinstance(case, Case) for case in cases)


def test_build_tiny_writes_a_consistent_model(tmp_path, bert_plan):
    candidate = bert_plan["candidates"][0]
    text_encoder.build_tiny("bert", candidate, str(tmp_path), seed=0)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path)
    config = transformers.AutoConfig.from_pretrained(tmp_path)
    assert type(tokenizer).__name__ == "BertTokenizer"
    assert config.vocab_size == len(tokenizer) and config.pad_token_id == tokenizer.pad_token_id
    assert config.hidden_size == 32 and tokenizer.model_max_length == 512

    case = Case("pair", ["short one", "a rather longer sentence than the first"])
    expected = text_encoder.reference(str(tmp_path), candidate, case, bert_plan)
    assert [len(vector) for vector in expected["embeddings"]] == [32, 32]
    assert all(math.isfinite(x) for vector in expected["embeddings"] for x in vector)
    assert text_encoder.compare(expected, expected, bert_plan).ok
    assert not text_encoder.compare(expected, {"texts": []}, bert_plan).ok
