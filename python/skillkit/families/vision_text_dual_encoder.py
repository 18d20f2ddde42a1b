"""Vision-text dual encoders (clip, ...): zero-shot image classification and embeddings.

The handler's contract (docs/DESIGN.md): the option task= picks one of
- zero-shot-image-classification (the default): image(s) in, option candidate_labels;
  `logits_per_image` (per image, one logit per label) and `predictions` (per image,
  every label with its softmax score, best first) out;
- image-embedding: image(s) in; `embeddings` (the model's get_image_features) out;
- text-embedding: text(s) in; `embeddings` (get_text_features) out;
- feature-extraction: a dict of "images" and "texts" (either or both) in;
  `image_embeddings` and `text_embeddings` out, as image- and text-embedding give them.
  The default task of the members whose model gives no logits_per_image (flava). A
  model whose vision tower embeds videos (xclip: get_video_features) takes "videos"
  (each its frames) and "texts", and gives `video_embeddings` and `text_embeddings`.
A skillset generated for image-classification (clip's CLIPForImageClassification) loads
that head and serves it as the vision family does: its cases, reference and comparison
are skillkit.families.vision's.
The reference runs each image or text alone: transformers' zero-shot-image-classification
pipeline for the predictions and for the logits (its preprocessing, siglip's padding to
64 tokens included), the model on the processor's inputs for embeddings. A skillset
that batches must show that resizing images together and padding texts together
changes nothing.
"""
import torch
import transformers
from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer, pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES
from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING_NAMES

from .. import media, tiny, tokenizers
from ..compare import Comparison, allclose, missing_outputs, scores_and_predictions
from ..expected import Expected
from . import Case, vision

IMAGE_SIZE = 32
PATCH_SIZE = 8
# CLIP's BPE: the 512 byte symbols (with and without "</w>"), 200 merges and the
# start and end of text.
VOCAB_SIZE = 714
HYPOTHESIS_TEMPLATE = "This is a photo of {}."  # the pipeline's default
# The zero-shot pipeline pads a siglip model's texts to 64 tokens: the tiny text model
# must take that many positions.
SIGLIP_TEXT_LENGTH = 64
# A video model's (xclip's) frames per video.
VIDEO_FRAMES = 4

CANDIDATE_LABELS = ["cat", "dog", "red car", "tree frog"]
TEXTS = (
    "a photo of a cat",
    "Three small dogs playing in the snow at night, photographed from far away!",
)


