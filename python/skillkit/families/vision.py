"""Image classifiers and encoders (vit, ...): logits and top-k labels per image, or
one embedding per image (feature-extraction, image-feature-extraction: the
image-feature-extraction pipeline's pooled output on each image alone, else the mean of
its last hidden state).

The handler's contract (docs/DESIGN.md): an image or a list of images (PIL, path or
bytes) in, option top_k (5); `logits` (one vector per image) and `predictions` (per
image, the top_k {"label", "score"} pairs, best first) out. The reference runs
transformers' image-classification pipeline on each image alone for the predictions,
and the model on the pipeline's own preprocessed inputs for the logits, so a skillset
that batches images of different sizes must show that resizing them together changes
nothing.
"""
import functools
import inspect
import re

import numpy as np
import torch
import transformers
from transformers import AutoImageProcessor, pipeline
from transformers.backbone_utils import BackboneMixin
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES
from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TO_IMAGE_MAPPING_NAMES

from .. import media, tiny
from ..compare import Comparison, allclose, missing_outputs, outputs_allclose, scores_and_predictions
from ..expected import Expected
from . import Case

# The tiny model sees IMAGE_SIZE x IMAGE_SIZE pixels in PATCH_SIZE patches: 16 patches.
IMAGE_SIZE = 32
PATCH_SIZE = 8
# The image of a model whose convolutions pad by reflection, which needs every map wider
# than the padding.
REFLECT_IMAGE_SIZE = 64
# A hierarchical model's stages (swin's, convnext's) halve the grid of patches again and
# again: in 2-pixel patches, its four stages see 16, 8, 4 and 2 per side, and windowed
# attention (swin's) looks at WINDOW_SIZE x WINDOW_SIZE of them, as many as the last
# stage has.
STAGE_PATCH_SIZE = 2
WINDOW_SIZE = 2

# Random weights at the configs' usual initializer range (0.02 for vit) leave the logits
# nearly the same whatever the image (0.007 apart for two different images), so a
# preprocessing bug moves them by little more than the tolerance. Wider weights make
# the output depend on the pixels (logits 4 apart; bicubic for bilinear moves them 0.08).
INITIALIZER_RANGE = 0.3

# The tasks whose handler gives one embedding per image.
EMBEDDING_TASKS = ("feature-extraction", "image-feature-extraction")
# The task whose handler gives per image the feature maps of the backbone's out_features.
BACKBONE = "backbone"
# The task whose handler gives per image the image the model reconstructs (swin2sr's
# super-resolution), which no pipeline of this transformers version serves.
IMAGE_TO_IMAGE = "image-to-image"
# The timm model a type that wraps one is built on: timm's own tiny test architecture
# (470 thousand parameters), made for tests such as these.
TIMM_MODEL = "test_resnet"
# transformers draws every weight of the timm model it wraps at this range: through a
# stack of convolutions whose batch norms hold no trained statistics, 0.02 leaves two
# images' scores 2e-6 apart and the family's 0.3 overflows; 0.1 keeps the logits near
# one and two images' scores 0.06 apart.
TIMM_INITIALIZER_RANGE = 0.1
# The first stage's width of a hierarchical encoder that lists it per stage (sam2's).
STAGE_WIDTH = tiny.STAGE_WIDTH
# The colours of a processor that quantizes them into the vocabulary (imagegpt's).
PALETTE = 16
# The family's reference type, whose processor (resize, rescale, normalize) is the last
# resort of a type fed by none of its own or of its relatives'.
REFERENCE_TYPE = "vit"

