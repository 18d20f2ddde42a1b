"""Text encoders (bert and its kin): sentence embeddings for feature-extraction.

The reference goes through transformers' own feature-extraction pipeline, one sentence
at a time, and averages the token states; a sentence alone has no padding, so that
plain mean is what the handler's attention-mask-weighted mean over a padded batch must
reproduce. A pooling that counts padding, or drops the mask, fails the batch case.
"""
import functools

import torch
import transformers

from .. import tokenizers
from ..compare import Comparison, allclose
from ..expected import Expected
from ..tiny import save_and_verify, seed_everything, shrink
from . import Case

VOCAB_SIZE = 512

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Hello world.",
    "A much longer second sentence, so that the batch needs padding to a common length!",
)


def build_tiny(model_type, candidate, out_dir, seed):
    seed_everything(seed)
    config = transformers.AutoConfig.for_model(model_type)
    # Real checkpoints cap inputs at 512 tokens; roberta-like models hold two more
    # positions (the padding offset), so the cap is never the table size itself.
    max_length = min(getattr(config, "max_position_embeddings", 512) or 512, 512)
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, tokenizers.ROLES)
    tokenizer.model_max_length = max_length
    shrink(config, vocab_size=len(tokenizer))
    for role in ("pad", "bos", "eos", "sep", "cls"):
        token_id = getattr(tokenizer, f"{role}_token_id", None)
        if token_id is not None and hasattr(config, f"{role}_token_id"):
            setattr(config, f"{role}_token_id", token_id)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    save_and_verify(model, tokenizer, out_dir)


def cases(plan):
    return [Case("one", SENTENCES[0]), Case("batch", list(SENTENCES[1:]))]


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _extractor(model_dir, auto_class, processor_class):
    tokenizer = getattr(transformers, processor_class).from_pretrained(model_dir)
    model = getattr(transformers, auto_class).from_pretrained(model_dir).eval()
    return transformers.pipeline("feature-extraction", model=model, tokenizer=tokenizer)


def reference(model_dir, candidate, case, plan):
    extractor = _extractor(model_dir, candidate["auto_class"], candidate["processor_class"])
    texts = [case.input] if isinstance(case.input, str) else case.input
    embeddings = []
    with torch.inference_mode():
        for text in texts:
            hidden = extractor(text, return_tensors=True)[0]  # (tokens, hidden), no padding
            embeddings.append(hidden.float().mean(dim=0).tolist())
    return Expected({"embeddings": embeddings})


def compare(expected, actual, plan):
    if "embeddings" not in actual:
        return Comparison(False, None, f"no 'embeddings' in the output (keys: {sorted(actual)})")
    tolerance = plan["tolerance"]
    return allclose(expected["embeddings"], actual["embeddings"], tolerance["rtol"], tolerance["atol"])
