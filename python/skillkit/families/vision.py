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

import torch
import transformers
from transformers import AutoImageProcessor, pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from .. import media, tiny
from ..compare import Comparison, allclose, scores_and_predictions
from ..expected import Expected
from . import Case

# The tiny model sees IMAGE_SIZE x IMAGE_SIZE pixels in PATCH_SIZE patches: 16 patches.
IMAGE_SIZE = 32
PATCH_SIZE = 8
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

# Seven labels: more than the default top_k of 5, so the cut is exercised.
LABELS = ("tabby cat", "tree frog", "goldfish", "red fox", "garden snail", "jellyfish", "teapot")


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    overrides = {"image_size": IMAGE_SIZE, "id2label": dict(enumerate(LABELS)),
                 "label2id": {label: index for index, label in enumerate(LABELS)}}
    if "num_labels" in vars(config):  # declared by the config (pvt's 1000), not derived from id2label
        overrides["num_labels"] = len(LABELS)
    hierarchical = tiny.is_hierarchical(config)
    overrides["patch_size"] = STAGE_PATCH_SIZE if hierarchical else PATCH_SIZE
    if hierarchical and isinstance(getattr(config, "window_size", None), int):
        overrides["window_size"] = WINDOW_SIZE
    for name, value in (("encoder_stride", PATCH_SIZE), ("pooler_output_size", tiny.HIDDEN),
                        ("initializer_range", INITIALIZER_RANGE)):
        if getattr(config, name, None) is not None:
            overrides[name] = value
    tiny.shrink(config, **overrides)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    tiny.save_and_verify(model, tiny.image_processor(model_type, IMAGE_SIZE), out_dir)


def cases(plan):
    one, first, second = media.images(3, plan.get("seed", 0))
    # media's default sizes differ from each other and from the model's 32 x 32, so
    # every image is resized, and the two of the batch differently.
    if plan["task"] in EMBEDDING_TASKS:
        return [Case("one image", one), Case("two images of different sizes", [first, second]),
                Case("one image as PNG bytes", media.png(one))]
    return [
        Case("one image", one),
        Case("two images of different sizes", [first, second]),
        Case("one image as PNG bytes, top_k 2", media.png(one), {"top_k": 2}),
    ]


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _classifier(model_dir, model_class):
    model = getattr(transformers, model_class).from_pretrained(model_dir).eval()
    processor = AutoImageProcessor.from_pretrained(model_dir)
    return pipeline("image-classification", model=model, image_processor=processor, device="cpu")


@functools.lru_cache(maxsize=1)
def _extractor(model_dir, model_class):
    model = getattr(transformers, model_class).from_pretrained(model_dir).eval()
    processor = AutoImageProcessor.from_pretrained(model_dir)
    return pipeline("image-feature-extraction", model=model, image_processor=processor, device="cpu")


def _embed(model_dir, candidate, images):
    """Per image, alone: the image-feature-extraction pipeline's pooled output where the
    model has a pooler, else the mean over every position of its last hidden state."""
    extractor = _extractor(model_dir, candidate["model_class"])
    embeddings = []
    for image in images:
        with torch.inference_mode():
            pooled = extractor.model(**extractor.preprocess(image)).get("pooler_output") is not None
        features = extractor(image, return_tensors=True, pool=pooled)  # a batch of one
        if not pooled:  # tokens (1, tokens, hidden) or a feature map (1, channels, h, w)
            features = features.mean(1) if features.dim() == 3 else features.flatten(2).mean(-1)
        embeddings.append(features.flatten().float().tolist())
    return Expected({"embeddings": embeddings})


def reference(model_dir, candidate, case, plan):
    if plan["task"] in EMBEDDING_TASKS:
        return _embed(model_dir, candidate, media.pil_images(case.input))
    classifier = _classifier(model_dir, candidate["model_class"])
    top_k = case.options.get("top_k", 5)
    expected = Expected({"logits": [], "predictions": []})
    for image in media.pil_images(case.input):  # each alone
        # The pipeline's preprocessing (EXIF orientation, RGB, its image processor) on
        # the model itself gives the logits; the pipeline gives the labels and scores.
        with torch.inference_mode():
            logits = classifier.model(**classifier.preprocess(image)).logits[0]
        expected["logits"].append(logits.tolist())
        expected["predictions"].append(
            [{"label": p["label"], "score": float(p["score"])} for p in classifier(image, top_k=top_k)])
    return expected


def run_batch(model_dir, candidate, plan, images):
    """The model run once on `images`, as the skillset batches them (skillkit.batching):
    per image its logits, and its length, 1: the image processor brings every image to
    one size, so nothing is padded."""
    classifier = _classifier(model_dir, candidate["model_class"])
    batch = classifier.image_processor(images=media.pil_images(list(images)), return_tensors="pt")
    with torch.inference_mode():
        logits = classifier.model(**batch).logits.float()
    return list(logits), [1] * len(logits)


def compare(expected, actual, plan):
    """Embeddings allclose within the plan's tolerance; or logits allclose and
    predictions as compare.ranked_predictions."""
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    if "embeddings" in expected:
        if "embeddings" not in actual:
            return Comparison(False, None, f"output 'embeddings' expected, got {sorted(actual)}")
        return allclose(expected["embeddings"], actual["embeddings"], rtol, atol)
    if "logits" not in actual or "predictions" not in actual:
        return Comparison(False, None, f"outputs 'logits' and 'predictions' expected, got {sorted(actual)}")
    return scores_and_predictions(expected, actual, "logits", rtol, atol)
