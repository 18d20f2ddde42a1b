"""Vision-language generators (llava, qwen2_vl, idefics3, paligemma, ...): greedy
image-text-to-text.

The handler's contract (docs/DESIGN.md): one {"image": <PIL image, path or bytes>,
"text": <prompt>} or a list of them in; `token_ids` (the new tokens only, up to and
including the first end of sequence, as text-decoder's) and `texts` (those tokens
decoded, skip_special_tokens=True) out, one entry per input. The prompt is written from the text as the contract says (see
prompt()): the processor's chat template with one image entry where it has one, else
the text after the processor's image token unless it holds one already, else the text.

The reference runs the processor and generate() on each input alone, unpadded, and takes
the generated tokens from the end of the sequence (len(scores) of them: an
encoder-decoder's sequence holds no prompt), so a skillset that batches must show that
it changes nothing.

One recipe builds every type, not a case per model (see build_tiny): the config's
defaults shrunk in their widths and depths but never in their image, patch or token-count
sizes, which the type's own image processor's defaults match as in a real checkpoint; an
offline tokenizer holding the special tokens the processor reads; the config's token
ids repointed at them; the processor's own sizes taken from the config.
"""
import dataclasses
import functools
import importlib
import inspect
import math
import pkgutil
import re
import traceback

import torch
import transformers
from transformers import AutoProcessor
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES
from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES
from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING_NAMES
from transformers.processing_utils import ProcessorMixin

from .. import greedy, media, tiny, tokenizers
from ..expected import Expected
from . import Case

VOCAB_SIZE = 384
ROLES = ("bos_token", "eos_token", "unk_token", "pad_token")

PROMPTS = ("What is in the picture?", "Describe the colours of this image, from left to right, in detail.")

# Random weights at the configs' usual initializer range (0.02) answer every image with
# the same tokens: a skillset that fed the wrong pixels would still agree. Wider weights
# make the answer depend on the image.
INITIALIZER_RANGE = 0.2

# A chat template of the generic kind real checkpoints ship: the user's turn holds the
# image (as the processor's image token) and the text, and the assistant's turn is
# opened for the answer. {image} is the processor's image token, or nothing where the
# processor puts images elsewhere.
CHAT_TEMPLATE = (
    "{{% for message in messages %}}{{{{ message['role'] }}}}: "
    "{{% for part in message['content'] %}}{{% if part['type'] == 'image' %}}{image}"
    "{{% else %}}{{{{ part['text'] }}}}{{% endif %}}{{% endfor %}}\n{{% endfor %}}"
    "{{% if add_generation_prompt %}}assistant:{{% endif %}}"
)

# Processor arguments that are not sizes to take from the config.
_PROCESSOR_PARTS = ("image_processor", "tokenizer", "video_processor", "feature_extractor", "chat_template",
                    "audio_tokenizer", "qformer_tokenizer", "audio_processor")


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    model_class = getattr(transformers, candidate["model_class"])
    processor_class = _processor_class(model_type, model_class)
    tokenizer, named = tokenizers.for_processor(model_type, processor_class, VOCAB_SIZE, ROLES)
    _add_class_tokens(tokenizer, processor_class)
    _unname_added_tokens(tokenizer, named, processor_class)
    config = CONFIG_MAPPING[model_type]()
    # A vision tower that a default config leaves out (gemma4's vision_config None, for
    # its text-only checkpoints) is built with its own defaults: images need one.
    if "vision_config" in vars(config) and config.vision_config is None:
        config = CONFIG_MAPPING[model_type](vision_config={})
    _image_vocabulary(config, tokenizer, model_class)
    tokenizers.repoint_token_ids(config, tokenizer, named)
    _pad_within_vocabulary(config, tokenizer)
    for sub in tiny.configs(config):
        if getattr(sub, "initializer_range", None) is not None:
            sub.initializer_range = INITIALIZER_RANGE
    # The vision tower's width before shrinking: what it hands on may be a multiple of it.
    vision = next((sub for sub in tiny.configs(config) if "vision" in type(sub).__name__.lower()
                   and isinstance(vars(sub).get("hidden_size"), int)), None)
    vision_width = vision.hidden_size if vision is not None else None
    before = {id(sub): dict(vars(sub)) for sub in tiny.configs(config)}
    _underive_layer_indices(config)
    summed = _summed_head_dims(config)
    tiny.shrink(config)
    _sum_head_dims(summed)
    _quantizer_widths(config)
    _window_projector(config, model_class)
    # A rotary width of zero (glm5_next's NoPE attention, which its config validates) is
    # no width to shrink: it stays zero.
    for sub in tiny.configs(config):
        if before[id(sub)].get("qk_rope_head_dim") == 0:
            sub.qk_rope_head_dim = 0
    _follow_widths(config, before)
    # What a vision tower hands the text model (granite_docling's out_hidden_size) is
    # the text model's width, tiny too; but patches merged k x k before a projector
    # (muse_glimmer's 6144: 1536 x 2 x 2) keep k x k times the tiny tower's width.
    for sub in tiny.configs(config):
        width = vars(sub).get("out_hidden_size")
        if isinstance(width, int):
            merged = width // vision_width if vision_width and width % vision_width == 0 else 0
            square = merged > 1 and math.isqrt(merged) ** 2 == merged
            sub.out_hidden_size = vision.hidden_size * merged if square else tiny.HIDDEN
    _even_patch_grid(config)
    _tile_image_tokens(config)
    _pixel_shuffle_widths(config)
    _neck_feeds_its_sibling(config)
    _clamp_feature_layers(config)
    source = _modeling_source(model_class, config)
    _rope_per_layer_kind(config, source)
    _scale_mrope_sections(config, source)
    _required_mrope_axes(config, source)
    _list_mlp_kinds(config, source)
    _declare_read_token_ids(config, source)
    _name_unnamed_experts(config, source)
    _name_unnamed_indexer(config)
    # A model that makes its sliding-window mask whether or not a layer slides (step3p7's)
    # needs a window: one wider than any tiny sequence, which changes nothing.
    if "create_sliding_window_causal_mask(" in source:
        for sub in tiny.configs(config):
            if "sliding_window" in vars(sub) and sub.sliding_window is None:
                sub.sliding_window = 4096
    _as_reloaded(config)
    if not hasattr(model_class, "generate"):
        # pi0's PI0ForConditionalGeneration, which transformers' image-text-to-text table
        # lists: a vision-language-action policy that predicts robot action chunks by
        # flow matching, with no text to generate and so none to compare.
        raise TypeError(f"{candidate['model_class']} cannot generate: it has no generate(), so no text to "
                        "answer an image and a prompt with")
    processor = _processor(model_type, processor_class, tokenizer, config, model_class(config))
    # The processor may add tokens of its own (paligemma's <loc0000> ...) and names its
    # image token: the config follows, and the model is built from it anew.
    tokenizers.repoint_token_ids(config, tokenizer, named, processor)
    _match_patch_queries(config, processor)
    _image_token_as_written(config, processor, tokenizer)
    _name_unwritten_image_token(config, processor, tokenizer)
    tiny.seed_everything(seed)
    model = model_class(config).eval()
    _open_gates(model)
    _choose_chat_template(processor, model, tokenizer)
    tiny.save_and_verify(model, processor, out_dir)


