import pytest
import torch
from transformers import (BertConfig, BertModel, BertTokenizer, CLIPConfig, Gemma3nTextConfig, Gemma3TextConfig,
                          GPT2Config, LEDConfig, LlamaConfig, LongformerConfig, PerceiverConfig,
                          MoshiConfig, Qwen2Config, SeamlessM4TConfig, T5Config)

from skillkit import tokenizers
from skillkit.tiny import even_feed_forward, save_and_verify, seed_everything, shrink


def test_seed_everything_makes_random_weights_repeatable():
    seed_everything(3)
    first = BertModel(shrink(BertConfig())).embeddings.word_embeddings.weight.clone()
    seed_everything(3)
    assert torch.equal(first, BertModel(shrink(BertConfig())).embeddings.word_embeddings.weight)


def test_shrink_sets_tiny_sizes_and_leaves_positions_alone():
    config = shrink(BertConfig())
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
            config.intermediate_size) == (32, 2, 4, 37)
    assert config.max_position_embeddings == 512 and config.vocab_size == 30522


def test_shrink_knows_other_spellings_and_derived_sizes():
    gpt2 = shrink(GPT2Config())
    assert (gpt2.n_embd, gpt2.n_layer, gpt2.n_head, gpt2.n_positions) == (32, 2, 4, 1024)
    t5 = shrink(T5Config())
    assert (t5.d_model, t5.d_kv, t5.d_ff, t5.num_layers, t5.num_decoder_layers, t5.num_heads) == \
        (32, 8, 37, 2, 2, 4)


def test_shrink_recurses_into_sub_configs_but_not_image_sizes():
    config = shrink(CLIPConfig())
    for sub in (config.text_config, config.vision_config):
        assert (sub.hidden_size, sub.num_hidden_layers, sub.num_attention_heads) == (32, 2, 4)
    assert config.vision_config.image_size == 224 and config.vision_config.patch_size == 32
    assert config.text_config.max_position_embeddings == 77


def test_shrink_keeps_the_attention_kind():
    assert shrink(LlamaConfig()).num_key_value_heads == 4  # multi-head stays multi-head
    gemma = shrink(Gemma3TextConfig())
    assert (gemma.num_attention_heads, gemma.num_key_value_heads, gemma.head_dim) == (4, 2, 8)
    # gemma3's first five layers are sliding; two tiny layers still hold both kinds.
    assert sorted(gemma.layer_types) == ["full_attention", "sliding_attention"]
    assert shrink(Qwen2Config()).layer_types == ["full_attention", "full_attention"]


def test_shrink_narrows_local_attention_windows_so_short_inputs_stay_short():
    # A window of 512 pads every input to 512 positions: teaching led took minutes.
    assert shrink(LEDConfig()).attention_window == 8
    assert shrink(LongformerConfig()).attention_window == 8


def test_shrink_narrows_per_layer_embeddings():
    # 262,144 tokens of 256 a layer: half a gigabyte even at two layers.
    assert shrink(Gemma3nTextConfig()).hidden_size_per_layer_input == 8


def test_shrink_knows_a_latent_arrays_width_and_depth():
    config = shrink(PerceiverConfig())  # 26 self-attentions of width 1280: 8 s a forward
    assert (config.d_latents, config.num_self_attends_per_block) == (32, 2)


def test_shrink_applies_overrides_last():
    config = shrink(BertConfig(), vocab_size=99, num_hidden_layers=3)
    assert (config.vocab_size, config.num_hidden_layers, config.hidden_size) == (99, 3, 32)


def _tiny_bert():
    vocab = tokenizers.wordpiece_vocab(200)
    seed_everything(0)
    return BertModel(shrink(BertConfig(), vocab_size=len(vocab))), BertTokenizer(vocab=vocab)


def test_save_and_verify_accepts_a_model_that_reloads_exactly(tmp_path):
    model, tokenizer = _tiny_bert()
    save_and_verify(model, tokenizer, str(tmp_path))
    assert (tmp_path / "config.json").is_file() and (tmp_path / "tokenizer.json").is_file()


class _BertSavingLess(BertModel):
    """Leaves a weight out of its checkpoint, as a buggy model class might."""
    _keys_to_ignore_on_save = ["pooler.dense.weight"]


def test_save_and_verify_rejects_weights_missing_at_reload(tmp_path):
    model, tokenizer = _tiny_bert()
    model = _BertSavingLess(model.config)
    with pytest.raises(RuntimeError, match="missing_keys: .*pooler.dense.weight"):
        save_and_verify(model, tokenizer, str(tmp_path))


def test_shrink_sizes_mixture_of_experts_for_grouped_matmul():
    from transformers import DeepseekV3Config, MixtralConfig
    mixtral = shrink(MixtralConfig())
    # Grouped matmul kernels need 16-byte strides: a multiple of 4 float32s.
    assert (mixtral.num_local_experts, mixtral.num_experts_per_tok, mixtral.intermediate_size) == (4, 2, 44)
    deepseek = shrink(DeepseekV3Config())
    assert (deepseek.n_routed_experts, deepseek.n_group, deepseek.topk_group) == (4, 2, 1)
    assert deepseek.first_k_dense_replace == 1 and deepseek.moe_intermediate_size == 44
    # Multi-head latent attention: per-head parts one head wide, low ranks small.
    assert (deepseek.qk_rope_head_dim, deepseek.qk_nope_head_dim, deepseek.v_head_dim,
            deepseek.qk_head_dim, deepseek.kv_lora_rank) == (8, 8, 8, 16, 16)


def test_shrink_writes_out_head_sizes_left_to_derivation():
    from transformers import NemotronConfig
    config = NemotronConfig()
    config.num_key_value_heads = None
    shrink(config)
    assert config.num_key_value_heads == 4


def test_shrink_cuts_every_per_layer_list():
    from transformers import AutoConfig
    config = AutoConfig.for_model("cohere2_moe")
    shrink(config)
    assert len(config.layer_types) == len(config.mlp_layer_types) == config.num_hidden_layers == 2


def test_a_feed_forward_width_the_config_wants_even_is_made_even():
    config = MoshiConfig()
    config.ffn_dim = config.depth_decoder_config.ffn_dim = 37  # as shrink leaves them
    even_feed_forward(config)
    assert config.ffn_dim == 38 and config.depth_decoder_config.ffn_dim == 38
    # A width no validator asks to be even stays as shrink made it.
    other = SeamlessM4TConfig()
    other.encoder_ffn_dim = 37
    even_feed_forward(other)
    assert other.encoder_ffn_dim == 37
