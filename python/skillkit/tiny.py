"""Tiny random models built offline: seeding, config shrinking and a strict save/reload.

Models are built from their config class with random weights, never downloaded, so the
tests run anywhere. What matters is that the tiny model is a faithful instance of the
architecture (every code path of the real one) and that what is saved is exactly what
loads back.
"""
import os
import random

import numpy as np
import torch
from transformers import PreTrainedConfig

HIDDEN = 32
LAYERS = 2
HEADS = 4
INTERMEDIATE = 37  # deliberately not a multiple of anything: catches shape assumptions
EXPERTS = 4
EXPERTS_PER_TOKEN = 2

# Size attributes set when present (and an int: lists such as swin's per-stage depths
# are architecture specific and left to the family). Position, image, patch, frame and
# mel sizes are never listed: they are tied to what the processor produces, and
# shrinking one without the processor breaks the model.
_WIDTHS = ("hidden_size", "d_model", "n_embd", "embedding_size", "projection_dim")
_LAYERS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers",
           "decoder_layers", "num_decoder_layers")
_HEADS = ("num_attention_heads", "n_head", "n_heads", "num_heads", "encoder_attention_heads",
          "decoder_attention_heads")
_INTERMEDIATES = ("intermediate_size", "d_ff", "ffn_dim", "encoder_ffn_dim", "decoder_ffn_dim",
                  "n_inner", "moe_intermediate_size", "shared_expert_intermediate_size")


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

    for names, tiny in ((_WIDTHS, HIDDEN), (_LAYERS, LAYERS), (_INTERMEDIATES, INTERMEDIATE)):
        for name in names:
            if _present(config, name):
                _set(config, name, tiny)
    for name in _HEADS:
        # Only where it divides the width the config will have (32 unless overridden).
        width = overrides.get("hidden_size", overrides.get("d_model", HIDDEN))
        if _present(config, name) and width % HEADS == 0:
            _set(config, name, HEADS)
    for name, tiny in (("num_local_experts", EXPERTS), ("num_experts", EXPERTS),
                       ("num_experts_per_tok", EXPERTS_PER_TOKEN)):
        if _present(config, name):
            _set(config, name, min(getattr(config, name), tiny))

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
        for name in ("head_dim", "d_kv"):
            if name not in overrides and _present(config, name):
                _set(config, name, head_dim)
        if "rotary_dim" not in overrides and _present(config, "rotary_dim"):
            _set(config, "rotary_dim", min(config.rotary_dim, head_dim))

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
    layer_types = getattr(config, "layer_types", None)
    if "layer_types" not in overrides and isinstance(layer_types, list) and layers \
            and old_layers and len(layer_types) == old_layers:
        kinds = list(dict.fromkeys(layer_types))
        _set(config, "layer_types", (kinds + layer_types[len(kinds):])[:layers])


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