def _add_class_tokens(tokenizer, processor_class):
    """The tokens a processor names as class constants (minimax_m3_vl's IMAGE_TOKEN
    "]<]image[>[", a string no special-token pattern recognises) or looks up in the
    vocabulary by their text (fuyu's vocab["|SPEAKER|"]), special tokens of the tiny
    vocabulary as they are of the checkpoint's."""
    constants = [value for name, value in vars(processor_class).items()
                 if name.isupper() and name.endswith("_TOKEN") and isinstance(value, str) and value]
    source = inspect.getsource(importlib.import_module(processor_class.__module__))
    constants += re.findall(r"""vocab\[["']([^"'\s]+)["']\]""", source)
    new = [token for token in dict.fromkeys(constants) if token not in tokenizer.get_vocab()]
    if new:
        tokenizer.add_tokens(new, special_tokens=True)
        tokenizer.add_special_tokens({"extra_special_tokens": new}, replace_extra_special_tokens=False)


# How a model that draws images as codebook entries names the vocabulary's token of
# entry `code` (the names its vocabulary mapping parses back: chameleon's IMGIMG, the
# code's digits as letters A-J, and one closing letter; emu3's six digits), by the
# prefix its modeling code selects them with. As transformers' tests name them.
_CODE_NAMES = {
    "IMGIMG": lambda code: "IMGIMG" + "".join(chr(ord("A") + int(digit)) for digit in str(code)) + "Z",
    "<|visual token": lambda code: f"<|visual token{code:06d}|>",
}

# A tiny codebook of an image quantizer, and its encoder's widths (a GroupNorm of 32
# groups is the narrowest it takes), as chameleon's and emu3's ModelTesters keep them.
CODEBOOK = 32
_QUANTIZER = {"base_channels": 32, "embed_dim": 4, "latent_channels": 4, "temporal_downsample_factor": 1}


def _image_vocabulary(config, tokenizer, model_class):
    """An image quantizer's codes as tokens of the vocabulary (chameleon's and emu3's
    `vocabulary_map`, which their configs leave None for the checkpoints' tokenizer to
    fill): the quantizer's codebook tiny, one token per code named as the modeling code
    parses it, the tokens it looks up by name (emu3's end-of-line "<|extra_200|>") and
    the image token in the vocabulary, and the map the whole tiny vocabulary. The
    encoder's downsampling (its channel multipliers) stays: it makes the number of
    image tokens the processor writes."""
    if "vocabulary_map" not in vars(config) or config.vocabulary_map is not None:
        return
    source = inspect.getsource(importlib.import_module(model_class.__module__))
    prefix = re.search(r"""name\.startswith\(["']([^"']+)["']\)""", source)
    naming = _CODE_NAMES.get(prefix.group(1)) if prefix else None
    quantizer = next((sub for sub in tiny.configs(config)
                      for name in ("num_embeddings", "codebook_size") if isinstance(vars(sub).get(name), int)), None)
    if naming is None or quantizer is None:
        return
    for name in ("num_embeddings", "codebook_size"):
        if isinstance(vars(quantizer).get(name), int):
            setattr(quantizer, name, CODEBOOK)
    looked_up = re.findall(r"""vocab_map\.get\(["']([^"']+)["']\)""", source)
    new = [token for token in [*looked_up, *(naming(code) for code in range(CODEBOOK))]
           if token not in tokenizer.get_vocab()]
    tokenizer.add_tokens(new, special_tokens=True)
    config.vocabulary_map = dict(tokenizer.get_vocab())
    if "image_token_id" in vars(config):
        config.image_token_id = config.vocabulary_map.get("<image>")


def _quantizer_widths(config):
    """An image quantizer's encoder (a config with a codebook beside its vocabulary_map)
    as narrow as its group norms allow, its attention blocks (emu3's, at the last level
    and in the middle) as wide as the last level's channels (the defaults' 1024 = 256 x
    4), which tiny.shrink's hidden_size is not."""
    if "vocabulary_map" not in vars(config):
        return
    quantizer = next((sub for sub in tiny.configs(config)
                      for name in ("num_embeddings", "codebook_size") if isinstance(vars(sub).get(name), int)), None)
    if quantizer is None:
        return
    for name, value in _QUANTIZER.items():
        if isinstance(vars(quantizer).get(name), int):
            setattr(quantizer, name, min(vars(quantizer)[name], value))
    multipliers = vars(quantizer).get("channel_multiplier")
    if isinstance(vars(quantizer).get("hidden_size"), int) and multipliers:
        quantizer.hidden_size = quantizer.base_channels * multipliers[-1]


def _layer_kinds(sub):
    """(kind, its layers' attributes) for each layer kind of a heterogeneous config
    (dots3_note's per_layer_config by layer_types), else (None, the config)."""
    kinds = vars(sub).get("layer_types")
    view = getattr(sub, "per_layer_config", None) if isinstance(kinds, list) else None
    if view is None:
        return [(None, sub)]
    try:
        return [(kind, view[kind]) for kind in dict.fromkeys(kinds)]
    except Exception:  # noqa: BLE001 -- a config whose kinds are not its view's keys has no per-kind sizes
        return [(None, sub)]


