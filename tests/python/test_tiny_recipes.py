"""Tiny-model recipes: each shrink rule builds and runs a real tiny model of a type it covers."""
import torch
import transformers
from skillkit.families import audio_ctc, vision
from skillkit.tiny import seed_everything, shrink
from transformers import AutoConfig


def _tiny(model_type, model_class, **overrides):
    seed_everything(0)
    config = shrink(AutoConfig.for_model(model_type), **overrides)
    return config, getattr(transformers, model_class)(config).eval()


def _generates(model):
    """Greedy generation through the model's cache, the path hybrids failed on."""
    with torch.no_grad():
        ids = model.generate(torch.tensor([[1, 2, 3]]), do_sample=False, max_new_tokens=3, min_new_tokens=3,
                             pad_token_id=0)
    return ids.shape == (1, 6)


def test_hybrid_keeps_an_attention_layer_for_generate_cache():
    # bamba lists attention layers by index, jamba by period and offset,
    # granitemoehybrid lists none by default, recurrent_gemma repeats a pattern.
    for model_type, model_class in (("bamba", "BambaForCausalLM"), ("jamba", "JambaForCausalLM"),
                                    ("granitemoehybrid", "GraniteMoeHybridForCausalLM"),
                                    ("recurrent_gemma", "RecurrentGemmaForCausalLM")):
        config, model = _tiny(model_type, model_class, vocab_size=64)
        assert len(config.layer_types) == 2 and config.layer_types[0] != config.layer_types[1], model_type
        assert _generates(model), model_type


def test_state_space_heads_span_the_expanded_width():
    config, model = _tiny("mamba2", "Mamba2ForCausalLM", vocab_size=64)
    assert config.num_heads * config.head_dim == config.expand * config.hidden_size
    assert config.num_heads % config.n_groups == 0
    assert _generates(model)
    # falcon_h1 names the inner width, which must follow.
    config, model = _tiny("falcon_h1", "FalconH1ForCausalLM", vocab_size=64)
    assert config.mamba_n_heads * config.mamba_d_head == config.mamba_d_ssm == config.mamba_expand * 32
    assert _generates(model)


def test_sizes_the_config_derives_follow_the_tiny_width():
    config, model = _tiny("rwkv", "RwkvForCausalLM", vocab_size=64)
    assert config.attention_hidden_size == config.hidden_size == 32
    assert _generates(model)
    xlstm = shrink(AutoConfig.for_model("xlstm"))
    assert (xlstm.embedding_dim, xlstm.num_blocks) == (xlstm.hidden_size, xlstm.num_hidden_layers)


def test_per_layer_overrides_follow_the_layers_they_were_cut_from():
    # gemma4's full-attention layers have twice the head width of its sliding ones.
    config, model = _tiny("gemma4_text", "Gemma4ForCausalLM", vocab_size=64)
    assert config.layer_types == ["sliding_attention", "full_attention"]
    assert [config.per_layer_config[layer].head_dim for layer in (0, 1)] == [8, 16]
    assert _generates(model)


def test_sizes_listed_per_layer_are_cut_with_the_layers():
    config, model = _tiny("laguna", "LagunaForCausalLM", vocab_size=64)
    assert config.num_attention_heads_per_layer == [4, 4]
    assert _generates(model)


def test_numbers_listed_per_layer_follow_the_tiny_depth():
    # gemma3n lists its feed-forward width and activation sparsity per layer.
    config, model = _tiny("gemma3n_text", "Gemma3nForCausalLM", vocab_size=64)
    assert config.intermediate_size == [37, 37]
    assert len(config.activation_sparsity_pattern) == 2
    assert _generates(model)


def test_a_cache_sharing_tail_keeps_a_layer_producing_each_kind_it_reads():
    # gemma3n's last 15 of 35 layers reuse earlier caches; two layers of two kinds leave
    # none to share.
    config = shrink(AutoConfig.for_model("gemma3n_text"))
    assert config.layer_types == ["sliding_attention", "full_attention"] and config.num_kv_shared_layers == 0
    config = shrink(AutoConfig.for_model("gemma3n_text"), num_hidden_layers=4)
    assert config.layer_types == ["sliding_attention", "full_attention", "sliding_attention", "sliding_attention"]
    assert config.num_kv_shared_layers == 2


