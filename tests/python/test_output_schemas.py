"""schemas/outputs/: one JSON Schema per task a family serves, and the harness's check of
every handler result against its task's (skillkit.output_check)."""
import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from skillkit import families, harness
from skillkit.expected import Expected
from skillkit.failures import CONTRACT, PARITY
from skillkit.output_check import check_output, schema_violation

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ROOT / "schemas" / "outputs"
FAMILIES = json.loads((ROOT / "data" / "families.json").read_text(encoding="utf-8"))["families"]
SERVED = sorted({(name, task) for name, family in FAMILIES.items() for task in family.get("handler", {})})
NAMES = sorted(path.name[: -len(".schema.json")] for path in OUTPUTS.glob("*.schema.json"))
TASK_SCHEMAS = [name for name in NAMES if name != "common"]

COMMON = {"implementation_type": "REAL", "model": "/models/tiny", "device": "cpu", "backend": "cpu"}
# Results of the shapes the templates return, one per task served today: two inputs each.
GOOD = {
    "feature-extraction": {"embeddings": [[0.5, -1.0], [0.25, 2.0]]},
    "image-feature-extraction": {"embeddings": [[0.5, -1.0, 3.0]]},
    "image-text-to-text": {"token_ids": [[5, 6, 2]], "texts": ["a cat"]},
    "any-to-any": {"token_ids": [[5, 6, 2]], "texts": ["a cat"]},
    "text-to-audio": {"audio": [[0.0, 0.25, -0.5], [[0.1, 0.2], [0.3, 0.4]]], "sampling_rate": [16000, 24000]},
    "text-to-spectrogram": {"spectrogram": [[[0.5, -1.0, 0.25], [0.0, 0.1, 0.2]], [[1.5, 2.0, -0.5]]]},
    "visual-question-answering": {"logits": [[0.5, -1.0, 2.0]], "predictions": [[{"label": "yes", "score": 0.88}]]},
    "document-question-answering": {"answers": [[{"score": 0.4, "answer": "42", "start": 2, "end": 2}],
                                                [{"score": 0.2, "answer": "on monday", "start": 5, "end": 6}]]},
    "text-recognition": {"texts": ["hello", ""], "scores": [0.91, 0.5]},
    "table-recognition": {"structures": [["<html>", "<body>", "<table>", "<tr>", "<td></td>", "</tr>", "</table>",
                                          "</body>", "</html>"]], "scores": [0.73]},
    "time-series-forecasting": {"forecasts": [[0.5, 0.75, 1.0], [[0.1, 0.2], [0.3, 0.4]]]},
    "time-series-classification": {"logits": [[0.2, -0.1]], "predictions": [[{"label": "up", "score": 0.57}]]},
    "audio-classification": {"logits": [[0.2, -0.1]], "predictions": [[{"label": "speech", "score": 0.57}]]},
    "video-classification": {"logits": [[0.2, -0.1]], "predictions": [[{"label": "dancing", "score": 0.57}]]},
    "audio-frame-classification": {"logits": [[[0.2, -0.1], [0.0, 1.5]]]},
    "audio-tokenization": {"audio_codes": [[[3, 7, 7], [1, 0, 2]]]},
    "depth-estimation": {"predicted_depth": [[[0.5, 1.5], [2.0, 0.25]]]},
    "image-to-image": {"images": [[[[0.0, 0.5, 1.0], [0.25, 0.75, 0.125]]]]},
    # A convolutional stage's channels x height x width, then a transformer's tokens x hidden.
    "backbone": {"feature_maps": [[[[[0.5, 1.5], [2.0, 0.25]]], [[0.1, 0.2], [0.3, 0.4]]]]},
    "object-detection": {
        "detections": [[{"score": 0.9, "label": "cat", "box": {"xmin": 1, "ymin": 2, "xmax": 10, "ymax": 12}}], []],
        "logits": [[[0.1, 2.0]], [[0.3, -1.0]]],
        "pred_boxes": [[[0.5, 0.5, 0.2, 0.3]], [[0.4, 0.6, 0.1, 0.1]]],
    },
    "keypoint-detection": {
        "keypoints": [[[3, 4], [10, 2]], []],
        "scores": [[0.9, 0.2], []],
        "descriptors": [[[0.1, -0.2], [0.3, 0.0]], []],
    },
    "image-matting": {"alphas": [[[0.0, 0.5], [1.0, 0.25]], [[0.75]]]},
    "keypoint-matching": {
        "matches": [[{"keypoint_image_0": {"x": 3, "y": 4}, "keypoint_image_1": {"x": 10, "y": 2}, "score": 0.8}], []],
    },
    "pose-estimation": {
        "poses": [[{"keypoints": [[3.5, 4.0], [10.0, 2.25]], "scores": [0.9, 0.2], "labels": [0, 1]}], []],
        "heatmaps": [[[[[0.1, 0.2], [0.3, 0.4]], [[0.0, 0.5], [0.25, 0.1]]]], []],
    },
    "mask-generation": {
        "masks": [[[[[0, 1], [1, 1]], [[0, 0], [0, 1]]]], [[[[1]]]]],
        "iou_scores": [[[0.9, 0.4]], [[0.7]]],
    },
    "zero-shot-object-detection": {
        "detections": [[{"score": 0.3, "label": "remote control",
                         "box": {"xmin": 1, "ymin": 2, "xmax": 10, "ymax": 12}}], []],
        "logits": [[[[0.1], [2.0]], [[0.4], [-1.0]]], [[[0.3], [-1.0]], [[0.2], [0.0]]]],
        "pred_boxes": [[[[0.5, 0.5, 0.2, 0.3]], [[0.4, 0.6, 0.1, 0.1]]],
                       [[[0.5, 0.5, 0.2, 0.3]], [[0.4, 0.6, 0.1, 0.1]]]],
    },
    "semantic-segmentation": {
        "segments": [[{"score": None, "label": "road", "mask": [[0, 255], [255, 255]]}]],
        "logits": [[[[0.1, 0.2], [0.3, 0.4]]]],
    },
    "universal-segmentation": {
        "segments": [[{"score": 0.8, "label": "cat", "mask": [[0, 255], [255, 0]]}]],
        "class_queries_logits": [[[0.1, 2.0, -1.0]]],
        "masks_queries_logits": [[[[0.1, -0.2], [0.3, 0.4]]]],
    },
    "instance-segmentation": {
        "segments": [[{"score": 0.8, "label": "cat", "mask": [[0, 255], [255, 0]]}]],
        "class_queries_logits": [[[0.1, 2.0, -1.0]]],
        "masks_queries_logits": [[[[0.1, -0.2], [0.3, 0.4]]]],
    },
    "text-encoding": {"embeddings": [[0.5, -1.0], [0.25, 2.0]]},
    # A pretraining head served as its family's default: here a text encoder's embeddings.
    "pretraining": {"embeddings": [[0.5, -1.0], [0.25, 2.0]]},
    "next-sentence-prediction": {"logits": [[2.0, -1.0], [0.1, 0.3]], "scores": [[0.95, 0.05], [0.45, 0.55]],
                                 "is_next": [True, False]},
    "multiple-choice": {"logits": [[0.5, -1.0, 2.0], [0.1, 0.3]], "scores": [[0.18, 0.04, 0.78], [0.45, 0.55]],
                        "best": [2, 1]},
    "question-answering": {
        "start_logits": [[0.1, 0.2, -0.3], [0.5, 0.0]],
        "end_logits": [[0.0, 1.2, -0.3], [0.5, 0.25]],
        "answers": [{"score": 0.4, "start": 4, "end": 9, "answer": "quick"},
                    {"score": 0.9, "start": 0, "end": 5, "answer": "Hello"}],
    },
    "text-classification": {
        "logits": [[0.1, -0.2], [1.5, 0.0]],
        "predictions": [[{"label": "LABEL_0", "score": 0.57}], [{"label": "LABEL_0", "score": 0.82}]],
    },
    "token-classification": {
        "entities": [
            [{"entity": "LABEL_1", "score": 0.6, "index": 0, "word": "hello", "start": 0, "end": 5}],
            [],  # a text whose every token is labelled O
        ],
    },
    "fill-mask": {
        "predictions": [
            [[{"score": 0.4, "token": 7, "token_str": "a", "sequence": "a cat"},
              {"score": 0.3, "token": 9, "token_str": "the", "sequence": "the cat"}]],
            # Two masks: a list of candidates each.
            [[{"score": 0.5, "token": 7, "token_str": "a", "sequence": "[CLS] a a [SEP]"}],
             [{"score": 0.6, "token": 7, "token_str": "a", "sequence": "[CLS] a a [SEP]"}]],
        ],
    },
    "text-generation": {"token_ids": [[5, 6, 2], []], "texts": ["hi there", ""]},
    "text2text-generation": {"token_ids": [[5, 1], [8, 8, 1]], "texts": ["a", "b b"]},
    "automatic-speech-recognition": {"token_ids": [[50, 51], [52]], "texts": [" hello", " x"]},
    "ctc": {"texts": ["HELLO", ""]},
    "rnnt": {"texts": ["hello", ""]},
    "tdt": {"texts": ["hello hello", "x"]},
    "audio-xvector": {"embeddings": [[0.1, -0.2, 0.3], [0.0, 0.5, -1.0]]},
    "image-classification": {
        "logits": [[0.1, 0.2, 0.3], [0.0, 0.0, 0.0]],
        "predictions": [[{"label": "cat", "score": 0.4}, {"label": "dog", "score": 0.3}],
                        [{"label": "cat", "score": 0.5}, {"label": "dog", "score": 0.5}]],
    },
    "zero-shot-image-classification": {
        "logits_per_image": [[20.1, 19.0], [18.0, 21.5]],
        "predictions": [[{"label": "a cat", "score": 0.75}, {"label": "a dog", "score": 0.25}],
                        [{"label": "a dog", "score": 0.97}, {"label": "a cat", "score": 0.03}]],
    },
    "image-embedding": {"embeddings": [[0.1, 0.2], [0.3, 0.4]]},
    "retrieval": {"image_embeddings": [[[0.1, 0.2], [0.3, 0.4]]], "query_embeddings": [[[0.5, 0.1]], [[0.2, 0.2]]],
                  "scores": [[0.09], [0.14]]},
    "text-embedding": {"embeddings": [[0.1, 0.2], [0.3, 0.4]]},
}
PLAN = {"task": "feature-extraction", "tolerance": {"rtol": 1e-4, "atol": 1e-5}}