def _summed_head_dims(config):
    """The configs whose head_dim is, before shrinking, the sum of a layer kind's
    qk_nope_head_dim and qk_rope_head_dim (dots3_note's 256 = 192 + 64, its sliding
    layers' multi-head latent attention, which its validator requires), with that kind
    and the head's ratio to the rotated part (4: its rotary embedding turns a quarter
    of head_dim, the rope part)."""
    summed = []
    for sub in tiny.configs(config):
        head = vars(sub).get("head_dim")
        if not isinstance(head, int):
            continue
        for kind, layer in _layer_kinds(sub):
            nope, rope = getattr(layer, "qk_nope_head_dim", None), getattr(layer, "qk_rope_head_dim", None)
            if isinstance(nope, int) and isinstance(rope, int) and rope and nope + rope == head and head % rope == 0:
                summed.append((sub, kind, head // rope))
                break
    return summed


def _sum_head_dims(summed):
    """_summed_head_dims' heads kept whole: tiny.shrink scales the head, the rope part
    and a kind's own nope part (a per-layer override) apart, where the checkpoints' head
    is the kind's two parts and their rope part its fixed share. The head is the tiny
    rope part times the ratio, and the kind's nope part the rest."""
    for sub, kind, ratio in summed:
        layer = dict(_layer_kinds(sub)).get(kind, sub)
        rope = layer.qk_rope_head_dim
        sub.head_dim = rope * ratio
        # The share of the head each kind's rotary embedding turns, which the config
        # derives from the head (dots3_note: qk_rope_head_dim / head_dim), follows it.
        for each, its in _layer_kinds(sub):
            parameters = (vars(sub).get("rope_parameters") or {}).get(each)
            if isinstance(parameters, dict) and "partial_rotary_factor" in parameters:
                parameters["partial_rotary_factor"] = its.qk_rope_head_dim / sub.head_dim
        spec = vars(sub).get("_heterogeneity_spec")
        if kind is None or spec is None or "qk_nope_head_dim" not in spec.per_layer_attributes:
            sub.qk_nope_head_dim = sub.head_dim - rope
            continue
        overrides = {index: dict(values) for index, values in spec.per_layer_overrides.items()}
        for index, each in enumerate(sub.layer_types):
            if each == kind:
                overrides.setdefault(index, {})["qk_nope_head_dim"] = sub.head_dim - rope
        sub.per_layer_config = None
        sub.per_layer_config = overrides


def _window_projector(config, model_class):
    """A window Q-Former projector (granite4_vision's) whose facts the default config
    leaves to its checkpoints, as transformers' test gives them: windows downsampled
    "1/2" (the checkpoints' "4/8": a query side over a window side, which its
    modeling code splits), the last vision layer's features fed to the first text layer
    (the checkpoints feed four); and a vision tower as wide as the config's division
    of it into Q-Former heads takes (hidden_size // 64: one head of 64, where the tiny
    32 would give none)."""
    config_source = inspect.getsource(type(config))
    if "downsample_rate" in vars(config) and config.downsample_rate is None \
            and "downsample_rate.split(" in inspect.getsource(importlib.import_module(model_class.__module__)):
        config.downsample_rate = "1/2"
    if "deepstack_layer_map" in vars(config) and config.deepstack_layer_map is None:
        config.deepstack_layer_map = [(-1, 0)]
    per_head = re.search(r"vision_config\.hidden_size // (\d+)", config_source)
    vision = vars(config).get("vision_config")
    if per_head and vision is not None and vision.hidden_size < int(per_head.group(1)):
        vision.hidden_size = int(per_head.group(1))


def _pad_within_vocabulary(config, tokenizer):
    """A padding id that no token of the tiny vocabulary took (emu3's 151643, where its
    GPT-2 tokenizer has no pad token: its checkpoints pad with the end of text) is the
    tokenizer's end of sequence, as GPT-2-style checkpoints pad; left past the
    vocabulary, the embedding's padding_idx refuses it."""
    for sub in tiny.configs(config):
        value = vars(sub).get("pad_token_id")
        if isinstance(value, int) and value >= len(tokenizer) and tokenizer.eos_token_id is not None:
            sub.pad_token_id = tokenizer.eos_token_id


def _unname_added_tokens(tokenizer, named, processor_class):
    """A processor that adds its own token to a tokenizer without one (instructblip's
    `if not hasattr(tokenizer, "image_token")`: an AddedToken, whose .content it reads,
    where a named one would be a string)
    gets a tokenizer without that name, as a checkpoint's is; the token stays in the
    vocabulary."""
    source = inspect.getsource(importlib.import_module(processor_class.__module__))
    for name in re.findall(r"""not hasattr\(tokenizer,\s*["'](\w+_token)["']\)""", source):
        if name in named and f"self.{name}.content" in source:
            del named[name]
            tokenizer._special_tokens_map.pop(name, None)  # what _set_model_specific_special_tokens set
            tokenizer.SPECIAL_TOKENS_ATTRIBUTES = [attribute for attribute in tokenizer.SPECIAL_TOKENS_ATTRIBUTES
                                                   if attribute != name]


def _underive_layer_indices(config):
    """Per-layer lists of layer indices a config derives from its depth when left None,
    as every layer (mistral_large4's kv_source_layers, range(num_hidden_layers): each
    layer its own KV source; llama4's moe_layers, every layer a mixture of experts):
    every layer of the tiny depth, not of the real one."""
    for sub in tiny.configs(config):
        if not dataclasses.is_dataclass(sub):
            continue
        layers = vars(sub).get("num_hidden_layers")
        for field in dataclasses.fields(sub):
            value = vars(sub).get(field.name)
            if field.default is None and isinstance(value, list) and len(value) == layers > tiny.LAYERS \
                    and value == list(range(layers)):
                setattr(sub, field.name, list(range(tiny.LAYERS)))


def _follow_widths(config, before):
    """A tower's width under another name, which tiny.shrink does not know (dots3_note's
    adapter_in_dim and adapter_out_dim, inkling2's text_hidden_size, nemotron_h_omni's
    vision_hidden_size): a size or dim left as it was that equals one sub-config's width
    before shrinking becomes its tiny width. Where two towers were as wide, the one the
    name says (text, vision, audio)."""
    widths = {}
    for sub in tiny.configs(config):
        # Under its own name or the one the config maps it to (pp_formulanet's d_model).
        width = before[id(sub)].get("hidden_size", before[id(sub)].get("d_model"))
        if isinstance(width, int) and width > 64 and sub.hidden_size != width:
            widths.setdefault(width, []).append(sub)
    for sub in tiny.configs(config):
        for name, value in list(vars(sub).items()):
            # Pixel and window sizes are no widths, whatever they equal (got_ocr2's
            # image_size 1024, its tower's width too).
            if name == "hidden_size" or not re.search(r"(size|dim)$", name) or isinstance(value, bool) \
                    or re.search(r"image|img|patch|window|grid|kernel|chunk", name) \
                    or not isinstance(value, int) or before[id(sub)].get(name) != value or value not in widths:
                continue
            towers = widths[value]
            if len(towers) > 1:
                towers = [tower for tower in towers
                          if any(kind in name and kind in type(tower).__name__.lower()
                                 for kind in ("text", "vision", "audio"))]
            if len(towers) == 1:
                setattr(sub, name, towers[0].hidden_size)


def _as_reloaded(config):
    """Sizes as the saved config will load: those its __post_init__ derives again from
    others (step3p7's vision intermediate_size, hidden_size x mlp_ratio) take the derived
    value, so that the model built here is the one that reloads."""
    try:
        reloaded = type(config).from_dict(config.to_dict())
    except Exception:  # noqa: BLE001 -- a config that does not reload fails in save_and_verify, honestly
        return
    for sub, again in zip(tiny.configs(config), tiny.configs(reloaded)):
        if type(sub) is not type(again):
            return
        for name, value in list(vars(sub).items()):
            derived = vars(again).get(name)
            if isinstance(value, int) and not isinstance(value, bool) and isinstance(derived, int) \
                    and derived != value and re.search(r"(size|dim)$", name):
                setattr(sub, name, derived)


def _rope_per_layer_kind(config, modeling_source):
    """Rotary parameters a model reads per layer kind (rope_parameters[layer_type]:
    cohere_compass's) where the defaults give none ({}), which its checkpoints and
    transformers' tests give: the default rotation for each kind its layers have."""
    if not re.search(r"rope_parameters\[layer_type\]", modeling_source):
        return
    for sub in tiny.configs(config):
        rope, kinds = vars(sub).get("rope_parameters"), vars(sub).get("layer_types")
        if rope == {} and isinstance(kinds, list):
            sub.rope_parameters = {kind: {"rope_type": "default", "rope_theta": 10000.0} for kind in dict.fromkeys(kinds)}


def _name_unnamed_experts(config, modeling_source):
    """Experts a model builds whatever its config says (diffusion_gemma's router on every
    layer) where the defaults leave their count, choice and width None for the
    checkpoints to name: tiny ones, as tiny.shrink makes of named ones."""
    for sub in tiny.configs(config):
        if "num_experts" not in vars(sub) or sub.num_experts is not None \
                or not re.search(r"nn\.Linear\([^)]*config\.num_experts", modeling_source):
            continue
        sub.num_experts = tiny.EXPERTS
        for name, value in (("top_k_experts", tiny.EXPERTS_PER_TOKEN), ("num_experts_per_tok", tiny.EXPERTS_PER_TOKEN),
                            ("moe_intermediate_size", tiny.EXPERT_INTERMEDIATE)):
            if name in vars(sub) and vars(sub)[name] is None:
                setattr(sub, name, value)


# A sparse-attention indexer's sizes, as transformers' tests size qwen4_exp's (QSA): two
# heads over one key head, 8 wide, a budget of 4 keys chosen in blocks of 2.
_INDEXER = {"indexer_n_heads": 2, "indexer_kv_heads": 1, "indexer_head_dim": 8, "indexer_budget": 4,
            "indexer_compress_ratio": 2}


def _name_unnamed_indexer(config):
    """A sparse-attention indexer whose sizes the defaults leave None for the
    checkpoints to name (qwen4_exp's, which its layers build all the same): _INDEXER's,
    its head as wide as the attention's rotated part at least."""
    for sub in tiny.configs(config):
        if not all(name in vars(sub) and vars(sub)[name] is None for name in _INDEXER):
            continue
        vars(sub).update(_INDEXER)
        head_dim = vars(sub).get("head_dim")
        if isinstance(head_dim, int):
            sub.indexer_head_dim = max(sub.indexer_head_dim, head_dim)


def _declare_read_token_ids(config, modeling_source):
    """Token ids the model reads off its config (self.config.vision_start_token_id) that
    its config class does not declare but another config of its module does
    (qwen2_5_omni_thinker's: its checkpoints are saved within qwen2_5_omni's, whose
    talker config names it): that default, repointed at the tiny vocabulary with the
    others (tokenizers.repoint_token_ids)."""
    read = set(re.findall(r"\bself\.config\.(\w+_token_id)\b", modeling_source))
    missing = [name for name in sorted(read) if not hasattr(config, name)]
    if not missing:
        return
    module = importlib.import_module(type(config).__module__)
    others = [value for value in vars(module).values()
              if isinstance(value, type) and issubclass(value, transformers.PreTrainedConfig)]
    for name in missing:
        default = next((getattr(other, name) for other in others if isinstance(getattr(other, name, None), int)), None)
        if default is not None:
            setattr(config, name, default)


def _list_mlp_kinds(config, modeling_source):
    """Per-layer MLP kinds a config leaves None for its checkpoints to list
    (deepseek_ocr2's mlp_layer_types), which its model indexes all the same: the first
    tiny layer dense and the last of the kind the model tests for (its experts, "sparse")
    where the config has experts, as deepseek's first_k_dense_replace lays them out."""
    tested = re.search(r"""mlp_layer_types\[layer_idx\] == ["'](\w+)["']""", modeling_source)
    for sub in tiny.configs(config):
        layers = vars(sub).get("num_hidden_layers")
        if "mlp_layer_types" not in vars(sub) or sub.mlp_layer_types is not None or not isinstance(layers, int):
            continue
        experts = any(isinstance(vars(sub).get(name), int) and vars(sub)[name] > 0
                      for name in ("n_routed_experts", "num_experts", "num_local_experts"))
        kind = tested.group(1) if tested and experts else "dense"
        sub.mlp_layer_types = ["dense"] + [kind] * (layers - 1)


def _neck_feeds_its_sibling(config):
    """A SAM tower's neck (its downsample_channels, the last the width it hands on) that
    feeds the encoder beside it in the same vision config (deepseek_ocr2's, unlimited_ocr's
    sam_config and encoder_config): its last channels the encoder's tiny width. The real
    checkpoints pair them so (896 and a 896-wide encoder); the defaults need not."""
    for sub in tiny.configs(config):
        towers = [value for value in vars(sub).values() if isinstance(value, transformers.PreTrainedConfig)]
        for neck in towers:
            channels = vars(neck).get("downsample_channels")
            readers = [tower for tower in towers if tower is not neck and isinstance(vars(tower).get("hidden_size"), int)]
            if isinstance(channels, (list, tuple)) and channels and len(readers) == 1:
                neck.downsample_channels = type(channels)([*channels[:-1], readers[0].hidden_size])


def _pixel_shuffle_widths(config):
    """The widths around a vision tower's pixel shuffle (llama4's pixel_shuffle_ratio 0.5:
    2 x 2 patches into one, four times as wide), as transformers' tests size them: the
    MLP after the shuffle reads intermediate_size = hidden_size / ratio^2, and the
    projector's widths (projector_input_dim, projector_output_dim and the
    vision_output_dim the multimodal projector reads) are the tower's width. The
    defaults' 4096-wide projector and 7680 vision_output_dim do not agree."""
    for sub in tiny.configs(config):
        ratio = vars(sub).get("pixel_shuffle_ratio")
        if not isinstance(ratio, float) or not isinstance(vars(sub).get("hidden_size"), int):
            continue
        sub.intermediate_size = round(sub.hidden_size / ratio ** 2)
        for name in ("projector_input_dim", "projector_output_dim", "vision_output_dim"):
            if isinstance(vars(sub).get(name), int):
                setattr(sub, name, sub.hidden_size)


def _open_gates(model):
    """Paths from the image to the text that start closed, opened: gates of zeros
    (mllama's cross_attn_attn_gate, idefics' alpha_cross_attn: so that a pretrained text
    model starts unchanged) set to one, and weight matrices of zeros (gemma3's
    mm_input_projection_weight, which its checkpoints fill) drawn as the others are.
    Closed, they give every image the same answer, which a skillset that lost or
    swapped its images would match."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if not parameter.numel() or parameter.any():
                continue
            leaf = name.rsplit(".", 1)[-1]
            if "gate" in leaf or "alpha" in leaf:
                parameter.fill_(1.0)
            elif parameter.dim() >= 2:
                parameter.normal_(0.0, INITIALIZER_RANGE)




def _processor_class(model_type, model_class):
    """The type's processor class: transformers' processor table's, else the one the
    model's own package defines (kosmos-2's Kosmos2Processor, which the table lists under
    no type)."""
    name = PROCESSOR_MAPPING_NAMES.get(model_type)
    if not isinstance(name, str):
        # A part of a larger model (qwen2_5_omni_thinker of qwen2_5_omni) is fed by the
        # processor of the model whose config holds its config.
        config_class = CONFIG_MAPPING[model_type]
        name = next((PROCESSOR_MAPPING_NAMES.get(whole) for whole, whole_class in CONFIG_MAPPING.items()
                     if config_class in (getattr(whole_class, "sub_configs", None) or {}).values()
                     and isinstance(PROCESSOR_MAPPING_NAMES.get(whole), str)), None)
    processor_class = getattr(transformers, name, None) if isinstance(name, str) else None
    if processor_class is None:
        package = importlib.import_module(model_class.__module__.rsplit(".", 1)[0])
        own = [module.name for module in pkgutil.iter_modules(package.__path__)
               if module.name.startswith("processing_")]
        classes = [value for module in own
                   for value in vars(importlib.import_module(f"{package.__name__}.{module}")).values()
                   if isinstance(value, type) and issubclass(value, ProcessorMixin)
                   and value.__module__ == f"{package.__name__}.{module}"]
        processor_class = classes[0] if len(classes) == 1 else None
    if processor_class is None:
        # A model written as another's variant (fast_vlm of llava, glm_ocr of glm4v,
        # cosmos3_omni of qwen3_vl: their modular files) ships that model's processor,
        # as its checkpoints do.
        name = next((PROCESSOR_MAPPING_NAMES.get(parent) for parent in tiny.parent_types(model_type)
                     if isinstance(PROCESSOR_MAPPING_NAMES.get(parent), str)), None)
        processor_class = getattr(transformers, name, None) if name else None
    if processor_class is None:
        raise NotImplementedError(f"{model_type}: no processor class in transformers' processor table")
    return processor_class








def _image_processor(model_type, config, processor_class, backend=None):
    """The type's own image processor (tiny.image_processor_name, or the one of the
    `backend` asked for), with its defaults, which match the config's as in a real
    checkpoint, but for the size where the vision tower takes one fixed size (llava's
    336 pixels, where CLIP's processor defaults to 224): that size."""
    # A type that shares another's processor (glm4v_moe's Glm4vProcessor) shares its
    # image processor, which transformers' table lists under that type alone.
    names = [model_type, processor_class.__module__.split(".")[-2]]
    name = next(filter(None, (_backend_image_processor(each, backend) if backend else tiny.image_processor_name(each)
                              for each in names)), None)
    if not name or not hasattr(transformers, name):
        raise NotImplementedError(f"no image processor for {model_type!r} ({name})")
    processor = getattr(transformers, name)()
    sizes = _patch_sizes(processor, config)
    if sizes:
        processor = type(processor)(**sizes)
    image_size = next((_side(sub.image_size) for sub in tiny.configs(config)
                       if _side(getattr(sub, "image_size", None))), None)
    # Only a fixed size is the vision tower's; another kind (idefics2's shortest and
    # longest edge, qwen2_vl's pixel counts) keeps its defaults.
    kind = set(dict(getattr(processor, "size", None) or {}))
    if image_size is not None and kind in ({"height", "width"}, {"shortest_edge"}):
        # Given to the constructor, which makes the size dicts its processor reads.
        sizes = {"size": {"height": image_size, "width": image_size} if "height" in kind
                 else {"shortest_edge": image_size}}
        if getattr(processor, "crop_size", None):
            sizes["crop_size"] = {"height": image_size, "width": image_size}
        pinpoints = next((vars(sub)["image_grid_pinpoints"] for sub in tiny.configs(config)
                          if isinstance(vars(sub).get("image_grid_pinpoints"), list)), None)
        if pinpoints and getattr(processor, "image_grid_pinpoints", None):
            sizes["image_grid_pinpoints"] = pinpoints  # the tiles of the tower's size
        processor = type(processor)(**sizes, **_patch_sizes(processor, config))
    return processor


def _backend_image_processor(model_type, backend):
    """The name of the type's image processor of `backend` ("torchvision"), if any."""
    names = IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type)
    return names.get(backend) if isinstance(names, dict) else None