def build_tiny(model_type, candidate, out_dir, seed):
    model_class = getattr(transformers, candidate["model_class"])
    towers = hasattr(model_class, "get_text_features") and (
        hasattr(model_class, "get_image_features") or _embeds_videos(candidate))
    if candidate["auto_class"] == "AutoModel" and not towers:
        # The base model serves feature-extraction through its two towers. bridgetower
        # and tvp fuse image (or video) and text in one tower, videoprism's video tower
        # has no processor of its own, glm_image generates images: none has the two
        # towers this family's skillset calls. (A zero-shot class, blip-2's retrieval
        # head, scores images against texts without them.)
        raise NotImplementedError(f"no tiny-model recipe for {model_type!r}: {candidate['model_class']} has no "
                                  "get_image_features (or get_video_features) and get_text_features")
    if _embeds_videos(candidate):
        _build_video_text(model_type, model_class, out_dir, seed)
        return
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    tiny.shrink(config)  # and its text_config and vision_config
    # flava names its image tower's config image_config.
    text_config = config.text_config
    vision_config = getattr(config, "vision_config", None) or config.image_config
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, ("bos_token", "eos_token", "unk_token", "pad_token"))
    text_config.max_position_embeddings = max(text_config.max_position_embeddings, SIGLIP_TEXT_LENGTH)
    tokenizer.model_max_length = text_config.max_position_embeddings
    if tokenizer.pad_token is None:  # blip-2's GPT-2 tokenizer: the pipeline pads the labels
        tokenizer.pad_token = tokenizer.eos_token
    # The text model pools at the first end-of-text token (eos_token_id; the legacy
    # value 2 means "the highest id" instead), so the ids must be the tiny vocabulary's.
    text_config.vocab_size = len(tokenizer)
    for role in ("bos", "eos", "pad"):
        setattr(text_config, f"{role}_token_id", getattr(tokenizer, f"{role}_token_id"))
    vision_config.image_size, vision_config.patch_size = IMAGE_SIZE, PATCH_SIZE
    image_processor = _image_processor(model_type, vision_config)
    if candidate["model_class"].endswith("ForImageTextRetrieval"):
        # blip-2's retrieval head reads the texts through its Q-Former, as its
        # checkpoints' configs say (Blip2QFormerConfig's default leaves that out).
        config.qformer_config.use_qformer_text_input = True
    if candidate["auto_class"] == "AutoModelForImageClassification":  # clip's classifier head
        config.id2label = dict(enumerate(vision.LABELS))
        config.label2id = {label: index for index, label in enumerate(vision.LABELS)}
    model = getattr(transformers, candidate["model_class"])(config).eval()
    if "hidden_dim" in vars(vision_config) and "projection_dim" in vars(config):
        # align's image embeddings are its convolutional tower's pooled output,
        # unprojected, as wide as its last stage: the text's projection must be as wide.
        with torch.inference_mode():
            pixels = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)
            config.projection_dim = model.get_image_features(pixel_values=pixels).pooler_output.shape[-1]
        tiny.seed_everything(seed)
        model = getattr(transformers, candidate["model_class"])(config).eval()
    processor_class = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])
    processor = processor_class(image_processor=image_processor, tokenizer=tokenizer)
    tiny.save_and_verify(model, processor, out_dir)


def _embeds_videos(candidate):
    """Whether the model's vision tower embeds videos, not images (xclip's
    get_video_features; no get_image_features)."""
    model_class = getattr(transformers, candidate["model_class"])
    return hasattr(model_class, "get_video_features") and not hasattr(model_class, "get_image_features")


