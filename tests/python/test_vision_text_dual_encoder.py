"""The vision-text-dual-encoder family: its tiny recipes, its reference, and the skillset
gen-skillset writes for it, on real tiny models."""
import subprocess
from pathlib import Path

import numpy as np
import pytest

from skillkit import skillset
from skillkit.families import vision_text_dual_encoder as dual
from skillkit.output_check import schema_violation

ROOT = Path(__file__).resolve().parents[2]
GEN_SKILLSET = ROOT / "bin" / "gen-skillset"
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}


def _candidate(model_class, auto_class="AutoModel"):
    return {"model_class": model_class, "auto_class": auto_class, "processor_class": "AutoProcessor"}


def _served(model_type, model_dir, out, task=None):
    """The handler of the skillset gen-skillset writes for the type (and task)."""
    subprocess.run([str(GEN_SKILLSET), "-q", model_type, "-o", str(out), *(["--task", task] if task else [])],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    instance = skillset.instantiate(out / f"hf_{model_type}.py", model_type)
    return instance.init_cpu(str(model_dir), "cpu", "cpu")[2]


def _check(model_type, candidate, task, tmp_path, generate_task=None):
    model_dir = tmp_path / "model"
    dual.build_tiny(model_type, candidate, str(model_dir), 0)
    plan = {"seed": 0, "task": task, "tolerance": TOLERANCE, "candidates": [candidate]}
    handler = _served(model_type, model_dir, tmp_path / "skillset", generate_task)
    cases = dual.cases(plan)
    for case in cases:
        expected = dual.reference(str(model_dir), candidate, case, plan)
        served = handler(case.input, **case.options)
        assert schema_violation(served, case.options.get("task", task)) is None, case.name
        assert dual.compare(expected, served, plan).ok, case.name
    return cases


@pytest.mark.skipif(not GEN_SKILLSET.exists(), reason="needs bin/gen-skillset (make)")
def test_siglip_is_scored_by_sigmoid_over_texts_padded_to_64_tokens_as_the_pipeline_does(tmp_path):
    candidate = _candidate("SiglipModel", "AutoModelForZeroShotImageClassification")
    cases = _check("siglip", candidate, "zero-shot-image-classification", tmp_path)
    # Zero-shot cases, each tower's embeddings, and both through feature-extraction.
    assert {case.options.get("task") for case in cases} == {
        None, "image-embedding", "text-embedding", "feature-extraction"}


@pytest.mark.skipif(not GEN_SKILLSET.exists(), reason="needs bin/gen-skillset (make)")
def test_flavas_feature_extraction_gives_each_towers_class_token_embedding(tmp_path):
    cases = _check("flava", _candidate("FlavaModel"), "feature-extraction", tmp_path)
    assert all(case.options == {"task": "feature-extraction"} for case in cases)


@pytest.mark.skipif(not GEN_SKILLSET.exists(), reason="needs bin/gen-skillset (make)")
def test_clips_image_classifier_head_is_served_as_the_vision_family_serves_it(tmp_path):
    candidate = _candidate("CLIPForImageClassification", "AutoModelForImageClassification")
    _check("clip", candidate, "image-classification", tmp_path, generate_task="image-classification")


@pytest.mark.skipif(not GEN_SKILLSET.exists(), reason="needs bin/gen-skillset (make)")
@pytest.mark.parametrize(("model_type", "model_class"), [("xclip", "XCLIPModel"), ("videoprism", "VideoPrismClipModel")])
def test_a_video_model_embeds_each_video_of_its_frames_and_texts_as_the_reference(model_type, model_class, tmp_path):
    cases = _check(model_type, _candidate(model_class), "feature-extraction", tmp_path)
    assert any("videos" in case.input for case in cases)
    handler = _served(model_type, tmp_path / "model", tmp_path / "again")
    video = cases[0].input["videos"][0]
    # One video given as an array of frames is the list of its frames.
    task = {"task": "feature-extraction"}
    as_array = handler({"videos": np.stack([np.asarray(frame) for frame in video])}, **task)
    as_list = handler({"videos": video}, **task)
    assert np.allclose(as_array["video_embeddings"], as_list["video_embeddings"])
    with pytest.raises(TypeError, match="videos"):
        handler({"images": video}, **task)


def test_a_model_without_both_towers_has_no_tiny_recipe(tmp_path):
    with pytest.raises(NotImplementedError, match="get_image_features .or get_video_features. and get_text_features"):
        dual.build_tiny("bridgetower", _candidate("BridgeTowerModel"), str(tmp_path), 0)


def test_feature_extraction_embeddings_that_differ_fail_the_comparison():
    plan = {"task": "feature-extraction", "tolerance": TOLERANCE}
    expected = {"image_embeddings": [[0.5, 1.0]], "text_embeddings": [[0.25, 2.0]]}
    assert dual.compare(expected, dict(expected), plan).ok
    assert not dual.compare(expected, dict(expected, text_embeddings=[[0.25, 2.1]]), plan).ok
    assert not dual.compare(expected, {"image_embeddings": [[0.5, 1.0]]}, plan).ok