def _runs_in_image_processor(processor, error):
    """Whether `error` was raised in the code of the processor's image processor: the
    processor handed it what it does not take (fuyu's processor patchifies, through its
    image processor, the torch tensors it made: the PIL one's numpy code cannot)."""
    module = inspect.getmodule(type(processor.image_processor))
    frames = traceback.extract_tb(error.__traceback__)
    return module is not None and any(frame.filename == module.__file__ for frame in frames)


def _side(size):
    """The side of a square size: an int, or a (height, width) of equal ints (internvl's
    image_size (448, 448)); else None."""
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    if isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1] and isinstance(size[0], int):
        return size[0]
    return None


# An image processor's patch sizes and the vision config's names of them.
_PATCH_SIZES = {"patch_size": ("patch_size",), "temporal_patch_size": ("temporal_patch_size",),
                "merge_size": ("merge_size", "spatial_merge_size")}


def _patch_sizes(processor, config):
    """The patch sizes of an image processor that cuts patches itself (qwen2_vl's
    patch_size, temporal_patch_size, merge_size) that the vision config gives otherwise
    (qwen3_vl's 16-pixel patches, where Qwen2VLImageProcessor defaults to 14): the
    config's, as a real checkpoint's preprocessor config has them."""
    vision = next((sub for sub in tiny.configs(config) if isinstance(vars(sub).get("patch_size"), int)), None)
    sizes = {}
    for name, aliases in _PATCH_SIZES.items():
        own = getattr(processor, name, None)
        value = next((vars(vision)[alias] for alias in aliases
                      if vision is not None and isinstance(vars(vision).get(alias), int)), None)
        if isinstance(own, int) and value is not None and value != own:
            sizes[name] = value
    return sizes


