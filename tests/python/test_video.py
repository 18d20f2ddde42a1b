"""The video family: its tiny classifiers, its reference, and the skillset gen-skillset
writes for it, on real tiny models."""

import numpy as np
import pytest
import transformers

from skillkit.families import Case, video
from skillkit.output_check import schema_violation

PLAN = {"seed": 0, "task": "video-classification", "tolerance": {"rtol": 1e-4, "atol": 1e-4}}
CANDIDATE = {"model_class": "VideoMAEForVideoClassification", "auto_class": "AutoModelForVideoClassification",
             "processor_class": "AutoImageProcessor"}
# What a skillset written from the registry alone loads: the video processor, as the
# pipeline prefers it (the family lists AutoVideoProcessor first).
VIDEO_CANDIDATE = dict(CANDIDATE, processor_class="AutoVideoProcessor")


@pytest.fixture(scope="module")
def videomae(tmp_path_factory):
    out = tmp_path_factory.mktemp("videomae")
    video.build_tiny("videomae", CANDIDATE, str(out), PLAN["seed"])
    return str(out)


@pytest.fixture(scope="module")
def videomae_video(tmp_path_factory):
    out = tmp_path_factory.mktemp("videomae_video")
    video.build_tiny("videomae", VIDEO_CANDIDATE, str(out), PLAN["seed"])
    return str(out)


def _frames(count, size=(48, 40), seed=0):
    return np.stack([np.asarray(frame) for frame in video._video(size, count, seed)])


def test_a_tiny_video_classifier_takes_four_frames_through_its_own_image_processor(videomae):
    config = transformers.AutoConfig.from_pretrained(videomae)
    processor = transformers.AutoImageProcessor.from_pretrained(videomae)
    # Saved in its PIL form; AutoImageProcessor loads the torchvision form where
    # torchvision imports (skillkit.torchvision_cpu).
    assert type(processor).__name__.removesuffix("Pil") == "VideoMAEImageProcessor"
    assert (config.num_frames, config.image_size, config.num_labels) == (4, 32, len(video.LABELS))
    batch = processor(list(_frames(4)), return_tensors="pt")
    assert tuple(batch["pixel_values"].shape) == (1, 4, 3, 32, 32)


def test_the_reference_classifies_a_video_by_its_first_num_frames_frames(videomae):
    six = _frames(6)
    longer = video.reference(videomae, CANDIDATE, Case("six", six), PLAN)
    first = video.reference(videomae, CANDIDATE, Case("first four", six[:4]), PLAN)
    last = video.reference(videomae, CANDIDATE, Case("last four", six[2:]), PLAN)
    assert longer["logits"] == first["logits"]
    assert not video.compare(last, longer, PLAN).ok


def test_videos_differ_in_logits_and_a_reordered_ranking_fails(videomae):
    case = Case("two", [_frames(4, (40, 72), 1), list(video._video((96, 96), 5, 2))])
    expected = video.reference(videomae, CANDIDATE, case, PLAN)
    first, second = np.asarray(expected["logits"])
    assert np.abs(first - second).max() > 0.1  # far beyond the tolerance
    assert [len(ranked) for ranked in expected["predictions"]] == [5, 5]
    assert video.compare(expected, dict(expected), PLAN).ok
    swapped = [list(reversed(ranked)) for ranked in expected["predictions"]]
    assert not video.compare(expected, dict(expected, predictions=swapped), PLAN).ok


def test_a_list_of_frames_is_one_video_and_a_list_of_videos_a_batch():
    frames = list(video._video((40, 72), 5, 0))
    assert len(video.batch_items(frames)) == 1
    assert len(video.batch_items(list(_frames(5)))) == 1
    assert len(video.batch_items(_frames(5))) == 1
    assert len(video.batch_items([frames, _frames(4)])) == 2


def test_the_generated_skillset_serves_every_case_as_the_reference_in_its_schema_and_refuses_short_videos(
        videomae_video, skillsets):
    instance = skillsets("videomae")
    _, _, handler, _, _ = instance.init_cpu(videomae_video, "cpu", "cpu")
    for case in video.cases(PLAN):
        expected = video.reference(videomae_video, VIDEO_CANDIDATE, case, PLAN)
        served = handler(case.input, **case.options)
        assert served["implementation_type"] == "REAL" and served["backend"] == "cpu"
        assert schema_violation(served, "video-classification") is None
        assert video.compare(expected, served, PLAN).ok, case.name
    with pytest.raises(ValueError, match="has 3 frames; the model takes 4"):
        handler(_frames(3))
    with pytest.raises(TypeError, match="unexpected keyword argument 'frames'"):
        handler(_frames(4), frames=4)


def test_a_video_encoder_skillset_serves_each_videos_last_hidden_state_as_the_reference(tmp_path, skillsets):
    plan = dict(PLAN, task="feature-extraction")
    candidate = dict(VIDEO_CANDIDATE, model_class="VideoMAEModel", auto_class="AutoModel")
    model_dir = tmp_path / "model"
    video.build_tiny("videomae", candidate, str(model_dir), PLAN["seed"])
    instance = skillsets("videomae", "feature-extraction")
    assert instance.TASK == "feature-extraction"
    _, _, handler, _, _ = instance.init_cpu(str(model_dir), "cpu", "cpu")
    case = [case for case in video.cases(plan) if case.name == "two videos of different frame sizes"][0]
    expected = video.reference(str(model_dir), candidate, case, plan)
    served = handler(case.input)
    assert schema_violation(served, "feature-extraction") is None
    # 4 frames in tubelets of 2, 16 patches each: 32 tokens of the tiny width.
    assert np.asarray(served["last_hidden_state"]).shape == (2, 32, 32)
    assert video.compare(expected, served, plan).ok
    with pytest.raises(TypeError, match="unexpected keyword argument 'top_k'"):
        handler(case.input, top_k=2)


def test_a_classifier_pooling_with_one_query_is_ranked_over_its_labels(tmp_path, skillsets):
    # videoprism's classifier pools the tokens with one attention query: its logits are
    # batch x 1 x labels, which the pipeline's postprocess alone would fail to rank.
    candidate = dict(VIDEO_CANDIDATE, model_class="VideoPrismForVideoClassification")
    model_dir = tmp_path / "model"
    video.build_tiny("videoprism_vision_model", candidate, str(model_dir), PLAN["seed"])
    case = [case for case in video.cases(PLAN) if case.name == "two videos of different frame sizes"][0]
    expected = video.reference(str(model_dir), candidate, case, PLAN)
    assert np.asarray(expected["logits"]).shape == (2, len(video.LABELS))
    assert [len(ranked) for ranked in expected["predictions"]] == [5, 5]
    instance = skillsets("videoprism_vision_model")
    _, _, handler, _, _ = instance.init_cpu(str(model_dir), "cpu", "cpu")
    served = handler(case.input)
    assert schema_violation(served, "video-classification") is None
    assert video.compare(expected, served, PLAN).ok