# Seven labels: more than the default top_k of 5, so the cut is exercised.
LABELS = ("tabby cat", "tree frog", "goldfish", "red fox", "garden snail", "jellyfish", "teapot")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _relatives(model_type, table=IMAGE_PROCESSOR_MAPPING_NAMES):
    """Model types of `table` (a processor table of transformers) named as parts of the
    same model, nearest first: for sam2_vision_model, sam2; for dinov3_convnext,
    dinov3_vit (its name's stems, each the type of that name or the types that extend it)."""
    words = re.split(r"[_-]", model_type)
    relatives = []
    for count in range(len(words) - 1, 0, -1):
        stem = model_type[:len("_".join(words[:count]))]
        relatives += [stem] if stem in table else sorted(
            name for name in table if re.match(re.escape(stem) + r"[_-]", name))
    return relatives


def _takes_images_alone(name):
    """Whether the processor class preprocesses images with nothing else required
    (vitpose's also needs each person's box)."""
    parameters = list(inspect.signature(getattr(transformers, name).preprocess).parameters.values())[2:]
    return not any(p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters)


def _image_processor(model_type, size=IMAGE_SIZE):
    """The processor a checkpoint of the type is fed by, resized to `size`.

    Its own (tiny.image_processor_name); else, for a part of a composite model that
    transformers maps no processor to (sam2_vision_model, mlcd_vision_model,
    uvdoc_backbone), the composite's, since its checkpoints are cut from the composite's
    and saved with its processor (_relatives); else the processor of the model type its
    modeling code derives from (dinov2_with_registers: dinov2's; vision_detection's
    tiny.parent_types); else the family's reference type's, which only resizes, rescales and
    normalizes, as a plain pixel_values input is fed. A processor that needs more than
    the image (vitpose's boxes) is passed over.
    """
    for source in [model_type, *_relatives(model_type), *tiny.parent_types(model_type), REFERENCE_TYPE]:
        name = tiny.image_processor_name(source)
        if name is not None and hasattr(transformers, name) and _takes_images_alone(name):
            return tiny.image_processor(source, size)
    raise NotImplementedError(f"no image processor for {model_type!r}")  # unreachable: vit has one


def _loads_by_name_only(model_class):
    """Whether a backbone class's own from_pretrained reads no directory: TimmBackbone's
    takes its argument for a timm model's name and has timm download its weights."""
    return issubclass(model_class, BackboneMixin) and "from_pretrained" in vars(model_class)


def _from_pretrained(model_class, model_dir, **options):
    """The model saved in `model_dir`, as `model_class` loads it; a backbone class whose
    own from_pretrained reads a timm model's name (TimmBackbone) loads the directory
    through PreTrainedModel's loader, the one every other model loads with: the config
    saved there (the timm architecture it names, no pretrained weights) and its weights."""
    if _loads_by_name_only(model_class):
        return super(model_class, model_class).from_pretrained(model_dir, **options)
    return model_class.from_pretrained(model_dir, **options)


def _build_timm_backbone(candidate, out_dir):
    """A backbone over a timm model (TimmBackbone): timm's own tiny test architecture,
    built without pretrained weights (timm draws them), every stage after the stem out,
    fed by the family's reference processor (the type maps none). Reloaded as the
    skillset loads it (_from_pretrained): TimmBackbone's own from_pretrained would take
    the directory for a timm model's name."""
    model_class = getattr(transformers, candidate["model_class"])
    config = transformers.TimmBackboneConfig(backbone=TIMM_MODEL, use_pretrained_backbone=False)
    stages = len(model_class(config)._backbone.feature_info.info)
    config.out_indices = list(range(1, stages))
    model = model_class(config).eval()
    tiny.save_and_verify(model, _image_processor(REFERENCE_TYPE), out_dir,
                         load=functools.partial(_from_pretrained, model_class))


