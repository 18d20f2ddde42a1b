"""The image-to-text family on real tiny models: vilt answers questions about images,
layoutlmv3 about documents, a PP-OCR recogniser reads text lines, slanext a table's
structure and trocr's decoder continues text; a generated
skillset matches each reference (and would not with the bugs its cases are there to
catch)."""
import json
from pathlib import Path

import pytest

from skillkit import media
from skillkit.families import image_to_text
from skillkit.output_check import schema_violation

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = json.loads((ROOT / "data" / "registry.json").read_text(encoding="utf-8"))
VQA, OCR, TABLE, DOCQA = image_to_text.VQA, image_to_text.OCR, image_to_text.TABLE, image_to_text.DOCQA
GENERATE = image_to_text.GENERATE
AUTO = {VQA: "AutoModelForVisualQuestionAnswering", OCR: "AutoModelForTextRecognition",
        TABLE: "AutoModelForTableRecognition", DOCQA: "AutoModelForDocumentQuestionAnswering",
        GENERATE: "AutoModelForCausalLM"}
TYPES = {VQA: "vilt", OCR: "pp_ocrv6_tiny_rec", TABLE: "slanext", DOCQA: "layoutlmv3", GENERATE: "trocr"}


def _plan(task):
    return {"model_type": TYPES[task], "task": task, "seed": 0, "tolerance": {"rtol": 1e-4, "atol": 1e-4},
            "generation": {"max_new_tokens": 8}}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny model of each task's type, built once for the module."""
    made = {}

    def build(task):
        if task not in made:
            model_type = TYPES[task]
            out = tmp_path_factory.mktemp(model_type)
            candidate = {"model_class": REGISTRY["models"][model_type]["tasks"][task], "auto_class": AUTO[task]}
            image_to_text.build_tiny(model_type, candidate, str(out), 0)
            made[task] = str(out), candidate
        return made[task]

    return build




@pytest.mark.parametrize("task", [VQA, OCR, TABLE, DOCQA, GENERATE])
def test_a_generated_skillset_matches_the_reference_on_every_case(task, built, skillsets):
    model_dir, candidate = built(task)
    plan = _plan(task)
    _, _, handler, _, _ = skillsets(TYPES[task]).init_cpu(model_dir)
    for case in image_to_text.cases(plan):
        expected = image_to_text.reference(model_dir, candidate, case, plan)
        result = handler(case.input, **case.options)
        assert schema_violation(result, task) is None
        comparison = image_to_text.compare(expected, result, plan)
        assert comparison.ok, (case.name, comparison.message)


def test_the_tiny_recogniser_reads_different_texts_from_different_images(built):
    """Its convolutions drawn as He's: at the config's 0.02 every image read as blank."""
    model_dir, candidate = built(OCR)
    plan = _plan(OCR)
    texts = image_to_text.reference(model_dir, candidate, image_to_text.cases(plan)[1], plan)["texts"]
    assert all(texts) and texts[0] != texts[1]


def test_vqa_answers_differ_per_image_and_top_k_cuts(built, skillsets):
    model_dir, _ = built(VQA)
    _, _, handler, _, _ = skillsets("vilt").init_cpu(model_dir)
    first, second = media.images(2, 3)
    question = image_to_text.QUESTIONS[0]
    answers = handler([{"image": first, "question": question}, {"image": second, "question": question}])
    assert answers["logits"][0] != answers["logits"][1]
    assert len(answers["predictions"][0]) == 5
    every = handler({"image": first, "question": question}, top_k=None)["predictions"][0]
    assert sorted(p["label"] for p in every) == sorted(image_to_text.ANSWERS)
    best_two = handler({"image": first, "question": question}, top_k=2)["predictions"][0]
    assert [p["label"] for p in best_two] == [p["label"] for p in every[:2]]


def test_images_read_in_one_padded_batch_are_caught(built):
    """What a handler that processed the images together would read: the processor
    resizes a batch to its widest image, so the narrower one reads otherwise."""
    model_dir, candidate = built(OCR)
    plan = _plan(OCR)
    case = image_to_text.cases(plan)[1]
    expected = image_to_text.reference(model_dir, candidate, case, plan)
    processor, model = image_to_text._load(model_dir, candidate["model_class"])
    outputs = model(**processor(images=media.pil_images(case.input), return_tensors="pt"))
    read = processor.post_process_text_recognition(outputs)
    batched = {"texts": [r["text"] for r in read], "scores": [r["score"] for r in read]}
    assert not image_to_text.compare(expected, batched, plan).ok


def test_a_recogniser_refuses_top_k_and_vqa_an_input_without_its_question(built, skillsets):
    _, _, read, _, _ = skillsets(TYPES[OCR]).init_cpu(built(OCR)[0])
    with pytest.raises(TypeError, match="top_k"):
        read(media.images(1, 0)[0], top_k=2)
    _, _, answer, _, _ = skillsets("vilt").init_cpu(built(VQA)[0])
    with pytest.raises(TypeError, match="question"):
        answer({"image": media.images(1, 0)[0]})


def test_document_answers_are_spans_of_the_documents_words_best_first(built, skillsets):
    model_dir, _ = built(DOCQA)
    _, _, handler, _, _ = skillsets("layoutlmv3").init_cpu(model_dir)
    case = image_to_text.cases(_plan(DOCQA))[2]  # top_k 3, at most 2 tokens
    [answers] = handler(case.input, **case.options)["answers"]
    words = [word for word, _ in case.input["word_boxes"]]
    assert len(answers) == 3
    assert [a["score"] for a in answers] == sorted((a["score"] for a in answers), reverse=True)
    for answer in answers:
        assert answer["answer"] == " ".join(words[answer["start"]:answer["end"] + 1])
    with pytest.raises(TypeError, match="word_boxes"):
        handler({"image": case.input["image"], "question": "who?"})


def test_compare_fails_other_texts_structures_or_answers():
    plan = _plan(OCR)
    assert not image_to_text.compare({"texts": ["ab"], "scores": [0.5]}, {"texts": ["a"], "scores": [0.5]}, plan).ok
    assert not image_to_text.compare({"texts": ["ab"], "scores": [0.5]}, {"texts": ["ab"], "scores": [0.6]}, plan).ok
    assert image_to_text.compare({"texts": ["ab"], "scores": [0.5]}, {"texts": ["ab"], "scores": [0.50001]}, plan).ok
    table = {"structures": [["<html>", "<tr>"]], "scores": [0.5]}
    assert not image_to_text.compare(table, {"structures": [["<html>"]], "scores": [0.5]}, plan).ok
    answers = {"logits": [[1.0, 0.0]], "predictions": [[{"label": "yes", "score": 0.73}, {"label": "no", "score": 0.5}]]}
    wrong = {"logits": [[1.0, 0.0]], "predictions": [[{"label": "no", "score": 0.73}, {"label": "yes", "score": 0.5}]]}
    assert not image_to_text.compare(answers, wrong, plan).ok
    spans = {"answers": [[{"score": 0.4, "answer": "42", "start": 2, "end": 2}]]}
    other = {"answers": [[{"score": 0.4, "answer": "number 42", "start": 1, "end": 2}]]}
    assert not image_to_text.compare(spans, other, plan).ok
    assert image_to_text.compare(spans, {"answers": [[dict(spans["answers"][0][0], score=0.40001)]]}, plan).ok
