"""The vision family: which processor feeds a type transformers maps none to, and the
backbone task's reference and comparison."""
import copy
import json
from pathlib import Path

from skillkit import media
from skillkit.families import vision

ROOT = Path(__file__).resolve().parents[2]
PLAN = {"task": "backbone", "tolerance": {"rtol": 1e-4, "atol": 1e-4}}


def test_a_part_of_a_composite_model_is_fed_by_the_composites_processor():
    assert type(vision._image_processor("sam2_vision_model")).__name__.startswith("Sam2ImageProcessor")
    assert type(vision._image_processor("mlcd_vision_model")).__name__.startswith("CLIPImageProcessor")
    assert type(vision._image_processor("dinov3_convnext")).__name__.startswith("DINOv3ViTImageProcessor")


def test_a_type_without_a_processor_or_composite_takes_its_parents_then_the_reference_types():
    # dinov2_with_registers' modeling code derives from dinov2's, fed by BitImageProcessor.
    assert type(vision._image_processor("dinov2_with_registers")).__name__.startswith("BitImageProcessor")
    # vitpose's processor needs each person's box: passed over for vit's.
    assert type(vision._image_processor("vitpose_backbone")).__name__.startswith("ViTImageProcessor")


def test_every_processor_found_resizes_to_the_tiny_models_size():
    processor = vision._image_processor("sam3_vit_model")
    pixels = processor(images=media.pil_images(media.images(1, 0)), return_tensors="pt")["pixel_values"]
    assert tuple(pixels.shape[-2:]) == (vision.IMAGE_SIZE, vision.IMAGE_SIZE)


def test_the_backbone_task_loads_its_class_by_name():
    # AutoBackbone.from_pretrained asks the Hub about a local directory and fails.
    registry = json.loads((ROOT / "data" / "registry.json").read_text(encoding="utf-8"))
    assert registry["tasks"]["backbone"]["auto_class"] is None
    assert "backbone" in registry["families"]["vision"]["handler_tasks"]


def test_a_backbone_gives_every_stage_after_the_stem_per_image(tmp_path):
    candidate = {"model_class": "ResNetBackbone", "auto_class": "ResNetBackbone",
                 "processor_class": "AutoImageProcessor"}
    vision.build_tiny("resnet", candidate, str(tmp_path), 0)
    case = vision.cases(PLAN)[1]
    assert len(case.input) == 2  # two images of different sizes
    expected = vision.reference(str(tmp_path), candidate, case, PLAN)
    maps = expected["feature_maps"]
    assert len(maps) == 2 and [len(image) for image in maps] == [4, 4]  # resnet's four stages
    assert vision.compare(expected, copy.deepcopy(dict(expected)), PLAN).ok
    moved = copy.deepcopy(dict(expected))
    moved["feature_maps"][1][2][0][0][0] += 1.0
    result = vision.compare(expected, moved, PLAN)
    assert not result.ok and "image 1, feature map 2" in result.message
    missing = vision.compare(expected, {"embeddings": []}, PLAN)
    assert not missing.ok and "feature_maps" in missing.message


def _built(model_type, model_class, tmp_path):
    """The tiny model of `model_type` vision.build_tiny saves, loaded back with its processor."""
    import transformers

    vision.build_tiny(model_type, {"model_class": model_class}, str(tmp_path), 0)
    model = getattr(transformers, model_class).from_pretrained(tmp_path).eval()
    return model, transformers.AutoImageProcessor.from_pretrained(tmp_path)


def _run(model, processor):
    import torch

    with torch.no_grad():
        return model(**processor(images=media.pil_images(media.images(2, 0)), return_tensors="pt"))


def test_a_stem_of_strided_convolutions_keeps_the_patch_size_it_makes(tmp_path):
    model, processor = _built("levit", "LevitForImageClassification", tmp_path)
    assert model.config.patch_size == 16  # four convolutions of stride 2
    assert _run(model, processor).logits.shape == (2, len(vision.LABELS))


def test_an_encoder_listing_its_sizes_per_stage_is_shrunk_stage_by_stage(tmp_path):
    model, processor = _built("sam2_hiera_det_model", "Sam2HieraDetModel", tmp_path)
    config = model.config
    assert config.embed_dim_per_stage == [16, 32, 64, 128] and config.hidden_size == 16
    # The stage that attended globally keeps a global block, after the one that pools.
    assert config.blocks_per_stage == [1, 1, 2, 1] and config.global_attention_blocks == [3]
    assert _run(model, processor).last_hidden_state.shape[0] == 2


