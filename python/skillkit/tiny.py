"""Tiny random models built offline: seeding, config (and image processor) shrinking and
a strict save/reload.

Models are built from their config class with random weights, never downloaded, so the
tests run anywhere. What matters is that the tiny model is a faithful instance of the
architecture (every code path of the real one) and that what is saved is exactly what
loads back.
"""
import os
import random

import numpy as np
import torch
import transformers
from transformers import PreTrainedConfig
from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES

HIDDEN = 32
LAYERS = 2
HEADS = 4
INTERMEDIATE = 37  # deliberately not a multiple of anything: catches shape assumptions
EXPERTS = 4
EXPERTS_PER_TOKEN = 2
# Mixture-of-experts layers run on grouped matmul kernels that need 16-byte row strides:
# a multiple of 4 float32s, and still of no power of two beyond that.
EXPERT_INTERMEDIATE = 44
# Multi-head latent attention (deepseek_v2 and kin): the low-rank projections' widths.
LORA_RANK = 16

# Size attributes set when present (and an int: lists such as swin's per-stage depths
# are architecture specific and left to the family). Position, image, patch, frame and
# mel sizes are never listed: they are tied to what the processor produces, and
# shrinking one without the processor breaks the model.
_WIDTHS = ("hidden_size", "d_model", "n_embd", "embedding_size", "projection_dim",
           "pooler_hidden_size")  # deberta's classification heads pool at this width
_LAYERS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers",
           "decoder_layers", "num_decoder_layers")
_HEADS = ("num_attention_heads", "n_head", "n_heads", "num_heads", "encoder_attention_heads",
          "decoder_attention_heads")
_INTERMEDIATES = ("intermediate_size", "d_ff", "ffn_dim", "encoder_ffn_dim", "decoder_ffn_dim",
                  "n_inner", "moe_intermediate_size", "shared_expert_intermediate_size")


# Expert counts (routed experts; shared experts are few already).
_EXPERT_COUNTS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
# Leading dense layers before the first mixture-of-experts one: at most one of the tiny
# model's layers, so that it still runs its experts.
_DENSE_PREFIXES = ("first_k_dense_replace", "num_dense_layers")


