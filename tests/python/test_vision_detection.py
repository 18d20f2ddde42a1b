import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import transformers

from skillkit import families, skillset
from skillkit.expected import Expected
from skillkit.families import Case
from skillkit.output_check import schema_violation

ROOT = Path(__file__).resolve().parents[2]
vision_detection = families.load("vision-detection")
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}


def plan(task):
    return {"model_type": "detr", "task": task, "tolerance": dict(TOLERANCE), "seed": 0}


def detection(score, label="cat", box=(1, 2, 30, 40)):
    return {"score": score, "label": label, "box": dict(zip(("xmin", "ymin", "xmax", "ymax"), box))}


def detections_expected(rows, threshold=0.5):
    expected = Expected({"detections": rows, "logits": [[[0.0]]] * len(rows), "pred_boxes": [[[0.5] * 4]] * len(rows)})
    expected.threshold = threshold
    return expected


def actual_with(expected, detections):
    return dict(expected, detections=detections)


def test_a_detection_within_tolerance_of_the_threshold_may_be_missing_and_no_other():
    expected = detections_expected([[detection(0.9), detection(0.50005, "dog")]])
    assert vision_detection.compare(expected, actual_with(expected, [[detection(0.9)]]), plan("object-detection")).ok
    clear_one_missing = [[detection(0.50005, "dog")]]
    assert not vision_detection.compare(expected, actual_with(expected, clear_one_missing), plan("object-detection")).ok


def test_detections_must_agree_in_label_and_score_and_boxes_within_a_pixel():
    expected = detections_expected([[detection(0.9)], []])
    one_pixel = [[detection(0.9, box=(2, 2, 30, 39))], []]
    assert vision_detection.compare(expected, actual_with(expected, one_pixel), plan("object-detection")).ok
    for wrong in ([[detection(0.9, box=(3, 2, 30, 40))], []], [[detection(0.9, "dog")], []],
                  [[detection(0.91)], []], [[detection(0.9)]], [[detection(0.9)], [detection(0.8)]]):
        assert not vision_detection.compare(expected, actual_with(expected, wrong), plan("object-detection")).ok, wrong


def test_raw_logits_and_boxes_are_compared_within_tolerance():
    expected = detections_expected([[]])
    assert not vision_detection.compare(expected, dict(expected, logits=[[[0.01]]]), plan("object-detection")).ok
    assert not vision_detection.compare(expected, dict(expected, pred_boxes=[[[0.6] * 4]]), plan("object-detection")).ok
    assert not vision_detection.compare(expected, {"detections": [[]]}, plan("object-detection")).ok


def test_segment_masks_may_differ_only_where_the_best_two_labels_tie():
    cat = [[255, 255], [0, 0]]
    dog = [[0, 0], [255, 255]]
    expected = Expected({"segments": [[{"score": None, "label": "cat", "mask": cat},
                                       {"score": None, "label": "dog", "mask": dog}]],
                         "logits": [[[[0.0]]]]})
    expected.margins = [np.array([[1.0, 1.0], [1.0, 0.0]])]  # the bottom right pixel ties
    segmentation = plan("semantic-segmentation")
    assert vision_detection.compare(expected, dict(expected), segmentation).ok
    tied_pixel_swapped = [[{"score": None, "label": "cat", "mask": [[255, 255], [0, 255]]},
                           {"score": None, "label": "dog", "mask": [[0, 0], [255, 0]]}]]
    assert vision_detection.compare(expected, dict(expected, segments=tied_pixel_swapped), segmentation).ok
    clear_pixel_swapped = [[{"score": None, "label": "cat", "mask": [[255, 0], [0, 0]]},
                            {"score": None, "label": "dog", "mask": [[0, 255], [255, 255]]}]]
    assert not vision_detection.compare(expected, dict(expected, segments=clear_pixel_swapped), segmentation).ok
    scored = [[dict(segment, score=1.0) for segment in expected["segments"][0]]]
    assert not vision_detection.compare(expected, dict(expected, segments=scored), segmentation).ok


