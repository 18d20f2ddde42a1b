"""The image-text-to-text family: its tiny-model recipe, its reference and its generated
skillset, on real tiny models (llava, the reference type; paligemma, whose processor
writes the image tokens itself and reads their count off its image processor)."""
import inspect
import subprocess
from pathlib import Path

import pytest
import torch
from skillkit import greedy, media, skillset, tiny
from skillkit.families import Case
from skillkit.families import image_text_to_text as family
from skillkit.output_check import schema_violation
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    LlavaConfig,
    MllamaConfig,
    Qwen2VLConfig,
)
from transformers.models.qwen2_vl import modeling_qwen2_vl

ROOT = Path(__file__).resolve().parents[2]
PLAN = {"seed": 0, "generation": {"max_new_tokens": 8}, "tolerance": {"rtol": 1e-4, "atol": 1e-4}}
LLAVA = {"model_class": "LlavaForConditionalGeneration", "auto_class": "AutoModelForImageTextToText"}


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("llava")
    family.build_tiny("llava", LLAVA, str(out), PLAN["seed"])
    return out


@pytest.fixture(scope="module")
def llava_skillset(tmp_path_factory, llava_dir):
    """The generated llava skillset, serving the tiny llava on the CPU."""
    out = tmp_path_factory.mktemp("llava-skillset")
    done = subprocess.run([str(ROOT / "bin" / "gen-skillset"), "-q", "-o", str(out), "llava"],
                          check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    instance = skillset.instantiate(out / "hf_llava.py", "llava")
    return instance, instance.init_cpu(str(llava_dir))[2]


def test_llava_tiny_model_has_as_many_image_tokens_in_its_prompt_as_its_vision_tower_gives_features(llava_dir):
    processor = AutoProcessor.from_pretrained(llava_dir)
    model = AutoModelForImageTextToText.from_pretrained(llava_dir).eval()
    # The chat template writes the image as the processor's image token, which the
    # processor expands to one per patch, less CLIP's class token that llava drops.
    text = family.prompt(processor, family.PROMPTS[0])
    assert text.count(processor.image_token) == 1
    inputs = processor(images=media.images(1, 0), text=text, return_tensors="pt")
    patches = (model.config.vision_config.image_size // model.config.vision_config.patch_size) ** 2
    assert (inputs["input_ids"] == model.config.image_token_index).sum().item() == patches
    with torch.no_grad():
        assert model(**inputs).logits.shape[-1] == len(processor.tokenizer)


def test_reference_answers_each_input_alone_with_the_new_tokens_only(llava_dir):
    cases = {case.name: case for case in family.cases(PLAN)}
    pair = family.reference(llava_dir, LLAVA, cases["two images of different sizes, prompts of different lengths"],
                            PLAN)
    assert [len(tokens) for tokens in pair["token_ids"]] == [8, 8]  # min_new_tokens: no prompt token among them
    first = cases["two images of different sizes, prompts of different lengths"].input[0]
    alone = family.reference(llava_dir, LLAVA, Case("the first alone", first, {"max_new_tokens": 8,
                                                                            "min_new_tokens": 8}), PLAN)
    assert alone["token_ids"][0] == pair["token_ids"][0]
    assert len(pair.margins) == 2 and all(len(steps) == 8 for steps in pair.margins)


def test_generated_skillset_gives_the_reference_tokens_and_texts_on_every_case(llava_dir, llava_skillset):
    _, handler = llava_skillset
    for case in family.cases(PLAN):
        expected = family.reference(llava_dir, LLAVA, case, PLAN)
        result = handler(case.input, **case.options)
        assert greedy.compare(expected, result, PLAN).ok, case.name
        assert result["implementation_type"] == "REAL" and result["backend"] == "cpu"


def test_generated_skillset_answers_a_batch_of_same_shaped_inputs_as_each_alone(llava_skillset):
    # The same prompt about two images that llava's processor resizes to one size: one
    # generate() call for both, which must change nothing.
    _, handler = llava_skillset
    first, second = media.images(2, 3)
    inputs = [{"image": first, "text": family.PROMPTS[0]}, {"image": media.png(second), "text": family.PROMPTS[0]}]
    together = handler(inputs, max_new_tokens=6, min_new_tokens=6)
    alone = [handler(item, max_new_tokens=6, min_new_tokens=6)["token_ids"][0] for item in inputs]
    assert together["token_ids"] == alone


def test_handler_result_matches_the_output_schema(llava_skillset):
    _, handler = llava_skillset
    result = handler({"images": [media.images(1, 1)[0]], "text": "Hello"}, max_new_tokens=4)
    assert schema_violation(result, "image-text-to-text") is None
    assert len(result["token_ids"]) == len(result["texts"]) == 1


def test_any_to_any_skillset_loads_the_same_model_and_gives_the_reference_tokens(tmp_path, llava_dir):
    # any-to-any's class (AutoModelForMultimodalLM) is the image-text-to-text one: one
    # handler serves both, loaded through the task's own auto class.
    done = subprocess.run([str(ROOT / "bin" / "gen-skillset"), "-q", "--task", "any-to-any", "-o", str(tmp_path),
                           "llava"], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "AutoModelForMultimodalLM.from_pretrained" in (tmp_path / "hf_llava.py").read_text()
    instance = skillset.instantiate(tmp_path / "hf_llava.py", "llava")
    handler = instance.init_cpu(str(llava_dir))[2]
    candidate = dict(LLAVA, auto_class="AutoModelForMultimodalLM")
    case = family.cases(PLAN)[1]
    result = handler(case.input, **case.options)
    assert greedy.compare(family.reference(llava_dir, candidate, case, PLAN), result, PLAN).ok
    assert schema_violation(result, "any-to-any") is None


@pytest.mark.parametrize("bad_input, error", [
    ({"image": None, "text": "no image"}, TypeError),
    ({"image": "unused.png"}, TypeError),
    ("a prompt alone", TypeError),
    ({"images": [1, 2], "text": "two images"}, ValueError),
])
def test_handler_refuses_an_input_that_is_not_one_image_and_a_prompt(llava_skillset, bad_input, error):
    _, handler = llava_skillset
    with pytest.raises(error):
        handler(bad_input)


@pytest.mark.parametrize("backend", ["openvino", "onnx", "webnn", "transformersjs_node", "webgpu"])
def test_backends_without_a_converted_generation_path_say_unimplemented(llava_skillset, llava_dir, backend):
    instance, _ = llava_skillset
    init = getattr(instance, f"init_{backend}")
    with pytest.raises(instance.BackendUnavailable) as raised:
        if backend == "openvino":
            init(str(llava_dir), "llava", "openvino:0", "openvino:0")
        else:
            init(str(llava_dir))
    assert raised.value.reason == "unimplemented"


def test_paligemma_processor_expands_its_image_tokens_to_the_configs_count(tmp_path):
    candidate = {"model_class": "PaliGemmaForConditionalGeneration", "auto_class": "AutoModelForImageTextToText"}
    family.build_tiny("paligemma", candidate, str(tmp_path), 0)
    processor = AutoProcessor.from_pretrained(tmp_path)
    config = AutoModelForImageTextToText.from_pretrained(tmp_path).config
    inputs = processor(images=media.images(1, 0), text=family.prompt(processor, "caption"), return_tensors="pt")
    assert (inputs["input_ids"] == config.image_token_id).sum().item() == processor.image_seq_length
    expected = family.reference(tmp_path, candidate, family.cases(PLAN)[0], PLAN)
    assert len(expected["token_ids"][0]) == 8


def test_feature_layers_stay_within_the_tiny_towers_and_the_projector_width_follows():
    config = MllamaConfig()
    tiny.shrink(config)
    family._clamp_feature_layers(config)
    vision, text = config.vision_config, config.text_config
    assert len(vision.intermediate_layers_indices) == 5  # the projector concatenates as many
    assert all(-vision.num_hidden_layers <= i < vision.num_hidden_layers for i in vision.intermediate_layers_indices)
    assert vision.vision_output_dim == vision.hidden_size * 6
    assert vision.num_global_layers <= tiny.LAYERS
    assert all(0 <= i < text.num_hidden_layers for i in text.cross_attention_layers)


def test_multimodal_rotary_sections_span_half_the_tiny_head():
    # qwen2_vl's config names no sections; its modeling code falls back on [16, 24, 24].
    config = Qwen2VLConfig()
    tiny.shrink(config)
    family._scale_mrope_sections(config, inspect.getsource(modeling_qwen2_vl))
    text = config.text_config
    sections = text.rope_parameters["mrope_section"]
    assert len(sections) == 3 and min(sections) >= 1
    assert sum(sections) == text.hidden_size // text.num_attention_heads // 2


def test_an_odd_grid_of_patches_gets_one_patch_more_a_side():
    config = LlavaConfig()
    config.vision_config.image_size, config.vision_config.patch_size = 384, 14  # 27 a side
    family._even_patch_grid(config)
    assert config.vision_config.image_size == 28 * 14


@pytest.mark.parametrize("model_type, model_class", [
    ("gemma3", "Gemma3ForConditionalGeneration"),  # a projection matrix of zeros
    ("mllama", "MllamaForConditionalGeneration"),  # cross-attention gates of zeros
])
def test_tiny_models_whose_image_path_starts_closed_answer_different_images_differently(
        model_type, model_class, tmp_path):
    candidate = {"model_class": model_class, "auto_class": "AutoModelForImageTextToText"}
    family.build_tiny(model_type, candidate, str(tmp_path), 0)
    options = {"max_new_tokens": 4, "min_new_tokens": 4}
    answers = {tuple(family.reference(tmp_path, candidate, Case("one", {"image": image, "text": family.PROMPTS[0]},
                                                                 options), PLAN)["token_ids"][0])
               for image in media.images(3, 0)}
    assert len(answers) > 1


def test_a_type_the_processor_table_misses_takes_the_processor_its_model_package_defines():
    import transformers
    processor_class = family._processor_class("kosmos-2", transformers.Kosmos2ForConditionalGeneration)
    assert processor_class is transformers.Kosmos2Processor


def test_a_self_patching_image_processor_takes_the_vision_configs_patch_sizes(tmp_path):
    # qwen3_vl's tower takes 16-pixel patches; Qwen2VLImageProcessor defaults to 14.
    candidate = {"model_class": "Qwen3VLForConditionalGeneration", "auto_class": "AutoModelForImageTextToText"}
    family.build_tiny("qwen3_vl", candidate, str(tmp_path), PLAN["seed"])
    processor = AutoProcessor.from_pretrained(tmp_path)
    model = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    assert processor.image_processor.patch_size == model.config.vision_config.patch_size == 16
    assert family.reference(tmp_path, candidate, family.cases(PLAN)[0], PLAN)["token_ids"][0]


def test_a_towers_width_under_another_name_follows_it_but_pixel_sizes_do_not():
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    config = CONFIG_MAPPING["dots3_note"]()
    before = {id(sub): dict(vars(sub)) for sub in tiny.configs(config)}
    tiny.shrink(config)
    family._follow_widths(config, before)
    vision = config.vision_config
    assert (vision.adapter_in_dim, vision.adapter_out_dim) == (vision.hidden_size, config.text_config.hidden_size)
    # got_ocr2's image_size is 1024 pixels, as wide as its tower was: it stays.
    config = CONFIG_MAPPING["got_ocr2"]()
    before = {id(sub): dict(vars(sub)) for sub in tiny.configs(config)}
    tiny.shrink(config)
    family._follow_widths(config, before)
    assert config.vision_config.image_size == 1024


def test_a_type_without_a_processor_takes_that_of_the_model_its_code_derives_from():
    import transformers
    # glm_ocr's modular file derives it from glm4v; transformers' table lists no processor for it.
    processor_class = family._processor_class("glm_ocr", transformers.GlmOcrForConditionalGeneration)
    assert processor_class is transformers.Glm4vProcessor


def test_the_configs_image_token_is_the_one_the_processor_repeats_in_the_images_place(tmp_path):
    # ovis2's processor expands the user's <image> into <IMG_ATOM> tokens, which its model counts.
    candidate = {"model_class": "Ovis2ForConditionalGeneration", "auto_class": "AutoModelForImageTextToText"}
    family.build_tiny("ovis2", candidate, str(tmp_path), PLAN["seed"])
    processor = AutoProcessor.from_pretrained(tmp_path)
    config = AutoModelForImageTextToText.from_pretrained(tmp_path).config
    assert config.image_token_id == processor.tokenizer.convert_tokens_to_ids("<IMG_ATOM>")
    assert len(family.reference(tmp_path, candidate, family.cases(PLAN)[0], PLAN)["token_ids"][0]) == 8


def test_a_projectors_patch_table_and_the_processors_size_table_agree_through_the_patch_size():
    import transformers
    from skillkit import tokenizers

    config = transformers.AriaConfig()
    tiny.shrink(config)
    tokenizer, _ = tokenizers.for_processor("aria", transformers.AriaProcessor, family.VOCAB_SIZE, family.ROLES)
    processor = transformers.AriaProcessor(image_processor=transformers.AriaImageProcessor(), tokenizer=tokenizer)
    family._match_patch_queries(config, processor)
    size, patch = processor.image_processor.max_image_size, config.vision_config.patch_size
    patches = (size // patch) ** 2
    assert size % patch == 0 and patches in config.projector_patch_to_query_dict
    assert config.projector_patch_to_query_dict[patches] == processor.size_conversion[size]


def test_tokens_a_processor_names_as_class_constants_are_in_the_tiny_vocabulary():
    import transformers
    from skillkit import tokenizers

    processor_class = transformers.MiniMaxM3VLProcessor
    tokenizer, _ = tokenizers.for_processor("minimax_m3_vl", processor_class, family.VOCAB_SIZE, family.ROLES)
    family._add_class_tokens(tokenizer, processor_class)
    assert processor_class.IMAGE_TOKEN in tokenizer.get_vocab()
    assert len(tokenizer(processor_class.IMAGE_TOKEN, add_special_tokens=False)["input_ids"]) == 1


def test_a_q_former_processor_gets_the_tiny_tokenizer_and_its_image_token_as_it_adds_it(tmp_path):
    # instructblip's processor adds <image> as an AddedToken where the tokenizer has none.
    candidate = {"model_class": "InstructBlipForConditionalGeneration", "auto_class": "AutoModelForImageTextToText"}
    family.build_tiny("instructblip", candidate, str(tmp_path), PLAN["seed"])
    assert len(family.reference(tmp_path, candidate, family.cases(PLAN)[0], PLAN)["token_ids"][0]) == 8


def test_a_model_that_reads_mm_token_type_ids_gets_them_from_its_reloaded_processor(tmp_path):
    # cosmos3_edge's processor returns them only when asked; its M-RoPE needs them.
    candidate = {"model_class": "Cosmos3EdgeForConditionalGeneration", "auto_class": "AutoModelForImageTextToText"}
    family.build_tiny("cosmos3_edge", candidate, str(tmp_path), PLAN["seed"])
    processor = AutoProcessor.from_pretrained(tmp_path)
    inputs = processor(images=media.images(1, 0), text=family.prompt(processor, "caption"), return_tensors="pt")
    assert "mm_token_type_ids" in inputs and inputs["mm_token_type_ids"].any()
    assert len(family.reference(tmp_path, candidate, family.cases(PLAN)[0], PLAN)["token_ids"][0]) == 8


def test_a_pixel_shuffling_tower_widens_its_mlp_and_its_projector_reads_the_tower_width():
    from transformers import Llama4Config

    config = Llama4Config()
    tiny.shrink(config)
    family._pixel_shuffle_widths(config)
    vision = config.vision_config
    assert vision.intermediate_size == vision.hidden_size * 4  # 2 x 2 patches into one
    assert vision.projector_input_dim == vision.projector_output_dim == vision.vision_output_dim == vision.hidden_size


def test_the_image_token_the_model_counts_is_the_one_the_processor_repeats_per_feature(tmp_path):
    # llama4's processor writes <|image|> once and <|patch|> once per image feature.
    candidate = {"model_class": "Llama4ForConditionalGeneration", "auto_class": "AutoModelForImageTextToText"}
    family.build_tiny("llama4", candidate, str(tmp_path), PLAN["seed"])
    processor = AutoProcessor.from_pretrained(tmp_path)
    config = AutoModelForImageTextToText.from_pretrained(tmp_path).config
    assert config.image_token_index == processor.tokenizer.convert_tokens_to_ids("<|patch|>")
    assert len(family.reference(tmp_path, candidate, family.cases(PLAN)[0], PLAN)["token_ids"][0]) == 8


def _tiny_config(model_type):
    """The type's default config shrunk as build_tiny shrinks it, and its sizes before."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    config = CONFIG_MAPPING[model_type]()
    before = {id(sub): dict(vars(sub)) for sub in tiny.configs(config)}
    family._underive_layer_indices(config)
    tiny.shrink(config)
    family._follow_widths(config, before)
    return config


def test_a_sam_neck_hands_the_encoder_beside_it_the_encoders_tiny_width():
    vision = _tiny_config("unlimited_ocr").vision_config
    family._neck_feeds_its_sibling(vision)
    assert vision.sam_config.downsample_channels[-1] == vision.encoder_config.hidden_size


def test_layer_indices_a_config_derives_from_its_depth_are_derived_for_the_tiny_depth():
    text = _tiny_config("mistral_large4").text_config
    assert text.kv_source_layers == list(range(text.num_hidden_layers))


def test_sizes_a_config_derives_again_on_reload_are_the_ones_the_model_is_built_with():
    config = _tiny_config("step3p7")
    family._as_reloaded(config)
    vision = config.vision_config
    assert vision.intermediate_size == int(vision.hidden_size * vision.mlp_ratio)


def test_a_token_id_the_model_reads_but_its_config_lacks_takes_a_sibling_configs_default():
    import transformers
    from transformers.models.qwen2_5_omni import modeling_qwen2_5_omni

    config = _tiny_config("qwen2_5_omni_thinker")
    assert not hasattr(config, "vision_start_token_id")
    family._declare_read_token_ids(config, inspect.getsource(modeling_qwen2_5_omni))
    assert config.vision_start_token_id == transformers.Qwen2_5OmniTalkerConfig.vision_start_token_id


def test_rotary_parameters_read_per_layer_kind_are_given_for_each_kind_with_tiny_sections():
    from transformers.models.cohere_compass import modeling_cohere_compass

    source = inspect.getsource(modeling_cohere_compass)
    text = _tiny_config("cohere_compass").text_config
    family._rope_per_layer_kind(text, source)
    family._scale_mrope_sections(text, source)
    assert set(text.rope_parameters) == set(text.layer_types)
    for rope in text.rope_parameters.values():
        assert sum(rope["mrope_section"]) == text.head_dim // 2


def test_experts_and_an_indexer_the_defaults_leave_unnamed_get_tiny_sizes():
    from transformers.models.diffusion_gemma import modeling_diffusion_gemma

    text = _tiny_config("diffusion_gemma").text_config
    family._name_unnamed_experts(text, inspect.getsource(modeling_diffusion_gemma))
    assert (text.num_experts, text.top_k_experts) == (tiny.EXPERTS, tiny.EXPERTS_PER_TOKEN)
    text = _tiny_config("qwen4_exp").text_config
    family._name_unnamed_indexer(text)
    assert text.indexer_budget % text.indexer_compress_ratio == 0 and text.indexer_kv_heads == 1


def test_required_multimodal_rotary_axes_are_given_with_one_of_sequence_positions():
    # hunyuan_vl's default config names no sections; its code requires at least 3 axes.
    from transformers import HunYuanVLConfig
    from transformers.models.hunyuan_vl import modeling_hunyuan_vl

    config = HunYuanVLConfig()
    tiny.shrink(config)
    family._required_mrope_axes(config, inspect.getsource(modeling_hunyuan_vl))
    text = config.text_config
    sections = text.rope_parameters["mrope_section"]
    head_dim = text.head_dim or text.hidden_size // text.num_attention_heads
    assert len(sections) == 4 and min(sections) >= 1 and sum(sections) == head_dim // 2


def test_prompt_is_the_text_alone_for_a_processor_that_writes_the_image_token_itself(tmp_path):
    # florence2's processor prepends its image token, and its class keeps no chat template.
    candidate = {"model_class": "Florence2ForConditionalGeneration", "auto_class": "AutoModelForImageTextToText"}
    family.build_tiny("florence2", candidate, str(tmp_path), PLAN["seed"])
    processor = AutoProcessor.from_pretrained(tmp_path)
    assert not processor.chat_template
    [image] = media.images(1, 0)
    assert family.prompt(processor, "caption", image) == "caption"
    inputs = processor(images=[image], text="caption", return_tensors="pt")
    assert (inputs["input_ids"] == processor.image_token_id).sum().item() == processor.num_image_tokens
    assert len(family.reference(tmp_path, candidate, family.cases(PLAN)[0], PLAN)["token_ids"][0]) == 8


def test_prompt_without_a_chat_template_puts_the_image_token_before_the_text(llava_dir):
    # llava's processor counts the image tokens in the text: it wants one written.
    processor = AutoProcessor.from_pretrained(llava_dir)
    processor.chat_template = None
    [image] = media.images(1, 0)
    assert family.prompt(processor, "caption", image) == processor.image_token + "caption"


def test_a_processor_that_writes_no_image_tokens_gets_a_chat_template_writing_one_per_feature(tmp_path):
    # pp_chart2table's processor writes none; its checkpoint's chat template writes 256.
    candidate = {"model_class": "GotOcr2ForConditionalGeneration", "auto_class": "AutoModelForImageTextToText"}
    family.build_tiny("pp_chart2table", candidate, str(tmp_path), PLAN["seed"])
    processor = AutoProcessor.from_pretrained(tmp_path)
    model = AutoModelForImageTextToText.from_pretrained(tmp_path)
    features = family._features_per_image(model, processor.image_processor)
    token = processor.tokenizer.convert_ids_to_tokens(model.config.image_token_id)
    assert family.prompt(processor, "caption").count(token) == features > 1
    assert len(family.reference(tmp_path, candidate, family.cases(PLAN)[0], PLAN)["token_ids"][0]) == 8


@pytest.mark.parametrize("model_type, model_class", [
    ("chameleon", "ChameleonForConditionalGeneration"),
    ("emu3", "Emu3ForConditionalGeneration"),
])
def test_an_image_quantizers_codes_are_tokens_of_the_tiny_vocabulary_its_model_maps_them_to(model_type, model_class):
    import importlib

    import transformers
    from skillkit import tokenizers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    model = getattr(transformers, model_class)
    tokenizer, _ = tokenizers.for_processor(model_type, family._processor_class(model_type, model), 384, family.ROLES)
    config = CONFIG_MAPPING[model_type]()
    family._image_vocabulary(config, tokenizer, model)
    mapping_class = next(value for name, value in vars(importlib.import_module(model.__module__)).items()
                         if name.endswith("ImageVocabularyMapping"))
    mapping = mapping_class(config.vocabulary_map)
    # Every code of the tiny codebook is a token of its own, within the tiny vocabulary.
    assert sorted(mapping.img2bpe) == list(range(family.CODEBOOK))
    assert len(set(mapping.img2bpe.values())) == family.CODEBOOK
    assert max(mapping.img2bpe.values()) < len(tokenizer)
    assert mapping.image_token_id == config.image_token_id == tokenizer.convert_tokens_to_ids("<image>")
    # emu3's end of line, which its mapping looks up by name, is a token too.
    assert getattr(mapping, "eol_token_id", 0) is not None


def test_an_image_quantizers_attention_is_as_wide_as_its_last_levels_channels():
    config = _tiny_config("emu3")
    family._quantizer_widths(config)
    quantizer = config.vq_config
    assert quantizer.hidden_size == quantizer.base_channels * quantizer.channel_multiplier[-1]
    assert quantizer.temporal_downsample_factor == 1


def test_a_window_q_former_projector_gets_a_rate_a_layer_map_and_heads_of_64():
    import transformers

    config = _tiny_config("granite4_vision")
    family._window_projector(config, transformers.Granite4VisionForConditionalGeneration)
    family._clamp_feature_layers(config)
    reloaded = type(config).from_dict(config.to_dict())
    assert reloaded.downsample_rate == "1/2" and reloaded.deepstack_layer_map == [(-1, 0)]
    assert reloaded.qformer_config.num_attention_heads >= 1
    assert all(layer < reloaded.text_config.num_hidden_layers for layer in reloaded.spatial_target_layers)


def test_a_head_that_was_a_layer_kinds_nope_and_rope_parts_stays_their_sum_and_reloads():
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    config = CONFIG_MAPPING["dots3_note"]()
    before = {id(sub): dict(vars(sub)) for sub in tiny.configs(config)}
    summed = family._summed_head_dims(config)
    tiny.shrink(config)
    family._sum_head_dims(summed)
    family._follow_widths(config, before)
    text = type(config).from_dict(config.to_dict()).text_config  # its validator checks the sliding layers' sum
    sliding = text.per_layer_config[text.layer_types.index("sliding_attention")]
    assert text.head_dim == sliding.qk_nope_head_dim + sliding.qk_rope_head_dim
    for kind in set(text.layer_types):
        layer = text.per_layer_config[text.layer_types.index(kind)]
        assert text.head_dim * text.rope_parameters[kind]["partial_rotary_factor"] == layer.qk_rope_head_dim
