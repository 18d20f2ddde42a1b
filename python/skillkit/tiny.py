"""Tiny random models built offline: seeding, config (and image processor) shrinking and
a strict save/reload.

Models are built from their config class with random weights, never downloaded, so the
tests run anywhere. What matters is that the tiny model is a faithful instance of the
architecture (every code path of the real one) and that what is saved is exactly what
loads back.
"""
import collections
import dataclasses
import os
import random
import re
from pathlib import Path

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
PER_LAYER_INPUT = 8
ATTENTION_WINDOW = 8  # even, as longformer's windows must be
LORA_RANK = 16

# Size attributes set when present (and an int: lists such as swin's per-stage depths
# are architecture specific and left to the family). Position, image, patch, frame and
# mel sizes are never listed: they are tied to what the processor produces, and
# shrinking one without the processor breaks the model.
_WIDTHS = ("hidden_size", "d_model", "n_embd", "embedding_size", "projection_dim",
           "pooler_hidden_size",  # deberta's classification heads pool at this width
           # What cross-attention reads: the encoder's width (blip's text model reads the
           # image's, t5gemma's decoder the encoder's).
           "encoder_hidden_size", "cross_attention_hidden_size",
           # What a head reads of an audio encoder (nemo_speechlm's diarization head).
           "audio_hidden_size",
           "d_latents")  # perceiver's latent array
_LAYERS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers",
           "decoder_layers", "num_decoder_layers", "num_self_attends_per_block")
_HEADS = ("num_attention_heads", "n_head", "n_heads", "num_heads", "encoder_attention_heads",
          "decoder_attention_heads")
_INTERMEDIATES = ("intermediate_size", "d_ff", "ffn_dim", "encoder_ffn_dim", "decoder_ffn_dim",
                  "n_inner", "moe_intermediate_size", "shared_expert_intermediate_size")


# Expert counts (routed experts; shared experts are few already).
_EXPERT_COUNTS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
# Leading dense layers before the first mixture-of-experts one: at most one of the tiny
# model's layers, so that it still runs its experts.
_DENSE_PREFIXES = ("first_k_dense_replace", "num_dense_layers")
# State-space mixers (mamba2, and the mamba layers of hybrids): (expand factor, heads,
# head width, groups, inner width) by their spellings. The heads span the inner width,
# the expanded one (falcon_h1 names it), and the groups divide the heads.
_SSM = (("expand", "num_heads", "head_dim", "n_groups", "d_ssm"),
        ("mamba_expand", "mamba_n_heads", "mamba_d_head", "mamba_n_groups", "mamba_d_ssm"))
SSM_GROUPS = 2
# The first stage's width of a hierarchical model that derives the others from it
# (swin's embed_dim); each later stage doubles it.
STAGE_WIDTH = 16
# Per-layer kind lists by their spellings: layer_types and its kin (mlp_layer_types,
# ...), zamba's layers_block_type, recurrent_gemma's repeating block_types.
_KIND_LISTS = ("layer_types", "layers_block_type", "block_types")
# Words in the names of sizes a config may derive without declaring them.
_SIZE_WORDS = ("size", "dim", "channels", "heads", "groups", "layers")
# Kinds of layer that hold no attention; a hybrid's tiny model keeps an attention layer
# (generate's cache measures the sequence on one).
_NOT_ATTENTION = ("linear_attention", "mamba", "recurrent")


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


def configs(config):
    """The config and its sub-configs (text_config, vision_config, ...), depth first."""
    yield config
    for value in vars(config).values():
        if isinstance(value, PreTrainedConfig):
            yield from configs(value)


def feature_extractor(extractor_class, config):
    """An audio feature extractor with its defaults, but for the mel bins, which follow
    the config's (num_mel_bins, in it or a sub-config: canary's encoder takes 128 where
    its extractor defaults to 80, qwen2_audio's audio_config 128) where the extractor
    makes spectrogram features; one that passes the waveform on (feature_size 1:
    speecht5's, whose config's mel bins are its speech decoder's) keeps it."""
    extractor = extractor_class()
    mel_bins = next((sub.num_mel_bins for sub in configs(config) if _is_int(getattr(sub, "num_mel_bins", None))), None)
    if mel_bins is None or getattr(extractor, "feature_size", 1) == 1 or extractor.feature_size == mel_bins:
        return extractor
    return extractor_class(feature_size=mel_bins)


