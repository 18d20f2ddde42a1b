"""The text families' tiny-model rules for what shrink()'s sizes break (text_encoder.fit_sizes)
and how a generator is taught (text_decoder), each checked on the config or model of the
type it was learned from."""
import torch
import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from skillkit import tiny
from skillkit.families import text_decoder, text_encoder


def _tiny_config(model_type, vocab=384):
    config = CONFIG_MAPPING[model_type]()
    real_vocab = config.vocab_size
    tiny.shrink(config, vocab_size=vocab)
    text_encoder.fit_sizes(config, real_vocab)
    return config


def test_a_shared_hybrid_block_gets_a_second_layer_to_be_tied_to():
    config = _tiny_config("zamba")
    assert config.layers_block_type.count("hybrid") == 2
    assert config.num_hidden_layers == len(config.layers_block_type)


def test_layout_width_divides_into_six_coordinates_and_shrunk_heads():
    config = _tiny_config("lilt")
    assert config.hidden_size % 6 == 0
    assert config.hidden_size % (config.num_attention_heads * config.channel_shrink_ratio) == 0


def test_axial_position_widths_add_up_to_the_tiny_width():
    config = _tiny_config("reformer")
    assert sum(config.axial_pos_embds_dim) == config.hidden_size


def test_each_layer_kind_rotates_a_multiple_of_four_head_dimensions():
    config = _tiny_config("neomme")
    for kind in config.rope_parameters.values():
        rotated = int(config.head_dim * kind.get("partial_rotary_factor", 1.0))
        assert rotated >= 4 and rotated % 4 == 0


def test_the_recurrent_cache_widths_agree_with_the_layers():
    config = _tiny_config("xlstm")
    assert config.qk_dim == int(config.hidden_size * config.qk_dim_factor)
    assert config.v_dim == int(config.hidden_size * config.v_dim_factor)


def test_an_attention_sub_config_gets_the_theta_and_clip_it_is_read_for():
    config = _tiny_config("dbrx")
    assert config.attn_config.rope_theta == config.rope_parameters["rope_theta"]
    assert config.attn_config.clip_qkv is not None


def test_sub_configs_embedding_the_same_tokens_take_the_tiny_vocabulary():
    config = _tiny_config("blt")
    assert config.encoder_config.vocab_size == config.decoder_config.vocab_size == 384
    assert config.num_hidden_layers == config.encoder_config.num_hidden_layers
    assert config.global_config.hidden_size == config.encoder_config.hidden_size * config.cross_attn_k


def _batch(vocab=384):
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]])
    return {"input_ids": ids, "labels": torch.tensor([[-100, -100, 7, 8], [-100, 10, 11, 12]])}


def test_a_gated_projection_split_in_two_halves_gets_an_even_width():
    config = _tiny_config("moshi")
    assert config.ffn_dim % 2 == 0
    assert config.depth_decoder_config.ffn_dim % 2 == 0
    transformers.MoshiForCausalLM(config)  # its halves are viewed as (2, ffn_dim // 2)


def test_a_loss_that_reads_labels_at_their_own_position_is_told_from_a_causal_one():
    tiny.seed_everything(0)
    gpt2 = transformers.GPT2LMHeadModel(_tiny_config("gpt2")).eval()
    cpmant = transformers.CpmAntForCausalLM(_tiny_config("cpmant")).eval()
    assert not text_decoder._aligns_labels_with_logits(gpt2, _batch())
    assert text_decoder._aligns_labels_with_logits(cpmant, _batch())


def test_a_generator_predicting_an_appended_token_is_taught_every_step_as_generate_feeds_it():
    tiny.seed_everything(0)
    model = transformers.XLNetLMHeadModel(_tiny_config("xlnet")).eval()
    prompts, wanted = [[5, 6, 7], [8, 9]], [[10, 11, 2], [12, 13, 14, 15]]
    batch = text_decoder._steps_as_generated(model, prompts, wanted, end=2)
    assert batch["labels"].flatten().tolist() == [10, 11, 2, 12, 13, 14, 15]
    # Each row ends in the dummy token the model predicts, hidden from the others.
    assert batch["target_mapping"][:, 0, -1].eq(1).all() and batch["perm_mask"][:, :, -1].eq(1).all()
    assert batch["attention_mask"][:, -1].eq(1).all() and batch["attention_mask"][0, 0] == 0
    assert torch.isfinite(model(**batch).loss)


def test_a_latent_attention_head_is_its_two_parts_on_every_layer_kind():
    config = _tiny_config("dots3_note_text")
    config.validate()  # the sliding layers' head width must be their two parts (validate_architecture)
    for kind in dict.fromkeys(config.layer_types):
        layer = config.per_layer_config[config.layer_types.index(kind)]
        assert layer.head_dim == layer.qk_nope_head_dim + layer.qk_rope_head_dim
        # The rotary embedding of each kind rotates exactly the head's rotated part.
        assert int(layer.head_dim * config.rope_parameters[kind]["partial_rotary_factor"]) == layer.qk_rope_head_dim


def test_a_model_whose_cached_steps_differ_is_taught_to_generate_without_its_cache(tmp_path):
    candidate = {"model_class": "BltForCausalLM", "auto_class": "AutoModelForCausalLM"}
    text_decoder.build_tiny("blt", candidate, tmp_path, seed=0)
    model = transformers.BltForCausalLM.from_pretrained(tmp_path).eval()
    assert model.generation_config.use_cache is False
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path)
    prompt = tokenizer(text_decoder.PROMPTS[0])["input_ids"]
    answer = tokenizer(text_decoder.ANSWERS[0], add_special_tokens=False)["input_ids"]
    end = model.generation_config.eos_token_id
    # What generate() continues with, reading the saved generation config, is what was taught.
    assert text_decoder._greedy(model, prompt, 4, end) == answer[:3] + [end]


def test_a_gpt2_keeps_generating_with_its_cache(tmp_path):
    candidate = {"model_class": "GPT2LMHeadModel", "auto_class": "AutoModelForCausalLM"}
    text_decoder.build_tiny("gpt2", candidate, tmp_path, seed=0)
    assert transformers.GenerationConfig.from_pretrained(tmp_path).use_cache is not False