def seed_everything(seed):
    """Seed every generator a tiny model or an input may draw from."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _present(config, name):
    return _is_int(getattr(config, name, None))


def _set(config, name, value):
    """Set a size attribute unless the config derives it (funnel's num_hidden_layers
    is a property computed from block_sizes whose setter raises)."""
    try:
        setattr(config, name, value)
    except (AttributeError, NotImplementedError):
        pass


def shrink(config, **overrides):
    """Set the config's size attributes to tiny values, in place, and return it.

    Sub-configs (text_config, vision_config, encoder, decoder, ...) are shrunk the same
    way. `overrides` are set on the top-level config last; attributes derived from the
    sizes (head_dim, d_kv, rotary_dim, num_key_value_heads, layer_types) follow the
    final values unless overridden themselves.
    """
    for value in list(vars(config).values()):
        if isinstance(value, PreTrainedConfig):
            shrink(value)

    old_layers = next((getattr(config, n) for n in _LAYERS if _present(config, n)), None)
    old_heads = next((getattr(config, n) for n in _HEADS if _present(config, n)), None)
    old_kv_heads = getattr(config, "num_key_value_heads", None)

    if _present(config, "moe_intermediate_size"):
        # An expert width but no expert count (dots1's defaults): real checkpoints name it.
        for name in _EXPERT_COUNTS:
            if hasattr(config, name) and getattr(config, name) is None:
                _set(config, name, EXPERTS)
    experts = any(_present(config, n) and getattr(config, n) > 0 for n in _EXPERT_COUNTS)
    intermediate = EXPERT_INTERMEDIATE if experts else INTERMEDIATE
    for names, tiny in ((_WIDTHS, HIDDEN), (_LAYERS, LAYERS), (_INTERMEDIATES, intermediate)):
        for name in names:
            if _present(config, name):
                _set(config, name, tiny)
    for name in _HEADS:
        # Only where it divides the width the config will have (32 unless overridden).
        width = overrides.get("hidden_size", overrides.get("d_model", HIDDEN))
        if _present(config, name) and width % HEADS == 0:
            _set(config, name, HEADS)
    for name, tiny in ([(n, EXPERTS) for n in _EXPERT_COUNTS] + [
            ("num_experts_per_tok", EXPERTS_PER_TOKEN), ("n_shared_experts", 1), ("n_group", 2),
            ("topk_group", 1), ("moe_num_shared_experts", 1)] + [(n, 1) for n in _DENSE_PREFIXES]):
        if _present(config, name):
            _set(config, name, min(getattr(config, name), tiny))
    if experts and hasattr(config, "num_experts_per_tok") and config.num_experts_per_tok is None:
        _set(config, "num_experts_per_tok", EXPERTS_PER_TOKEN)  # real checkpoints name it
    for name in ("kv_lora_rank", "q_lora_rank"):
        if _present(config, name):
            _set(config, name, LORA_RANK)

    for name, value in overrides.items():
        setattr(config, name, value)

    _derive(config, old_layers, old_heads, old_kv_heads, overrides)
    return config


def _derive(config, old_layers, old_heads, old_kv_heads, overrides):
    """Keep the attributes computed from sizes consistent with the new sizes."""
    width = next((getattr(config, n) for n in _WIDTHS[:3] if _present(config, n)), None)
    heads = next((getattr(config, n) for n in _HEADS if _present(config, n)), None)
    layers = next((getattr(config, n) for n in _LAYERS if _present(config, n)), None)
    head_dim = width // heads if width and heads else None

    if head_dim:
        # Also where the config holds None for "derive it": some models read it raw.
        for name in ("head_dim", "d_kv"):
            if name not in overrides and (_present(config, name) or
                                          (name == "head_dim" and hasattr(config, name)
                                           and getattr(config, name) is None)):
                _set(config, name, head_dim)
        # Multi-head latent attention: every per-head part one head wide; the rotary
        # part is what head_dim describes there.
        if "qk_rope_head_dim" not in overrides and _present(config, "qk_rope_head_dim"):
            for name in ("qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
                if name not in overrides and _present(config, name):
                    _set(config, name, head_dim)
            if _present(config, "qk_head_dim"):
                _set(config, "qk_head_dim", config.qk_rope_head_dim + getattr(config, "qk_nope_head_dim", 0))
        if "rotary_dim" not in overrides and _present(config, "rotary_dim"):
            _set(config, "rotary_dim", min(config.rotary_dim, head_dim))

    if "num_key_value_heads" not in overrides and old_kv_heads is None and heads \
            and hasattr(config, "num_key_value_heads"):
        _set(config, "num_key_value_heads", heads)  # None: as many as heads, written out
    if "num_key_value_heads" not in overrides and _is_int(old_kv_heads) and heads:
        # Keep the attention kind: multi-head stays multi-head, multi-query stays
        # multi-query, grouped-query stays grouped (2 groups of 2).
        if old_kv_heads == old_heads:
            _set(config, "num_key_value_heads", heads)
        elif old_kv_heads > 1:
            _set(config, "num_key_value_heads", 2 if heads % 2 == 0 else 1)

    # Per-layer kinds (sliding/full attention, ...) were computed for the old depth.
    # Keep one layer of every kind first, so that the tiny model still runs each path
    # (gemma3's first five layers are all sliding), then the original order.
    # So with every per-layer list (layer_types, mlp_layer_types, ...): one whose length
    # was the old depth.
    for name, value in list(vars(config).items()):
        if name in overrides or not name.endswith("layer_types") or not isinstance(value, list) \
                or not layers or not old_layers or len(value) != old_layers:
            continue
        kinds = list(dict.fromkeys(value))
        _set(config, name, (kinds + value[len(kinds):])[:layers])


def image_processor(model_type, image_size):
    """The model type's own image processor (the PIL one: torchvision is not installed),
    with its defaults except that it resizes and crops to image_size x image_size.

    The config's image_size is shrunk to match; a processor left at its real size would
    feed the tiny model images it cannot take.
    """
    names = IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type) or {}
    name = names.get("pil") if isinstance(names, dict) else None
    if name is None:
        raise NotImplementedError(f"no PIL image processor for {model_type!r} ({names})")
    processor = getattr(transformers, name)()
    size = getattr(processor, "size", None) or {}
    if "height" in size and "width" in size:
        processor.size = {"height": image_size, "width": image_size}
    elif "shortest_edge" in size:
        processor.size = {"shortest_edge": image_size}
    else:
        raise NotImplementedError(f"{name}: no recipe for resizing to {size}")
    if getattr(processor, "crop_size", None):
        processor.crop_size = {"height": image_size, "width": image_size}
    return processor


# A wav2vec2-style feature encoder (wav2vec2 and kin, speecht5's speech prenet): its
# convolutions and the positional convolution at the tiny model's width. Real sizes (512
# channels, a kernel of 128) would make a tiny model larger than the rest of it together.
CONV_CHANNELS = 32
POSITION_KERNEL = 16
POSITION_GROUPS = 2


def feature_encoder_overrides(config):
    """shrink() overrides for the wav2vec2-style feature encoder of `config`, if it has one.

    Its strides and kernels stay: they fix how many frames a clip gives.
    """
    overrides = {}
    if getattr(config, "conv_dim", None):
        overrides["conv_dim"] = (CONV_CHANNELS,) * len(config.conv_dim)
    for name, value in (("num_conv_pos_embeddings", POSITION_KERNEL),
                        ("num_conv_pos_embedding_groups", POSITION_GROUPS)):
        if getattr(config, name, None) is not None:
            overrides[name] = value
    return overrides


def save_and_verify(model, processor, out_dir):
    """Save model and processor into out_dir and check that the model reloads exactly.

    transformers silently re-initialises weights it cannot find in a checkpoint, so a
    model that saves one thing and loads another would still "work". Reload with the
    same class and raise unless every key matched.
    """
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    _, info = type(model).from_pretrained(out_dir, output_loading_info=True)
    problems = [f"{kind}: {', '.join(sorted(map(str, keys))[:8])}"
                for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")
                if (keys := info.get(kind))]
    if problems:
        raise RuntimeError(f"{type(model).__name__} does not reload exactly from {out_dir}: "
                           + "; ".join(problems))