def test_scored_segments_near_the_threshold_may_be_missing_and_masks_must_otherwise_agree():
    cat = {"score": 0.95, "label": "cat", "mask": [[255, 0]]}
    dog = {"score": 0.90004, "label": "dog", "mask": [[0, 255]]}
    expected = Expected({"segments": [[cat]], "class_queries_logits": [[[0.0]]], "masks_queries_logits": [[[[0.0]]]]})
    expected.threshold = 0.9
    universal = plan("universal-segmentation")
    assert vision_detection.compare(expected, dict(expected), universal).ok
    assert vision_detection.compare(expected, dict(expected, segments=[[cat, dog]]), universal).ok
    for wrong in ([[dict(cat, mask=[[255, 255]])]], [[dict(cat, label="dog")]], [[dict(cat, score=0.96)]], [[]]):
        assert not vision_detection.compare(expected, dict(expected, segments=wrong), universal).ok, wrong


def test_instance_segmentation_of_a_tiny_mask2former_finds_segments_without_thresholds(tmp_path):
    candidate = _build(tmp_path, "mask2former", "Mask2FormerForUniversalSegmentation")
    universal = plan("universal-segmentation")
    [case] = [case for case in vision_detection.cases(universal) if case.options.get("subtask") == "instance"]
    expected = vision_detection.reference(str(tmp_path), candidate, case, universal)
    assert all(len(segments) > 1 for segments in expected["segments"])


def test_zero_shot_raw_outputs_are_compared_per_label_whatever_their_widths():
    # grounding-dino's logits: one column per token of the label, so labels differ in width.
    logits = [[[[0.5, 1.0]], [[0.25, 0.5, 2.0]]]]
    boxes = [[[[0.5, 0.5, 0.2, 0.2]], [[0.4, 0.4, 0.1, 0.1]]]]
    expected = Expected({"detections": [[detection(0.9)]], "logits": logits, "pred_boxes": boxes})
    expected.threshold = vision_detection.NAMED_THRESHOLD
    zero_shot = plan("zero-shot-object-detection")
    assert vision_detection.compare(expected, dict(expected), zero_shot).ok
    one_label_off = [[[[0.5, 1.0]], [[0.25, 0.5, 2.1]]]]
    assert not vision_detection.compare(expected, dict(expected, logits=one_label_off), zero_shot).ok
    a_label_missing = [[[[0.5, 1.0]]]]
    assert not vision_detection.compare(expected, dict(expected, logits=a_label_missing), zero_shot).ok


def test_masks_may_differ_only_where_the_logit_ties_with_the_threshold():
    masks = [[[[[1, 0], [0, 0]]]]]  # one image, one prompt, one mask of 2 x 2 pixels
    expected = Expected({"masks": masks, "iou_scores": [[[0.5]]]})
    expected.margins = [np.array([[[[1.0, 1.0], [1.0, 0.0]]]])]  # the bottom right logit is 0
    generation = plan("mask-generation")
    assert vision_detection.compare(expected, dict(expected), generation).ok
    tied_pixel = [[[[[1, 0], [0, 1]]]]]
    assert vision_detection.compare(expected, dict(expected, masks=tied_pixel), generation).ok
    clear_pixel = [[[[[0, 0], [0, 0]]]]]
    assert not vision_detection.compare(expected, dict(expected, masks=clear_pixel), generation).ok
    assert not vision_detection.compare(expected, dict(expected, iou_scores=[[[0.6]]]), generation).ok


def test_keypoints_must_be_the_same_and_their_scores_and_descriptors_close():
    expected = Expected({"keypoints": [[[3, 4]]], "scores": [[0.9]], "descriptors": [[[0.1, 0.2]]]})
    detection_plan = plan("keypoint-detection")
    assert vision_detection.compare(expected, dict(expected), detection_plan).ok
    for wrong in ({"keypoints": [[[3, 5]]]}, {"scores": [[0.8]]}, {"descriptors": [[[0.1, 0.3]]]}):
        assert not vision_detection.compare(expected, dict(expected, **wrong), detection_plan).ok, wrong


def match(first, second, score):
    return {"keypoint_image_0": dict(zip("xy", first)), "keypoint_image_1": dict(zip("xy", second)), "score": score}


def test_matches_must_join_the_same_keypoints_with_close_scores_in_any_order_of_tied_scores():
    expected = Expected({"matches": [[match((3, 4), (5, 6), 0.5), match((1, 2), (7, 8), 0.5 + 1e-6)], []]})
    matching_plan = plan("keypoint-matching")
    assert vision_detection.compare(expected, dict(expected), matching_plan).ok
    swapped = [list(reversed(expected["matches"][0])), []]
    assert vision_detection.compare(expected, {"matches": swapped}, matching_plan).ok
    for wrong in ([[match((3, 4), (5, 7), 0.5), match((1, 2), (7, 8), 0.5)], []],
                  [[match((3, 4), (5, 6), 0.4), match((1, 2), (7, 8), 0.5)], []],
                  [[match((3, 4), (5, 6), 0.5)], []], [expected["matches"][0]]):
        assert not vision_detection.compare(expected, {"matches": wrong}, matching_plan).ok, wrong


