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
    if hasattr(CONFIG_MAPPING[model_type], "backbone_hidden_size"):
        # gemma4's assistants draft tokens for a target model from its embeddings and
        # shared key/value states (inputs_embeds, shared_kv_states): no tokenizer alone
        # makes their input.
        raise NotImplementedError(f"no processor makes {candidate['model_class']}'s input: an assisted-generation "
                                  "draft model reads its target model's embeddings and shared key/value states")
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
    real_vocab = getattr(config, "vocab_size", None)  # canine reads characters: none
    tiny.shrink(config, **overrides)
    text_encoder.fit_sizes(config, real_vocab)
    # The text model of a vision-language type (cohere_compass_text's) is built as its
    # whole is: its rotary parameters per layer kind, multimodal sections and sparse
    # attention's indexer (qwen4_exp_text's), the image-text-to-text family's rules.
    model_class = getattr(transformers, candidate["model_class"], None)  # one transformers does not export: none
    source = inspect.getsource(importlib.import_module(model_class.__module__)) if model_class else ""
    image_text_to_text._rope_per_layer_kind(config, source)
    image_text_to_text._scale_mrope_sections(config, source)
    image_text_to_text._name_unnamed_indexer(config)
    model = text_encoder.instantiate(candidate, config)
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
    if "use_cache" in inspect.signature(model.forward).parameters:
        batch["use_cache"] = False  # one forward over the whole rows: a cache (rwkv's state) only updates in place
    rates = {}
    if "target_mapping" in model.prepare_inputs_for_generation(torch.tensor([prompts[0]])):
        batch = _steps_as_generated(model, prompts, wanted, end)
        # xlnet's two streams stall at Adam's 3e-2 (measured: no target loss in 500
        # steps, which cost minutes on shared cores) and reach it in some 370 at 3e-3.
        rates = {"rates": (3e-3, 3e-2)}
    elif _aligns_labels_with_logits(model, batch):
        # Its loss reads the label at a logit's own position (cpmant's): the next token
        # put there by hand. cpmant stalls at Adam's 3e-2 (measured: 500 steps without
        # reaching the target loss, minutes on shared cores).
        batch["labels"] = torch.cat([batch["labels"][:, 1:], torch.full_like(batch["labels"][:, :1], -100)], dim=1)
        rates = {"rates": (3e-3, 3e-2)}
    fit(model, batch, **rates)
    if not _learnt(model, prompts, wanted, end) and model.generation_config.use_cache:
        # A model whose cached steps compute another function than its whole forward
        # (blt runs its global transformer, which keeps no cache, on the new byte's
        # patch alone) generates what it was taught only without the cache, as
        # transformers' own blt tests generate: its generation config says so, and
        # generate() reads it for the reference and the skillset alike.
        model.generation_config.use_cache = False
    for prompt, text, tokens in zip(prompts, PROMPTS, wanted):
        if _greedy(model, prompt, len(tokens), end) != tokens:
            raise RuntimeError(f"the tiny model did not learn its continuation of {text!r}")


def _learnt(model, prompts, wanted, end):
    return all(_greedy(model, prompt, len(tokens), end) == tokens for prompt, tokens in zip(prompts, wanted))


def _steps_as_generated(model, prompts, wanted, end):
    """A batch of every step of the taught continuations, each as generate() feeds it.

    xlnet's generate() does not run the causal forward its loss is written for: it
    appends a dummy token, hides it from the others (perm_mask) and predicts that one
    position (target_mapping), from the whole sequence again at each step. Each step's
    row is the prompt and the taught tokens before it, padded on the left (its
    positions are relative, so the padding moves nothing), labelled with the next.
    """
    rows, targets = [], []
    for prompt, tokens in zip(prompts, wanted):
        for step, token in enumerate(tokens):
            rows.append(prompt + tokens[:step])
            targets.append(token)
    width = max(map(len, rows))
    ids = torch.tensor([[end] * (width - len(row)) + row for row in rows])
    accepted = inspect.signature(model.forward).parameters
    batch = {name: value for name, value in model.prepare_inputs_for_generation(ids).items()
             if value is not None and name in accepted}
    # The dummy token is the model's own to attend to; the padding is not.
    batch["attention_mask"] = torch.tensor([[0] * (width - len(row)) + [1] * (len(row) + 1) for row in rows])
    batch["labels"] = torch.tensor(targets)[:, None]
    return batch


def _aligns_labels_with_logits(model, batch):
    """Whether the model's loss compares each logit with the label at its own position,
    not the next one, as a causal LM's loss does: measured, as its loss equals the
    unshifted cross entropy of its own logits."""
    with torch.no_grad():
        output = model(**batch)
    labels = batch["labels"]
    if output.loss is None or output.logits.shape[:2] != labels.shape:
        return False

    def loss_against(logits, targets):
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)

    def matches(value):
        return bool(torch.isclose(output.loss.float(), value, rtol=1e-5, atol=1e-6))

    # Both must be told apart: near-uniform logits (bitnet's ternary weights at random)
    # give the shifted and the unshifted loss alike, and then the usual shift holds.
    return matches(loss_against(output.logits, labels)) and not matches(
        loss_against(output.logits[:, :-1], labels[:, 1:]))


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
    # prefix "": the pipeline would put a paragraph of its own before an xlnet prompt
    # (XL_PREFIX, a padding for short prompts); the handler continues the prompt given.
    generator = pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu", prefix="")
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


def run_batch(model_dir, candidate, plan, prompts):
    """The model run once on `prompts`, as the skillset batches them (skillkit.batching):
    generation greedy on the prompts padded on the left, per prompt its new tokens and
    its length in tokens; the other tasks as text-encoder measures them. A model whose
    generate() takes no attention mask (rwkv, xlstm, xlnet) continues a padded prompt
    otherwise than the prompt alone."""
    if not _generates(plan):
        return text_encoder.run_batch(model_dir, candidate, plan, prompts)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    if tokenizer.pad_token is None:  # as the skillset pads: end-of-sequence, hidden by the mask
        tokenizer.pad_token = tokenizer.eos_token
    model = getattr(transformers, candidate["auto_class"]).from_pretrained(model_dir).eval()
    batch = tokenizer(list(prompts), padding=True, return_tensors="pt")
    steps = plan["generation"]["max_new_tokens"]
    with torch.inference_mode():  # every prompt its full count of tokens: rows of one length
        sequences = model.generate(**batch, max_new_tokens=steps, min_new_tokens=steps, do_sample=False,
                                   pad_token_id=tokenizer.pad_token_id)
    return list(sequences[:, batch["input_ids"].shape[1]:].float()), batch["attention_mask"].sum(dim=1).tolist()


def compare(expected, actual, plan):
    """Generation: token ids equal token for token and texts equal, ties named
    (skillkit.greedy); the other tasks as text-encoder compares them."""
    if not _generates(plan):
        return text_encoder.compare(expected, actual, plan)
    return greedy.compare(expected, actual, plan)
