"""Dense vision heads (detr and its kin): object detection, depth, segmentation.

The task is the plan's (the skillset serves one, fixed when it is generated); each is
checked against transformers' own pipeline run on each image alone:
- object-detection: the object-detection pipeline with the case's `threshold`, and the
  model's `logits` and `pred_boxes` on the pipeline's own preprocessed input. A random
  tiny model scores its queries anywhere, some near the threshold: a detection whose
  score is within tolerance of the threshold may be kept on one side and dropped on
  the other, and the pipeline's boxes are whole pixels (it truncates them), so a box
  may be one pixel off where the raw box, compared strictly, lies on a pixel's edge.
- depth-estimation: the depth-estimation pipeline's `predicted_depth`, brought to the
  image's own size.
- semantic-segmentation: the image-segmentation pipeline with subtask "semantic": per
  image the labels found and their masks (0 or 255 per pixel, the pipeline's mask
  images as lists); and the model's `logits`. Where two labels' upsampled logits tie
  within tolerance a pixel may go to either, so masks may differ there and nowhere else.
- universal-segmentation, instance-segmentation: the image-segmentation pipeline with
  the case's subtask (None for universal: panoptic where the processor has it;
  "instance") and thresholds, and the model's `class_queries_logits` and
  `masks_queries_logits`; a segment scored within tolerance of the threshold may be
  missing on either side, as a detection may.
Images of different sizes are never padded into one batch by the reference; a handler
that pads them (a convolutional backbone sees the padding at the borders) fails the
batch case.
"""
import dataclasses
import functools

import numpy as np
import torch
import transformers
from PIL import Image
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

from .. import media, tiny, tokenizers
from ..compare import Comparison, allclose, missing_outputs, outputs_allclose, short
from ..expected import Expected
from . import Case, vision

