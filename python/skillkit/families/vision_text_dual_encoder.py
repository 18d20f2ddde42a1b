"""Vision-text dual encoders (clip, ...): zero-shot image classification and embeddings.

The handler's contract (docs/DESIGN.md): the option task= picks one of
- zero-shot-image-classification (the default): image(s) in, option candidate_labels;
  `logits_per_image` (per image, one logit per label) and `predictions` (per image,
  every label with its softmax score, best first) out;
- image-embedding: image(s) in; `embeddings` (the model's get_image_features) out;
- text-embedding: text(s) in; `embeddings` (get_text_features) out.
The reference runs each image or text alone: transformers' zero-shot-image-classification
pipeline for the predictions, the model on the processor's inputs for logits and
embeddings. A skillset that batches must show that resizing images together and padding
texts together changes nothing.
"""
import torch
import transformers
from transformers import AutoImageProcessor, AutoTokenizer, pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

from .. import media, tiny, tokenizers
from ..compare import Comparison, allclose, ranked_predictions
from ..expected import Expected
from . import Case

IMAGE_SIZE = 32
PATCH_SIZE = 8
# CLIP's BPE: the 512 byte symbols (with and without "</w>"), 200 merges and the
# start and end of text.
VOCAB_SIZE = 714
HYPOTHESIS_TEMPLATE = "This is a photo of {}."  # the pipeline's default

CANDIDATE_LABELS = ["cat", "dog", "red car", "tree frog"]
TEXTS = (
    "a photo of a cat",
    "Three small dogs playing in the snow at night, photographed from far away!",
)


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    tiny.shrink(config)  # and its text_config and vision_config
    text_config, vision_config = config.text_config, config.vision_config
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, ("bos_token", "eos_token", "unk_token", "pad_token"))
    tokenizer.model_max_length = text_config.max_position_embeddings
    # The text model pools at the first end-of-text token (eos_token_id; the legacy
    # value 2 means "the highest id" instead), so the ids must be the tiny vocabulary's.
    text_config.vocab_size = len(tokenizer)
    for role in ("bos", "eos", "pad"):
        setattr(text_config, f"{role}_token_id", getattr(tokenizer, f"{role}_token_id"))
    vision_config.image_size, vision_config.patch_size = IMAGE_SIZE, PATCH_SIZE
    model = getattr(transformers, candidate["model_class"])(config).eval()
    processor_class = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])
    processor = processor_class(image_processor=tiny.image_processor(model_type, IMAGE_SIZE), tokenizer=tokenizer)
    tiny.save_and_verify(model, processor, out_dir)


def cases(plan):
    one, first, second = media.images(3, plan.get("seed", 0))
    labels = {"candidate_labels": CANDIDATE_LABELS}
    return [
        Case("one image", one, labels),
        Case("two images of different sizes", [first, second], labels),
        Case("image-embedding: two images of different sizes", [first, second], {"task": "image-embedding"}),
        Case("text-embedding: one text", TEXTS[0], {"task": "text-embedding"}),
        Case("text-embedding: two texts of different lengths", list(TEXTS), {"task": "text-embedding"}),
    ]


def _loaded(model_dir, model_class):
    model = getattr(transformers, model_class).from_pretrained(model_dir).eval()
    return model, AutoTokenizer.from_pretrained(model_dir), AutoImageProcessor.from_pretrained(model_dir)


def reference(model_dir, candidate, case, plan):
    model, tokenizer, image_processor = _loaded(model_dir, candidate["model_class"])
    task = case.options.get("task", plan["task"])
    inputs = case.input if isinstance(case.input, list) else [case.input]
    with torch.inference_mode():
        if task == "image-embedding":
            return Expected({"embeddings": [model.get_image_features(**image_processor(image, return_tensors="pt"))
                                            .pooler_output[0].tolist() for image in inputs]})
        if task == "text-embedding":
            return Expected({"embeddings": [model.get_text_features(**tokenizer(text, return_tensors="pt"))
                                            .pooler_output[0].tolist() for text in inputs]})
    if task != "zero-shot-image-classification":
        raise ValueError(f"unknown task {task!r}")
    labels = case.options["candidate_labels"]
    classifier = pipeline("zero-shot-image-classification", model=model, tokenizer=tokenizer,
                          image_processor=image_processor, device="cpu")
    texts = tokenizer([HYPOTHESIS_TEMPLATE.format(label) for label in labels], padding=True, return_tensors="pt")
    expected = Expected({"logits_per_image": [], "predictions": []})
    for image in inputs:  # each alone
        with torch.inference_mode():
            logits = model(**texts, **image_processor(image, return_tensors="pt")).logits_per_image[0]
        predictions = classifier(image, candidate_labels=labels)
        expected["logits_per_image"].append(logits.tolist())
        expected["predictions"].append([{"label": p["label"], "score": float(p["score"])} for p in predictions])
    return expected


def compare(expected, actual, plan):
    """Embeddings, or logits_per_image, allclose within the plan's tolerance; predictions
    with the labels of each rank equal unless their scores tie (compare.ranked_predictions)."""
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    keys = ["embeddings"] if "embeddings" in expected else ["logits_per_image", "predictions"]
    missing = [key for key in keys if key not in actual]
    if missing:
        return Comparison(False, None, f"outputs {missing} expected, got {sorted(actual)}")
    values = allclose(expected[keys[0]], actual[keys[0]], rtol, atol)
    if not values.ok:
        return Comparison(False, values.max_abs_diff, f"{keys[0]}: {values.message}")
    if keys[0] == "embeddings":
        return Comparison(True, values.max_abs_diff, "embeddings match")
    predictions, ties = ranked_predictions(expected["predictions"], actual["predictions"], rtol, atol)
    if not predictions.ok:
        return predictions
    worst = max(values.max_abs_diff, predictions.max_abs_diff)
    return Comparison(True, worst, "; ".join(ties) if ties else "logits_per_image and predictions match")