@pytest.mark.parametrize("model_type, model_class", [
    ("superglue", "SuperGlueForKeypointMatching"),
    ("lightglue", "LightGlueForKeypointMatching"),
    ("efficientloftr", "EfficientLoFTRForKeypointMatching"),
])
def test_a_tiny_keypoint_matcher_finds_matches_in_every_pair(tmp_path, model_type, model_class):
    # Random weights score matches far below the checkpoints' thresholds: the tiny
    # configs keep them, so that there are keypoints and scores to compare.
    candidate = _build(tmp_path, model_type, model_class)
    case = vision_detection.cases(plan("keypoint-matching"))[1]
    expected = vision_detection.reference(str(tmp_path), candidate, case, plan("keypoint-matching"))
    assert len(expected["matches"]) == 2 and all(expected["matches"])


def test_object_detection_cases_lower_the_threshold_and_batch_two_sizes():
    cases = vision_detection.cases(plan("object-detection"))
    batches = [case for case in cases if isinstance(case.input, list)]
    assert batches and len({image.size for image in batches[0].input}) == 2
    assert {case.options.get("threshold") for case in cases} >= {None, 0.0}


def _build(tmp_path, model_type, model_class):
    vision_detection.build_tiny(model_type, {"model_class": model_class}, str(tmp_path), seed=0)
    return {"model_class": model_class}


def test_detr_is_built_on_transformers_resnet_and_its_queries_score_differently(tmp_path):
    candidate = _build(tmp_path, "detr", "DetrForObjectDetection")
    config = transformers.AutoConfig.from_pretrained(tmp_path)
    assert config.backbone_config.model_type == "resnet" and config.num_queries == vision_detection.NUM_QUERIES
    low = Case("low threshold", vision_detection.cases(plan("object-detection"))[0].input, {"threshold": 0.0})
    expected = vision_detection.reference(str(tmp_path), candidate, low, plan("object-detection"))
    assert np.asarray(expected["logits"]).shape == (1, vision_detection.NUM_QUERIES, len(vision_detection.LABELS) + 1)
    [found] = expected["detections"]
    # Its queries differ (learned embeddings at unit scale), so their scores do.
    assert len(found) == vision_detection.NUM_QUERIES and len({round(d["score"], 3) for d in found}) > 3
    assert vision_detection.compare(expected, dict(expected), plan("object-detection")).ok


def test_a_depth_anything_neck_reads_every_stage_of_its_tiny_vit_and_depth_varies(tmp_path):
    candidate = _build(tmp_path, "depth_anything", "DepthAnythingForDepthEstimation")
    config = transformers.AutoConfig.from_pretrained(tmp_path)
    assert config.backbone_config.num_hidden_layers == len(config.neck_hidden_sizes)
    case = vision_detection.cases(plan("depth-estimation"))[1]
    expected = vision_detection.reference(str(tmp_path), candidate, case, plan("depth-estimation"))
    depths = [np.asarray(depth) for depth in expected["predicted_depth"]]
    # At each image's own size (rows, columns), and not the same everywhere.
    assert [depth.shape for depth in depths] == [(image.height, image.width) for image in case.input]
    assert all(np.isfinite(depth).all() and depth.std() > 1e-3 for depth in depths)


def test_a_text_detectors_probability_map_varies_with_the_image(tmp_path):
    # Its config names no initializer scale: at transformers' default its map is 0.5 everywhere.
    candidate = _build(tmp_path, "pp_ocrv5_mobile_det", "PPOCRV5MobileDetForObjectDetection")
    case = vision_detection.cases(plan("object-detection"))[0]
    expected = vision_detection.reference(str(tmp_path), candidate, case, plan("object-detection"))
    assert "logits" not in expected and np.asarray(expected["last_hidden_state"]).std() > 1e-2