def is_hierarchical(config):
    """Whether the model lists its depth per stage (swin, convnext, pvt, ...)."""
    return isinstance(getattr(config, "depths", None), (list, tuple))


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

    # Sizes the config's __post_init__ derives from others: fields the class leaves None
    # (rwkv's attention_hidden_size, xlstm's embedding_dim) and attributes it sets
    # without declaring them, under a size's name (swin's stage count num_layers and its
    # last width hidden_size, zamba2's attention_hidden_size). Derived again from the
    # tiny sizes below (see `stale`).
    fields = {field.name: field.default for field in dataclasses.fields(config)} \
        if dataclasses.is_dataclass(config) else None
    derived = {name: value for name, value in vars(config).items()
               if fields is not None and _is_int(value) and not name.startswith("_")
               and fields.get(name) is None}
    undeclared = {name for name in derived if name not in fields and any(word in name for word in _SIZE_WORDS)}
    # A heterogeneous config (gemma4's wider heads on its full-attention layers) keeps
    # per-layer overrides of its sizes: set aside while the global sizes shrink, then
    # scaled the same way and laid out on the tiny model's layers.
    spec = vars(config).get("_heterogeneity_spec")
    if spec is not None:
        config.per_layer_config = None
        old_globals = {name: getattr(config, name, None) for name in spec.per_layer_attributes}

    old_heads = next((getattr(config, n) for n in _HEADS if _present(config, n)), None)
    old_sizes = {name: value for name, value in vars(config).items() if _is_int(value)}
    old_kv_heads = getattr(config, "num_key_value_heads", None)

    if _present(config, "moe_intermediate_size"):
        # An expert width but no expert count (dots1's defaults): real checkpoints name it.
        for name in _EXPERT_COUNTS:
            if hasattr(config, name) and getattr(config, name) is None:
                _set(config, name, EXPERTS)
    experts = any(_present(config, n) and getattr(config, n) > 0 for n in _EXPERT_COUNTS)
    intermediate = EXPERT_INTERMEDIATE if experts else INTERMEDIATE
    # A hierarchical model (swin, convnext, pvt) lists its sizes per stage: every stage
    # is kept (its layer count is the stage count), one block deep, at most two heads
    # each. Its first width (swin's embed_dim) is tiny and doubles from stage to stage;
    # widths listed per stage (hidden_sizes) stay, as group norms (bit's 32 groups) and
    # stems (textnet's) are sized for them.
    hierarchical = is_hierarchical(config)
    if hierarchical:
        _set(config, "depths", [1] * len(config.depths))
        if _present(config, "embed_dim"):
            _set(config, "embed_dim", STAGE_WIDTH)
        for name, value in vars(config).items():
            if name in _HEADS and isinstance(value, (list, tuple)):
                _set(config, name, [min(heads, 2) for heads in value])
    for names, tiny in ((_WIDTHS, HIDDEN), (_LAYERS, LAYERS), (_INTERMEDIATES, intermediate)):
        if hierarchical and names is _LAYERS:
            continue
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
    for name, tiny in (("num_experts_per_tok", EXPERTS_PER_TOKEN), ("n_shared_experts", 1)):
        if experts and hasattr(config, name) and getattr(config, name) is None:
            _set(config, name, tiny)  # real checkpoints name it
    for name in ("kv_lora_rank", "q_lora_rank"):
        if _present(config, name):
            _set(config, name, LORA_RANK)
    if _present(config, "hidden_size_per_layer_input") and config.hidden_size_per_layer_input:
        # gemma3n's per-layer embeddings: 262,144 tokens of 256 a layer are half a
        # gigabyte at two layers, slow to build, teach and load.
        _set(config, "hidden_size_per_layer_input", PER_LAYER_INPUT)
    if _present(config, "attention_window"):
        # Attention over local windows (longformer, led) pads every input to a multiple
        # of its window, 512 by default: each of a tiny model's few tokens would cost 512
        # positions a step, in teaching most of all.
        _set(config, "attention_window", ATTENTION_WINDOW)

    for name, value in overrides.items():
        setattr(config, name, value)

    sources = _derive(config, old_heads, old_kv_heads, overrides)
    # Sizes listed per layer (laguna's num_attention_heads_per_layer): those of the
    # layers the tiny ones stand for, scaled as the global size was.
    for name, value in list(vars(config).items()):
        base = name.removesuffix("_per_layer")
        if base != name and isinstance(value, list) and len(value) > len(sources) \
                and _is_int(old_sizes.get(base)) and _present(config, base):
            _set(config, name, [max(1, value[source] * getattr(config, base) // old_sizes[base])
                                for source in sources])
    # Numbers listed per layer, one for each of the real depth's layers: a width
    # (gemma3n's intermediate_size) is the tiny width on every tiny layer, a fraction
    # (its activation_sparsity_pattern, granite_swa's layer_rope_theta) that of the
    # layer the tiny one stands for. Lists of ints under other names are left alone:
    # they may be layer indices (lfm2's full_attn_idxs), not values.
    layers = next((getattr(config, n) for n in _LAYERS if _present(config, n)), None)
    old_layers = next((old_sizes[n] for n in _LAYERS if _present(config, n) and n in old_sizes), None)
    for name, value in list(vars(config).items()):
        if hierarchical or not layers or name in overrides or not isinstance(value, list) \
                or len(value) != old_layers or old_layers <= layers:
            continue
        if name in _INTERMEDIATES and all(_is_int(v) for v in value):
            _set(config, name, [intermediate] * layers)
        elif all(isinstance(v, float) for v in value):
            _set(config, name, [value[source] for source in sources])
    # A backbone of one stage per layer (beit, dinov2) names its stages for the real
    # depth, and its outputs the last one ('stage12'): the tiny model's stages, its
    # outputs the last.
    if not hierarchical and layers and len(getattr(config, "stage_names", None) or ()) > layers + 1 \
            and hasattr(config, "set_output_features_output_indices"):
        config.stage_names = config.stage_names[:layers + 1]
        config.set_output_features_output_indices(out_features=None, out_indices=None)
    # A derived field shrink left alone is derived again, by __post_init__, and so is an
    # undeclared size, shrunk or not (swin's hidden_size is derived again, t5gemma's
    # decoder keeps the cross_attention_hidden_size shrink gave it, as its parent config
    # derives that one); an undeclared attribute under another name (switch_transformers'
    # sparse step, from the depth and the number of sparse layers) stays, and a field
    # __post_init__ does not derive again keeps its value.
    stale = [name for name, value in derived.items() if name not in overrides
             and (name in undeclared or (name in fields and getattr(config, name) == value))]
    if stale:
        kept = {name: value for name, value in vars(config).items() if name not in fields and name not in stale}
        for name in stale:
            if name not in undeclared:
                setattr(config, name, None)
        config.__post_init__()
        vars(config).update(kept)  # undeclared attributes of other names stay as they were
        for name in stale:
            if getattr(config, name) is None:
                setattr(config, name, derived[name])
    if spec is not None:
        config.per_layer_config = None  # what __post_init__ may have laid out for the real depth
        config.per_layer_config = _per_layer_overrides(config, spec, old_globals, sources)
    return config


def _per_layer_overrides(config, spec, old_globals, sources):
    """The tiny model's per-layer overrides: each tiny layer takes those of the layer it
    was cut from, a size scaled as its global value was (512 over 256 stays twice)."""
    tiny_overrides = {}
    for layer, source in enumerate(sources):
        values = {}
        for name, value in spec.per_layer_overrides.get(source, {}).items():
            old, new = old_globals.get(name), getattr(config, name, None)
            if _is_int(value) and _is_int(old) and _is_int(new) and old:
                value = max(1, value * new // old)
            values[name] = value
        if values:
            tiny_overrides[layer] = values
    return tiny_overrides


def _is_repeated_pattern(value):
    """Whether `value` is one pattern of layer kinds with its repeat count: [[kinds, n]]."""
    return (isinstance(value, list) and len(value) == 1 and isinstance(value[0], (list, tuple))
            and len(value[0]) == 2 and isinstance(value[0][0], (list, tuple)) and value[0][0]
            and all(isinstance(kind, str) for kind in value[0][0]) and _is_int(value[0][1]))


def _derive(config, old_heads, old_kv_heads, overrides):
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

    for expand, ssm_heads, ssm_head_dim, groups, inner in _SSM:
        if width and _present(config, expand) and _present(config, ssm_heads) and ssm_head_dim not in overrides:
            _set(config, ssm_heads, HEADS)
            _set(config, ssm_head_dim, getattr(config, expand) * width // HEADS)
            if _present(config, groups):
                _set(config, groups, min(getattr(config, groups), SSM_GROUPS))
            if _present(config, inner):
                _set(config, inner, getattr(config, expand) * width)

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

    if not layers:
        return []
    # Hybrids place attention among state-space or recurrent layers by a period and an
    # offset (jamba, zamba) or by a list of indices (bamba): the tiny model's last layer
    # attends.
    for name in vars(config):
        if name.endswith("_layer_period") and _present(config, name) and config.__dict__[name] > layers:
            _set(config, name, layers)
            offset = name.replace("_period", "_offset")
            if _present(config, offset):
                _set(config, offset, layers - 1)
    if "attn_layer_indices" in vars(config) and not any(
            index < layers for index in config.attn_layer_indices or ()):
        _set(config, "attn_layer_indices", [layers - 1])

    # Per-layer kinds (sliding/full attention, ...) were computed for the old depth.
    # Keep one layer of every kind first, so that the tiny model still runs each path
    # (gemma3's first five layers are all sliding), then the original order; and an
    # attention layer, the last, in a hybrid that had none by default
    # (granitemoehybrid's). So with every per-layer list longer than the new depth (a
    # repeating pattern such as recurrent_gemma's block_types too). Which old layer each
    # tiny one stands for is returned, for the per-layer overrides.
    sources = list(range(layers))
    if "layer_types" in vars(config) and config.layer_types is None and "layer_types" not in overrides \
            and _present(config, "num_attention_heads"):
        # Kinds a config leaves None without deriving them, which its model indexes
        # all the same (lfm2_moe's, where real checkpoints list them): every layer attends.
        _set(config, "layer_types", ["full_attention"] * layers)
    for name, value in list(vars(config).items()):
        if name in overrides or not name.endswith(_KIND_LISTS) or not isinstance(value, list) \
                or len(value) <= layers:
            continue
        kinds = list(dict.fromkeys(value))
        cut = (kinds + value[len(kinds):])[:layers]
        if all(kind in _NOT_ATTENTION for kind in cut) and _present(config, "num_attention_heads"):
            cut[-1] = "full_attention"
        _set(config, name, cut)
        if name in _KIND_LISTS:
            sources = ([value.index(kind) for kind in kinds] + list(range(len(kinds), len(value))))[:layers]
    # Kinds given as a pattern and its repeat count (gpt_neo's attention_types, [[["global",
    # "local"], 12]]), from which the config derives its per-layer list: the pattern
    # repeated as often as the tiny depth holds it, and the list derived again.
    for name, value in list(vars(config).items()):
        if name in overrides or not _is_repeated_pattern(value):
            continue
        [[kinds, count]] = value
        expanded = list(kinds) * count
        if len(expanded) > layers and layers % len(kinds) == 0:
            _set(config, name, [[list(kinds), layers // len(kinds)]])
            for other, listed in list(vars(config).items()):
                if listed == expanded:
                    _set(config, other, list(kinds) * (layers // len(kinds)))
    # A tail of layers that reuse the caches of earlier layers of their kind (gemma3n's
    # num_kv_shared_layers): only as long as the layers before it still produce every
    # kind of cache the tail reads.
    if _present(config, "num_kv_shared_layers") and "num_kv_shared_layers" not in overrides:
        kinds = getattr(config, "layer_types", None) or []
        shared = min(config.num_kv_shared_layers, layers)
        while shared and not set(kinds[layers - shared:layers]) <= set(kinds[:layers - shared]):
            shared -= 1
        _set(config, "num_kv_shared_layers", shared)
    # A list of the layers of one kind derived from the kinds (zamba2's hybrid layers).
    if isinstance(getattr(config, "hybrid_layer_ids", None), list):
        _set(config, "hybrid_layer_ids", [index for index, kind in enumerate(config.layer_types)
                                          if kind == "hybrid"])
    return sources


def image_processor_name(model_type):
    """The name of the model type's image processor class: the PIL one where it has one
    (its results are the reference ones), else the torchvision one; None where
    transformers maps none to the type."""
    names = IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type) or {}
    if isinstance(names, str):
        return names
    return names.get("pil") or names.get("torchvision")


def image_processor(model_type, image_size):
    """The model type's own image processor (image_processor_name), with its defaults
    except that it resizes and crops to image_size x image_size.

    The config's image_size is shrunk to match; a processor left at its real size would
    feed the tiny model images it cannot take.
    """
    name = image_processor_name(model_type)
    if name is None or not hasattr(transformers, name):
        raise NotImplementedError(f"no image processor for {model_type!r} ({name})")
    return resized(getattr(transformers, name)(), image_size)


def resized(processor, image_size):
    """An image (or video) processor made to resize and crop to image_size x image_size,
    its other defaults kept."""
    size = getattr(processor, "size", None) or {}
    if "height" in size and "width" in size:
        processor.size = {"height": image_size, "width": image_size}
    elif size.get("shortest_edge") and size.get("longest_edge"):
        # Its longest edge capped too (detr's 800 and 1333): in the same proportion.
        longest = max(image_size, image_size * size["longest_edge"] // size["shortest_edge"])
        processor.size = {"shortest_edge": image_size, "longest_edge": longest}
    elif "shortest_edge" in size:
        processor.size = {"shortest_edge": image_size}
    elif size.get("longest_edge"):  # pixtral's: the longest edge at most image_size
        processor.size = {"longest_edge": image_size}
    elif getattr(processor, "size", None) is None and getattr(processor, "size_divisor", None):
        pass  # no size: each image kept at its own, to a multiple of size_divisor (glpn's)
    else:
        raise NotImplementedError(f"{type(processor).__name__}: no recipe for resizing to {size}")
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


def even_feed_forward(config):
    """A feed-forward width that the config's own validator wants even (moshi's and
    kyutai_speech_to_text's ffn_dim, halved into a gate and a value) is made so: the
    tiny 37 becomes 38, as MoshiModelTester and KyutaiSpeechToTextModelTester set it."""
    for sub in configs(config):
        width = vars(sub).get("ffn_dim")
        validate = getattr(sub, "validate_architecture", None)
        if not isinstance(width, int) or width % 2 == 0 or validate is None:
            continue
        try:
            validate()
        except (ValueError, TypeError) as error:  # what validators raise
            if "ffn_dim" in str(error) and "even" in str(error):
                sub.ffn_dim = width + 1


def save_and_verify(model, processor, out_dir, load=None):
    """Save model and processor into out_dir and check that the model reloads exactly.

    transformers silently re-initialises weights it cannot find in a checkpoint, so a
    model that saves one thing and loads another would still "work". Reload with the
    same class (or `load`, where the class's own from_pretrained reads no directory:
    TimmBackbone's) and raise unless every key matched.
    """
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    _, info = (load or type(model).from_pretrained)(out_dir, output_loading_info=True)
    problems = [f"{kind}: {', '.join(sorted(map(str, keys))[:8])}"
                for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")
                if (keys := info.get(kind))]
    if problems:
        raise RuntimeError(f"{type(model).__name__} does not reload exactly from {out_dir}: "
                           + "; ".join(problems))


def parent_types(model_type):
    """Model types the type's modeling code derives from, most cited first: the models
    its modular file imports from, else those its modeling file says it copied from."""
    module = model_type.replace("-", "_")
    folder = Path(transformers.__file__).parent / "models" / module
    cited = []
    for name, pattern in ((f"modular_{module}.py", r"from \.\.(\w+)\.modeling_\w+ import"),
                          (f"modeling_{module}.py", r"Copied from transformers\.models\.(\w+)\.")):
        path = folder / name
        if path.is_file():
            cited = re.findall(pattern, path.read_text(encoding="utf-8"))
            if cited:
                break
    counts = collections.Counter(parent for parent in cited if parent != module)
    return [parent for parent, _ in counts.most_common()]