def _build_timm_wrapper(candidate, out_dir):
    """timm_wrapper wraps the timm model its config names: timm's own tiny test
    architecture, fed as timm feeds it (its pretrained_cfg's data config, at the tiny
    size), which the model's config carries (the processor saves nothing of its own)."""
    import timm

    data_config = {**timm.get_pretrained_cfg(TIMM_MODEL).to_dict(), "input_size": (3, IMAGE_SIZE, IMAGE_SIZE)}
    config = transformers.TimmWrapperConfig(
        architecture=TIMM_MODEL, pretrained_cfg=data_config, id2label=dict(enumerate(LABELS)),
        label2id={label: index for index, label in enumerate(LABELS)},
        initializer_range=TIMM_INITIALIZER_RANGE)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    tiny.save_and_verify(model, transformers.TimmWrapperImageProcessor(pretrained_cfg=data_config), out_dir)


def _shrink_stages(stages, config):
    """A hierarchical encoder that lists its sizes `_per_stage` (sam2's hiera), which
    shrink does not read: every stage one block deep, STAGE_WIDTH wide and doubling; a
    stage that had global attention two deep, its second block global (a stage's first
    block pools, and a pooling block cannot attend globally); the neck that reads the
    stages (sam2's backbone_channel_list, widest first) follows."""
    blocks = stages.blocks_per_stage
    first = [sum(blocks[:stage]) for stage in range(len(blocks))]
    attends = [any(first[stage] <= block < first[stage] + blocks[stage] for block in stages.global_attention_blocks)
               for stage in range(len(blocks))]
    stages.blocks_per_stage = [2 if global_ else 1 for global_ in attends]
    stages.global_attention_blocks = [sum(stages.blocks_per_stage[:stage + 1]) - 1
                                      for stage in range(len(blocks)) if attends[stage]]
    stages.embed_dim_per_stage = [STAGE_WIDTH * 2**stage for stage in range(len(blocks))]
    stages.hidden_size = STAGE_WIDTH
    if isinstance(getattr(config, "backbone_channel_list", None), list):
        config.backbone_channel_list = stages.embed_dim_per_stage[::-1]
    if _is_int(getattr(config, "fpn_hidden_size", None)):
        config.fpn_hidden_size = tiny.HIDDEN