# Images are resized to IMAGE_SIZE on their shortest edge (or to IMAGE_SIZE square): the
# extra level deformable_detr adds after a backbone's last stage (stride 64) still sees
# a 2 x 2 grid, which its group norm needs.
IMAGE_SIZE = 128
PATCH_SIZE = 8
# The first width of a neck reading a ViT's stages (dpt's).
NECK_WIDTH = 16
# Few queries (detr's 100, rt_detr's 300): each one is a detection to compare.
NUM_QUERIES = 12
# A convolutional backbone in transformers' own ResNet, for configs that name a timm one
# (detr's resnet50): timm is not installed, and its weights are not needed.
BACKBONE_WIDTHS = (16, 32, 64, 128)
# Five labels. Random weights at the usual initializer range score every query alike;
# wider ones make scores and boxes depend on the pixels (0.2 overflows deimv2 to NaN).
LABELS = ("cat", "dog", "car", "person", "tree")
INITIALIZER_RANGE = 0.1
# The object-detection pipeline's default threshold; a case lowers it so that there are
# detections to compare. The zero-shot-object-detection pipeline's is lower.
THRESHOLD = 0.5
NAMED_THRESHOLD = 0.1
# What a case asks a detector queried with text to find.
QUERIES = ["cat", "remote control"]
# The image-segmentation pipeline's defaults, and its subtask per task.
SEGMENT_OPTIONS = {"threshold": 0.9, "mask_threshold": 0.5, "overlap_mask_area_threshold": 0.5}
QUERY_SEGMENTATION = {"universal-segmentation": None, "instance-segmentation": "instance"}
# A mask generator's windowed attention: windows of WINDOW x WINDOW patches.
WINDOW = 4
# The tiny tokenizer of a detector queried with text.
VOCAB_SIZE = 300
# Two labels' upsampled logits closer than this at a pixel tie there (the tolerance).
TIE = 1e-4
# A tiny keypoint detector finds hundreds of keypoints in an image; a matcher attends
# over all of them, so each image keeps its best MAX_KEYPOINTS.
MAX_KEYPOINTS = 64


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    if getattr(config, "keypoint_detector_config", None) is not None:
        config = _keypoint_matcher(model_type, config)
    kept = {}
    widths = getattr(config, "out_features", None)
    if getattr(config, "stage_num_blocks", None) and widths and all(isinstance(width, int) for width in widths):
        # A backbone of stages listed by their widths (efficientloftr's RepVGG), whose
        # __post_init__ derives every block from the lists: built again from tiny ones,
        # a block per stage, the last width the hidden size (its validator ties them).
        # A random model's coarse matches score far below its threshold (0.2) and the
        # tiny grid (16 x 16) loses much to its border removal: neither, as in
        # transformers' tests, so that there are matches to compare.
        stages = len(widths)
        config = CONFIG_MAPPING[model_type](
            stage_num_blocks=[1] * stages, hidden_size=tiny.HIDDEN, coarse_matching_threshold=0.0,
            coarse_matching_border_removal=0,
            out_features=[tiny.STAGE_WIDTH] * (stages // 2) + [tiny.HIDDEN] * (stages - stages // 2))
        # Its 2D rotary embedding fills half the width, a head's width times the
        # partial_rotary_factor (4) it is built with: that holds at its own head count.
        kept["num_attention_heads"] = config.num_attention_heads
    declared = (getattr(type(config), "sub_configs_defaults", None) or {}).get("backbone_config")
    reads = len((getattr(declared, "init_kwargs", None) or {}).get("out_features") or ())
    chosen = getattr(config, "backbone_config", None)
    if declared is not None and chosen is not None and chosen.model_type != "timm_backbone" \
            and reads > len(getattr(chosen, "out_features", None) or ()):  # (a timm one: see _resnet_backbone)
        # The backbone the config's fields declare (pp_ocrv6_small_det's pp_lcnet_v3,
        # giving the four stages its neck reads), where its __post_init__ defaults to
        # another that gives fewer (pp_lcnet_v4, made for text recognition).
        backbone = CONFIG_MAPPING[declared.model_type](**declared.init_kwargs)
        config = CONFIG_MAPPING[model_type](backbone_config=backbone)
    _text_detector_neck(config)
    if getattr(config, "projector_scale_factors", None) == ():
        # lw_detr's defaults project no level of its backbone's features into the
        # decoder (its checkpoints list theirs): two, a coarser and a finer, as
        # transformers' tests give it; the config derives the levels' widths from them.
        config = CONFIG_MAPPING[model_type](projector_scale_factors=[0.5, 2.0])
    overrides = {"id2label": dict(enumerate(LABELS)), "label2id": {label: i for i, label in enumerate(LABELS)}, **kept}
    if "num_labels" in vars(config):  # declared by the config, not derived from id2label
        overrides["num_labels"] = len(LABELS)
    for name, value in (("num_queries", NUM_QUERIES), ("num_detection_tokens", NUM_QUERIES),
                        ("initializer_range", INITIALIZER_RANGE), ("init_std", INITIALIZER_RANGE)):
        if tiny._present(config, name) or isinstance(getattr(config, name, None), float):
            overrides[name] = value
    # No initializer scale in the config (pp_ocrv5_server_det's): transformers draws
    # its weights at 0.02, which fades a convolutional network's activations to nothing
    # stage by stage (its text map is 0.5 everywhere): see _keep_scale.
    unscaled = not any(hasattr(config, name) for name in ("initializer_range", "init_std", "initializer_factor"))
    for name, value in (("class_thresholds", THRESHOLD), ("class_order", None)):
        if hasattr(config, name) and getattr(config, name) is None:
            # Per label, what its checkpoints list (pp_doclayout_v2's score threshold
            # and reading-order class of each label): the pipeline's threshold, and
            # each label its own class.
            overrides[name] = [value if value is not None else index for index in range(len(LABELS))]
    if getattr(config, "depth_estimation_type", None) == "relative":
        # Relative depth ends in a ReLU, which leaves a random model's depth zero
        # everywhere; metric depth (a sigmoid, scaled) keeps it varying with the image.
        overrides["depth_estimation_type"] = "metric"
    backbone = getattr(config, "backbone_config", None)
    if backbone is not None and backbone.model_type == "timm_backbone":
        overrides["backbone_config"] = _resnet_backbone(backbone.out_indices)
        if getattr(config, "timm_kwargs", None):  # what timm's model took (omdet-turbo's image size)
            overrides["timm_kwargs"] = {}
    backbone = overrides.get("backbone_config", getattr(config, "backbone_config", None))
    stages = list(getattr(backbone, "out_features", None) or ())
    if isinstance(getattr(config, "image_size", None), (int, list, tuple)):
        overrides["image_size"] = [IMAGE_SIZE, IMAGE_SIZE] if isinstance(config.image_size, (list, tuple)) \
            else IMAGE_SIZE
    # A model that cuts the image into patches that are images to its ViTs (depth_pro's
    # 384-pixel patches, each its encoders' image_size): a quarter of the tiny image.
    encoders = [sub for sub in vars(config).values()
                if isinstance(sub, transformers.PreTrainedConfig) and getattr(sub, "image_size", None)]
    patched = bool(encoders) and all(sub.image_size == getattr(config, "patch_size", None) for sub in encoders)
    if patched:
        overrides["patch_size"] = IMAGE_SIZE // 4
        if getattr(config, "use_fov_model", None) is False:
            # Its field-of-view head on, as its checkpoints have it: the depth
            # pipeline's post-processing reads the field of view (none fails there).
            overrides["use_fov_model"] = True
    elif tiny._present(config, "patch_size"):  # also where a head reads the ViT's (depth_anything's)
        overrides["patch_size"] = PATCH_SIZE
    tiny.shrink(config, **overrides)
    if patched:
        for sub in encoders:
            sub.image_size, sub.patch_size = config.patch_size, PATCH_SIZE
        if getattr(config, "intermediate_hook_ids", None):  # the layers its fusion reads, deepest first
            layers = min(sub.num_hidden_layers for sub in encoders)
            config.intermediate_hook_ids = [layers - 1 - k for k in range(len(config.intermediate_hook_ids))]
    per_layer = getattr(config, "num_key_value_heads_per_layer", None)
    if per_layer and len(per_layer) != config.num_hidden_layers:
        # Key/value heads listed per real layer (sapiens2's): each tiny layer attends
        # with all its heads.
        config.num_key_value_heads_per_layer = [config.num_attention_heads] * config.num_hidden_layers
    if getattr(config, "enforce_input_proj", None) is False and getattr(config, "conv_dim", None):
        # oneformer's transformer decoder reads its pixel decoder's maps and mask
        # features unprojected where their widths agree (all 256 in its checkpoints);
        # where they do not, it projects the maps with convolutions it keeps in a plain
        # list, never registered, initialised nor saved: the tiny widths agree too.
        config.conv_dim = config.mask_dim = config.hidden_dim
    if tiny._present(config, "num_blocks") and getattr(config, "num_hidden_layers", 0) < config.num_blocks:
        # eomt's queries join its ViT for the last `num_blocks` layers: the tiny ViT's last one.
        config.num_blocks = 1
    vision = getattr(config, "vision_config", None)
    if vision is not None:  # the vision tower a text-queried detector (owlvit's) reads images with
        vision.image_size, vision.patch_size = IMAGE_SIZE, PATCH_SIZE
    vit = getattr(config, "backbone_config", None)
    if isinstance(getattr(vit, "image_size", None), (list, tuple)):  # a ViT told its [height, width] (vitpose's)
        vit.image_size = [IMAGE_SIZE, IMAGE_SIZE]
    if stages and backbone.out_features != stages and set(stages) <= set(backbone.stage_names):
        # Shrinking derives a hierarchical backbone's sizes again (swin's), which resets
        # its outputs to the last stage; the heads (mask2former's pixel decoder) read
        # every stage they read before.
        backbone.set_output_features_output_indices(out_features=stages, out_indices=None)
    _neck_reads_its_stages(config)
    for name in ("fusion_hidden_sizes", "convstream_hidden_sizes"):
        if isinstance(getattr(config, name, None), tuple):
            # Widths the config defaults as tuples (vitmatte's decoder's), which its
            # model prepends to as lists; tiny, halving as there.
            setattr(config, name, [NECK_WIDTH * 2 ** index for index in reversed(range(len(getattr(config, name))))])
    if candidate["model_class"].endswith("ForImageMatting"):
        # The matting processor stacks the trimap on the image: a fourth channel.
        config.backbone_config.num_channels = 4
    head = getattr(config, "head_config", None)
    if head is not None and hasattr(head, "upsample_out_channels") and head.upsample_out_channels is None:
        # A decode head whose blocks its checkpoints list (sapiens2's): one upsampling
        # block and one convolution, tiny.
        config.head_config = type(head)(upsample_out_channels=[NECK_WIDTH * 2], conv_out_channels=[NECK_WIDTH * 2])
    if getattr(config, "layer_list_out_channels", None):
        # A neck that lists the width of each stage it reads (pp_ocrv6_small_det's):
        # the tiny backbone's.
        from transformers.backbone_utils import load_backbone
        config.layer_list_out_channels = list(load_backbone(config).channels)
    if getattr(config, "prompt_encoder_config", None) is not None:
        processor = _prompted(model_type, config)
    else:
        processor = _image_processor(model_type)
    if getattr(backbone, "num_windows", None):
        # A ViT that cuts its patch grid into num_windows windows (lw_detr's, rf_detr's)
        # takes a square image, as its checkpoints' processors give it (640 x 640), in
        # patches that tile it (rf_detr's 14 pixels do not tile 128).
        processor.size = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
        for name, value in (("image_size", IMAGE_SIZE), ("patch_size", PATCH_SIZE)):
            if tiny._present(backbone, name):
                setattr(backbone, name, value)
    if getattr(config, "text_config", None) is not None:
        processor = _text_queries(model_type, config, processor)
    elif getattr(config, "task_seq_len", None):
        processor = _task_prompts(model_type, config, processor)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    _spread_queries(model)
    if unscaled:
        _keep_scale(model)
    tiny.save_and_verify(model, processor, out_dir)


def _keypoint_matcher(model_type, config):
    """A matcher reading the keypoints of a detector it holds (superglue's and
    lightglue's superpoint): the detector tiny too, its descriptors as wide as the
    matcher's attention (its hidden size, lightglue's descriptor_dim), since the matcher
    reads them as its hidden states; superglue's keypoint encoder (an MLP ending at that
    width) and its graph of self and cross attention layers tiny. A random lightglue
    scores every match far below its filter_threshold (0.1): none, so that all its
    mutual best matches are kept and compared."""
    width = tiny.HIDDEN
    detector = {"model_type": config.keypoint_detector_config.model_type,
                "encoder_hidden_sizes": [tiny.STAGE_WIDTH] * 2 + [width] * 2,
                "decoder_hidden_size": width, "descriptor_decoder_dim": width, "max_keypoints": MAX_KEYPOINTS}
    fields = {"keypoint_detector_config": detector}
    for name, value in (("descriptor_dim", width), ("hidden_size", width), ("keypoint_encoder_sizes", [width // 2]),
                        ("gnn_layers_types", ["self", "cross"]), ("filter_threshold", 0.0)):
        if name in {field.name for field in dataclasses.fields(config)}:
            fields[name] = value
    return CONFIG_MAPPING[model_type](**fields)


def _text_queries(model_type, config, image_processor):
    """The processor of a detector queried with text (owlvit, grounding-dino): the
    type's own, over its image processor and a tiny tokenizer of the type's own class,
    whose vocabulary and special token ids the text model takes."""
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, tokenizers.ROLES)
    text_config = config.text_config
    text_config.vocab_size = len(tokenizer)
    for role in ("bos", "eos", "pad"):
        # The text model pools at its end-of-text token (clip's): the tiny vocabulary's.
        if getattr(text_config, f"{role}_token_id", None) is not None:
            setattr(text_config, f"{role}_token_id", getattr(tokenizer, f"{role}_token_id"))
    processor_class = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])
    return processor_class(image_processor=image_processor, tokenizer=tokenizer)


def _task_prompts(model_type, config, image_processor):
    """The processor of a segmenter told its task in words (oneformer: "the task is
    instance", `task_seq_len` tokens): the type's own, over its image processor and a
    tiny tokenizer of the type's own class, whose vocabulary its text encoder takes.
    The pipeline tokenizes the task with that tokenizer, padded to `task_seq_len`."""
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, tokenizers.ROLES)
    config.text_encoder_vocab_size = len(tokenizer)
    processor_class = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])
    return processor_class(image_processor=image_processor, tokenizer=tokenizer,
                           max_seq_length=config.text_encoder_context_length, task_seq_length=config.task_seq_len)


