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
import inspect
from collections import Counter

import torch
import transformers
from tokenizers import pre_tokenizers
from transformers import AutoImageProcessor, AutoTokenizer, pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES
from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

from .. import media, tiny
from ..compare import Comparison, allclose
from ..tokenizers import CORPUS
from . import Case, vision

IMAGE_SIZE = 32
PATCH_SIZE = 8
MERGES = 200  # on top of the 512 byte symbols (with and without "</w>") and the specials
HYPOTHESIS_TEMPLATE = "This is a photo of {}."  # the pipeline's default

CANDIDATE_LABELS = ["cat", "dog", "red car", "tree frog"]
TEXTS = (
    "a photo of a cat",
    "Three small dogs playing in the snow at night, photographed from far away!",
)


def _clip_bpe(tokenizer_class, merges):
    """A CLIP-style BPE (vocab {token: id}, merges [(a, b), ...]) of `merges` merges.

    CLIP's BPE marks the last piece of every word with "</w>", so skillkit's GPT-2-style
    byte_level_bpe would leave every word's end unknown (and CLIP's unknown token is its
    end-of-text token, which the text model pools at). The merges are learnt here from
    skillkit's corpus, split by the class's own normaliser and pre-tokeniser: the most
    frequent pair first, ties by the pair itself. (The tokenizers library's BpeTrainer
    with end_of_word_suffix breaks ties in hash order, so its merges change from run to
    run.) The vocabulary is laid out as CLIP's: the 256 byte symbols, the same with
    "</w>" (so nothing encodes as unknown), one token per merge, the special tokens.
    """
    backend = tokenizer_class().backend_tokenizer  # the class's pipeline, a 3-token vocab
    words = Counter()
    for line in CORPUS:
        for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(line)):
            words[tuple(word[:-1]) + (word[-1] + "</w>",)] += 1
    learnt = []
    for _ in range(merges):
        pairs = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        learnt.append(best)
        words = Counter({_merged(word, best): count for word, count in words.items()})
    defaults = inspect.signature(tokenizer_class.__init__).parameters
    specials = [defaults[f"{role}_token"].default for role in ("bos", "eos", "unk", "pad")]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = alphabet + [symbol + "</w>" for symbol in alphabet] + ["".join(pair) for pair in learnt] + specials
    return {token: index for index, token in enumerate(dict.fromkeys(tokens))}, learnt


def _merged(word, pair):
    """The word's symbols with every occurrence of `pair` (left to right) joined."""
    symbols, index = [], 0
    while index < len(word):
        if word[index:index + 2] == pair:
            symbols.append(word[index] + word[index + 1])
            index += 2
        else:
            symbols.append(word[index])
            index += 1
    return tuple(symbols)


def _tokenizer(model_type, max_length):
    name = TOKENIZER_MAPPING_NAMES.get(model_type)
    if name not in ("CLIPTokenizer",):
        raise NotImplementedError(f"no offline tokenizer recipe for {model_type!r} (tokenizer {name})")
    tokenizer_class = getattr(transformers, name)
    vocab, merges = _clip_bpe(tokenizer_class, MERGES)
    return tokenizer_class(vocab=vocab, merges=merges, model_max_length=max_length)


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    tiny.shrink(config)  # and its text_config and vision_config
    text_config, vision_config = config.text_config, config.vision_config
    tokenizer = _tokenizer(model_type, text_config.max_position_embeddings)
    # The text model pools at the first end-of-text token (eos_token_id; the legacy
    # value 2 means "the highest id" instead), so the ids must be the tiny vocabulary's.
    text_config.vocab_size = len(tokenizer)
    for role in ("bos", "eos", "pad"):
        setattr(text_config, f"{role}_token_id", getattr(tokenizer, f"{role}_token_id"))
    vision_config.image_size, vision_config.patch_size = IMAGE_SIZE, PATCH_SIZE
    model = getattr(transformers, candidate["model_class"])(config).eval()
    processor_class = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])
    processor = processor_class(image_processor=vision.image_processor(model_type, IMAGE_SIZE), tokenizer=tokenizer)
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
            return {"embeddings": [model.get_image_features(**image_processor(image, return_tensors="pt"))
                                   .pooler_output[0].tolist() for image in inputs]}
        if task == "text-embedding":
            return {"embeddings": [model.get_text_features(**tokenizer(text, return_tensors="pt"))
                                   .pooler_output[0].tolist() for text in inputs]}
    if task != "zero-shot-image-classification":
        raise ValueError(f"unknown task {task!r}")
    labels = case.options["candidate_labels"]
    classifier = pipeline("zero-shot-image-classification", model=model, tokenizer=tokenizer,
                          image_processor=image_processor, device="cpu")
    texts = tokenizer([HYPOTHESIS_TEMPLATE.format(label) for label in labels], padding=True, return_tensors="pt")
    expected = {"logits_per_image": [], "predictions": []}
    for image in inputs:  # each alone
        with torch.inference_mode():
            logits = model(**texts, **image_processor(image, return_tensors="pt")).logits_per_image[0]
        predictions = classifier(image, candidate_labels=labels)
        expected["logits_per_image"].append(logits.tolist())
        expected["predictions"].append([{"label": p["label"], "score": float(p["score"])} for p in predictions])
    return expected


def compare(expected, actual, plan):
    """Embeddings, or logits_per_image, allclose within the plan's tolerance; predictions
    with the labels of each rank equal unless their scores tie (vision.compare_predictions)."""
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
    predictions, ties = vision.compare_predictions(expected["predictions"], actual["predictions"], rtol, atol)
    if not predictions.ok:
        return predictions
    worst = max(values.max_abs_diff, predictions.max_abs_diff)
    return Comparison(True, worst, "; ".join(ties) if ties else "logits_per_image and predictions match")