def _shrink_timm_stages(backbone, config):
    """A timm model as a composite's backbone (edgetam's), built as transformers' tests
    build it: the architecture the config names (edgetam's default names repvit_m1
    under the misspelt `archirecture`, beside TimmWrapperConfig's own default
    resnet50), its stages STAGE_WIDTH wide and doubling (`embed_dim`), and the neck that
    reads them (backbone_channel_list, widest first) at those widths."""
    backbone.architecture = getattr(backbone, "archirecture", None) or backbone.architecture
    widths = [STAGE_WIDTH * 2**stage for stage in range(len(config.backbone_channel_list))]
    backbone.model_args = {**(backbone.model_args or {}), "embed_dim": widths}
    config.backbone_channel_list = widths[::-1]
    if _is_int(getattr(config, "fpn_hidden_size", None)):
        config.fpn_hidden_size = tiny.HIDDEN


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    if _loads_by_name_only(getattr(transformers, candidate["model_class"])):
        return _build_timm_backbone(candidate, out_dir)
    if model_type == "timm_wrapper":
        return _build_timm_wrapper(candidate, out_dir)
    config = CONFIG_MAPPING[model_type]()
    per_side = isinstance(getattr(config, "image_size", None), (list, tuple))
    # A size given per side (hiera's, mgp-str's) stays a list.
    overrides = {"image_size": [IMAGE_SIZE] * 2 if per_side else IMAGE_SIZE, "id2label": dict(enumerate(LABELS)),
                 "label2id": {label: index for index, label in enumerate(LABELS)}}
    if "num_labels" in vars(config):  # declared by the config (pvt's 1000), not derived from id2label
        overrides["num_labels"] = len(LABELS)
    hierarchical = tiny.is_hierarchical(config)
    patch_size = getattr(config, "patch_size", None)
    # A patch given per side (hiera's 7 x 7 with a stride of 4) already fits 32 pixels,
    # and so does one no larger than the tiny model's (mobilevitv2's unfolding in 2 x 2).
    # A stem of strided convolutions (levit's: four of stride 2, its config's kernel_size
    # and stride) makes the patch size: it stays.
    stem = all(_is_int(getattr(config, name, None)) for name in ("kernel_size", "stride"))
    if not isinstance(patch_size, (list, tuple)) and not stem:
        target = STAGE_PATCH_SIZE if hierarchical else PATCH_SIZE
        overrides["patch_size"] = min(patch_size, target) if _is_int(patch_size) else target
    patch = overrides.get("patch_size", patch_size)
    size = IMAGE_SIZE
    if _is_int(getattr(config, "output_stride", None)) and _is_int(patch):
        # A model that unfolds its last feature map, output_stride times smaller than
        # the image, into patches (mobilevitv2's 2 x 2 at 1/32) needs one patch there.
        size = max(IMAGE_SIZE, config.output_stride * patch)
        overrides["image_size"] = size
    if getattr(config, "padding_mode", None) == "reflect":
        # A convolution that pads by reflection needs a map wider than its padding:
        # uvdoc's 5 x 5 kernels on its last maps, 1/16 of the image, see 4 x 4 at 64.
        size = REFLECT_IMAGE_SIZE
        overrides["image_size"] = size
    if hierarchical and isinstance(getattr(config, "window_size", None), int):
        overrides["window_size"] = WINDOW_SIZE
    if isinstance(getattr(config, "num_windows", None), int):
        # A windowed ViT backbone (lw_detr_vit's 16 windows, 4 a side) splits the image:
        # the tiny model's 4 x 4 patches in 2 x 2 windows.
        overrides["num_windows"] = 4
        if getattr(config, "num_windows_side", None) is not None:
            overrides["num_windows_side"] = 2
    if getattr(config, "mask_ratio", None):
        # A masked autoencoder (vit_mae) drops 75% of the patches, drawn anew on every
        # call, so no two runs of one image agree: the tiny checkpoint masks none, as a
        # checkpoint served for its features is configured.
        overrides["mask_ratio"] = 0.0
    # A model whose output is an image keeps its config's initializer range: the wider
    # weights push swin2sr's reconstruction to 0 or 1 (99.9% of its values clamped),
    # where 0.02 keeps it between 0.36 and 0.51, and different for every image.
    makes_images = candidate["model_class"] in MODEL_FOR_IMAGE_TO_IMAGE_MAPPING_NAMES.values()
    for name, value in (("encoder_stride", PATCH_SIZE), ("pooler_output_size", tiny.HIDDEN),
                        ("initializer_range", None if makes_images else INITIALIZER_RANGE)):
        if value is not None and getattr(config, name, None) is not None:
            overrides[name] = value
    tiny.shrink(config, **overrides)
    for part in (config, getattr(config, "backbone_config", None)):
        if isinstance(getattr(part, "blocks_per_stage", None), list):
            _shrink_stages(part, config)
    if getattr(getattr(config, "backbone_config", None), "model_type", None) == "timm_wrapper":
        _shrink_timm_stages(config.backbone_config, config)
    processor = _image_processor(model_type, size)
    if isinstance(getattr(config, "num_windows", None), int):
        # A windowed ViT backbone splits the image into num_windows squares, so it is fed
        # squares: its detector's checkpoints save their processor (a detection one, which
        # keeps each image's aspect by default) at image_size x image_size (LW-DETR's
        # 640 x 640, RF-DETR's at its backbone's image_size).
        processor.size = {"height": size, "width": size}
    if hasattr(processor, "clusters") and processor.clusters is None:
        # A processor that quantizes colours into the model's vocabulary (imagegpt's
        # 512 clusters) holds the palette, which a checkpoint saves with it: PALETTE
        # colours drawn in its [-1, 1] colour space, the vocabulary those and the start
        # token.
        processor.clusters = np.random.default_rng(seed).uniform(-1.0, 1.0, (PALETTE, 3)).astype(np.float32)
        config.vocab_size = PALETTE + 1
    for name, value in list(vars(config).items()):
        if isinstance(value, tuple):
            # As a checkpoint's config.json gives them: convnext's backbone extends its
            # hidden_sizes, a tuple by default, with a list.
            setattr(config, name, list(value))
    model_class = getattr(transformers, candidate["model_class"])
    backbone = getattr(config, "backbone_config", None)
    for part in ([config] if issubclass(model_class, BackboneMixin) else []) + [backbone]:
        if getattr(part, "stage_names", None) and hasattr(part, "set_output_features_output_indices"):
            # Every stage after the stem, not only the last (the default): a backbone's
            # user reads several, and a bug in any one's layout shows. A model that holds
            # a backbone (uvdoc's) reads them too: its head is as wide as every stage
            # together, as its checkpoints configure it.
            part.set_output_features_output_indices(out_features=list(part.stage_names[1:]), out_indices=None)
    model = model_class(config).eval()
    tiny.save_and_verify(model, processor, out_dir)