def result(task, **changes):
    out = {**COMMON, **copy.deepcopy(GOOD[task])}
    out.update(changes)
    return out


def check(output, task="feature-extraction", family="text-encoder", options=None):
    """check_output of the text-encoder family (the one whose compare is reached when
    the shape is right), expecting the good result's outputs of `task`."""
    plan = {**PLAN, "task": task}
    return check_output(output, families.load(family), Expected(GOOD[task]), plan, "cpu", options)


# --------------------------------------------------------------------- the files
@pytest.mark.parametrize("family,task", SERVED)
def test_every_task_a_family_serves_has_an_output_schema(family, task):
    assert (OUTPUTS / f"{task}.schema.json").is_file(), f"{family} serves {task}"


@pytest.mark.parametrize("name", NAMES)
def test_output_schema_is_a_valid_2020_12_schema_named_after_its_file(name):
    schema = json.loads((OUTPUTS / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert (schema["$id"], schema["title"]) == (f"outputs/{name}.schema.json", name)


@pytest.mark.parametrize("name", TASK_SCHEMAS)
def test_output_schema_takes_the_keys_every_result_carries_from_common_not_a_copy(name):
    text = (OUTPUTS / f"{name}.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert {"$ref": "common.schema.json"} in schema["allOf"]
    assert "implementation_type" not in text and "fallback_from" not in text
    assert schema["unevaluatedProperties"] is False


def test_every_task_served_today_has_a_good_example_here():
    assert {task for _, task in SERVED} <= set(GOOD)


# --------------------------------------------------------------------- good results
@pytest.mark.parametrize("task", sorted(GOOD))
def test_a_result_of_the_tasks_shape_matches_its_schema(task):
    assert schema_violation(result(task), task) is None


def test_an_audio_pretraining_heads_projected_states_match_the_pretraining_schema():
    projected = {**COMMON, "projected_states": [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6]]],
                 "projected_quantized_states": [[[0.0, 1.0], [1.0, 0.0]], [[0.5, 0.5]]]}
    assert schema_violation(projected, "pretraining") is None
    assert schema_violation({**projected, "embeddings": [[0.5]]}, "pretraining") is not None


def test_a_pretraining_result_is_its_familys_default_tasks_shape_and_one_of_them():
    # text-decoder and text-encoder-decoder serve a pretraining head by generating.
    generated = result("pretraining", embeddings=None)
    del generated["embeddings"]
    generated.update(GOOD["text-generation"])
    assert schema_violation(generated, "pretraining") is None
    assert schema_violation(result("pretraining", **GOOD["text-generation"]), "pretraining") is not None


def test_a_retrievers_pretraining_head_matches_the_pretraining_schema_as_retrieval():
    # colqwen2's one task is its pretraining head, ColQwen2ForRetrieval: served as retrieval.
    retrieved = {**COMMON, **copy.deepcopy(GOOD["retrieval"])}
    assert schema_violation(retrieved, "pretraining") is None
    queries_only = {**COMMON, "query_embeddings": [[[0.5, 0.1]]]}
    assert schema_violation(queries_only, "pretraining") is None
    assert schema_violation({**queries_only, "scores": [[0.1]]}, "pretraining") is not None
    assert schema_violation({**retrieved, "embeddings": [[0.5]]}, "pretraining") is not None


def test_a_dual_encoders_image_and_text_features_match_the_feature_extraction_schema():
    both = {**COMMON, "image_embeddings": [[0.5, -1.0]], "text_embeddings": [[0.1, 0.2], [0.3, 0.4]]}
    assert schema_violation(both, "feature-extraction") is None
    texts_only = {**COMMON, "text_embeddings": [[0.1, 0.2]]}
    assert schema_violation(texts_only, "feature-extraction") is None
    videos = {**COMMON, "video_embeddings": [[0.5, -1.0]], "text_embeddings": [[0.1, 0.2]]}  # xclip's
    assert schema_violation(videos, "feature-extraction") is None
    assert schema_violation({**videos, "video_embeddings": [0.5]}, "feature-extraction") is not None
    # Embeddings of one kind or the other, not both shapes at once.
    assert schema_violation({**both, "embeddings": [[0.5]]}, "feature-extraction") is not None


def test_a_decoder_halfs_or_vocoders_waveforms_with_their_rates_match_the_feature_extraction_schema():
    # Per input its waveform: channels x samples (a codec's decoder half's), or samples
    # (univnet's), with one sampling rate per input.
    decoded = {**COMMON, "waveforms": [[[0.1, -0.2, 0.3]], [0.0, 0.25]], "sampling_rate": [24000, 24000]}
    assert schema_violation(decoded, "feature-extraction") is None
    # Waveforms without their rate, or a rate that is not a positive integer, are not it.
    assert schema_violation({**COMMON, "waveforms": decoded["waveforms"]}, "feature-extraction") is not None
    assert schema_violation({**decoded, "sampling_rate": [0.5, 24000]}, "feature-extraction") is not None
    assert schema_violation({**decoded, "latents": [[0.5]]}, "feature-extraction") is not None


def test_a_text_detectors_probability_map_or_quadrilaterals_match_the_object_detection_schema():
    text_map = result("object-detection", logits=None, pred_boxes=None, last_hidden_state=[[[[0.5, 0.7]]], [[[0.1]]]])
    del text_map["logits"], text_map["pred_boxes"]
    assert schema_violation(text_map, "object-detection") is None
    # Eight coordinates per query: a quadrilateral's corners (pp_doclayout_v4's).
    quads = result("object-detection", pred_boxes=[[[0.1, 0.2, 0.3, 0.2, 0.3, 0.4, 0.1, 0.4]], []])
    assert schema_violation(quads, "object-detection") is None
    # Raw outputs of one kind or the other; a box has four numbers at least.
    del text_map["last_hidden_state"]
    assert schema_violation(text_map, "object-detection") is not None
    assert schema_violation(result("object-detection", pred_boxes=[[[0.5, 0.5]], []]), "object-detection") is not None


def test_retrieval_scores_come_only_with_both_embeddings():
    queries_only = {**COMMON, "query_embeddings": [[[0.5, 0.1]]]}
    assert schema_violation(queries_only, "retrieval") is None
    assert schema_violation({**queries_only, "scores": [[0.1]]}, "retrieval") is not None


def test_a_result_served_on_the_cpu_in_another_backends_place_matches():
    fallback = result("ctc", fallback_from="rocm", fallback_reason="no-device",
                      fallback_message="rocm: no ROCm device")
    assert schema_violation(fallback, "ctc") is None


def test_a_good_result_passes_the_check_and_reaches_the_parity_comparison():
    message, diff, kind = check(result("feature-extraction"))
    assert (message, diff, kind) == (None, 0.0, PARITY)


def test_the_task_option_picks_the_schema_of_the_call():
    # clip's towers: the plan serves zero-shot-image-classification, a call task=text-embedding.
    plan = {**PLAN, "task": "zero-shot-image-classification"}
    family = families.load("vision-text-dual-encoder")
    embedded = result("text-embedding")
    message, _, kind = check_output(embedded, family, Expected(GOOD["text-embedding"]), plan, "cpu",
                                    {"task": "text-embedding"})
    assert (message, kind) == (None, PARITY)
    message, _, kind = check_output(embedded, family, Expected(GOOD["text-embedding"]), plan, "cpu")
    assert kind == CONTRACT and "zero-shot-image-classification.schema.json at $: " in message


# --------------------------------------------------------------------- bad results
def test_a_missing_output_key_is_a_contract_failure_naming_it():
    output = result("text-classification")
    del output["predictions"]
    message, diff, kind = check(output, "text-classification")
    assert (kind, diff) == (CONTRACT, None)
    assert message == ("the output does not match schemas/outputs/text-classification.schema.json at $: "
                       "'predictions' is a required property")


def test_a_missing_common_key_is_a_contract_failure_naming_it():
    output = result("feature-extraction")
    del output["device"]
    message, _, kind = check(output)
    assert kind == CONTRACT and message.endswith("at $: 'device' is a required property")


def test_a_wrong_type_is_a_contract_failure_naming_its_path_and_both_types():
    output = result("token-classification")
    output["entities"][0][0]["start"] = "0"
    message, _, kind = check(output, "token-classification")
    assert kind == CONTRACT
    assert message.endswith("at $.entities[0][0].start: '0' is a str, not integer or null")


def test_a_wrong_nesting_is_a_contract_failure_at_the_level_that_is_wrong():
    # One embedding flattened into the batch's list: a float where a row belongs.
    flat = result("feature-extraction", embeddings=[0.5, -1.0, 0.25, 2.0])
    message, _, kind = check(flat)
    assert kind == CONTRACT and message.endswith("at $.embeddings[0]: 0.5 is a float, not array")
    # fill-mask's candidates without the list per mask the contract promises.
    output = result("fill-mask")
    output["predictions"] = [per_text[0] for per_text in output["predictions"]]
    message, _, kind = check(output, "fill-mask")
    assert kind == CONTRACT
    assert "at $.predictions[0][0]: {'score': 0.4," in message and message.endswith("is a dict, not array")


def test_an_unexpected_key_is_a_contract_failure_naming_it():
    message, _, kind = check(result("feature-extraction", pooled=[[1.0]]))
    assert kind == CONTRACT and message.endswith("at $: Unevaluated properties are not allowed ('pooled' was unexpected)")


def test_a_fallback_without_its_reason_is_a_contract_failure():
    message, _, kind = check(result("feature-extraction", fallback_from="rocm"))
    assert kind == CONTRACT and message.endswith("at $: 'fallback_reason' is a dependency of 'fallback_from'")


def test_a_long_wrong_value_is_quoted_short_on_one_line():
    output = result("feature-extraction", embeddings={"rows": [[float(i) for i in range(1000)]] * 8})
    message, _, kind = check(output)
    assert kind == CONTRACT and "\n" not in message and len(message) < 200
    assert "at $.embeddings: {'rows': [[0.0, 1.0, 2.0," in message
    assert message.endswith("... is a dict, not array")


def test_a_task_without_an_output_schema_is_a_contract_failure_saying_so():
    plan = {**PLAN, "task": "no-such-task"}
    message, _, kind = check_output(result("ctc"), families.load("audio-ctc"), Expected(GOOD["ctc"]), plan, "cpu")
    assert kind == CONTRACT
    assert message == ("task 'no-such-task' has no output schema: schemas/outputs/no-such-task.schema.json "
                       "(every task a family serves needs one)")


# --------------------------------------------------------------------- in the harness
def test_the_harness_fails_a_skillset_whose_real_output_is_nested_wrong_as_a_contract_failure(bert_plan, skillset):
    cpu = harness.run(bert_plan, skillset_path=skillset("flat_embeddings"), backends=["cpu"])["backends"]["cpu"]
    assert (cpu["status"], cpu["class"]) == ("fail", "contract")
    assert "feature-extraction.schema.json at $.embeddings[0]: " in cpu["message"]
    assert cpu["message"].endswith("is a float, not array")