def _feature_extractor(model_type, processor_class):
    """The type's feature extractor with its defaults: transformers' table's (for the type,
    else for the type whose processor it shares), else the one class its processor's
    module names (nemotron_h_omni's ParakeetFeatureExtractor)."""
    name = (FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type)
            or FEATURE_EXTRACTOR_MAPPING_NAMES.get(processor_class.__module__.split(".")[-2]))
    if not name:
        source = inspect.getsource(importlib.import_module(processor_class.__module__))
        named = set(re.findall(r"\b(\w+FeatureExtractor)\b", source))
        name = named.pop() if len(named) == 1 else None
    return getattr(transformers, name)() if name and hasattr(transformers, name) else None


def _processor(model_type, processor_class, tokenizer, config, model):
    """The type's processor over its image processor and `tokenizer`, its sizes (llava's
    patch_size, vision_feature_select_strategy) those the config names, and the tokens a
    vision tower adds to its patches (llava's num_additional_image_tokens) those of the
    model: one where it has a class embedding (CLIP's) the processor is told of. Its
    image processor is the PIL one where the processor runs with it, else the
    torchvision one (fuyu's processor hands its image processor torch tensors)."""
    processor = _processor_over(model_type, processor_class, tokenizer, config, model)
    [image] = media.images(1, 0)
    try:
        processor(images=[image], text=PROMPTS[0], return_tensors="pt")
    except Exception as exc:  # noqa: BLE001 -- only a failure in the image processor's code is answered here
        if _runs_in_image_processor(processor, exc) and any(
                _backend_image_processor(each, "torchvision")
                for each in (model_type, processor_class.__module__.split(".")[-2])):
            return _processor_over(model_type, processor_class, tokenizer, config, model, "torchvision")
    return processor