def cases(plan):
    one, first, second = media.images(3, plan.get("seed", 0))
    # media's default sizes differ from each other and from the model's 32 x 32, so
    # every image is resized, and the two of the batch differently.
    if plan["task"] in (*EMBEDDING_TASKS, BACKBONE, IMAGE_TO_IMAGE):
        return [Case("one image", one), Case("two images of different sizes", [first, second]),
                Case("one image as PNG bytes", media.png(one))]
    return [
        Case("one image", one),
        Case("two images of different sizes", [first, second]),
        Case("one image as PNG bytes, top_k 2", media.png(one), {"top_k": 2}),
    ]


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _classifier(model_dir, model_class):
    model = _from_pretrained(getattr(transformers, model_class), model_dir).eval()
    processor = AutoImageProcessor.from_pretrained(model_dir)
    return pipeline("image-classification", model=model, image_processor=processor, device="cpu")


@functools.lru_cache(maxsize=1)
def _extractor(model_dir, model_class):
    model = _from_pretrained(getattr(transformers, model_class), model_dir).eval()
    processor = AutoImageProcessor.from_pretrained(model_dir)
    return pipeline("image-feature-extraction", model=model, image_processor=processor, device="cpu")


def _embed(model_dir, candidate, images):
    """Per image, alone: the image-feature-extraction pipeline's pooled output where the
    model has a pooler, else the mean over every position of its last hidden state."""
    extractor = _extractor(model_dir, candidate["model_class"])
    embeddings = []
    for image in images:
        # The pipeline's steps, its model fed what the processor declares the model's
        # inputs (model_input_names): sam2's processor also returns each image's
        # original size, for its masks' post-processing, which edgetam's timm backbone
        # refuses.
        inputs = extractor.preprocess(image)
        inputs = {name: inputs[name] for name in extractor.image_processor.model_input_names if name in inputs}
        # A model that needs a prompt beside the image (sam3's text) embeds an image
        # alone through get_vision_features, as its model card precomputes them.
        forward = getattr(extractor.model, "get_vision_features", None)
        if forward is None and (missing := _required_beyond(extractor.model, inputs)):
            raise NotImplementedError(
                f"{candidate['model_class']} needs {', '.join(missing)} beside the image (seggpt's prompt image "
                "and mask, a video tracker's inference session): no embedding of an image alone")
        with torch.inference_mode():
            outputs = (forward or extractor.model)(**inputs)
        pooled = outputs.get("pooler_output") is not None
        features = extractor.postprocess(outputs, pool=pooled, return_tensors=True)  # a batch of one
        if "feature_maps" in outputs:
            # A backbone's first output, which the pipeline hands back as it is, is its
            # feature maps, one per stage: the deepest is what a classifier on the
            # backbone pools (hgnet_v2's feature-extraction class is its backbone).
            features = outputs.feature_maps[-1]
        elif isinstance(features, (tuple, list)):
            raise NotImplementedError(
                f"{candidate['model_class']}'s first output is {len(features)} tensors, not an embedding (mgp-str's: "
                "its character, BPE and wordpiece heads' logits): a scene-text recognizer, whose text (its "
                "processor's batch_decode) the vision family does not serve; its processor fetches GPT-2's and "
                "BERT's tokenizers from the Hub whenever it is built, so none is built offline")
        # Tokens (1, tokens, hidden) or a feature map (1, channels, h, w) are averaged; a
        # first output of two dimensions is one vector already (radio's summary).
        if not pooled and features.dim() > 2:
            features = features.mean(1) if features.dim() == 3 else features.flatten(2).mean(-1)
        embeddings.append(features.flatten().float().tolist())
    return Expected({"embeddings": embeddings})


