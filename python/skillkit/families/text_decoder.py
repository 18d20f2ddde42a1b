"""Decoder-only language models (gpt2, ...): greedy text generation.

The handler's contract (docs/DESIGN.md): a prompt or a list of prompts in; `token_ids`
(the new tokens only, never the prompt) and `texts` (those tokens decoded) out, one
entry per prompt. The reference runs transformers' text-generation pipeline on each
prompt alone, unpadded, so a skillset that batches must show that padding changes
nothing.
"""
import transformers
from transformers import AutoTokenizer, pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

from .. import tiny
from .. import tokenizers as offline
from ..compare import Comparison
from . import Case

VOCAB_SIZE = 384

# Random weights drawn at the configs' usual initializer range (0.02 for gpt2) leave
# every hidden state dominated by the embedding of the current token, so greedy
# generation repeats one token whatever the prompt; a test of such a model cannot tell
# a prompt that was padded wrongly from one that was not. Wider weights make the next
# token depend on the whole context.
INITIALIZER_RANGE = 0.3

PROMPTS = (
    "The quick brown fox",
    "A journey of a thousand miles begins with a single step, and every step counts.",
)


# Offline tokenizer recipes, by the model type's tokenizer class: its special tokens,
# first in the vocabulary in this order, as in the real checkpoints.
SPECIAL_TOKENS = {
    "GPT2Tokenizer": ("<|endoftext|>",),
}


def _tokenizer(model_type):
    """A tokenizer of the model type's own class, trained offline on skillkit's corpus."""
    name = TOKENIZER_MAPPING_NAMES.get(model_type)
    if name not in SPECIAL_TOKENS:
        raise NotImplementedError(f"no offline tokenizer recipe for {model_type!r} (tokenizer {name})")
    vocab, merges = offline.byte_level_bpe(VOCAB_SIZE, SPECIAL_TOKENS[name])
    # The tokenizers library wants each merge as a pair.
    merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in merges]
    # No padding token, as the real checkpoints ship: the skillset must cope with that.
    return getattr(transformers, name)(vocab=vocab, merges=merges)


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    tokenizer = _tokenizer(model_type)
    config = CONFIG_MAPPING[model_type]()
    overrides = {"vocab_size": len(tokenizer)}
    # The config's special token ids point into the real vocabulary; repoint the ones
    # the config sets at the tiny vocabulary's tokens of the same role.
    for role in ("bos", "eos", "pad"):
        if getattr(config, f"{role}_token_id", None) is not None:
            overrides[f"{role}_token_id"] = getattr(tokenizer, f"{role}_token_id")
    if hasattr(config, "initializer_range"):
        overrides["initializer_range"] = INITIALIZER_RANGE
    tiny.shrink(config, **overrides)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    tiny.save_and_verify(model, tokenizer, out_dir)


def cases(plan):
    n = plan["generation"]["max_new_tokens"]
    # min_new_tokens == max_new_tokens: random weights may emit end-of-sequence at once,
    # and two empty outputs would agree whatever the skillset does.
    options = {"max_new_tokens": n, "min_new_tokens": n}
    return [
        Case("one prompt", PROMPTS[0], options),
        Case("two prompts of different lengths", list(PROMPTS), options),
    ]


def reference(model_dir, candidate, case, plan):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = getattr(transformers, candidate["auto_class"]).from_pretrained(model_dir).eval()
    generator = pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu")
    settings = dict(case.options, do_sample=False)
    prompts = [case.input] if isinstance(case.input, str) else list(case.input)
    expected = {"token_ids": [], "texts": [], "margins": []}
    for prompt in prompts:  # each alone: no padding
        [ids] = generator(prompt, return_tensors=True, **settings)
        [text] = generator(prompt, return_full_text=False, return_dict_in_generate=True,
                           output_scores=True, **settings)
        prompt_length = len(tokenizer(prompt)["input_ids"])
        expected["token_ids"].append(list(ids["generated_token_ids"][prompt_length:]))
        expected["texts"].append(text["generated_text"])
        expected["margins"].append([margin(scores) for scores in text["scores"]])
    return expected


def margin(scores):
    """How far greedy's choice at one step led the runner-up, and the scale of the lead."""
    first, second = sorted(scores, reverse=True)[:2]
    return {"gap": first - second, "top": first}


def compare(expected, actual, plan):
    """Token ids equal token for token, and texts equal.

    A step where the reference's top two scores are within the plan's tolerance is a
    tie: another backend (or kernel) may break it the other way, after which the rest of
    the sequence legitimately differs. Such a divergence is accepted and named; any
    other is a failure.
    """
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    problems, ties = [], []
    for key in ("token_ids", "texts"):
        if not isinstance(actual.get(key), list) or len(actual[key]) != len(expected[key]):
            return Comparison(False, None, f"{key!r} must be a list of {len(expected[key])} entries, "
                                           f"got {_short(actual.get(key))}")
    for index, (want, got) in enumerate(zip(expected["token_ids"], actual["token_ids"])):
        if got == want:
            if actual["texts"][index] != expected["texts"][index]:
                problems.append(f"input {index}: text {actual['texts'][index]!r} != {expected['texts'][index]!r}")
            continue
        step = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
        margins = expected["margins"][index]
        if len(got) == len(want) and step < len(margins) and \
                margins[step]["gap"] <= atol + rtol * abs(margins[step]["top"]):
            ties.append(f"input {index}: tie at step {step} (gap {margins[step]['gap']:.3g})")
            continue
        problems.append(f"input {index}: token ids {_short(got)} != {_short(want)} (first difference at step {step})")
    if problems:
        return Comparison(False, None, "; ".join(problems))
    return Comparison(True, None, "; ".join(ties) if ties else "token ids and texts equal")


def _short(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