@pytest.mark.parametrize("model_type, model_class, task", [
    ("lw_detr", "LwDetrForObjectDetection", "object-detection"),
    ("eomt", "EomtForUniversalSegmentation", "universal-segmentation"),
    ("depth_pro", "DepthProForDepthEstimation", "depth-estimation"),
])
def test_a_tiny_model_of_a_config_whose_defaults_do_not_run_runs(tmp_path, model_type, model_class, task):
    # lw_detr projects no backbone level by default, eomt's queries join in layers the
    # tiny ViT lacks, depth_pro's patches are images to its ViTs.
    candidate = _build(tmp_path, model_type, model_class)
    case = vision_detection.cases(plan(task))[0]
    expected = vision_detection.reference(str(tmp_path), candidate, case, plan(task))
    assert vision_detection.compare(expected, dict(expected), plan(task)).ok


def generate(out, model_type, task=None):
    """The skillset gen-skillset writes for `model_type` from the registry alone, for its
    default task or `task`."""
    subprocess.run([str(ROOT / "bin" / "gen-skillset"), "-q", "-o", str(out), model_type]
                   + (["--task", task] if task else []), check=True, capture_output=True, cwd=ROOT)
    return out / f"hf_{model_type.replace('-', '_')}.py"


@pytest.fixture(scope="module")
def detr_skillset(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("skillsets"), "detr")


@pytest.mark.parametrize("model_type, task, model_class", [
    ("detr", "object-detection", "DetrForObjectDetection"),
    ("pp_ocrv5_mobile_det", "object-detection", "PPOCRV5MobileDetForObjectDetection"),
    ("pp_doclayout_v4", "object-detection", "PPDocLayoutV4ForObjectDetection"),
    ("glpn", "depth-estimation", "GLPNForDepthEstimation"),
    ("upernet", "semantic-segmentation", "UperNetForSemanticSegmentation"),
    ("mask2former", "universal-segmentation", "Mask2FormerForUniversalSegmentation"),
    ("owlvit", "zero-shot-object-detection", "OwlViTForObjectDetection"),
    ("grounding-dino", "zero-shot-object-detection", "GroundingDinoForObjectDetection"),
    ("sam", "mask-generation", "SamModel"),
    ("sam_hq", "mask-generation", "SamHQModel"),
    ("sam2", "mask-generation", "Sam2Model"),
    ("sam3_tracker", "mask-generation", "Sam3TrackerModel"),
    ("superpoint", "keypoint-detection", "SuperPointForKeypointDetection"),
    ("superglue", "keypoint-matching", "SuperGlueForKeypointMatching"),
    ("lightglue", "keypoint-matching", "LightGlueForKeypointMatching"),
    ("efficientloftr", "keypoint-matching", "EfficientLoFTRForKeypointMatching"),
    ("vitmatte", "image-matting", "VitMatteForImageMatting"),
    ("vitpose", "pose-estimation", "VitPoseForPoseEstimation"),
    ("detr", "feature-extraction", "DetrModel"),
    ("yolos", "image-feature-extraction", "YolosModel"),
])
def test_a_generated_skillset_matches_the_pipeline_in_its_tasks_output_schema(tmp_path, model_type, task,
                                                                              model_class):
    candidate = _build(tmp_path / "model", model_type, model_class)
    served = skillset.instantiate(str(generate(tmp_path, model_type, task)), model_type.replace("-", "_"))
    assert served.TASK == task
    _, _, handler, _, _ = served.init_cpu(str(tmp_path / "model"), "cpu", "cpu")
    for case in vision_detection.cases(plan(task)):
        expected = vision_detection.reference(str(tmp_path / "model"), candidate, case, plan(task))
        outputs = handler(case.input, **case.options)
        assert outputs["implementation_type"] == "REAL" and outputs["backend"] == "cpu"
        assert schema_violation(json.loads(json.dumps(outputs)), task) is None  # plain lists and numbers
        result = vision_detection.compare(expected, outputs, plan(task))
        assert result.ok, (case.name, result.message)
    with pytest.raises(TypeError, match="no_such_option"):
        handler(case.input, **case.options, no_such_option=3)


def test_the_detr_skillset_serves_no_converted_backend_and_says_so(detr_skillset):
    served = skillset.instantiate(str(detr_skillset), "detr")
    for backend, args in (("openvino", ("detr", "openvino:0", "openvino:0")), ("onnx", ()), ("webnn", ()),
                          ("transformersjs-node", ()), ("webgpu", ())):
        with pytest.raises(served.BackendUnavailable) as raised:
            getattr(served, "init_" + backend.replace("-", "_"))("unused", *args)
        assert (raised.value.backend, raised.value.reason) == (backend, "unimplemented")
