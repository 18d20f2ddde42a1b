"""Decoder-only language models (gpt2, ...): greedy text generation.

The handler's contract (docs/DESIGN.md): a prompt or a list of prompts in; `token_ids`
(the new tokens only, never the prompt) and `texts` (those tokens decoded) out, one
entry per prompt. The reference runs transformers' text-generation pipeline on each
prompt alone, unpadded, so a skillset that batches must show that padding changes
nothing.

Random weights never choose end-of-sequence within a few tokens, and then neither
min_new_tokens nor what a batch does after one of its rows has ended can be seen. So
the tiny model is taught, by a few steps of training, to answer the first prompt with
ENDS_AFTER tokens and end, and the second with GOES_ON tokens: one case lets the first
end (a batch must stop that row there while the other goes on), the others forbid it
with min_new_tokens (the skillset must pass that option on).
"""
import torch
import transformers
from transformers import AutoTokenizer, pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

from .. import tiny
from .. import tokenizers as offline
from ..compare import Comparison
from . import Case

VOCAB_SIZE = 384

ENDS_AFTER = 3  # tokens of its answer the first prompt is taught, before it ends
GOES_ON = 8  # tokens of its answer the second prompt is taught, without ending

PROMPTS = (
    "The quick brown fox",
    "A journey of a thousand miles begins with a single step, and every step counts.",
)
# What the tiny model is taught to answer them with (see _teach).
ANSWERS = (
    " jumps over the lazy dog.",
    " Reading books every night helps children learn new words.",
)


# Offline tokenizer recipes, by the model type's tokenizer class: its special tokens,
# first in the vocabulary in this order, as in the real checkpoints.
SPECIAL_TOKENS = {
    "GPT2Tokenizer": ("<|endoftext|>",),
}


def _tokenizer(model_type, config):
    """A tokenizer of the model type's own class, trained offline on skillkit's corpus;
    without a recipe here, skillkit.tokenizers.for_model_type's generic one (with a
    padding token only where the config names one)."""
    name = TOKENIZER_MAPPING_NAMES.get(model_type)
    if name not in SPECIAL_TOKENS:
        roles = ("bos_token", "eos_token", "unk_token")
        if getattr(config, "pad_token_id", None) is not None:
            roles += ("pad_token",)
        return offline.for_model_type(model_type, VOCAB_SIZE, roles)
    vocab, merges = offline.byte_level_bpe(VOCAB_SIZE, SPECIAL_TOKENS[name])
    # The tokenizers library wants each merge as a pair.
    merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in merges]
    # No padding token, as the real checkpoints ship: the skillset must cope with that.
    return getattr(transformers, name)(vocab=vocab, merges=merges)


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    tokenizer = _tokenizer(model_type, config)
    overrides = {"vocab_size": len(tokenizer)}
    # The config's special token ids point into the real vocabulary; repoint the ones
    # the config sets at the tiny vocabulary's tokens of the same role. End of sequence
    # always: real checkpoints name it (in config or generation config), and _teach
    # needs it.
    for role in ("bos", "eos", "pad"):
        if getattr(config, f"{role}_token_id", None) is not None or role == "eos":
            overrides[f"{role}_token_id"] = getattr(tokenizer, f"{role}_token_id")
    tiny.shrink(config, **overrides)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    _teach(model, tokenizer)
    tiny.save_and_verify(model, tokenizer, out_dir)


def _teach(model, tokenizer):
    """Train the model to continue PROMPTS[0] by the first ENDS_AFTER tokens of ANSWERS[0]
    and end there, and PROMPTS[1] by the first GOES_ON tokens of ANSWERS[1]."""
    end = model.generation_config.eos_token_id
    prompts = [tokenizer(prompt)["input_ids"] for prompt in PROMPTS]
    answers = [tokenizer(answer, add_special_tokens=False)["input_ids"] for answer in ANSWERS]
    wanted = [answers[0][:ENDS_AFTER] + [end], answers[1][:GOES_ON]]
    rows = [prompt + tokens for prompt, tokens in zip(prompts, wanted)]
    width = max(map(len, rows))
    fit(model, {  # padded on the right, where the causal mask keeps padding out of the way
        "input_ids": torch.tensor([row + [end] * (width - len(row)) for row in rows]),
        "attention_mask": torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows]),
        # The prompt is given, not learnt.
        "labels": torch.tensor([[-100] * len(prompt) + tokens + [-100] * (width - len(row))
                                for prompt, tokens, row in zip(prompts, wanted, rows)]),
    })
    for prompt, text, tokens in zip(prompts, PROMPTS, wanted):
        if _greedy(model, prompt, len(tokens), end) != tokens:
            raise RuntimeError(f"the tiny model did not learn its continuation of {text!r}")


