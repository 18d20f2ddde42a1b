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


def _head_plan(bert_plan, task, model_class, auto_class):
    plan = dict(bert_plan, task=task)
    plan["candidates"] = [{"model_class": model_class, "auto_class": auto_class, "processor_class": "AutoTokenizer"}]
    return plan


def test_a_text_classification_model_has_labels_and_its_texts_differ_in_label(tmp_path, bert_plan):
    plan = _head_plan(bert_plan, "text-classification", "BertForSequenceClassification",
                      "AutoModelForSequenceClassification")
    text_encoder.build_tiny("bert", plan["candidates"][0], str(tmp_path), seed=0)
    assert transformers.AutoConfig.from_pretrained(tmp_path).id2label == {0: "negative", 1: "neutral", 2: "positive"}
    every_label = [case for case in text_encoder.cases(plan) if case.options == {"top_k": None}]
    top_two = [case for case in text_encoder.cases(plan) if case.options == {"top_k": 2}]
    assert every_label and top_two
    expected = text_encoder.reference(str(tmp_path), plan["candidates"][0], top_two[0], plan)
    assert [len(ranked) for ranked in expected["predictions"]] == [2, 2, 2]
    assert len({ranked[0]["label"] for ranked in expected["predictions"]}) > 1
    assert text_encoder.compare(expected, dict(expected), plan).ok
    swapped = [list(reversed(ranked)) for ranked in expected["predictions"]]
    assert not text_encoder.compare(expected, dict(expected, predictions=swapped), plan).ok


def test_token_classification_entities_must_match_but_for_score_jitter(bert_plan):
    plan = dict(bert_plan, task="token-classification")
    entity = {"entity": "B-PER", "score": 0.5, "index": 1, "word": "he", "start": 0, "end": 2}
    expected = {"entities": [[entity], []]}
    assert text_encoder.compare(expected, {"entities": [[dict(entity, score=0.500001)], []]}, plan).ok
    for wrong in ({"entity": "I-PER"}, {"index": 2}, {"word": "##he"}, {"start": 1}, {"score": 0.6}):
        assert not text_encoder.compare(expected, {"entities": [[dict(entity, **wrong)], []]}, plan).ok, wrong
    assert not text_encoder.compare(expected, {"entities": [[entity], [entity]]}, plan).ok
    assert not text_encoder.compare(expected, {"entities": [[entity]]}, plan).ok


def test_fill_mask_tokens_rank_as_predictions_and_keep_their_sequences(bert_plan):
    plan = dict(bert_plan, task="fill-mask")

    def token(token_id, score, sequence):
        return {"score": score, "token": token_id, "token_str": str(token_id), "sequence": sequence}

    expected = {"predictions": [[[token(7, 0.5, "a 7"), token(9, 0.3, "a 9"), token(4, 0.299999, "a 4")]]]}
    assert text_encoder.compare(expected, expected, plan).ok
    tied = [[[token(7, 0.5, "a 7"), token(4, 0.299999, "a 4"), token(9, 0.3, "a 9")]]]
    assert text_encoder.compare(expected, {"predictions": tied}, plan).ok
    for wrong in ([[[token(9, 0.5, "a 9"), token(7, 0.3, "a 7"), token(4, 0.299999, "a 4")]]],
                  [[[token(7, 0.5, "[CLS] a 7"), token(9, 0.3, "a 9"), token(4, 0.299999, "a 4")]]],
                  [[[token(7, 0.5, "a 7"), token(9, 0.3, "a 9")]]],
                  [[token(7, 0.5, "a 7")]], {"7": 0.5}):
        assert not text_encoder.compare(expected, {"predictions": wrong}, plan).ok, wrong


def test_a_question_answering_reference_gives_a_span_of_each_context_and_a_moved_span_fails(tmp_path, bert_plan):
    plan = _head_plan(bert_plan, "question-answering", "BertForQuestionAnswering", "AutoModelForQuestionAnswering")
    text_encoder.build_tiny("bert", plan["candidates"][0], str(tmp_path), seed=0)
    [one, batch, short_answers] = text_encoder.cases(plan)
    expected = text_encoder.reference(str(tmp_path), plan["candidates"][0], short_answers, plan)
    for question, answer in zip(short_answers.input, expected["answers"]):
        assert question["context"][answer["start"]:answer["end"]] == answer["answer"] != ""
        assert 0 < answer["score"] <= 1
    assert text_encoder.compare(expected, dict(expected), plan).ok
    moved = [dict(answer, start=answer["start"] + 1) for answer in expected["answers"]]
    assert not text_encoder.compare(expected, dict(expected, answers=moved), plan).ok


def test_a_multiple_choice_reference_scores_every_choice_and_a_wrong_best_fails(tmp_path, bert_plan):
    plan = _head_plan(bert_plan, "multiple-choice", "BertForMultipleChoice", "AutoModelForMultipleChoice")
    text_encoder.build_tiny("bert", plan["candidates"][0], str(tmp_path), seed=0)
    [one, batch] = text_encoder.cases(plan)
    expected = text_encoder.reference(str(tmp_path), plan["candidates"][0], batch, plan)
    assert [len(row) for row in expected["logits"]] == [len(example["choices"]) for example in batch.input]
    assert all(abs(sum(row) - 1) < 1e-5 for row in expected["scores"])
    assert text_encoder.compare(expected, dict(expected), plan).ok
    wrong = [(best + 1) % len(row) for best, row in zip(expected["best"], expected["scores"])]
    assert not text_encoder.compare(expected, dict(expected, best=wrong), plan).ok