def _required_beyond(model, inputs):
    """The arguments the model's forward requires (no default) that `inputs` lacks."""
    parameters = inspect.signature(model.forward).parameters.values()
    return [p.name for p in parameters
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in inputs]


@functools.lru_cache(maxsize=1)
def _backbone(model_dir, model_class):
    """The model and its image processor, without a pipeline: a backbone has none, and
    run_batch reads every task's output of the model itself."""
    model = _from_pretrained(getattr(transformers, model_class), model_dir).eval()
    return model, AutoImageProcessor.from_pretrained(model_dir)


def _feature_maps(model_dir, candidate, images):
    """Per image, alone: the image processor, the backbone, and its feature_maps, one per
    out_feature in their order (transformers has no backbone pipeline; this is what a
    model that holds the backbone, detr's or dpt's, reads)."""
    model, processor = _backbone(model_dir, candidate["model_class"])
    maps = []
    for image in images:
        with torch.inference_mode():
            outputs = model(**processor(images=[image], return_tensors="pt"))
        maps.append([feature_map[0].float().tolist() for feature_map in outputs.feature_maps])
    return Expected({"feature_maps": maps})


def _reconstructions(model_dir, candidate, images):
    """Per image, alone: the image processor, the model, and its reconstruction as
    transformers' image-to-image pipeline (removed since) post-processed it: clamped to
    [0, 1], channels last. Cropped to the image's own size times the config's upscale:
    swin2sr's processor pads each image (to the next multiple of its size_divisor), and
    the padding's reconstruction is none of the image's, as the model's authors crop it."""
    model, processor = _backbone(model_dir, candidate["model_class"])
    scale = getattr(model.config, "upscale", 1)
    reconstructions = []
    for image in images:
        with torch.inference_mode():
            reconstruction = model(**processor(images=[image], return_tensors="pt")).reconstruction[0]
        pixels = reconstruction[:, :image.height * scale, :image.width * scale]
        reconstructions.append(pixels.clamp(0, 1).permute(1, 2, 0).float().tolist())
    return Expected({"images": reconstructions})


def reference(model_dir, candidate, case, plan):
    if plan["task"] == IMAGE_TO_IMAGE:
        return _reconstructions(model_dir, candidate, media.pil_images(case.input))
    if plan["task"] == BACKBONE:
        return _feature_maps(model_dir, candidate, media.pil_images(case.input))
    if plan["task"] in EMBEDDING_TASKS:
        return _embed(model_dir, candidate, media.pil_images(case.input))
    classifier = _classifier(model_dir, candidate["model_class"])
    top_k = case.options.get("top_k", 5)
    expected = Expected({"logits": [], "predictions": []})
    for image in media.pil_images(case.input):  # each alone
        # The pipeline's preprocessing (EXIF orientation, RGB, its image processor) on
        # the model itself gives the logits; the pipeline's postprocess on them the
        # labels and scores.
        with torch.inference_mode():
            logits = _logits(classifier.model(**classifier.preprocess(image)))
        expected["logits"].append(logits[0].tolist())
        ranked = classifier.postprocess({"logits": logits}, top_k=top_k)
        expected["predictions"].append([{"label": p["label"], "score": float(p["score"])} for p in ranked])
    return expected