def test_a_colour_quantizing_processor_holds_a_palette_the_vocabulary_matches(tmp_path):
    model, processor = _built("imagegpt", "ImageGPTForImageClassification", tmp_path)
    assert len(processor.clusters) == vision.PALETTE and model.config.vocab_size == vision.PALETTE + 1
    assert _run(model, processor).logits.shape == (2, len(vision.LABELS))


def test_timm_wrapper_wraps_timms_test_architecture_and_scores_images_apart(tmp_path):
    model, processor = _built("timm_wrapper", "TimmWrapperForImageClassification", tmp_path)
    assert model.config.architecture == vision.TIMM_MODEL
    scores = _run(model, processor).logits.softmax(-1)
    # At transformers' usual 0.02 every image would get the same scores.
    assert float((scores[0] - scores[1]).abs().max()) > 1e-3


def test_a_windowed_backbone_is_fed_squares_whatever_its_processors_default(tmp_path):
    # lw_detr's processor (deformable detr's) keeps each image's aspect by default; its
    # windows need a square image, as its detector's checkpoints save the processor.
    model, processor = _built("lw_detr_vit", "LwDetrViTBackbone", tmp_path)
    assert processor.size["height"] == processor.size["width"] == vision.IMAGE_SIZE
    assert len(_run(model, processor).feature_maps) == len(model.config.stage_names) - 1


def test_a_model_holding_a_backbone_reads_every_stage_at_a_size_its_reflection_padding_fits(tmp_path):
    # uvdoc's head is as wide as all its backbone's stages together; its 5 x 5 kernels
    # pad by reflection, which a 2 x 2 map cannot.
    model, processor = _built("uvdoc", "UVDocModel", tmp_path)
    assert model.config.backbone_config.out_features == model.config.backbone_config.stage_names[1:]
    assert processor.size["height"] == vision.REFLECT_IMAGE_SIZE
    assert _run(model, processor).last_hidden_state.shape[0] == 2


def test_a_timm_backbone_in_a_composite_is_the_architecture_its_config_names_at_tiny_widths(tmp_path):
    model, processor = _built("edgetam_vision_model", "EdgeTamVisionModel", tmp_path)
    assert model.config.backbone_config.architecture == "repvit_m1"
    assert model.config.backbone_channel_list == [128, 64, 32, 16]
    # sam2's processor also returns each image's original size, which the model refuses:
    # it takes what the processor declares.
    assert processor.model_input_names == ["pixel_values"]


def _reference(model_type, model_class, task, tmp_path):
    candidate = {"model_class": model_class, "auto_class": model_class, "processor_class": "AutoImageProcessor"}
    vision.build_tiny(model_type, candidate, str(tmp_path), 0)
    plan = dict(PLAN, task=task)
    return vision.reference(str(tmp_path), candidate, vision.cases(plan)[1], plan)


def test_a_classifier_naming_its_scores_otherwise_is_ranked_on_its_first_output(tmp_path):
    # pp_lcnet's classifier returns its scores as last_hidden_state.
    expected = _reference("pp_lcnet", "PPLCNetForImageClassification", "image-classification", tmp_path)
    assert [len(row) for row in expected["logits"]] == [len(vision.LABELS)] * 2
    assert [len(ranked) for ranked in expected["predictions"]] == [5, 5]


def test_a_first_output_already_one_vector_per_image_is_the_embedding(tmp_path):
    # radio's first output is the summary of its class tokens.
    expected = _reference("radio", "RadioModel", "feature-extraction", tmp_path)
    embeddings = expected["embeddings"]
    assert len(embeddings) == 2 and len(embeddings[0]) == len(embeddings[1])
    assert embeddings[0] != embeddings[1]


def test_an_image_to_image_reference_is_each_images_reconstruction_unclamped_and_cropped(tmp_path):
    """swin2sr: the tiny model keeps its config's initializer range, so its
    reconstruction lies inside [0, 1] rather than clamped at its ends; the reference
    gives each image upscale times its size, the processor's padding cropped off."""
    model, _ = _built("swin2sr", "Swin2SRForImageSuperResolution", tmp_path)
    images = media.pil_images(media.images(2, 0))
    expected = vision.reference(str(tmp_path), {"model_class": "Swin2SRForImageSuperResolution"},
                                vision.Case("two images", images), {"task": vision.IMAGE_TO_IMAGE})
    scale = model.config.upscale
    for image, pixels in zip(images, expected["images"]):
        values = [value for row in pixels for pixel in row for value in pixel]
        assert (len(pixels), len(pixels[0]), len(pixels[0][0])) == (image.height * scale, image.width * scale, 3)
        assert 0.0 < min(values) and max(values) < 1.0
    plan = {"task": vision.IMAGE_TO_IMAGE, "tolerance": {"rtol": 1e-4, "atol": 1e-4}}
    assert vision.compare(expected, {"images": expected["images"]}, plan).ok
    assert not vision.compare(expected, {"images": expected["images"][::-1]}, plan).ok