def _greedy(model, prompt_ids, length, end):
    """The model's greedy continuation of one unpadded prompt, up to `length` new tokens."""
    with torch.no_grad():
        sequence = model.generate(torch.tensor([prompt_ids]), do_sample=False, max_new_tokens=length,
                                  pad_token_id=end)
    return sequence[0, len(prompt_ids):].tolist()


def fit(model, batch, target_loss=0.01, max_steps=500, rates=(3e-2, 3e-3)):
    """Train the model on one batch (with labels) until its loss is below target_loss.

    Dropout stays off (eval mode) and one thread sums in a fixed order, so the weights
    depend on the seed alone, not on the machine's core count; a loss that low leaves
    every taught token far ahead of the runner-up. Adam's learning rates are tried in
    turn, each from the initial weights and with twice the steps of the one before: a
    high rate is quick, but some architectures (post-norm bart) stall on it.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    initial = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    stalls = []
    try:
        for attempt, rate in enumerate(rates):
            if attempt:
                model.load_state_dict(initial)
            optimizer = torch.optim.Adam(model.parameters(), lr=rate)
            for _ in range(max_steps << attempt):
                loss = model(**batch).loss
                if loss.item() < target_loss:
                    break
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            else:
                stalls.append(f"{loss.item():.3g} (learning rate {rate:g})")
                continue
            break
        else:
            raise RuntimeError(f"training the tiny model stalled at loss {', '.join(stalls)}")
    finally:
        torch.set_num_threads(threads)
    model.zero_grad(set_to_none=True)


def cases(plan):
    return generation_cases(plan, PROMPTS, "prompt")


def generation_cases(plan, inputs, noun):
    """The cases of a greedy-generation family whose model was taught as in _teach."""
    n = plan["generation"]["max_new_tokens"]
    if n <= ENDS_AFTER + 1:
        raise ValueError(f"max_new_tokens must exceed {ENDS_AFTER + 1} for the cases to tell ending from not")
    # With min_new_tokens == max_new_tokens the first input must not end where it
    # would: a skillset that drops the option returns it short.
    exactly_n = {"max_new_tokens": n, "min_new_tokens": n}
    return [
        Case(f"one {noun}", inputs[0], exactly_n),
        Case(f"two {noun}s of different lengths", list(inputs), exactly_n),
        # The first input ends after ENDS_AFTER tokens, the second goes on to n.
        Case(f"two {noun}s, the first ending early", list(inputs), {"max_new_tokens": n}),
    ]


def reference(model_dir, candidate, case, plan):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = getattr(transformers, candidate["auto_class"]).from_pretrained(model_dir).eval()
    generator = pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu")
    settings = dict(case.options, do_sample=False)
    prompts = [case.input] if isinstance(case.input, str) else list(case.input)
    expected = Expected({"token_ids": [], "texts": []})
    for prompt in prompts:  # each alone: no padding
        [ids] = generator(prompt, return_tensors=True, **settings)
        [text] = generator(prompt, return_full_text=False, return_dict_in_generate=True,
                           output_scores=True, **settings)
        prompt_length = len(tokenizer(prompt)["input_ids"])
        expected["token_ids"].append(list(ids["generated_token_ids"][prompt_length:]))
        expected["texts"].append(text["generated_text"])
        expected.margins.append([margin(scores) for scores in text["scores"]])
    return expected


class Expected(dict):
    """The handler outputs a reference expects, with greedy's margin at every step beside them.

    The margins are no output of the handler, so they are an attribute, not a key: the
    harness describes every key as an output the skillset must return.
    """

    def __init__(self, outputs):
        super().__init__(outputs)
        self.margins = []  # per input, per step: margin()


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
    if not all(isinstance(ids, list) for ids in actual["token_ids"]):
        return Comparison(False, None, f"'token_ids' must hold one list per input, got {_short(actual['token_ids'])}")
    for index, (want, got) in enumerate(zip(expected["token_ids"], actual["token_ids"])):
        if got == want:
            if actual["texts"][index] != expected["texts"][index]:
                problems.append(f"input {index}: text {actual['texts'][index]!r} != {expected['texts'][index]!r}")
            continue
        step = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), None)
        if step is None:
            problems.append(f"input {index}: {len(got)} token ids, expected {len(want)}: "
                            f"{_short(got)} != {_short(want)}")
            continue
        margins = _margins(expected)[index]
        if step < len(margins) and margins[step]["gap"] <= atol + rtol * abs(margins[step]["top"]):
            ties.append(f"input {index}: tie at step {step} (gap {margins[step]['gap']:.3g})")
            continue
        problems.append(f"input {index}: token ids {_short(got)} != {_short(want)} (first difference at step {step})")
    if problems:
        return Comparison(False, None, "; ".join(problems))
    return Comparison(True, None, "; ".join(ties) if ties else "token ids and texts equal")


def _margins(expected):
    """The reference's margins per input: Expected.margins, or an expected["margins"] list."""
    margins = getattr(expected, "margins", None) or expected.get("margins")
    return margins or [[] for _ in expected["token_ids"]]


def _short(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