def _prompted(model_type, config):
    """A mask generator prompted with points (sam's and its kin's): the prompts' and the
    masks' widths agree with what the image encoder gives, at the tiny image's scale,
    and the processor resizes to IMAGE_SIZE, reading input masks at the mask decoder's
    resolution (4 x the grid of image embeddings).

    A windowed ViT (sam's own, sam3's backbone) takes PATCH_SIZE patches, windows of
    WINDOW patches and global attention in its last layer, and the prompt encoder its
    grid; a backbone of stages (sam2's hiera) doubles its width stage by stage, and the
    feature pyramid reads those widths. The pyramid's feature sizes shrink with the
    grid."""
    vision, prompts, masks = config.vision_config, config.prompt_encoder_config, config.mask_decoder_config
    real_grid = prompts.image_size // prompts.patch_size
    width = prompts.hidden_size
    backbone = getattr(vision, "backbone_config", None)
    vit = next((part for part in (vision, backbone) if getattr(part, "global_attn_indexes", None)), None)
    if vit is not None:
        vit.window_size, vit.global_attn_indexes = WINDOW, [vit.num_hidden_layers - 1]
        vit.image_size, vit.patch_size = IMAGE_SIZE, PATCH_SIZE
        if tiny._present(vit, "pretrain_image_size"):  # its position embeddings' grid
            vit.pretrain_image_size = IMAGE_SIZE
        prompts.patch_size = PATCH_SIZE
    if getattr(backbone, "model_type", None) == "timm_wrapper":
        # A timm network (edgetam's repvit_m1, which transformers' defaults misspell,
        # leaving resnet50): timm's own tiny test_resnet, its stages at strides 4 to
        # 32 as the pyramid's feature sizes say (256 to 64 of a 1024-pixel image), and
        # the pyramid reading their widths.
        import timm
        indices = [1, 2, 3, 4]
        backbone.architecture = "test_resnet"
        backbone.model_args = dict(backbone.model_args or {}, out_indices=indices)
        features = timm.create_model("test_resnet", features_only=True, out_indices=indices).feature_info
        vision.backbone_channel_list = features.channels()[::-1]
    if backbone is None:  # sam's ViT gives the masks' width itself
        vision.output_channels, vision.num_pos_feats = width, width // 2
    else:
        if getattr(backbone, "embed_dim_per_stage", None):
            stages = len(backbone.embed_dim_per_stage)
            backbone.embed_dim_per_stage = [backbone.hidden_size * 2 ** i for i in range(stages)]
            vision.backbone_channel_list = backbone.embed_dim_per_stage[::-1]
        if isinstance(getattr(backbone, "image_size", None), list):
            backbone.image_size = [IMAGE_SIZE, IMAGE_SIZE]
        vision.fpn_hidden_size = width
    prompts.image_size = IMAGE_SIZE
    grid = IMAGE_SIZE // prompts.patch_size
    if getattr(vision, "backbone_feature_sizes", None):
        vision.backbone_feature_sizes = [[side * grid // real_grid for side in sides]
                                         for sides in vision.backbone_feature_sizes]
    if tiny._present(prompts, "image_embedding_size"):
        prompts.image_embedding_size = grid
    if tiny._present(config, "image_size"):
        config.image_size = IMAGE_SIZE
    masks.iou_head_hidden_dim, masks.mlp_dim = masks.hidden_size, tiny.INTERMEDIATE
    if tiny._present(masks, "vit_dim"):  # a decoder that reads the ViT's features too (sam_hq's)
        masks.vit_dim = vision.hidden_size
    # A video tracker's type maps no image processor nor processor (edgetam_video):
    # those of the image model its code derives from.
    source = next((parent for parent in [model_type] + tiny.parent_types(model_type)
                   if tiny.image_processor_name(parent) and parent in PROCESSOR_MAPPING_NAMES), model_type)
    processor = getattr(transformers, tiny.image_processor_name(source))()
    if getattr(processor, "size", None) and processor.size.get("longest_edge"):  # and pads to a square
        processor.size, processor.pad_size = {"longest_edge": IMAGE_SIZE}, {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
        processor.mask_size = {"longest_edge": 4 * grid}
        processor.mask_pad_size = {"height": 4 * grid, "width": 4 * grid}
    else:  # resizes to a square
        processor.size, processor.mask_size = ({"height": side, "width": side} for side in (IMAGE_SIZE, 4 * grid))
    return getattr(transformers, PROCESSOR_MAPPING_NAMES[source])(image_processor=processor)


def _image_processor(model_type):
    """The type's own image processor (tiny.image_processor), else, where transformers
    maps none to the type (d_fine, rt_detr_v2, dab-detr, whose checkpoints name their
    parent's), the one of the model type its modeling code derives from: the models its
    modular file imports from, else those its modeling file says it copied from."""
    source = model_type
    if not IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type):
        source = next((parent for parent in tiny.parent_types(model_type)
                       if tiny.image_processor_name(parent)), model_type)
    processor = tiny.image_processor(source, IMAGE_SIZE)  # raises where there is none
    size = type(processor)().size or {}
    if size.get("shortest_edge") and size.get("longest_edge"):
        # Its longest edge capped too (detr's 800 and 1333): in the same proportion.
        longest = max(IMAGE_SIZE, IMAGE_SIZE * size["longest_edge"] // size["shortest_edge"])
        processor.size = {"shortest_edge": IMAGE_SIZE, "longest_edge": longest}
        if longest == IMAGE_SIZE and getattr(processor, "do_pad", None) is False:
            # Both edges capped alike (eomt's 640): the model's position embeddings are
            # a square grid, so the resized image is padded to the square, as the
            # panoptic checkpoints' processors say.
            processor.do_pad = True
    return processor


def _spread_queries(model):
    """Learned embeddings (detr's object queries) drawn at unit scale, as trained ones
    are: at the initializer's scale every query attends alike, and all of them detect
    the same box with the same label."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding):
                module.weight.normal_(0.0, 1.0)


def _text_detector_neck(config):
    """The lists a text detector's neck and head read that its config leaves None
    (pp_ocrv5_server_det's, pp_ocrv6_medium_det's), as its checkpoints and transformers'
    tests give them: the head's kernels (a convolution and two upsamplings: 3, 2, 2,
    the small detectors' defaults); each of the four pyramid levels upsampled to the
    finest (1, 2, 4, 8); and the intra-class block's convolutions, named after their
    shape: 1 x 1 to reduce and return the channels, then vertical (k x 1), horizontal
    (1 x k) and square kernels, long, mid and short (7, 5, 3), padded to keep the size."""
    if hasattr(config, "kernel_list") and config.kernel_list is None:
        config.kernel_list = [3, 2, 2]
    if hasattr(config, "scale_factor_list") and config.scale_factor_list is None:
        config.scale_factor_list = [1, 2, 4, 8]
    if hasattr(config, "intraclass_block_config") and config.intraclass_block_config is None:
        def conv(height, width):  # kernel, stride, padding
            return [[height, width], [1, 1], [height // 2, width // 2]]

        block = {"reduce_channel": conv(1, 1), "return_channel": conv(1, 1)}
        for ratio, size in (("long", 7), ("mid", 5), ("short", 3)):
            block[f"vertical_long_to_small_conv_{ratio}ratio"] = conv(size, 1)
            block[f"horizontal_small_to_long_conv_{ratio}ratio"] = conv(1, size)
            block[f"symmetric_conv_long_{ratio}ratio"] = conv(size, size)
        config.intraclass_block_config = block


def _keep_scale(model):
    """Convolutions drawn as PyTorch draws them by default (reset_parameters: scaled
    by each one's fan-in), so that a deep random network's activations neither fade
    (transformers' 0.02) nor blow up (He's scale, through its residual sums)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                module.reset_parameters()


def _neck_reads_its_stages(config):
    """A neck (dpt's, depth_anything's) reads one stage of a ViT per width it lists in
    `neck_hidden_sizes`: the tiny ViT is as deep as that, and gives each of its layers,
    at the patch size and image size of the tiny model; the neck's widths are tiny."""
    # chmv2 names its neck's widths `post_process_channels`.
    name = next((name for name in ("neck_hidden_sizes", "post_process_channels") if getattr(config, name, None)), None)
    if name is None:
        return
    stages = len(getattr(config, name))
    # The neck's widths at the tiny model's scale, doubling stage by stage as there
    # (dpt's 96 to 768 and its 256-wide fusion cost more than the rest of it together).
    setattr(config, name, [NECK_WIDTH * 2 ** index for index in range(stages)])
    if tiny._present(config, "fusion_hidden_size"):
        config.fusion_hidden_size = NECK_WIDTH * 2
        if tiny._present(config, "bottleneck_features"):  # the fused features a metric head reads (zoedepth's)
            config.bottleneck_features = config.fusion_hidden_size
    if getattr(config, "backbone_out_indices", None) is not None:  # dpt's own ViT
        config.num_hidden_layers = stages
        config.backbone_out_indices = list(range(stages))
        return
    backbone = getattr(config, "backbone_config", None)
    if backbone is None or not tiny._present(backbone, "num_hidden_layers"):
        return
    backbone.num_hidden_layers = stages
    backbone.stage_names = ["stem"] + [f"stage{index}" for index in range(1, stages + 1)]
    backbone.set_output_features_output_indices(out_features=None, out_indices=list(range(1, stages + 1)))
    for name, value in (("image_size", IMAGE_SIZE), ("patch_size", PATCH_SIZE)):
        if tiny._present(backbone, name):
            setattr(backbone, name, value)
    if tiny._present(config, "reassemble_hidden_size"):  # what the neck reads: the ViT's width
        config.reassemble_hidden_size = backbone.hidden_size


def _resnet_backbone(out_indices):
    """transformers' ResNet, tiny, giving the stages the timm backbone gave."""
    indices = list(out_indices or (1, 2, 3, 4))
    return transformers.ResNetConfig(
        embedding_size=BACKBONE_WIDTHS[0], hidden_sizes=list(BACKBONE_WIDTHS), depths=[1] * 4,
        layer_type="basic", out_features=[f"stage{i}" for i in indices])


def cases(plan):
    if plan["task"] in vision.EMBEDDING_TASKS:
        return vision.cases(plan)
    one, first, second = media.images(3, plan.get("seed", 0))
    # media's sizes differ from each other and from the model's, so every image is
    # resized, and the two of the batch differently.
    result = [Case("one image", one), Case("two images of different sizes", [first, second])]
    if plan["task"] in QUERY_SEGMENTATION:
        # At the pipeline's thresholds a random model's segments all go, and panoptic
        # post-processing drops the queries whose best class is "no object" (a random
        # mask2former's every one); instance segmentation ranks the other classes, and
        # with no threshold keeps a segment for every query that owns pixels.
        everything = {"threshold": 0.0, "overlap_mask_area_threshold": 0.0}
        result.append(Case("one image as PNG bytes, no thresholds", media.png(one), everything))
        if not _classes_from_file(plan["model_type"]):
            result.append(Case("two images, instances, no thresholds", [second, first],
                               dict(everything, subtask="instance")))
    elif plan["task"] == "mask-generation":
        # Points in each image's own pixels: per image its prompts, each a list of points.
        result = [Case("one image, a point at its centre", one),
                  Case("two images of different sizes, a point each", [first, second],
                       {"input_points": [[[[10, 12]]], [[[30, 20]]]]}),
                  Case("one image as PNG bytes, two prompts, one mask each", media.png(one),
                       {"input_points": [[[[8, 8]], [[40, 30]]]], "multimask_output": False})]
    elif plan["task"] == "pose-estimation":
        # Boxes [x, y, width, height] in each image's own pixels, as the processor takes them.
        result = [Case("one image, the whole of it", one),
                  Case("two images of different sizes, a box each", [first, second],
                       {"boxes": [[[4, 6, 40, 30]], [[0, 10, 36, 50]]]}),
                  Case("one image as PNG bytes, two boxes", media.png(one),
                       {"boxes": [[[0, 0, 32, 48], [20, 8, 40, 36]]]})]
    elif plan["task"] == "image-matting":
        # Pairs of an image and its trimap (one channel), as the processor takes them.
        result = [Case("one image and its trimap", [one, _trimap(one, 0)]),
                  Case("two images of different sizes and their trimaps",
                       [[first, _trimap(first, 1)], [second, _trimap(second, 2)]]),
                  Case("one image and its trimap as PNG bytes", [media.png(one), media.png(_trimap(one, 3))])]
    elif plan["task"] == "keypoint-matching":
        # Pairs of images, as the pipeline takes them: one pair, or a list of pairs.
        result = [Case("one pair of images", [first, second]),
                  Case("two pairs of images of different sizes", [[one, second], [first, one]]),
                  Case("one pair as PNG bytes, threshold 0.001", [media.png(first), media.png(one)],
                       {"threshold": 0.001})]
    elif plan["task"] == "zero-shot-object-detection":
        # Labels as the pipeline takes them: a list, or one string of comma-separated ones.
        result = [Case("one image, two labels", one, {"candidate_labels": QUERIES}),
                  Case("two images of different sizes, threshold 0.5", [first, second],
                       {"candidate_labels": QUERIES, "threshold": 0.5}),
                  Case("one image as PNG bytes, labels in one string, top_k 5", media.png(one),
                       {"candidate_labels": ",".join(reversed(QUERIES)), "top_k": 5})]
    elif plan["task"] == "object-detection":
        # Random weights score few queries above the pipeline's 0.5: a low threshold
        # keeps most of them, so that labels, scores and boxes are compared.
        result.append(Case("one image as PNG bytes, threshold 0.1", media.png(one), {"threshold": 0.1}))
        result.append(Case("two images, threshold 0", [second, first], {"threshold": 0.0}))
    else:
        result.append(Case("one image as PNG bytes", media.png(one)))
    return result


def _classes_from_file(model_type):
    """Whether the type's image processor reads its classes (names, which are things)
    from a file in its checkpoint's repository (oneformer's `class_info_file` under its
    `repo_path`, on the Hub), which its instance post-processing needs: a tiny
    checkpoint, built offline and moved into its cache place, has none to point at."""
    name = tiny.image_processor_name(model_type)
    return name is not None and "class_info_file" in vars(getattr(transformers, name, object))


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _pipeline(task, model_dir, model_class):
    model = getattr(transformers, model_class).from_pretrained(model_dir).eval()
    processor = transformers.AutoImageProcessor.from_pretrained(model_dir)
    name = "image-segmentation" if task.endswith("-segmentation") else task
    # A detector queried with text reads the labels with its tokenizer, and a segmenter
    # told its task in words (oneformer) that task: the pipeline loads neither itself.
    words = task == "zero-shot-object-detection" or getattr(model.config, "task_seq_len", None)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir) if words else None
    return transformers.pipeline(name, model=model, tokenizer=tokenizer, image_processor=processor, device="cpu")


def reference(model_dir, candidate, case, plan):
    task = plan["task"]
    if task in vision.EMBEDDING_TASKS:  # the base model, as the vision family embeds images
        return vision._embed(model_dir, candidate, media.pil_images(case.input))
    if task == "mask-generation":
        return _generate_masks(model_dir, candidate, media.pil_images(case.input), case.options)
    if task == "keypoint-detection":
        return _detect_keypoints(model_dir, candidate, media.pil_images(case.input))
    if task == "image-matting":
        return _matte(model_dir, candidate, case.input)
    if task == "keypoint-matching":
        return _match_keypoints(model_dir, candidate, case.input, case.options.get("threshold", 0.0))
    if task == "pose-estimation":
        return _estimate_poses(model_dir, candidate, media.pil_images(case.input), case.options)
    pipe = _pipeline(task, model_dir, candidate["model_class"])
    images = media.pil_images(case.input)
    if task == "object-detection":
        return _detect(pipe, images, case.options.get("threshold", THRESHOLD))
    if task == "zero-shot-object-detection":
        return _detect_named(pipe, images, case.options["candidate_labels"],
                             case.options.get("threshold", NAMED_THRESHOLD), case.options.get("top_k"))
    if task == "depth-estimation":
        return _estimate_depth(pipe, images)
    if task == "semantic-segmentation":
        return _segment(pipe, images)
    if task in QUERY_SEGMENTATION:
        options = dict(SEGMENT_OPTIONS, **case.options)
        subtask = options.pop("subtask", QUERY_SEGMENTATION[task])
        return _segment_queries(pipe, images, subtask, options)
    raise ValueError(f"unknown task {task!r}")


def _raw(pipe, image, **options):
    """The model's outputs on the pipeline's own preprocessing of one image."""
    inputs = pipe.preprocess(image, **options)
    inputs.pop("target_size")
    with torch.inference_mode():
        return pipe.model(**inputs)


def _detect(pipe, images, threshold):
    """The pipeline's detections, and the model's raw outputs: a detector of queries'
    `logits` and `pred_boxes`, a text detector's (pp_ocrv5_server_det's) map of text
    probability per pixel (`last_hidden_state`), which its post-processing reads."""
    expected = Expected({"detections": []})
    for image in images:  # each alone
        outputs = _raw(pipe, image)
        names = ("logits", "pred_boxes") if getattr(outputs, "pred_boxes", None) is not None \
            else ("last_hidden_state",)
        for name in names:
            expected.setdefault(name, []).append(outputs[name][0].float().tolist())
        expected["detections"].append(
            [{"score": float(d["score"]), "label": d["label"], "box": _enclosing(d["box"])}
             for d in pipe(image, threshold=threshold)])
    expected.threshold = threshold
    return expected


def _enclosing(box):
    """The pipeline's box; for a text detector's quadrilateral, which the pipeline
    hands on as four [x, y] corners under the names of a box's four corners, the box
    that encloses it."""
    if not isinstance(box["xmin"], list):
        return dict(box)
    xs, ys = zip(*box.values())
    return {"xmin": min(xs), "ymin": min(ys), "xmax": max(xs), "ymax": max(ys)}


def _detect_named(pipe, images, labels, threshold, top_k):
    """The pipeline's detections; and per image, per label (the pipeline queries one at
    a time), the model's `logits` and `pred_boxes` on the pipeline's own inputs."""
    expected = Expected({"detections": [], "logits": [], "pred_boxes": []})
    queries = labels.split(",") if isinstance(labels, str) else labels
    for image in images:
        logits, boxes = [], []
        for inputs in pipe.preprocess({"image": image, "candidate_labels": queries}):
            with torch.inference_mode():
                outputs = pipe.model(**{key: value for key, value in inputs.items()
                                        if key not in ("target_size", "candidate_label", "is_last")})
            # Columns the model masks everywhere (-inf: grounding-dino's text positions
            # past the label's tokens) left out.
            row = outputs.logits[0].float()
            logits.append(row[:, row.isfinite().any(0)].tolist())
            boxes.append(outputs.pred_boxes[0].float().tolist())
        expected["logits"].append(logits)
        expected["pred_boxes"].append(boxes)
        expected["detections"].append(
            [{"score": float(d["score"]), "label": d["label"], "box": dict(d["box"])}
             for d in pipe(image, candidate_labels=labels, threshold=threshold, top_k=top_k)])
    expected.threshold = threshold
    return expected


@functools.lru_cache(maxsize=1)
def _prompted_model(model_dir, model_class):
    """The model and its processor (AutoProcessor: the image processor where there is
    no other)."""
    model = getattr(transformers, model_class).from_pretrained(model_dir).eval()
    return model, transformers.AutoProcessor.from_pretrained(model_dir)


def _generate_masks(model_dir, candidate, images, options):
    """Per image, per prompt, the masks and their predicted IoU scores, from the model
    and its processor's own post-processing (post_process_masks, at the image's size).
    transformers' mask-generation pipeline prompts a grid of points and merges the masks
    with torchvision's compiled non-maximum suppression, absent here; prompted masks are
    what it is made of. Without `input_points`, one point at the image's centre."""
    model, processor = _prompted_model(model_dir, candidate["model_class"])
    multimask = options.get("multimask_output", True)
    expected = Expected({"masks": [], "iou_scores": []})
    expected.margins = []
    for index, image in enumerate(images):
        points = options["input_points"][index] if "input_points" in options \
            else [[[image.width // 2, image.height // 2]]]
        inputs = processor(images=image, input_points=[points], return_tensors="pt")
        with torch.inference_mode():
            outputs = model(**inputs, multimask_output=multimask)
        # The resized sizes where the processor padded to a square (sam's; sam2's resizes to one).
        sizes = [outputs.pred_masks] + [inputs[key] for key in ("original_sizes", "reshaped_input_sizes")
                                        if key in inputs]
        masks = processor.post_process_masks(*sizes)[0]
        logits = processor.post_process_masks(*sizes, binarize=False)[0]
        expected["masks"].append(masks.int().tolist())
        expected["iou_scores"].append(outputs.iou_scores[0].float().tolist())
        # A pixel whose upscaled logit lies within tolerance of the threshold (0) may
        # fall on either side in another kernel.
        expected.margins.append(logits.abs().float().numpy())
    return expected


def _detect_keypoints(model_dir, candidate, images):
    """Per image, alone, the keypoints (whole pixels of the image), their scores and
    descriptors, from the model and its image processor's own post-processing
    (post_process_keypoint_detection): transformers has no pipeline for the task."""
    model, processor = _prompted_model(model_dir, candidate["model_class"])
    expected = Expected({"keypoints": [], "scores": [], "descriptors": []})
    for image in images:
        inputs = processor(images=image, return_tensors="pt")
        with torch.inference_mode():
            outputs = model(**inputs)
        found = processor.post_process_keypoint_detection(outputs, [(image.height, image.width)])[0]
        for key in expected:
            expected[key].append(found[key].tolist())
    return expected


def _trimap(image, seed):
    """A trimap for the image: 0 (background), 128 (unknown) or 255 (foreground) per
    pixel, as a user draws one, in bands across the image."""
    rows = np.random.default_rng(seed).integers(0, 3, size=(image.height, 1))
    return Image.fromarray(np.repeat(np.array([0, 128, 255], dtype=np.uint8)[rows], image.width, axis=1), mode="L")


def _matte(model_dir, candidate, pairs):
    """Per (image, trimap) pair, alone, the model's alpha matte cut to the image's own
    size (the processor pads both to a multiple of its size_divisor, at the right and
    bottom): transformers has no pipeline for the task, nor a post-processing."""
    model, processor = _prompted_model(model_dir, candidate["model_class"])
    pairs = [pairs] if len(pairs) == 2 and not isinstance(pairs[0], (list, tuple)) else pairs
    expected = Expected({"alphas": []})
    for image, trimap in pairs:
        [image, trimap] = media.pil_images([image, trimap])
        inputs = processor(images=image.convert("RGB"), trimaps=trimap.convert("L"), return_tensors="pt")
        with torch.inference_mode():
            alphas = model(**inputs).alphas
        expected["alphas"].append(alphas[0, 0, :image.height, :image.width].tolist())
    return expected


def _match_keypoints(model_dir, candidate, pairs, threshold):
    """Per pair of images, alone, the matches as the keypoint-matching pipeline shapes
    them ({"keypoint_image_0": {"x", "y"}, "keypoint_image_1": {"x", "y"}, "score"},
    best first), from the model and its image processor's post_process_keypoint_matching
    written out: the pipeline hands that post-processing each image's (width, height)
    where it reads (height, width), which scales the keypoints of an image that is not
    square wrongly; here the sizes are (height, width), as the processor documents."""
    model, processor = _prompted_model(model_dir, candidate["model_class"])
    pairs = [pairs] if len(pairs) == 2 and not isinstance(pairs[0], (list, tuple)) else pairs
    expected = Expected({"matches": []})
    for pair in pairs:
        images = media.pil_images(list(pair))
        inputs = processor(images=[images], return_tensors="pt")
        with torch.inference_mode():
            outputs = model(**inputs)
        found = processor.post_process_keypoint_matching(
            outputs, [[(image.height, image.width) for image in images]], threshold=threshold)[0]
        matches = [{"keypoint_image_0": {"x": first[0].item(), "y": first[1].item()},
                    "keypoint_image_1": {"x": second[0].item(), "y": second[1].item()},
                    "score": score.item()}
                   for first, second, score in zip(found["keypoints0"], found["keypoints1"], found["matching_scores"])]
        expected["matches"].append(sorted(matches, key=lambda match: match["score"], reverse=True))
    return expected


def _compare_matches(expected, actual, rtol, atol):
    """Per pair the same matches (the same keypoints in both images, whole pixels), their
    scores allclose; matches are taken in keypoint order, since two scores equal within
    tolerance may be ranked either way."""
    if not isinstance(actual["matches"], list) or len(actual["matches"]) != len(expected["matches"]):
        return Comparison(False, None, f"matches: expected {len(expected['matches'])} entries, "
                                       f"got {short(actual['matches'])}")
    worst = 0.0

    def key(match):
        return tuple(match[image][axis] for image in ("keypoint_image_0", "keypoint_image_1") for axis in "xy")

    for row, (want, got) in enumerate(zip(expected["matches"], actual["matches"])):
        try:
            got = sorted(got, key=key)
        except (TypeError, KeyError):
            return Comparison(False, None, f"matches[{row}]: not a list of matches: {short(got)}")
        want = sorted(want, key=key)
        if [key(match) for match in got] != [key(match) for match in want]:
            return Comparison(False, None, f"matches[{row}]: keypoints {short([key(m) for m in got])}, "
                                           f"expected {short([key(m) for m in want])}")
        values = allclose([match["score"] for match in want], [match["score"] for match in got], rtol, atol)
        if not values.ok:
            return Comparison(False, values.max_abs_diff, f"matches[{row}] scores: {values.message}")
        worst = max(worst, values.max_abs_diff or 0.0)
    return Comparison(True, worst, "matches match")


def _estimate_poses(model_dir, candidate, images, options):
    """Per image, per box (`boxes`: per image its [x, y, width, height] boxes; by
    default the whole image), the keypoints, their scores and labels, from the model's
    heatmaps and the image processor's own post_process_pose_estimation: transformers
    has no pipeline for the task. And per image the raw `heatmaps`."""
    model, processor = _prompted_model(model_dir, candidate["model_class"])
    expected = Expected({"poses": [], "heatmaps": []})
    for index, image in enumerate(images):
        boxes = options["boxes"][index] if "boxes" in options else [[0, 0, image.width, image.height]]
        inputs = processor(image, boxes=[boxes], return_tensors="pt")
        with torch.inference_mode():
            outputs = model(**inputs)
        found = processor.post_process_pose_estimation(outputs, boxes=[boxes])[0]
        expected["poses"].append([{key: pose[key].tolist() for key in ("keypoints", "scores", "labels")}
                                  for pose in found])
        expected["heatmaps"].append(outputs.heatmaps.float().tolist())
    return expected


def _compare_poses(expected, actual, rtol, atol):
    """Per image the raw heatmaps allclose; per box the same labels, keypoints and
    scores allclose."""
    worst = 0.0
    for key in ("poses", "heatmaps"):
        if not isinstance(actual[key], list) or len(actual[key]) != len(expected[key]):
            return Comparison(False, None, f"{key}: expected {len(expected[key])} entries, got {short(actual[key])}")
    for row, (want, got) in enumerate(zip(expected["heatmaps"], actual["heatmaps"])):
        values = allclose(want, got, rtol, atol)
        if not values.ok:
            return Comparison(False, values.max_abs_diff, f"heatmaps[{row}]: {values.message}")
        worst = max(worst, values.max_abs_diff)
    for row, (want, got) in enumerate(zip(expected["poses"], actual["poses"])):
        if not isinstance(got, list) or len(got) != len(want) or not all(
                isinstance(pose, dict) and {"keypoints", "scores", "labels"} <= pose.keys() for pose in got):
            return Comparison(False, None, f"poses[{row}]: expected {len(want)} {{'keypoints', 'scores', 'labels'}} "
                                           f"dicts, got {short(got)}")
        for box, (w, g) in enumerate(zip(want, got)):
            if g["labels"] != w["labels"]:
                return Comparison(False, None, f"poses[{row}][{box}] labels: {short(g['labels'])}, "
                                               f"expected {short(w['labels'])}")
            for key in ("keypoints", "scores"):
                values = allclose(w[key], g[key], rtol, atol)
                if not values.ok:
                    return Comparison(False, values.max_abs_diff, f"poses[{row}][{box}] {key}: {values.message}")
                worst = max(worst, values.max_abs_diff)
    return Comparison(True, worst, "poses match")


def _compare_keypoints(expected, actual, rtol, atol):
    """Per image the same keypoints in the same order, scores and descriptors allclose."""
    worst = 0.0
    for key in ("keypoints", "scores", "descriptors"):
        if not isinstance(actual[key], list) or len(actual[key]) != len(expected[key]):
            return Comparison(False, None, f"{key}: expected {len(expected[key])} entries, got {short(actual[key])}")
    for row, (want, got) in enumerate(zip(expected["keypoints"], actual["keypoints"])):
        if got != want:
            return Comparison(False, None, f"keypoints[{row}]: {short(got)}, expected {short(want)}")
    for key in ("scores", "descriptors"):
        for row, (want, got) in enumerate(zip(expected[key], actual[key])):
            values = allclose(want, got, rtol, atol)
            if not values.ok:
                return Comparison(False, values.max_abs_diff, f"{key}[{row}]: {values.message}")
            worst = max(worst, values.max_abs_diff)
    return Comparison(True, worst, "keypoints match")


def _compare_masks(expected, actual, rtol, atol):
    """Per image the IoU scores allclose and the masks equal but at pixels whose logit
    ties with the threshold (within TIE)."""
    for key in ("masks", "iou_scores"):
        if not isinstance(actual[key], list) or len(actual[key]) != len(expected[key]):
            return Comparison(False, None, f"{key}: expected {len(expected[key])} entries, got {short(actual[key])}")
    worst, tied = 0.0, 0
    for row, (want, got, margin) in enumerate(zip(expected["masks"], actual["masks"], expected.margins)):
        try:
            mask = np.asarray(got, dtype=np.int64)
        except (TypeError, ValueError):
            return Comparison(False, None, f"masks[{row}]: not prompts of masks of rows of pixels")
        reference = np.asarray(want, dtype=np.int64)
        if mask.shape != reference.shape:
            return Comparison(False, None, f"masks[{row}]: shape {list(mask.shape)}, expected {list(reference.shape)}")
        differ = mask != reference
        if (differ & (margin > TIE)).any():
            return Comparison(False, None, f"masks[{row}]: {int((differ & (margin > TIE)).sum())} pixels differ")
        tied += int(differ.sum())
    for row, (want, got) in enumerate(zip(expected["iou_scores"], actual["iou_scores"])):
        scores = allclose(want, got, rtol, atol)
        if not scores.ok:
            return Comparison(False, scores.max_abs_diff, f"iou_scores[{row}]: {scores.message}")
        worst = max(worst, scores.max_abs_diff)
    return Comparison(True, worst, f"masks match ({tied} tied pixels excused)" if tied else "masks match")


def _estimate_depth(pipe, images):
    expected = Expected({"predicted_depth": []})
    for image in images:
        expected["predicted_depth"].append(pipe(image)["predicted_depth"].float().tolist())
    return expected


def _segment(pipe, images):
    expected = Expected({"segments": [], "logits": []})
    expected.margins = []
    for image in images:
        outputs = _raw(pipe, image, subtask="semantic")
        expected["logits"].append(outputs.logits[0].float().tolist())
        expected["segments"].append(
            [{"score": s["score"], "label": s["label"], "mask": np.asarray(s["mask"]).astype(int).tolist()}
             for s in pipe(image, subtask="semantic")])
        # Where a pixel's best two labels are that close, another kernel may pick the
        # other one: post-processing's own upsampling of the logits, its top two apart.
        upsampled = torch.nn.functional.interpolate(
            outputs.logits.float(), size=(image.height, image.width), mode="bilinear", align_corners=False)[0]
        top = upsampled.topk(2, dim=0).values if upsampled.shape[0] > 1 else upsampled.expand(2, -1, -1)
        expected.margins.append((top[0] - top[1]).numpy())
    return expected


def _segment_queries(pipe, images, subtask, options):
    expected = Expected({"segments": [], "class_queries_logits": [], "masks_queries_logits": []})
    for image in images:
        outputs = _raw(pipe, image, subtask=subtask)
        expected["class_queries_logits"].append(outputs.class_queries_logits[0].float().tolist())
        expected["masks_queries_logits"].append(outputs.masks_queries_logits[0].float().tolist())
        expected["segments"].append(
            [{"score": float(s["score"]), "label": s["label"], "mask": np.asarray(s["mask"]).astype(int).tolist()}
             for s in pipe(image, subtask=subtask, **options)])
    expected.threshold = options["threshold"]
    return expected


def compare(expected, actual, plan):
    """Raw outputs allclose within the plan's tolerance, then the pipeline-shaped ones:
    detections as _compare_detections, segments as _compare_segments."""
    if (missing := missing_outputs(expected, actual)) is not None:
        return missing
    if "embeddings" in expected:
        return vision.compare(expected, actual, plan)
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    if "alphas" in expected:  # each image's matte by itself: their sizes differ
        return outputs_allclose({"alphas": expected["alphas"]}, actual, plan, per_entry=["alphas"])
    if "iou_scores" in expected:
        return _compare_masks(expected, actual, rtol, atol)
    if "descriptors" in expected:
        return _compare_keypoints(expected, actual, rtol, atol)
    if "matches" in expected:
        return _compare_matches(expected, actual, rtol, atol)
    if "poses" in expected:
        return _compare_poses(expected, actual, rtol, atol)
    worst = 0.0
    for key in ("logits", "pred_boxes", "last_hidden_state", "predicted_depth", "class_queries_logits",
                "masks_queries_logits"):
        if key not in expected:
            continue
        if not isinstance(actual[key], list) or len(actual[key]) != len(expected[key]):
            return Comparison(False, None, f"{key}: expected {len(expected[key])} entries, got {short(actual[key])}")
        for index, (want, got) in enumerate(_pairs(expected[key], actual[key], plan["task"])):
            if want is None:
                return Comparison(False, None, f"{key}[{index}]: expected one entry per label, got {short(got)}")
            values = allclose(want, got, rtol, atol)
            if not values.ok:
                return Comparison(False, values.max_abs_diff, f"{key}[{index}]: {values.message}")
            worst = max(worst, values.max_abs_diff)
    if "detections" in expected:
        found = _compare_detections(expected, actual["detections"], rtol, atol)
    elif "class_queries_logits" in expected:
        found = _compare_scored_segments(expected, actual["segments"], rtol, atol)
    elif "segments" in expected:
        found = _compare_segments(expected, actual["segments"])
    else:
        return Comparison(True, worst, "predicted depth matches")
    if not found.ok:
        return found
    return Comparison(True, max(worst, found.max_abs_diff or 0.0), found.message)


def _pairs(expected, actual, task):
    """(expected, actual) per image; per image and label for a detector queried with
    text, whose labels' logits differ in width (one column per token of the label, in
    grounding-dino's). A (None, actual) pair where an image's labels do not match."""
    if task != "zero-shot-object-detection":
        yield from zip(expected, actual)
        return
    for want, got in zip(expected, actual):
        if not isinstance(got, list) or len(got) != len(want):
            yield None, got
            return
        yield from zip(want, got)


def _compare_detections(expected, actual, rtol, atol):
    """Per image the same detections in the same order, labels equal, scores allclose,
    box corners at most one pixel apart (the pipeline truncates them to whole pixels);
    a detection whose score lies within tolerance of the threshold may be missing on
    either side."""
    want_all = expected["detections"]
    if not isinstance(actual, list) or len(actual) != len(want_all):
        return Comparison(False, None, f"detections: expected {len(want_all)} lists, got {short(actual)}")
    threshold, worst, excused = getattr(expected, "threshold", THRESHOLD), 0.0, 0
    corners = ("xmin", "ymin", "xmax", "ymax")
    for row, (want, got) in enumerate(zip(want_all, actual)):
        shaped = isinstance(got, list) and all(
            isinstance(d, dict) and {"score", "label", "box"} <= d.keys() and isinstance(d["box"], dict)
            and set(corners) <= d["box"].keys() for d in got)
        if not shaped:
            return Comparison(False, None, f"detections[{row}]: expected a list of {{'score', 'label', 'box'}} "
                                           f"dicts, got {short(got)}")

        def clear(detections):
            return [d for d in detections if abs(d["score"] - threshold) > atol + rtol * abs(threshold)]

        kept_want, kept_got = clear(want), clear(got)
        excused += len(want) - len(kept_want) + len(got) - len(kept_got)
        if len(kept_got) != len(kept_want):
            return Comparison(False, None, f"detections[{row}]: {len(kept_got)} detections clear of the threshold "
                                           f"{threshold}, expected {len(kept_want)}")
        for index, (w, g) in enumerate(zip(kept_want, kept_got)):
            if g["label"] != w["label"]:
                return Comparison(False, None, f"detections[{row}][{index}]: label {g['label']!r}, "
                                               f"expected {w['label']!r}")
            score = allclose(w["score"], g["score"], rtol, atol)
            if not score.ok:
                return Comparison(False, score.max_abs_diff, f"detections[{row}][{index}] score: {score.message}")
            worst = max(worst, score.max_abs_diff)
            box = allclose([w["box"][c] for c in corners], [g["box"][c] for c in corners], 0.0, 1.0)
            if not box.ok:
                return Comparison(False, box.max_abs_diff, f"detections[{row}][{index}] box: {box.message}")
    message = "detections match"
    if excused:
        message += f" ({excused} within tolerance of the threshold {threshold} excused)"
    return Comparison(True, worst, message)


def _compare_scored_segments(expected, actual, rtol, atol):
    """Per image the same segments in the same order, labels equal, scores allclose,
    masks equal. A segment scored within tolerance of the threshold may be missing on
    either side; where one is, the others' masks are not compared, since every segment
    takes its pixels from those of the others (panoptic post-processing)."""
    want_all = expected["segments"]
    if not isinstance(actual, list) or len(actual) != len(want_all):
        return Comparison(False, None, f"segments: expected {len(want_all)} lists, got {short(actual)}")
    threshold = getattr(expected, "threshold", SEGMENT_OPTIONS["threshold"])
    worst, excused = 0.0, 0
    for row, (want, got) in enumerate(zip(want_all, actual)):
        if not isinstance(got, list) or not all(isinstance(s, dict) and {"score", "label", "mask"} <= s.keys()
                                                and isinstance(s["score"], (int, float)) for s in got):
            return Comparison(False, None, f"segments[{row}]: expected a list of {{'score', 'label', 'mask'}} dicts, "
                                           f"got {short(got)}")

        def clear(segments):
            return [s for s in segments if abs(s["score"] - threshold) > atol + rtol * abs(threshold)]

        kept_want, kept_got = clear(want), clear(got)
        dropped = len(want) - len(kept_want) + len(got) - len(kept_got)
        excused += dropped
        if len(kept_got) != len(kept_want):
            return Comparison(False, None, f"segments[{row}]: {len(kept_got)} segments clear of the threshold "
                                           f"{threshold}, expected {len(kept_want)}")
        for index, (w, g) in enumerate(zip(kept_want, kept_got)):
            if g["label"] != w["label"]:
                return Comparison(False, None, f"segments[{row}][{index}]: label {g['label']!r}, expected {w['label']!r}")
            score = allclose(w["score"], g["score"], rtol, atol)
            if not score.ok:
                return Comparison(False, score.max_abs_diff, f"segments[{row}][{index}] score: {score.message}")
            worst = max(worst, score.max_abs_diff)
            if dropped:
                continue
            try:
                mask = np.asarray(g["mask"], dtype=np.int64)
            except (TypeError, ValueError):
                return Comparison(False, None, f"segments[{row}][{index}]: mask is not rows of pixels")
            reference = np.asarray(w["mask"], dtype=np.int64)
            if mask.shape != reference.shape or (mask != reference).any():
                differ = "shape " + str(list(mask.shape)) if mask.shape != reference.shape \
                    else f"{int((mask != reference).sum())} pixels"
                return Comparison(False, None, f"segments[{row}][{index}] {w['label']!r}: mask differs ({differ})")
    message = "segments match"
    if excused:
        message += f" ({excused} within tolerance of the threshold {threshold} excused)"
    return Comparison(True, worst, message)


def _compare_segments(expected, actual):
    """Per image one segment per label found, in the pipeline's order (by label id),
    each score equal (None for semantic segmentation) and each label's mask equal but
    at pixels whose best two labels tie within tolerance; a label whose pixels are all
    tied may be found on one side only."""
    want_all = expected["segments"]
    if not isinstance(actual, list) or len(actual) != len(want_all):
        return Comparison(False, None, f"segments: expected {len(want_all)} lists, got {short(actual)}")
    margins = getattr(expected, "margins", None) or [None] * len(want_all)
    tied = 0
    for row, (want, got) in enumerate(zip(want_all, actual)):
        if not isinstance(got, list) or not all(isinstance(s, dict) and {"score", "label", "mask"} <= s.keys()
                                                for s in got):
            return Comparison(False, None, f"segments[{row}]: expected a list of {{'score', 'label', 'mask'}} dicts, "
                                           f"got {short(got)}")
        masks = {}
        for side, segments in (("expected", want), ("actual", got)):
            for segment in segments:
                try:
                    mask = np.asarray(segment["mask"], dtype=np.int64)
                except (TypeError, ValueError):
                    return Comparison(False, None, f"segments[{row}] {segment['label']!r}: mask is not rows of pixels")
                masks.setdefault(segment["label"], {})[side] = (mask, segment["score"])
        shape = np.asarray(want[0]["mask"]).shape if want else None
        ties = margins[row] <= TIE if margins[row] is not None else np.zeros(shape, dtype=bool)
        for label, sides in masks.items():
            (mask, score), (mine, my_score) = (sides.get(side, (np.zeros(shape, dtype=np.int64), None))
                                               for side in ("expected", "actual"))
            if mine.shape != mask.shape:
                return Comparison(False, None, f"segments[{row}] {label!r}: mask shape {list(mine.shape)}, "
                                               f"expected {list(mask.shape)}")
            if "expected" in sides and "actual" in sides and my_score != score:
                return Comparison(False, None, f"segments[{row}] {label!r}: score {my_score!r}, expected {score!r}")
            differ = mine != mask
            if (differ & ~ties).any():
                y, x = (int(i) for i in np.argwhere(differ & ~ties)[0])
                return Comparison(False, None, f"segments[{row}] {label!r}: {int((differ & ~ties).sum())} mask pixels "
                                               f"differ, first at row {y}, column {x}")
            tied += int(differ.sum())
        order = [s["label"] for s in got if s["label"] in {w["label"] for w in want}]
        if order != [s["label"] for s in want if s["label"] in order]:
            return Comparison(False, None, f"segments[{row}]: labels in the order {order}, expected the pipeline's "
                                           f"{[s['label'] for s in want]}")
    return Comparison(True, 0.0, f"segments match ({tied} tied pixels excused)" if tied else "segments match")
