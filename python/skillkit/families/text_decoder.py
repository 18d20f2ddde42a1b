"""Decoder-only language models (gpt2, ...): greedy text generation, and on torch the
tasks of their other heads.

The handler's contract (docs/DESIGN.md): a prompt or a list of prompts in; `token_ids`
(the new tokens only, never the prompt) and `texts` (those tokens decoded) out, one
entry per prompt. The reference runs transformers' text-generation pipeline on each
prompt alone, unpadded, so a skillset that batches must show that padding changes
nothing.

The tiny model is taught (skillkit.teaching) to answer the first prompt with
ENDS_AFTER tokens and end, and the second with GOES_ON tokens.

pretraining is served as text-generation: a type's pretraining head is its causal LM
(gpt2's GPT2LMHeadModel), and a pretraining head keeps the family's default task.

feature-extraction, text-classification, token-classification and question-answering
are served as the text-encoder family serves them, so their tiny models, cases, references and
comparisons are that family's (skillkit.families.text_encoder): a decoder's head
differs in what it reads (text-classification scores the last token), not in what the
handler must return.
"""
import importlib
import inspect

import torch
import transformers
from transformers import AutoTokenizer, pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from .. import greedy, tiny, tokenizers
from ..expected import Expected
from ..teaching import ENDS_AFTER, GOES_ON, fit, generation_cases
from . import image_text_to_text, text_encoder

VOCAB_SIZE = 384
# The tasks whose head is the causal LM, served by generating.
GENERATING = ("text-generation", "pretraining")
GENERATING_AUTO_CLASSES = ("AutoModelForCausalLM", "AutoModelForPreTraining")

PROMPTS = (
    "The quick brown fox",
    "A journey of a thousand miles begins with a single step, and every step counts.",
)
# What the tiny model is taught to answer them with (see _teach).
ANSWERS = (
    " jumps over the lazy dog.",
    " Reading books every night helps children learn new words.",
)


def build_tiny(model_type, candidate, out_dir, seed, **config_changes):
    """The tiny model; `config_changes` are set on the type's default config first (a
    text encoder's causal LM head is built here with is_decoder=True)."""
    if candidate["auto_class"] not in GENERATING_AUTO_CLASSES:
        return text_encoder.build_tiny(model_type, candidate, out_dir, seed)
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type](**config_changes)
    # No padding token unless the config names one, as the real checkpoints ship: the
    # skillset must cope with that.
    roles = ("bos_token", "eos_token", "unk_token")
    if getattr(config, "pad_token_id", None) is not None:
        roles += ("pad_token",)
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, roles, lossless=True)
    overrides = {"vocab_size": len(tokenizer)}
    # The config's special token ids point into the real vocabulary; repoint the ones
    # the config sets at the tiny vocabulary's tokens of the same role. End of sequence
    # always: real checkpoints name it (in config or generation config), and _teach
    # needs it.
    for role in ("bos", "eos", "pad"):
        if getattr(config, f"{role}_token_id", None) is not None or role == "eos":
            overrides[f"{role}_token_id"] = getattr(tokenizer, f"{role}_token_id")
    tiny.shrink(config, **overrides)
    model_class = getattr(transformers, candidate["model_class"])
    # The text model of a vision-language type (cohere_compass_text's) is built as its
    # whole is: its rotary parameters per layer kind, multimodal sections and sparse
    # attention's indexer (qwen4_exp_text's), the image-text-to-text family's rules.
    source = inspect.getsource(importlib.import_module(model_class.__module__))
    image_text_to_text._rope_per_layer_kind(config, source)
    image_text_to_text._scale_mrope_sections(config, source)
    image_text_to_text._name_unnamed_indexer(config)
    model = model_class(config).eval()
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
    batch = {  # padded on the right, where the causal mask keeps padding out of the way
        "input_ids": torch.tensor([row + [end] * (width - len(row)) for row in rows]),
        "attention_mask": torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows]),
        # The prompt is given, not learnt.
        "labels": torch.tensor([[-100] * len(prompt) + tokens + [-100] * (width - len(row))
                                for prompt, tokens, row in zip(prompts, wanted, rows)]),
    }
    if getattr(model.config, "is_decoder", False):
        # An encoder type's causal LM head (roberta's numbers its positions from past
        # its padding id) is fed by generate() the positions it counts from the
        # attention mask: taught at those.
        batch["position_ids"] = torch.arange(width).expand(len(rows), width)
    fit(model, batch)
    for prompt, text, tokens in zip(prompts, PROMPTS, wanted):
        if _greedy(model, prompt, len(tokens), end) != tokens:
            raise RuntimeError(f"the tiny model did not learn its continuation of {text!r}")


def _greedy(model, prompt_ids, length, end):
    """The model's greedy continuation of one unpadded prompt, up to `length` new tokens."""
    with torch.no_grad():
        sequence = model.generate(torch.tensor([prompt_ids]), do_sample=False, max_new_tokens=length,
                                  pad_token_id=end)
    return sequence[0, len(prompt_ids):].tolist()


def _generates(plan):
    return plan["task"] in GENERATING


def cases(plan):
    if not _generates(plan):
        return text_encoder.cases(plan)
    return generation_cases(plan, PROMPTS, "prompt")


def reference(model_dir, candidate, case, plan):
    if not _generates(plan):
        return text_encoder.reference(model_dir, candidate, case, plan)
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
        expected.margins.append([greedy.margin(scores) for scores in text["scores"]])
    return expected


def compare(expected, actual, plan):
    """Generation: token ids equal token for token and texts equal, ties named
    (skillkit.greedy); the other tasks as text-encoder compares them."""
    if not _generates(plan):
        return text_encoder.compare(expected, actual, plan)
    return greedy.compare(expected, actual, plan)