def _logits(outputs):
    """A classifier's scores: its logits; a classifier that names them otherwise
    (pp_lcnet's, which returns them as its first output, last_hidden_state, and whose
    model card reads the label from it) gives its first output. The pipeline reads
    `logits` alone, so it is handed them under that name."""
    return outputs.logits if "logits" in outputs else outputs[0]


def run_batch(model_dir, candidate, plan, images):
    """The model run once on `images`, as the skillset batches them (skillkit.batching):
    per image what its task reads of the output (its logits; its pooled output, else its
    last hidden state; its feature maps, flattened into one), and its length, 1: the
    image processor brings every image to one size, so nothing is padded."""
    model, processor = _backbone(model_dir, candidate["model_class"])
    batch = processor(images=media.pil_images(list(images)), return_tensors="pt")
    forward = getattr(model, "get_vision_features", model) if plan["task"] in EMBEDDING_TASKS else model
    with torch.inference_mode():
        output = forward(**{name: batch[name] for name in processor.model_input_names if name in batch})
    if plan["task"] == IMAGE_TO_IMAGE:
        rows = output.reconstruction.flatten(1)
    elif plan["task"] == BACKBONE:
        rows = torch.cat([feature_map.flatten(1) for feature_map in output.feature_maps], dim=1)
    elif plan["task"] in EMBEDDING_TASKS:
        pooled = output.get("pooler_output")
        first = output.feature_maps[-1] if "feature_maps" in output else output[0]
        rows = (pooled if pooled is not None else first).flatten(1)
    else:
        rows = _logits(output)
    if len(rows) != len(images):
        # A model that joins a batch's images into one sequence (pixtral's patches)
        # gives no row per image: it cannot batch them.
        raise ValueError(f"{len(images)} images gave {len(rows)} rows")
    return list(rows.float()), [1] * len(rows)


def compare(expected, actual, plan):
    """Embeddings allclose within the plan's tolerance; or logits allclose and
    predictions as compare.ranked_predictions."""
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    if "images" in expected:
        # Each image's reconstruction by itself: their sizes differ.
        return outputs_allclose({"images": expected["images"]}, actual, plan, per_entry=["images"])
    if "feature_maps" in expected:
        return _compare_feature_maps(expected["feature_maps"], actual, rtol, atol)
    if "embeddings" in expected:
        if "embeddings" not in actual:
            return Comparison(False, None, f"output 'embeddings' expected, got {sorted(actual)}")
        return allclose(expected["embeddings"], actual["embeddings"], rtol, atol)
    if "logits" not in actual or "predictions" not in actual:
        return Comparison(False, None, f"outputs 'logits' and 'predictions' expected, got {sorted(actual)}")
    return scores_and_predictions(expected, actual, "logits", rtol, atol)


def _compare_feature_maps(expected, actual, rtol, atol):
    """Each image's maps allclose, map by map (the stages' shapes differ)."""
    if (missing := missing_outputs({"feature_maps": expected}, actual)) is not None:
        return missing
    got = actual["feature_maps"]
    if len(got) != len(expected):
        return Comparison(False, None, f"feature_maps for {len(got)} images, expected {len(expected)}")
    worst = 0.0
    for image, (want_maps, got_maps) in enumerate(zip(expected, got)):
        if len(got_maps) != len(want_maps):
            return Comparison(False, None, f"image {image}: {len(got_maps)} feature maps, expected {len(want_maps)}")
        for index, (want, have) in enumerate(zip(want_maps, got_maps)):
            result = allclose(want, have, rtol, atol)
            if not result.ok:
                return Comparison(False, result.max_abs_diff, f"image {image}, feature map {index}: {result.message}")
            worst = max(worst, result.max_abs_diff)
    return Comparison(True, worst, "feature_maps match")