def _build_video_text(model_type, model_class, out_dir, seed):
    """xclip: its towers at tiny sizes, VIDEO_FRAMES frames of IMAGE_SIZE pixels, its
    multi-frame integration transformer (mit_*) as wide as the projection (it adds its
    position embedding to the projected frames); a VideoMAEImageProcessor (the one
    xclip's checkpoints save: it keeps a video's frames together, where the auto
    table's CLIP image processor would flatten them into images) and its tokenizer."""
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    tiny.shrink(config)
    vision_config, text_config = config.vision_config, config.text_config
    vision_config.image_size, vision_config.num_frames = IMAGE_SIZE, VIDEO_FRAMES
    if "tubelet_size" in vars(vision_config):
        # videoprism's: tubelets of one frame (its checkpoints' are), a spatial, a
        # temporal and an auxiliary stack of layers.
        vision_config.tubelet_size = (1, PATCH_SIZE, PATCH_SIZE)
        vision_config.num_spatial_layers = vision_config.num_temporal_layers = tiny.LAYERS
        vision_config.num_auxiliary_layers = 1
    else:
        vision_config.patch_size = PATCH_SIZE
        vision_config.mit_hidden_size = config.projection_dim
        vision_config.mit_intermediate_size = tiny.INTERMEDIATE
        vision_config.mit_num_attention_heads = tiny.HEADS
        config.prompt_num_attention_heads = tiny.HEADS
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, ("bos_token", "eos_token", "unk_token", "pad_token"))
    text_config.vocab_size = len(tokenizer)
    for role in ("bos", "eos", "pad"):  # xclip's text tower pools at the end-of-text token
        if getattr(tokenizer, f"{role}_token_id") is not None:
            setattr(text_config, f"{role}_token_id", getattr(tokenizer, f"{role}_token_id"))
    model = model_class(config).eval()
    # transformers' processor table has no xclip entry: the model's own module has one,
    # named as the model (XCLIPModel, XCLIPProcessor).
    name = PROCESSOR_MAPPING_NAMES.get(model_type) or model_class.__name__.removesuffix("Model") + "Processor"
    video_processors = VIDEO_PROCESSOR_MAPPING_NAMES.get(model_type)
    if video_processors:  # videoprism's own video processor
        frames = tiny.resized(getattr(transformers, video_processors["torchvision"])(), IMAGE_SIZE)
        processor = getattr(transformers, name)(video_processor=frames, tokenizer=tokenizer)
    else:
        frames = transformers.VideoMAEImageProcessor(
            size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
        processor = getattr(transformers, name)(image_processor=frames, tokenizer=tokenizer)
    tiny.save_and_verify(model, processor, out_dir)


def _image_processor(model_type, vision_config):
    """The type's image processor at the tiny model's size. siglip2's (NaFlex) resizes
    each image, aspect ratio kept, to at most max_num_patches patches, and its processor
    passes its own patch size and count (Siglip2Processor.images_kwargs) whatever the
    image processor says: the tiny vision tower takes those (256 patches of 16 pixels,
    cheap at the tiny width)."""
    name = tiny.image_processor_name(model_type)
    processor = getattr(transformers, name)() if name and hasattr(transformers, name) else None
    if processor is None or not getattr(processor, "max_num_patches", None):
        return tiny.image_processor(model_type, IMAGE_SIZE)
    vision_config.patch_size, vision_config.num_patches = processor.patch_size, processor.max_num_patches
    return processor


def cases(plan):
    if plan["task"] == "image-classification":
        return vision.cases(plan)
    one, first, second = media.images(3, plan.get("seed", 0))
    if any(_embeds_videos(candidate) for candidate in plan.get("candidates", ())):
        if plan["task"] != "feature-extraction":
            # videoprism's zero-shot classification scores videos: the task's contract
            # (and transformers' pipeline) takes images.
            raise NotImplementedError(f"{plan['task']} takes images; {plan['candidates'][0]['model_class']} "
                                      "embeds videos (served as feature-extraction)")
        # Two videos of different frame sizes, each of the model's frame count.
        videos = [media.images(VIDEO_FRAMES, seed, sizes=(size,)) for seed, size in ((1, (40, 30)), (2, (30, 44)))]
        return [
            Case("feature-extraction: two videos and two texts",
                 {"videos": videos, "texts": list(TEXTS)}, {"task": "feature-extraction"}),
            Case("feature-extraction: one text", {"texts": TEXTS[1]}, {"task": "feature-extraction"}),
        ]
    features = [
        Case("feature-extraction: two images and two texts",
             {"images": [first, second], "texts": list(TEXTS)}, {"task": "feature-extraction"}),
        Case("feature-extraction: one text", {"texts": TEXTS[1]}, {"task": "feature-extraction"}),
    ]
    if plan["task"] == "feature-extraction":
        return features
    labels = {"candidate_labels": CANDIDATE_LABELS}
    classify = [Case("one image", one, labels), Case("two images of different sizes", [first, second], labels)]
    # blip-2's retrieval head scores image and text together: it has no embeddings.
    if not all(hasattr(getattr(transformers, candidate["model_class"]), "get_image_features")
               for candidate in plan.get("candidates", ())):
        return classify
    return [
        *classify,
        Case("image-embedding: two images of different sizes", [first, second], {"task": "image-embedding"}),
        Case("text-embedding: one text", TEXTS[0], {"task": "text-embedding"}),
        Case("text-embedding: two texts of different lengths", list(TEXTS), {"task": "text-embedding"}),
        *features,
    ]


def _loaded(model_dir, model_class):
    """The model, its tokenizer and what makes its pixels: its image processor, or a
    video model's whole processor (videoprism's video processor is no image processor)."""
    # Eager attention, as the template loads the model: under sdpa aimv2's text tower
    # attends both ways to a text alone (its mask dropped, its attention not told it is
    # causal) and causally in a padded batch; eager gives the causal reading either way.
    model = getattr(transformers, model_class).from_pretrained(model_dir, attn_implementation="eager").eval()
    video = _embeds_videos({"model_class": model_class})
    pixels = (AutoProcessor if video else AutoImageProcessor).from_pretrained(model_dir)
    return model, AutoTokenizer.from_pretrained(model_dir), pixels


def _pooled(features):
    """The projected embedding of one image or text: get_*_features' pooler_output (a
    bare tensor from older classes); flava projects every token, and its contrastive
    loss (FlavaForPreTraining) reads the first, the class token."""
    pooled = getattr(features, "pooler_output", features)
    if pooled is None:  # blip-2's Blip2Model: its text features are a language model's logits
        raise ValueError(f"{type(features).__name__} holds no pooled embedding")
    return (pooled[0, 0] if pooled.dim() == 3 else pooled[0]).tolist()


def _embeddings(model, tokenizer, image_processor, kind, items):
    """Each image's or text's projected embedding, computed alone."""
    items = items if isinstance(items, list) else [items]
    with torch.inference_mode():
        if kind == "images":
            return [_pooled(model.get_image_features(**image_processor(image, return_tensors="pt")))
                    for image in items]
        if kind == "videos":
            return [_pooled(model.get_video_features(**image_processor(videos=[video], return_tensors="pt")))
                    for video in items]
        return [_pooled(model.get_text_features(**tokenizer(text, return_tensors="pt", **_text_padding(model))))
                for text in items]


def _text_padding(model):
    """A text alone as the zero-shot pipeline tokenizes it: a siglip model's padded to
    64 tokens (its text tower pools the last position, and was trained so)."""
    if "siglip" in model.config.model_type:
        return {"padding": "max_length", "max_length": SIGLIP_TEXT_LENGTH, "truncation": True}
    return {}


def reference(model_dir, candidate, case, plan):
    if plan["task"] == "image-classification":
        return vision.reference(model_dir, candidate, case, plan)
    model, tokenizer, image_processor = _loaded(model_dir, candidate["model_class"])
    task = case.options.get("task", plan["task"])
    if task == "image-embedding":
        return Expected({"embeddings": _embeddings(model, tokenizer, image_processor, "images", case.input)})
    if task == "text-embedding":
        return Expected({"embeddings": _embeddings(model, tokenizer, image_processor, "texts", case.input)})
    if task == "feature-extraction":
        return Expected({f"{kind[:-1]}_embeddings": _embeddings(model, tokenizer, image_processor, kind, items)
                         for kind, items in case.input.items()})
    if task != "zero-shot-image-classification":
        raise ValueError(f"unknown task {task!r}")
    labels = case.options["candidate_labels"]
    classifier = pipeline("zero-shot-image-classification", model=model, tokenizer=tokenizer,
                          image_processor=image_processor, device="cpu")
    expected = Expected({"logits_per_image": [], "predictions": []})
    for image in case.input if isinstance(case.input, list) else [case.input]:  # each alone
        # The pipeline's own preprocessing (siglip's texts padded to 64 tokens) and
        # forward give the logits; the pipeline gives the labels and scores.
        logits = classifier.forward(classifier.preprocess(image, candidate_labels=labels))["logits"][0]
        predictions = classifier(image, candidate_labels=labels)
        expected["logits_per_image"].append(logits.tolist())
        expected["predictions"].append([{"label": p["label"], "score": float(p["score"])} for p in predictions])
    return expected


def compare(expected, actual, plan):
    """Embeddings allclose within the plan's tolerance; or logits_per_image allclose and
    predictions as compare.ranked_predictions. image-classification as the vision
    family compares it."""
    if plan["task"] == "image-classification":
        return vision.compare(expected, actual, plan)
    missing = missing_outputs(expected, actual)
    if missing is not None:
        return missing
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    if "logits_per_image" in expected:
        return scores_and_predictions(expected, actual, "logits_per_image", rtol, atol)
    worst = 0.0
    for key in expected:  # embeddings, or image_embeddings and text_embeddings
        values = allclose(expected[key], actual[key], rtol, atol)
        if not values.ok:
            return Comparison(False, values.max_abs_diff, f"{key}: {values.message}")
        worst = max(worst, values.max_abs_diff)
    return Comparison(True, worst, f"{' and '.join(expected)} match")