def test_a_timm_backbone_saved_in_a_directory_reloads_through_the_loader_that_reads_directories(tmp_path):
    """TimmBackbone's own from_pretrained takes the directory for a timm model's name;
    the tiny checkpoint (timm's test architecture, no pretrained weights) reloads through
    PreTrainedModel's loader with its every weight, and its stages after the stem out."""
    import pytest
    import torch
    import transformers

    vision.build_tiny("timm_backbone", {"model_class": "TimmBackbone"}, str(tmp_path), 0)
    with pytest.raises(Exception):
        transformers.TimmBackbone.from_pretrained(str(tmp_path))
    model = vision._from_pretrained(transformers.TimmBackbone, str(tmp_path)).eval()
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "model.safetensors"))
    assert model.config.backbone == vision.TIMM_MODEL and not model.config.use_pretrained_backbone
    assert saved and all(torch.equal(model.state_dict()[name], tensor) for name, tensor in saved.items())
    pixels = torch.rand(2, 3, vision.IMAGE_SIZE, vision.IMAGE_SIZE)
    with torch.inference_mode():
        maps = model(pixel_values=pixels).feature_maps
    assert len(maps) == len(model.config.out_indices) > 1
    assert not torch.allclose(maps[-1][0], maps[-1][1])
    assert not vision._loads_by_name_only(transformers.ResNetBackbone)


def test_a_backbone_served_for_features_embeds_its_deepest_map_and_a_recognizer_says_why_it_is_not(tmp_path):
    """hgnet_v2's feature-extraction class is its backbone: the embedding is its deepest
    feature map, pooled; mgp-str's first output is three heads' logits, no embedding."""
    import pytest

    plan = {"task": "feature-extraction", "tolerance": {"rtol": 1e-4, "atol": 1e-4}}
    model, processor = _built("hgnet_v2", "HGNetV2Backbone", tmp_path / "hgnet_v2")
    one = media.pil_images(media.images(1, 0))
    expected = vision.reference(str(tmp_path / "hgnet_v2"), {"model_class": "HGNetV2Backbone"},
                                vision.Case("one image", one), plan)
    deepest = _run(model, processor).feature_maps[-1]
    assert len(expected["embeddings"][0]) == deepest.shape[1]  # one value per channel
    vision.build_tiny("mgp-str", {"model_class": "MgpstrForSceneTextRecognition"}, str(tmp_path / "mgp"), 0)
    with pytest.raises(NotImplementedError, match="scene-text recognizer"):
        vision.reference(str(tmp_path / "mgp"), {"model_class": "MgpstrForSceneTextRecognition"},
                         vision.Case("one image", one), plan)


def test_a_model_needing_more_than_the_image_is_named_with_what_it_needs():
    import transformers

    config = transformers.SegGptConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=16, mlp_dim=16, image_size=[32, 16], patch_size=8)
    model = transformers.SegGptModel(config)
    assert vision._required_beyond(model, {"pixel_values": None}) == ["prompt_pixel_values", "prompt_masks"]
    assert vision._required_beyond(model, {"pixel_values": None, "prompt_pixel_values": None,
                                           "prompt_masks": None}) == []


def test_a_model_that_needs_a_text_prompt_embeds_an_image_alone_through_its_vision_features(tmp_path):
    """sam3: the model's forward wants input_ids; get_vision_features is its documented
    way to embed an image alone, and the reference embeds each image apart from the others."""
    plan = {"task": "feature-extraction", "tolerance": {"rtol": 1e-4, "atol": 1e-4}}
    model, processor = _built("sam3", "Sam3Model", tmp_path)
    images = media.pil_images(media.images(2, 0))
    expected = vision.reference(str(tmp_path), {"model_class": "Sam3Model"}, vision.Case("two", images), plan)
    first, second = expected["embeddings"]
    assert len(first) == model.config.vision_config.backbone_config.hidden_size
    assert max(abs(a - b) for a, b in zip(first, second)) > 1e-3
