"""Image classifiers (vit, ...): logits and top-k labels per image.

The handler's contract (docs/DESIGN.md): an image or a list of images (PIL, path or
bytes) in, option top_k (5); `logits` (one vector per image) and `predictions` (per
image, the top_k {"label", "score"} pairs, best first) out. The reference runs
transformers' image-classification pipeline on each image alone for the predictions,
and the model on the pipeline's own preprocessed inputs for the logits, so a skillset
that batches images of different sizes must show that resizing them together changes
nothing.
"""
import io

import torch
import transformers
from transformers import AutoImageProcessor, pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES

from .. import media, tiny
from ..compare import Comparison, allclose
from . import Case

# The tiny model sees IMAGE_SIZE x IMAGE_SIZE pixels in PATCH_SIZE patches: 16 patches.
IMAGE_SIZE = 32
PATCH_SIZE = 8

# Random weights at the configs' usual initializer range (0.02 for vit) leave the logits
# nearly the same whatever the image (0.007 apart for two different images), so a
# preprocessing bug moves them by little more than the tolerance. Wider weights make
# the output depend on the pixels (logits 4 apart; bicubic for bilinear moves them 0.08).
INITIALIZER_RANGE = 0.3

# Seven labels: more than the default top_k of 5, so the cut is exercised.
LABELS = ("tabby cat", "tree frog", "goldfish", "red fox", "garden snail", "jellyfish", "teapot")


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


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    overrides = {"image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE,
                 "id2label": dict(enumerate(LABELS)),
                 "label2id": {label: index for index, label in enumerate(LABELS)}}
    for name, value in (("encoder_stride", PATCH_SIZE), ("pooler_output_size", tiny.HIDDEN),
                        ("initializer_range", INITIALIZER_RANGE)):
        if getattr(config, name, None) is not None:
            overrides[name] = value
    tiny.shrink(config, **overrides)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    tiny.save_and_verify(model, image_processor(model_type, IMAGE_SIZE), out_dir)


def cases(plan):
    one, first, second = media.images(3, plan.get("seed", 0))
    encoded = io.BytesIO()
    one.save(encoded, format="PNG")
    # media's default sizes differ from each other and from the model's 32 x 32, so
    # every image is resized, and the two of the batch differently.
    return [
        Case("one image", one),
        Case("two images of different sizes", [first, second]),
        Case("one image as PNG bytes, top_k 2", encoded.getvalue(), {"top_k": 2}),
    ]


def _images(input):
    """The case's input as a list of PIL images (bytes decoded here, not by the skillset)."""
    from PIL import Image

    items = input if isinstance(input, list) else [input]
    return [Image.open(io.BytesIO(item)) if isinstance(item, bytes) else item for item in items]


def _classifier(model_dir, model_class):
    model = getattr(transformers, model_class).from_pretrained(model_dir).eval()
    processor = AutoImageProcessor.from_pretrained(model_dir)
    return pipeline("image-classification", model=model, image_processor=processor, device="cpu")


def reference(model_dir, candidate, case, plan):
    classifier = _classifier(model_dir, candidate["model_class"])
    top_k = case.options.get("top_k", 5)
    expected = {"logits": [], "predictions": []}
    for image in _images(case.input):  # each alone
        # The pipeline's preprocessing (EXIF orientation, RGB, its image processor) on
        # the model itself gives the logits; the pipeline gives the labels and scores.
        with torch.inference_mode():
            logits = classifier.model(**classifier.preprocess(image)).logits[0]
        expected["logits"].append(logits.tolist())
        expected["predictions"].append(
            [{"label": p["label"], "score": float(p["score"])} for p in classifier(image, top_k=top_k)])
    return expected


def compare_predictions(expected, actual, rtol, atol):
    """Ranked [{"label", "score"}] lists, one per input: the scores allclose rank by rank,
    and the labels equal rank by rank except where two labels tie.

    A tie is two scores within tolerance of each other, which another backend (or
    kernel) may rank the other way: at rank r the label found must hold, in the
    reference, a score within tolerance of the expected label's. Where it is not in the
    reference's list at all (it was below the top_k cut there), that score is unknown
    but no higher than the last one listed, so the expected label at rank r must itself
    be within tolerance of that last score.
    Returns (Comparison, ties): the ties accepted, as readable strings.
    """
    if not isinstance(actual, list) or len(actual) != len(expected):
        return Comparison(False, None, f"predictions: {_count(actual)} entries, expected {len(expected)}"), []
    worst, ties = 0.0, []
    for index, (want, got) in enumerate(zip(expected, actual)):
        if not isinstance(got, list) or len(got) != len(want) or \
                not all(isinstance(p, dict) and {"label", "score"} <= p.keys() for p in got):
            return Comparison(False, None, f"predictions[{index}]: expected a list of {len(want)} "
                                           f"{{'label', 'score'}} dicts, got {_short(got)}"), []
        result = allclose([p["score"] for p in want], [p["score"] for p in got], rtol, atol)
        if not result.ok:
            return Comparison(False, result.max_abs_diff, f"predictions[{index}] scores: {result.message}"), []
        worst = max(worst, result.max_abs_diff)
        reference = {p["label"]: p["score"] for p in want}
        for rank, (w, g) in enumerate(zip(want, got)):
            if w["label"] == g["label"]:
                continue
            rival = reference.get(g["label"], want[-1]["score"])
            if abs(rival - w["score"]) > atol + rtol * abs(w["score"]):
                return Comparison(False, worst, f"predictions[{index}] rank {rank}: label {g['label']!r}, "
                                                f"expected {w['label']!r} (score {w['score']:.6g})"), []
            ties.append(f"input {index} rank {rank}: tie {w['label']!r} / {g['label']!r}")
    return Comparison(True, worst, ""), ties


def compare(expected, actual, plan):
    """Logits allclose within the plan's tolerance; predictions as compare_predictions."""
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    if "logits" not in actual or "predictions" not in actual:
        return Comparison(False, None, f"outputs 'logits' and 'predictions' expected, got {sorted(actual)}")
    logits = allclose(expected["logits"], actual["logits"], rtol, atol)
    if not logits.ok:
        return Comparison(False, logits.max_abs_diff, f"logits: {logits.message}")
    predictions, ties = compare_predictions(expected["predictions"], actual["predictions"], rtol, atol)
    if not predictions.ok:
        return predictions
    worst = max(logits.max_abs_diff, predictions.max_abs_diff)
    return Comparison(True, worst, "; ".join(ties) if ties else "logits and predictions match")


def _count(value):
    return len(value) if isinstance(value, list) else type(value).__name__


def _short(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