def test_kinds_given_as_a_repeated_pattern_follow_the_tiny_depth():
    # gpt_neo's [[["global", "local"], 12]] derives its 24 attention_layers.
    config, model = _tiny("gpt_neo", "GPTNeoForCausalLM", vocab_size=64)
    assert config.attention_types == [[["global", "local"], 1]]
    assert config.attention_layers == ["global", "local"]
    assert _generates(model)


def test_kinds_left_none_but_read_by_the_model_are_written_out():
    # lfm2_moe leaves layer_types None by default and indexes it per layer.
    config, model = _tiny("lfm2_moe", "Lfm2MoeForCausalLM", vocab_size=64)
    assert config.layer_types == ["full_attention", "full_attention"]
    assert _generates(model)


def test_shared_experts_left_unnamed_are_one():
    config, model = _tiny("dots1", "Dots1ForCausalLM", vocab_size=64)
    assert config.n_shared_experts == 1
    assert _generates(model)


def test_cross_attention_reads_the_tiny_encoder_width():
    config, model = _tiny("blip", "BlipModel")
    assert config.text_config.encoder_hidden_size == config.vision_config.hidden_size == 32
    with torch.no_grad():
        output = model(input_ids=torch.tensor([[1, 2, 3]]), pixel_values=torch.randn(1, 3, 384, 384))
    assert output.logits_per_image.shape == (1, 1)
    # t5gemma's config derives its decoder's from the encoder's width.
    config, model = _tiny("t5gemma", "T5GemmaForConditionalGeneration")
    assert config.decoder.cross_attention_hidden_size == config.encoder.hidden_size == 32
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[1, 2, 3]]), decoder_input_ids=torch.tensor([[0, 4]])).logits
    assert logits.shape[:2] == (1, 2)


def _classifies(model_type, model_class, tmp_path):
    vision.build_tiny(model_type, {"model_class": model_class}, str(tmp_path), 0)
    model = getattr(transformers, model_class).from_pretrained(tmp_path).eval()
    with torch.no_grad():
        logits = model(pixel_values=torch.randn(1, 3, vision.IMAGE_SIZE, vision.IMAGE_SIZE)).logits
    return model.config, logits.shape == (1, len(vision.LABELS))


def test_hierarchical_models_keep_their_stages_and_windows(tmp_path):
    config, classifies = _classifies("swin", "SwinForImageClassification", tmp_path / "swin")
    assert classifies and config.depths == [1, 1, 1, 1] and config.num_layers == 4
    assert config.hidden_size == config.embed_dim * 8  # the last stage's width, derived
    config, classifies = _classifies("convnext", "ConvNextForImageClassification", tmp_path / "convnext")
    assert classifies and config.num_stages == 4 and config.depths == [1, 1, 1, 1]


def test_backbone_stages_follow_the_tiny_depth(tmp_path):
    config, classifies = _classifies("beit", "BeitForImageClassification", tmp_path)
    assert classifies and config.stage_names == ["stem", "stage1", "stage2"]
    assert config.out_features == ["stage2"]


def test_ctc_model_of_spectrogram_features_gets_its_own_feature_extractor(tmp_path):
    audio_ctc.build_tiny("parakeet_ctc", {"model_class": "ParakeetForCTC", "auto_class": "AutoModelForCTC"}, str(tmp_path), 0)
    processor = transformers.AutoProcessor.from_pretrained(tmp_path)
    features = processor.feature_extractor(torch.randn(16000).numpy(), sampling_rate=16000, return_tensors="pt")
    model = transformers.ParakeetForCTC.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert model(**features).logits.shape[-1] == len(audio_ctc.VOCABULARY)


def test_a_declared_label_count_follows_the_labels(tmp_path):
    config, classifies = _classifies("pvt", "PvtForImageClassification", tmp_path)
    assert classifies and config.num_labels == len(vision.LABELS)
