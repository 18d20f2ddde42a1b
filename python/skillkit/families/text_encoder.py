"""Text encoders (bert and its kin): sentence embeddings for feature-extraction.

The reference goes through transformers' own feature-extraction pipeline, one sentence
at a time, and averages the token states; a sentence alone has no padding, so that
plain mean is what the handler's attention-mask-weighted mean over a padded batch must
reproduce. A pooling that counts padding, or drops the mask, fails the batch case.
"""
import functools
import inspect

import torch
import transformers
from tokenizers import models as tokenizer_models
from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

from .. import tokenizers
from ..compare import Comparison, allclose
from ..tiny import save_and_verify, seed_everything, shrink
from . import Case

VOCAB_SIZE = 512
# Special tokens in the order their ids are given. Most fairseq-derived tokenizers
# hard-code <s>=0, <pad>=1, </s>=2, <unk>=3 (XLMRobertaTokenizer uses unk_id=3).
_SPECIAL_ROLES = ("cls_token", "bos_token", "pad_token", "sep_token", "eos_token", "unk_token",
                  "mask_token")

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Hello world.",
    "A much longer second sentence, so that the batch needs padding to a common length!",
)


def _special_tokens(tokenizer_class):
    """The tokenizer class' default special tokens, ordered by _SPECIAL_ROLES."""
    parameters = inspect.signature(tokenizer_class.__init__).parameters
    tokens = []
    for role in _SPECIAL_ROLES:
        default = parameters[role].default if role in parameters else None
        if default is not None and default is not inspect.Parameter.empty:
            token = str(default)
            if token not in tokens:
                tokens.append(token)
    return tokens


def build_tokenizer(model_type, max_length):
    """The tokenizer class AutoTokenizer uses for model_type, with a vocabulary trained here.

    transformers 5 tokenizer classes name their tokenizers-library model (WordPiece,
    BPE, Unigram), which decides the vocabulary to train.
    """
    name = TOKENIZER_MAPPING_NAMES.get(model_type)
    tokenizer_class = getattr(transformers, name, None) if isinstance(name, str) else None
    kind = getattr(tokenizer_class, "model", None)
    if tokenizer_class is None or kind is None:
        # No vocabulary of the class' own kind to train: the generic byte-level BPE.
        tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, _SPECIAL_ROLES)
        tokenizer.model_max_length = max_length
        return tokenizer
    specials = _special_tokens(tokenizer_class)
    if kind is tokenizer_models.WordPiece:
        tokenizer = tokenizer_class(vocab=tokenizers.wordpiece_vocab(VOCAB_SIZE, specials))
    elif kind is tokenizer_models.BPE:
        vocab, merges = tokenizers.byte_level_bpe(VOCAB_SIZE, specials)
        tokenizer = tokenizer_class(vocab=vocab, merges=merges)
    elif kind is tokenizer_models.Unigram:
        tokenizer = tokenizer_class(vocab=tokenizers.unigram(VOCAB_SIZE, specials))
    else:
        raise LookupError(f"no offline vocabulary for {tokenizer_class.__name__} ({kind.__name__})")
    tokenizer.model_max_length = max_length
    return tokenizer


def build_tiny(model_type, candidate, out_dir, seed):
    seed_everything(seed)
    config = transformers.AutoConfig.for_model(model_type)
    # Real checkpoints cap inputs at 512 tokens; roberta-like models hold two more
    # positions (the padding offset), so the cap is never the table size itself.
    max_length = min(getattr(config, "max_position_embeddings", 512) or 512, 512)
    tokenizer = build_tokenizer(model_type, max_length)
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
    return {"embeddings": embeddings}


def compare(expected, actual, plan):
    if "embeddings" not in actual:
        return Comparison(False, None, f"no 'embeddings' in the output (keys: {sorted(actual)})")
    tolerance = plan["tolerance"]
    return allclose(expected["embeddings"], actual["embeddings"], tolerance["rtol"], tolerance["atol"])