def _processor_over(model_type, processor_class, tokenizer, config, model, backend=None):
    """_processor's processor, over the image processor of `backend` (None: the PIL one
    where the type has one)."""
    parameters = inspect.signature(processor_class.__init__).parameters
    parts = {"image_processor": _image_processor(model_type, config, processor_class, backend),
             "tokenizer": tokenizer}
    # An image processor that cuts frames into temporal patches (Qwen2VLImageProcessor's
    # two) for a model whose code knows no time (dots3_note's Conv2d patch embedding: two
    # frames' patch would be two patches; muse_glimmer's patch_temporal is one it reads)
    # cuts patches of one frame.
    image_processor = parts["image_processor"]
    if getattr(image_processor, "temporal_patch_size", None) not in (None, 1) \
            and "temporal" not in _source_of(model):
        image_processor.temporal_patch_size = 1
    if "video_processor" in parameters:
        # Images need none, but the processor checks its class.
        names = (VIDEO_PROCESSOR_MAPPING_NAMES.get(model_type)
                 or VIDEO_PROCESSOR_MAPPING_NAMES.get(processor_class.__module__.split(".")[-2]) or {})
        name = names.get("torchvision") if isinstance(names, dict) else names
        parts["video_processor"] = getattr(transformers, name)() if name else None
        if getattr(parts["video_processor"], "draw_on_frames", False):
            # ernie4_5_vl_moe's draws timestamps on frames with a font file its
            # checkpoints ship beside it; no frame is drawn on here.
            parts["video_processor"] = getattr(transformers, name)(draw_on_frames=False)
    for name in ("feature_extractor", "audio_processor"):
        if name in parameters:
            # Images need none either, but an audio-and-vision processor (gemma4's,
            # dots3_note's, phi4_multimodal's audio_processor) checks it is one: the
            # type's own, else the one its module names.
            parts[name] = _feature_extractor(model_type, processor_class)
    if "qformer_tokenizer" in parameters:
        # The Q-Former's text (instructblip's) reads the prompt too, through a tokenizer
        # of its own in a checkpoint; its vocabulary here is the tiny one, as the
        # config's every vocab_size is: the same tokenizer.
        parts["qformer_tokenizer"] = tokenizer
    sizes = {}
    for name in parameters:
        if name in _PROCESSOR_PARTS or name.endswith("_token") or name in ("self", "args", "kwargs"):
            continue
        value = _config_size(config, name)
        if value is not None:
            sizes[name] = value
    # paligemma's processor reads the number of image tokens off its image processor.
    image_seq_length = _config_size(config, "image_seq_length")
    if image_seq_length is not None:
        parts["image_processor"].image_seq_length = image_seq_length
    elif getattr(parts["image_processor"], "image_seq_length", 0) is None:
        # Left to the checkpoint's preprocessor config (florence2's 577): as many as
        # the model gives one image features.
        parts["image_processor"].image_seq_length = _features_per_image(model, parts["image_processor"])
    # A count of image tokens the config does not name but implies (idefics3's
    # image_seq_len, llava_onevision's num_image_tokens): the vision tower's patches,
    # merged scale_factor x scale_factor.
    vision = _vision_config(config)
    for name in ("image_seq_len", "image_seq_length", "num_image_tokens"):
        if name in parameters and name not in sizes and vision is not None:
            scale = _config_size(config, "scale_factor")
            scale = scale if isinstance(scale, int) and scale > 0 else 1
            sizes[name] = (vision.image_size // vision.patch_size) ** 2 // scale ** 2
    # An image processor that cuts an image into tiles (idefics3's max_image_size) cuts
    # tiles of the size the vision tower takes.
    max_size = getattr(parts["image_processor"], "max_image_size", None)
    if vision is not None and isinstance(max_size, dict) and set(max_size) == {"longest_edge"}:
        parts["image_processor"].max_image_size = {"longest_edge": vision.image_size}
    if "num_additional_image_tokens" in parameters:
        # Counted where the processor is told whether the model keeps it (llava's
        # "default" strategy drops it, "full" keeps it); vipllava always drops it.
        sizes["num_additional_image_tokens"] = int("vision_feature_select_strategy" in sizes and any(
            name.endswith("class_embedding") for name, _ in model.named_parameters()))
    processor = processor_class(**parts, **sizes)
    if "mm_token_type_ids" in inspect.signature(model.forward).parameters \
            and "mm_token_type_ids" in processor.model_input_names and not processor.return_mm_token_type_ids:
        # A model that reads which tokens are the image's (cosmos3_edge's M-RoPE) from a
        # processor that returns them only when asked: its checkpoint's tokenizer config
        # asks (a default the processor takes from the tokenizer's init arguments).
        tokenizer.init_kwargs["return_mm_token_type_ids"] = True
    return processor


def _features_per_image(model, image_processor):
    """How many features (each one image token in the prompt) the model makes of one
    processed image, or None where it cannot say."""
    [image] = media.images(1, 0)
    try:
        pixels = image_processor(images=[image], return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            features = model.get_image_features(pixel_values=pixels.to(model.dtype))
    except Exception:  # noqa: BLE001 -- the count stays unknown; the processor says so
        return None
    for name in ("pooler_output", "last_hidden_state"):
        if isinstance(getattr(features, name, None), torch.Tensor):
            features = getattr(features, name)
            break
    return features.shape[-2] if isinstance(features, torch.Tensor) and features.dim() >= 2 else None


def _choose_chat_template(processor, model, tokenizer):
    """The tiny checkpoint's chat template, written as a real one is: the image in the
    user's turn as the token the model reads it by. Which token that is the processor
    and the model tell: the processor's image_token, another special token that names
    an image ("<image>" in a module that never calls it image_token), each also between
    the start and end tokens of its own name (hunyuan_vl's <image_start><image>
    <image_end>), or none where the processor places the image itself (git); the first
    that one image and a prompt go through generate() with, in that order.
    """
    image_token = getattr(processor, "image_token", None)
    special = [token for token in tokenizer.extra_special_tokens if re.search("im(age|g)", token, re.IGNORECASE)]
    tokens = list(dict.fromkeys([*([image_token] if isinstance(image_token, str) else []), *special]))
    wrapped = []
    for token in tokens:
        stem = token.strip("<|>[]")
        start, end = (next((other for other in special if other.strip("<|>[]").lower() in
                            (f"{stem}_{word}".lower(), f"{word}_{stem}".lower())), None)
                      for word in ("start", "end"))
        if start and end:
            wrapped.append(start + token + end)
    candidates = list(dict.fromkeys([*tokens, *wrapped, *_repeated_image_tokens(processor, model, tokens), ""]))
    [image] = media.images(1, 0)
    failures = []
    for token in candidates:
        processor.chat_template = CHAT_TEMPLATE.format(image=token)
        try:
            inputs = processor(images=[image], text=prompt(processor, PROMPTS[0], image), return_tensors="pt")
            inputs = inputs.to(model.dtype)
            with torch.no_grad():
                model.generate(**inputs, max_new_tokens=1, do_sample=False)
            return
        except Exception as exc:  # noqa: BLE001 -- the next way of writing the image is tried
            failures.append(exc)
    for token, exc in zip(candidates[1:], failures[1:]):
        failures[0].add_note(f"with the image as {token!r}: {type(exc).__name__}: {exc}")
    raise failures[0]


def _name_unwritten_image_token(config, processor, tokenizer):
    """An image token that neither the processor writes nor the tiny vocabulary holds
    (pp_chart2table's: its processor writes none, its checkpoint's chat template writes
    them, and the config's image_token_index is the checkpoint's id, past the tiny
    vocabulary): a special token "<image>" the config's id then names, for the chat
    template to write (see _repeated_image_tokens)."""
    if getattr(processor, "image_token", None) is not None:
        return
    fields = [(sub, name) for sub in tiny.configs(config) for name in ("image_token_id", "image_token_index")
              if isinstance(vars(sub).get(name), int) and vars(sub)[name] >= len(tokenizer)]
    if not fields:
        return
    token, size = "<image>", len(tokenizer)
    if token not in tokenizer.get_vocab():
        tokenizer.add_tokens([token], special_tokens=True)
        tokenizer.add_special_tokens({"extra_special_tokens": [token]}, replace_extra_special_tokens=False)
    for sub, name in fields:
        setattr(sub, name, tokenizer.convert_tokens_to_ids(token))
    # The vocabulary sizes that were the tokenizer's follow it (a vision tower's is not).
    for sub in tiny.configs(config):
        if vars(sub).get("vocab_size") == size:
            sub.vocab_size = len(tokenizer)


def _repeated_image_tokens(processor, model, tokens):
    """The image written as its token once per feature the model makes of it, as the chat
    template of a checkpoint whose processor writes no image tokens does
    (pp_chart2table's 256): only where the processor has no image_token to expand."""
    if getattr(processor, "image_token", None) is not None or not tokens:
        return []
    count = _features_per_image(model, processor.image_processor)
    return [token * count for token in tokens] if count and count > 1 else []


# The config's names of a size a processor takes under its own (the number of tokens an
# image takes in the prompt: paligemma's num_image_tokens, gemma3's mm_tokens_per_image).
# aya_vision's processor counts tokens per tile from its img_size, the tower's image_size.
_SIZE_NAMES = {"image_seq_length": ("image_seq_length", "num_image_tokens", "mm_tokens_per_image"),
               "img_size": ("img_size", "image_size")}


def _config_size(config, name):
    """The value the config (or a sub-config) gives the processor's `name`, if any."""
    for alias in _SIZE_NAMES.get(name, (name,)):
        for sub in tiny.configs(config):
            value = getattr(sub, alias, None)
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                return value
    return None


def _vision_config(config):
    """The sub-config (or config) that names a fixed image_size and patch_size."""
    return next((sub for sub in tiny.configs(config) if isinstance(getattr(sub, "image_size", None), int)
                 and isinstance(getattr(sub, "patch_size", None), int)), None)


def _even_patch_grid(config):
    """A grid of patches with an even side: the pixel shuffles that merge 2 x 2 patches
    into one token (aya_vision's, internvl's) need one, and some defaults pair a vision
    tower's size with a patch that gives an odd one (384 / 14: 27), where the real
    checkpoints do not. One patch more a side; the image processor follows image_size."""
    vision = _vision_config(config)
    if vision is not None and (vision.image_size // vision.patch_size) % 2:
        old = vision.image_size
        vision.image_size = (vision.image_size // vision.patch_size + 1) * vision.patch_size
        # The resolutions an image is tiled at (llava_onevision's image_grid_pinpoints,
        # multiples of the tower's size) follow it.
        for sub in tiny.configs(config):
            pinpoints = vars(sub).get("image_grid_pinpoints")
            if isinstance(pinpoints, list):
                sub.image_grid_pinpoints = [[side // old * vision.image_size for side in point]
                                            for point in pinpoints]


def _clamp_feature_layers(config):
    """Layers named by index (vipllava's vision_feature_layer (-2, -5, -8, -11, 6),
    mllama's intermediate_layers_indices and cross_attention_layers, a SAM tower's
    global_attn_indexes, whose first deepseek_vl_hybrid reads features at) within the tiny
    towers' depth, as many as before (a projector's width counts them); and the depths
    of a tower's other stacks (mllama's num_global_layers) no deeper than the tiny one."""
    for sub in tiny.configs(config):
        layers = next((vars(sub)[name] for name in ("num_hidden_layers", "num_layers", "depth")
                       if isinstance(vars(sub).get(name), int)), tiny.LAYERS)
        for name, value in list(vars(sub).items()):
            if re.fullmatch(r"num_\w+_layers", name) and isinstance(value, int) and value > tiny.LAYERS \
                    and name != "num_hidden_layers":
                setattr(sub, name, tiny.LAYERS)
            if not re.search(r"(feature_layers?|layers_indices|layer_indices|attn_indexes|cross_attention_layers"
                             r"|target_layers)$", name):
                continue
            if isinstance(value, (list, tuple)) and all(isinstance(index, int) for index in value):
                setattr(sub, name, type(value)(_clamp(index, layers) for index in value))
            elif isinstance(value, int) and not isinstance(value, bool):
                setattr(sub, name, _clamp(value, layers))
        # A width that concatenates the last layer's features and those of the listed
        # layers (mllama's vision_output_dim) follows the tiny width.
        indices = vars(sub).get("intermediate_layers_indices")
        if isinstance(vars(sub).get("vision_output_dim"), int) and isinstance(indices, list):
            sub.vision_output_dim = sub.hidden_size * (len(indices) + 1)


def _clamp(index, layers):
    """A layer's index (negative from the end) within `layers` layers."""
    return max(-layers, min(index, layers - 1))


def _source_of(model):
    """The source of the modules `model`'s parts are built of (its towers' too: glm46v's
    vision tower is glm4v's)."""
    modules = {type(module).__module__ for module in model.modules()}
    return "\n".join(inspect.getsource(importlib.import_module(name)) for name in sorted(modules)
                     if name.startswith("transformers.models."))


def _modeling_source(model_class, config):
    """The source of the modules the model is built of: its class's, and those of the
    towers it builds with AutoModel (glm46v's text model, glm4v's)."""
    modules = {model_class.__module__}
    try:
        modules |= {type(module).__module__ for module in model_class(config).modules()}
    except Exception:  # noqa: BLE001 -- a model the config cannot build yet fails later, honestly
        pass
    return "\n".join(inspect.getsource(importlib.import_module(name)) for name in sorted(modules)
                     if name.startswith("transformers.models."))


def _scale_mrope_sections(config, modeling_source):
    """Multimodal rotary sections (qwen2_vl's mrope_section [16, 24, 24]: the time,
    height and width parts of half a head) scaled to the tiny head, as nearly in the same
    proportions as whole numbers allow, each at least one; also where the config names
    none and the modeling code falls back on its own (paddleocr_vl's)."""
    fallback = re.search(r"""["']mrope_section["'],\s*\[([\d, ]+)\]""", modeling_source)
    for sub in tiny.configs(config):
        ropes = [getattr(sub, "rope_parameters", None), getattr(sub, "rope_scaling", None)]
        # Parameters per layer kind (cohere_compass's {"full_attention": {...}}) each.
        ropes += [rope for rope in (ropes[0].values() if isinstance(ropes[0], dict) else ()) if isinstance(rope, dict)]
        for rope in ropes:
            sections = rope.get("mrope_section") if isinstance(rope, dict) else None
            if sections is None and fallback and isinstance(rope, dict) and "rope_type" in rope:
                sections = [int(size) for size in fallback.group(1).split(",")]
            # vars(): a per-layer size of a heterogeneous config (gemma4's) has no global.
            heads, width = vars(sub).get("num_attention_heads"), vars(sub).get("hidden_size")
            head_dim = vars(sub).get("head_dim") or (width // heads if heads and width else None)
            if not isinstance(sections, list) or not head_dim:
                continue
            # Only the rotated part of a head (glm4v's partial_rotary_factor) is split.
            factor = rope.get("partial_rotary_factor") or vars(sub).get("partial_rotary_factor") or 1.0
            half, total = int(head_dim * factor) // 2, sum(sections)
            scaled = [max(1, section * half // total) for section in sections]
            # What is left over goes to a section of a size no other has: sections of one
            # size stay equal (ernie4_5_vl_moe's height and width, [22, 22, 20], interleave).
            rest = next((at for at, section in enumerate(sections) if sections.count(section) == 1), 0)
            scaled[rest] += half - sum(scaled)
            rope["mrope_section"] = scaled


def _required_mrope_axes(config, modeling_source):
    """Multimodal rotary sections that a model requires but its default config leaves to
    its checkpoints (hunyuan_vl's "expects at least 3 multimodal RoPE axes": width,
    height and image index, after any axes of plain sequence positions): one axis of
    sequence positions and the required image axes, as its checkpoints and transformers'
    own test (mrope_section [2, 2, 2, 2]) have them, in equal parts of half the tiny head."""
    required = re.search(r"expects at least (\d+) multimodal RoPE axes", modeling_source)
    if not required:
        return
    axes = int(required.group(1)) + 1
    for sub in tiny.configs(config):
        rope = vars(sub).get("rope_parameters")
        heads, width = vars(sub).get("num_attention_heads"), vars(sub).get("hidden_size")
        head_dim = vars(sub).get("head_dim") or (width // heads if heads and width else None)
        if not isinstance(rope, dict) or rope.get("mrope_section") or not head_dim:
            continue
        half = head_dim // 2
        sections = [half // axes] * axes
        sections[0] += half - sum(sections)
        rope["mrope_section"] = sections


def _match_patch_queries(config, processor):
    """A projector that maps a number of patches to a number of queries (aria's
    projector_patch_to_query_dict {1225: 128, 4900: 256}) and a processor that maps the
    size it resizes to to the same number of image tokens (aria's size_conversion
    {490: 128, 980: 256}) agree only at the checkpoint's patch size (14: 490 pixels are
    35 x 35 patches). The default vision config pairs another (32, whose 900 patches
    the table lacks): the patch size that makes them agree, at the smaller image size."""
    table = next((vars(sub)["projector_patch_to_query_dict"] for sub in tiny.configs(config)
                  if isinstance(vars(sub).get("projector_patch_to_query_dict"), dict)), None)
    conversion = getattr(processor, "size_conversion", None)
    image_processor = getattr(processor, "image_processor", None)
    vision = next((sub for sub in tiny.configs(config) if isinstance(vars(sub).get("patch_size"), int)), None)
    if not table or not isinstance(conversion, dict) or vision is None \
            or not isinstance(getattr(image_processor, "max_image_size", None), int):
        return
    for size, tokens in sorted(conversion.items()):
        side = next((math.isqrt(patches) for patches, queries in table.items()
                     if queries == tokens and math.isqrt(patches) ** 2 == patches), None)
        if side and size % side == 0:
            vision.patch_size = size // side
            image_processor.max_image_size = size
            return


def _image_token_as_written(config, processor, tokenizer):
    """The image token id the model counts is the token the processor writes in the
    image's place, once per feature: where that is not the token the user writes and
    the config's id names a token the processed prompt lacks (aya_vision's processor
    expands <image> into <|IMG_PATCH|> tokens, ovis2's into <IMG_ATOM>s) or writes once,
    a marker before the features (llama4's <|image|>, then a <|patch|> per feature,
    which its checkpoints' image_token_index names), the config's id becomes the
    special token the processor repeats most."""
    image_token = getattr(processor, "image_token", None)
    fields = [(sub, name) for sub in tiny.configs(config) for name in ("image_token_id", "image_token_index")
              if isinstance(vars(sub).get(name), int)]
    if not isinstance(image_token, str) or not fields:
        return
    [image] = media.images(1, 0)
    try:
        ids = processor(images=[image], text=image_token + PROMPTS[0], return_tensors="pt")["input_ids"][0].tolist()
    except Exception:  # noqa: BLE001 -- the chat-template probe finds the way, or fails with the reason
        return
    special = set(tokenizer.all_special_ids)
    counts = {token: ids.count(token) for token in set(ids) if token in special}
    repeated = max(counts, key=counts.get, default=None)
    if repeated is None or counts[repeated] < 2:
        return
    for sub, name in fields:
        if ids.count(vars(sub)[name]) < 2:
            setattr(sub, name, repeated)


def _tile_image_tokens(config):
    """Image tokens pooled from the patches (gemma3's mm_tokens_per_image) that tile the
    vision tower's grid of patches: gemma3's defaults pair 256 tokens with SigLIP's
    default 14 x 14 patches (its checkpoints: 64 x 64), which cannot pool; a 2 x 2
    pooling then, 49 tokens."""
    vision = _vision_config(config)
    holder = next((sub for sub in tiny.configs(config) if isinstance(vars(sub).get("mm_tokens_per_image"), int)), None)
    if vision is None or holder is None:
        return
    side = vision.image_size // vision.patch_size
    tokens_side = math.isqrt(holder.mm_tokens_per_image)
    if tokens_side > side or side % tokens_side:
        holder.mm_tokens_per_image = (side // 2) ** 2


def prompt(processor, text, image=None):
    """The prompt the contract writes for one image and `text` (see the module's doc):
    but for a processor that writes its image token itself (florence2's, before the
    task prompt; its checkpoints have no chat template, and its class keeps none), the
    text as it is. Which one it is shows in what it makes of the text alone with `image`
    (any image: a drawn one where none is given)."""
    written = tokenizers.media_prompt(processor, text, "image")
    image_token = getattr(processor, "image_token", None)
    if getattr(processor, "chat_template", None) or written == text or not isinstance(image_token, str):
        return written
    if image is None:
        [image] = media.images(1, 0)
    try:
        ids = processor(images=[image], text=text)["input_ids"][0]
    except ValueError:  # a processor that counts the image tokens in the text wants one
        return written
    return text if processor.tokenizer.convert_tokens_to_ids(image_token) in ids else written


def cases(plan):
    n = plan["generation"]["max_new_tokens"]
    one, first, second = media.images(3, plan.get("seed", 0))
    # min_new_tokens == max_new_tokens: a random model may end at once, and two empty
    # answers would agree whatever the skillset does.
    fixed = {"max_new_tokens": n, "min_new_tokens": n}
    return [
        Case("one image and a prompt", {"image": one, "text": PROMPTS[0]}, fixed),
        # Different sizes and prompt lengths: a batch that pads or resizes them
        # together must change nothing.
        Case("two images of different sizes, prompts of different lengths",
             [{"image": first, "text": PROMPTS[0]}, {"image": second, "text": PROMPTS[1]}], fixed),
        Case("one image as PNG bytes, each to its own end",
             [{"image": media.png(one), "text": PROMPTS[1]}], {"max_new_tokens": n}),
    ]


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _load(model_dir, auto_class):
    processor = AutoProcessor.from_pretrained(model_dir)
    model = getattr(transformers, auto_class).from_pretrained(model_dir).eval()
    return processor, model


def reference(model_dir, candidate, case, plan):
    processor, model = _load(model_dir, candidate["auto_class"])
    settings = dict(case.options, do_sample=False, num_beams=1)
    config = model.generation_config
    end = config.eos_token_id
    end_ids = set(end) if isinstance(end, list) else {end}
    items = case.input if isinstance(case.input, list) else [case.input]
    expected = Expected({"token_ids": [], "texts": []})
    for item in items:  # each alone: nothing padded, nothing resized together
        [image] = media.pil_images(item["image"])
        image = image.convert("RGB")
        inputs = processor(images=[image], text=prompt(processor, item["text"], image), return_tensors="pt")
        # Pixels in the model's dtype, as the pipeline gives them (llama4's image
        # processor normalises in bfloat16, as its checkpoints were trained).
        token_ids, margins = greedy.answer(model, inputs.to(model.dtype), settings, end_ids)
        expected["token_ids"].append(token_ids)
        expected["texts"].append(processor.batch_decode([token_ids], skip_special_tokens=True)[0])
        expected.margins.append(margins)
    return expected


# Token ids equal token for token and texts equal, ties named.
compare = greedy.compare
