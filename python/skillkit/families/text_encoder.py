"""Text encoders (bert and its kin): sentence embeddings, text and token classification.

The task is the plan's (the skillset serves one, fixed when it is generated):
- feature-extraction: the reference goes through transformers' own feature-extraction
  pipeline, one sentence at a time, and averages the token states; a sentence alone has
  no padding, so that plain mean is what the handler's attention-mask-weighted mean over
  a padded batch must reproduce. A pooling that counts padding, or drops the mask,
  fails the batch case.
- text-classification: the text-classification pipeline on each text alone, with the
  case's top_k, and the model's logits for the text alone.
- token-classification: the token-classification pipeline (aggregation_strategy
  "none") on each text alone; the skillset must give each token the index, word and
  character span it has in its own text, however the batch was padded.
- fill-mask: the fill-mask pipeline on each text alone, with the case's top_k; one
  text holds two masks, where the pipeline keeps special tokens in its sequences.
- multiple-choice: the model on each prompt with its choices, written out here (there
  is no pipeline): the batch holds prompts with different numbers of choices.
- pretraining: a pretraining head (BertForPreTraining, RobertaForMaskedLM) keeps the
  family's default, so it is feature-extraction's reference on the head model's own
  base model (its `base_model`: BertForPreTraining's bert).
- text-generation: an encoder type's causal LM head (BertLMHeadModel, configured as a
  decoder as its checkpoints are) is built, taught and checked as the text-decoder
  family's generators are (skillkit.families.text_decoder, imported where used, since
  it imports this module).
- next-sentence-prediction: the model on each pair alone (there is no pipeline); the
  batch pairs texts of different lengths, so padding shows.
- question-answering: transformers 5 dropped its pipeline; the model on each question
  alone, its span chosen by the rule that pipeline had (_answer_questions); the batch
  pairs questions and contexts of different lengths, so padding shows.
The head models get a few labels and weights large enough that texts differ in their
labels, so a handler that mixes up rows or labels shows.
"""
import functools
import math

import torch
import transformers

from .. import tokenizers
from ..compare import Comparison, allclose, missing_outputs, ranked_predictions, scores_and_predictions, short
from ..expected import Expected
from ..tiny import configs, even_feed_forward, save_and_verify, seed_everything, shrink
from . import Case

VOCAB_SIZE = 512

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Hello world.",
    "A much longer second sentence, so that the batch needs padding to a common length!",
)
# The labels of each head's tiny model.
LABELS = {
    "AutoModelForSequenceClassification": ("negative", "neutral", "positive"),
    "AutoModelForTokenClassification": ("O", "B-PER", "I-PER", "B-LOC", "I-LOC"),
}
# Large enough that the head's scores differ per text (and a masked LM's top tokens by
# more than the tolerance), small enough for every architecture.
HEAD_INITIALIZER_RANGE = 0.2
HEADS = ("AutoModelForSequenceClassification", "AutoModelForTokenClassification", "AutoModelForMaskedLM",
         "AutoModelForQuestionAnswering", "AutoModelForMultipleChoice", "AutoModelForNextSentencePrediction")
CHOICES = (
    {"prompt": "The quick brown fox", "choices": ["jumps over the lazy dog.", "sleeps.", "reads a long book today."]},
    {"prompt": "Hello", "choices": ["world.", "there, my old friend!"]},
    {"prompt": "A much longer prompt, so that its pairs are padded", "choices": ["yes", "no", "maybe", "never"]},
)
PAIRS = (
    {"text": SENTENCES[0], "text_pair": "It lands softly in the grass."},
    {"text": "Hello world.", "text_pair": SENTENCES[2]},
    {"text": SENTENCES[2], "text_pair": "Yes."},
)
QUESTIONS = (
    {"question": "What does the fox jump over?", "context": SENTENCES[0]},
    {"question": "Who greets?", "context": "Hello world, says the small robot to everyone in the room."},
    {"question": "Why is it long?", "context": SENTENCES[2]},
)


def build_tiny(model_type, candidate, out_dir, seed):
    if candidate["auto_class"] == "AutoModelForCausalLM":
        changes = {"is_decoder": True}
        languages = getattr(transformers.AutoConfig.for_model(model_type), "languages", None)
        if languages:
            changes["default_language"] = languages[0]  # xmod runs one language's adapters
        return _decoder().build_tiny(model_type, candidate, out_dir, seed, **changes)
    seed_everything(seed)
    config = transformers.AutoConfig.for_model(model_type)
    for name, needed in INPUTS_BESIDE_TEXT.items():
        if hasattr(config, name):
            raise NotImplementedError(f"no processor makes {candidate['model_class']}'s input: it needs {needed}")
    # Real checkpoints cap inputs at 512 tokens; roberta-like models hold two more
    # positions (the padding offset), so the cap is never the table size itself.
    # xlnet's relative positions have no table: its config says -1.
    positions = getattr(config, "max_position_embeddings", None)
    max_length = min(positions, 512) if isinstance(positions, int) and positions > 0 else 512
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, tokenizers.ROLES)
    tokenizer.model_max_length = max_length
    real_vocab = getattr(config, "vocab_size", None)  # canine reads characters: none
    shrink(config, vocab_size=len(tokenizer))
    fit_sizes(config, real_vocab)
    for role in ("pad", "bos", "eos", "sep", "cls"):
        token_id = getattr(tokenizer, f"{role}_token_id", None)
        if token_id is not None and hasattr(config, f"{role}_token_id"):
            setattr(config, f"{role}_token_id", token_id)
    for name in list(vars(config)):
        if name.endswith("_groups"):  # grouped layers (squeezebert's) must divide the tiny widths
            setattr(config, name, 1)
    if getattr(config, "languages", None) and getattr(config, "default_language", "") is None:
        config.default_language = config.languages[0]  # xmod runs one language's adapters
    dress_head(config, candidate["auto_class"])
    save_and_verify(instantiate(candidate, config), tokenizer, out_dir)


def fit_sizes(config, real_vocab):
    """Set, in place, what shrink()'s tiny sizes break and real checkpoints never meet,
    each as transformers' own tests (tests/models/<type>) configure it; the text
    families' tiny models, generating or not, are built through it."""
    for sub in configs(config):
        if sub is not config and real_vocab is not None and getattr(sub, "vocab_size", None) == real_vocab:
            # blt's local encoder, decoder and patcher embed the same bytes the model
            # does (real_vocab: the config's own before shrinking): the tiny vocabulary.
            sub.vocab_size = config.vocab_size
    hybrids = getattr(config, "layers_block_type", None)
    if isinstance(hybrids, list) and hybrids.count("hybrid") == 1 and _present(config, "attn_layer_period"):
        # zamba's hybrid layers share one attention block, tied from the first to the
        # others: the tie needs a second hybrid layer (its tests have two of five).
        config.layers_block_type = hybrids + ["hybrid"]
        config.num_hidden_layers = len(config.layers_block_type)
    if _present(config, "rescale_every"):
        # rwkv halves its weights every rescale_every layers, in place at the first
        # forward in eval mode, which training cannot differentiate through; the tiny
        # model's layers are fewer than the period, so it would divide by 1 anyway.
        config.rescale_every = 0
    attention = getattr(config, "attn_config", None)
    if attention is not None and not hasattr(attention, "rope_theta") and getattr(config, "rope_parameters", None):
        # dbrx's attention reads rope_theta off its attn_config, which declares none:
        # its checkpoints (and tests) write the model's theta there.
        attention.rope_theta = config.rope_parameters["rope_theta"]
        if attention.clip_qkv is None:  # clamp() takes no None for both bounds: checkpoints clip at 8
            attention.clip_qkv = 8
    for name in ("qk_dim_factor", "v_dim_factor"):
        if isinstance(getattr(config, name, None), float):
            # xlstm's cache rounds the query/key and value widths up to a multiple of
            # 64, its layers do not: widths of 64 agree.
            setattr(config, name, 64 / config.hidden_size)
    if not hasattr(config, "num_hidden_layers") and hasattr(config, "encoder_config"):
        # blt's cache is sized by its top-level config, which has no depth of its own:
        # its tests give it the local encoder's.
        config.num_hidden_layers = config.encoder_config.num_hidden_layers
        # Its global transformer reads cross_attn_k local states at once: as wide as
        # they are together (its tests' twice the local width), which the local
        # layers know as hidden_size_global.
        width = config.encoder_config.hidden_size * config.cross_attn_k
        config.global_config.hidden_size = width
        if _present(config.global_config, "head_dim"):
            config.global_config.head_dim = width // config.global_config.num_attention_heads
        config.global_config.encoder_cross_output_size = None
        for sub in (config.encoder_config, config.decoder_config):
            sub.hidden_size_global = width
    # moshi's MLP is gated, its gate and value the two halves of one projection ffn_dim
    # wide: its config's validator wants the width even.
    even_feed_forward(config)
    if _present(config, "encoder_hash_byte_group_vocab"):
        config.encoder_hash_byte_group_vocab = 512  # blt's hashed n-gram tables: 500,002 rows each
    if _present(config, "channel_shrink_ratio"):
        # lilt's layout stream embeds a box's six coordinates in a sixth of the width
        # each and narrows every head by channel_shrink_ratio: a width both divide.
        config.hidden_size = math.lcm(6, config.num_attention_heads * config.channel_shrink_ratio)
    axial = getattr(config, "axial_pos_embds_dim", None)
    if isinstance(axial, (list, tuple)) and sum(axial) != config.hidden_size:
        # reformer's axial position embeddings are concatenated to the model's width:
        # each axis its share of the tiny one.
        scaled = [config.hidden_size * width // sum(axial) for width in axial]
        scaled[-1] += config.hidden_size - sum(scaled)
        config.axial_pos_embds_dim = tuple(scaled)
    _mla_rotary_per_kind(config)
    rope = getattr(config, "rope_parameters", None)
    try:  # a head width that varies per layer (gemma4's) has no global: each kind's is sized already
        head_dim = config.head_dim
    except Exception:  # noqa: BLE001 -- transformers' AmbiguousGlobalPerLayerAttributeError, or none at all
        head_dim = None
    if isinstance(head_dim, int) and isinstance(rope, dict) and all(isinstance(v, dict) for v in rope.values()):
        # Rotary parameters per kind of layer (neomme's): each kind's rotated part of a
        # head a multiple of 4 (its M-RoPE axes take frequencies in pairs), so the
        # head is widened until the smallest fraction rotates 4 dimensions.
        while any(int(config.head_dim * kind.get("partial_rotary_factor", 1.0)) % 4
                  or int(config.head_dim * kind.get("partial_rotary_factor", 1.0)) < 4 for kind in rope.values()):
            config.head_dim *= 2


def _mla_rotary_per_kind(config):
    """A latent-attention model whose layers of each kind override their head sizes
    (dots3_note's sliding layers) and whose rotary fraction per kind the config derives
    once, from the real sizes: its rotated part is `qk_rope_head_dim` of each head.

    shrink() narrows `head_dim` to the width over the heads and scales an overridden
    non-rotated part (192 of a sliding layer's 256) by the global one's factor, so that
    a head's two parts no longer add up to its width, which the config requires of
    sliding layers. As transformers' tests size it: every kind's head is its two parts,
    8 + 8 of 16, and each kind's fraction is read again from those tiny sizes."""
    spec = vars(config).get("_heterogeneity_spec")
    kinds, rope = vars(config).get("layer_types"), vars(config).get("rope_parameters")
    if spec is None or not _present(config, "qk_rope_head_dim") or not _present(config, "qk_nope_head_dim") \
            or not _present(config, "head_dim") or not isinstance(kinds, list) or not isinstance(rope, dict) \
            or not all(isinstance(rope.get(kind), dict) for kind in kinds):
        return
    sizes = vars(config)  # the global values (a per-layer attribute is not read off the config)
    config.head_dim = sizes["qk_nope_head_dim"] + sizes["qk_rope_head_dim"]
    overrides = {layer: dict(values) for layer, values in spec.per_layer_overrides.items()}
    for values in overrides.values():
        if "qk_nope_head_dim" in values:
            values["qk_nope_head_dim"] = values.get("head_dim", sizes["head_dim"]) \
                - values.get("qk_rope_head_dim", sizes["qk_rope_head_dim"])
    config.per_layer_config = None
    config.per_layer_config = overrides
    for kind in dict.fromkeys(kinds):
        layer = config.per_layer_config[kinds.index(kind)]
        config.rope_parameters[kind]["partial_rotary_factor"] = layer.qk_rope_head_dim / layer.head_dim


def _present(config, name):
    # vars(): a size that varies per layer (gemma4's head_dim) has no global to read.
    value = vars(config).get(name)
    return isinstance(value, int) and not isinstance(value, bool)


def dress_head(config, auto_class):
    """The labels of a tiny head's model, and its weights wide enough that texts differ
    in their outputs (other families' tiny models of these heads use it too)."""
    labels = LABELS.get(auto_class)
    if labels:
        config.id2label = dict(enumerate(labels))
        config.label2id = {label: index for index, label in enumerate(labels)}
    if auto_class in HEADS:
        config.initializer_range = HEAD_INITIALIZER_RANGE


def instantiate(candidate, config):
    """The candidate's model class built from config, in eval mode: one transformers
    does not export (voxtral_realtime_text's text model) through its auto class, which
    is how the skillset loads it."""
    model_class = getattr(transformers, candidate["model_class"], None)
    if model_class is not None:
        return model_class(config).eval()
    model = getattr(transformers, candidate["auto_class"]).from_config(config)
    if type(model).__name__ != candidate["model_class"]:
        # The auto class builds another (a candidate no version of transformers has): no
        # stand-in for the class the plan names.
        raise AttributeError(f"module transformers has no attribute {candidate['model_class']}")
    return model.eval()


@functools.lru_cache(maxsize=1)
def _mask_token(model_type, checkpoint):
    """The mask token of the checkpoint's tokenizer, else of the tiny one build_tiny makes."""
    if checkpoint:
        return transformers.AutoTokenizer.from_pretrained(checkpoint).mask_token
    return tokenizers.for_model_type(model_type, VOCAB_SIZE, tokenizers.ROLES).mask_token


def _decoder():
    from . import text_decoder  # it imports this module
    return text_decoder


def cases(plan):
    if plan["task"] == "text-generation":
        return _decoder().cases(plan)
    if plan["task"] == "fill-mask":
        mask = _mask_token(plan["model_type"], plan.get("checkpoint"))
        one = f"The quick brown {mask} jumps over the lazy dog."
        batch = [f"Hello {mask}.", f"A much longer second {mask}, so that the batch needs padding to a {mask} length!"]
        return [Case("one", one), Case("batch, one text with two masks", batch),
                Case("batch, top 2", batch, {"top_k": 2})]
    if plan["task"] == "next-sentence-prediction":
        return [Case("one", PAIRS[0]), Case("batch of pairs of different lengths", list(PAIRS))]
    if plan["task"] == "multiple-choice":
        return [Case("one", CHOICES[0]), Case("batch of different numbers of choices", list(CHOICES[1:]))]
    if plan["task"] == "question-answering":
        return [Case("one", QUESTIONS[0]), Case("batch", list(QUESTIONS[1:])),
                Case("batch, answers of at most 2 tokens", list(QUESTIONS), {"max_answer_len": 2})]
    one, batch = Case("one", SENTENCES[0]), Case("batch", list(SENTENCES[1:]))
    if plan["task"] != "text-classification":
        return [one, batch]
    return [one, batch, Case("batch, every label", list(SENTENCES[1:]), {"top_k": None}),
            Case("batch, top 2", list(SENTENCES), {"top_k": 2})]


# Inputs a model requires beside the text, by the config attribute that sizes them: no
# tokenizer makes them, and the handler takes text alone.
INPUTS_BESIDE_TEXT = {
    "visual_feat_dim": "visual_feats and visual_pos, an object detector's region features (lxmert)",
    "dim_bbox": "bbox, each token's box on a scanned page (bros)",
}

# text-encoding (AutoModelForTextEncoding: the encoder's hidden states) is served as
# feature-extraction is, and has no pipeline of its own; so is pretraining, on the head
# model's base model.
PIPELINES = {"text-encoding": "feature-extraction", "pretraining": "feature-extraction"}


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _loaded(task, model_dir, auto_class, processor_class):
    """The model (a pretraining head's base model: the skillset serves its embeddings)
    and its tokenizer."""
    tokenizer = getattr(transformers, processor_class).from_pretrained(model_dir)
    model = getattr(transformers, auto_class).from_pretrained(model_dir).eval()
    return (model.base_model if task == "pretraining" else model), tokenizer


def _pipeline(task, model_dir, auto_class, processor_class):
    model, tokenizer = _loaded(task, model_dir, auto_class, processor_class)
    return transformers.pipeline(PIPELINES.get(task, task), model=model, tokenizer=tokenizer, device="cpu")


def reference(model_dir, candidate, case, plan):
    task = plan["task"]
    if task == "text-generation":
        return _decoder().reference(model_dir, candidate, case, plan)
    if task == "next-sentence-prediction":
        tokenizer = getattr(transformers, candidate["processor_class"]).from_pretrained(model_dir)
        model = getattr(transformers, candidate["auto_class"]).from_pretrained(model_dir).eval()
        return _predict_next(model, tokenizer, [case.input] if isinstance(case.input, dict) else case.input)
    if task == "multiple-choice":
        tokenizer = getattr(transformers, candidate["processor_class"]).from_pretrained(model_dir)
        model = getattr(transformers, candidate["auto_class"]).from_pretrained(model_dir).eval()
        return _choose(model, tokenizer, [case.input] if isinstance(case.input, dict) else case.input)
    if task == "question-answering":
        tokenizer = getattr(transformers, candidate["processor_class"]).from_pretrained(model_dir)
        model = getattr(transformers, candidate["auto_class"]).from_pretrained(model_dir).eval()
        return _answer_questions(model, tokenizer, [case.input] if isinstance(case.input, dict) else case.input,
                                 case.options.get("max_answer_len", 15))
    pipe = _pipeline(task, model_dir, candidate["auto_class"], candidate["processor_class"])
    texts = [case.input] if isinstance(case.input, str) else case.input
    if task == "text-classification":
        return _classify_texts(pipe, texts, case.options.get("top_k", 1))
    if task == "token-classification":
        return _classify_tokens(pipe, texts)
    if task == "fill-mask":
        return _fill_masks(pipe, texts, case.options.get("top_k", 5))
    if task not in ("feature-extraction", "text-encoding", "pretraining"):
        raise ValueError(f"unknown task {task!r}")
    embeddings = []
    with torch.inference_mode():
        for text in texts:
            hidden = pipe(text, return_tensors=True)[0]  # (tokens, hidden), no padding
            # A model whose first output is pooled already (DPR's encoders) gives the
            # text's embedding itself.
            embeddings.append((hidden if hidden.dim() == 1 else hidden.mean(dim=0)).float().tolist())
    return Expected({"embeddings": embeddings})


def run_batch(model_dir, candidate, plan, texts):
    """The model run once on `texts` padded to a common length, as the skillset batches
    them (skillkit.batching): per text its own positions of the model's first output
    (hidden states or logits; a question's start and end logits side by side), and its
    length in tokens. A question-answering input is a question and its context, encoded
    as one pair."""
    model, tokenizer = _loaded(plan["task"], model_dir, candidate["auto_class"], candidate["processor_class"])
    items = list(texts)
    with torch.inference_mode():
        if plan["task"] == "question-answering":
            batch = tokenizer([item["question"] for item in items], [item["context"] for item in items],
                              padding=True, truncation="only_second", return_tensors="pt")
            result = model(**batch)
            output = torch.stack([result.start_logits, result.end_logits], dim=-1).float()
        else:
            batch = tokenizer(items, padding=True, truncation=True, return_tensors="pt")
            output = model(**batch)[0].float()
    ids = batch["input_ids"]
    mask = batch.get("attention_mask", torch.ones_like(ids)).bool()
    per_token = output.dim() > 2 and output.shape[1] == ids.shape[1]
    return [row[keep] if per_token else row for row, keep in zip(output, mask)], mask.sum(dim=1).tolist()


def _classify_texts(classifier, texts, top_k):
    expected = Expected({"logits": [], "predictions": []})
    for text in texts:
        with torch.inference_mode():
            logits = classifier.model(**classifier.tokenizer(text, truncation=True, return_tensors="pt")).logits
        # top_k given, the pipeline returns a list for the text, best first.
        predictions = classifier(text, top_k=top_k)
        expected["logits"].append(logits[0].float().tolist())
        expected["predictions"].append([{"label": p["label"], "score": float(p["score"])} for p in predictions])
    return expected


def _classify_tokens(tagger, texts):
    entities = []
    for text in texts:
        found = tagger(text, aggregation_strategy="none")
        entities.append([{"entity": e["entity"], "score": float(e["score"]), "index": int(e["index"]),
                          "word": e["word"], "start": e["start"], "end": e["end"]} for e in found])
    return Expected({"entities": entities})


def _choose(model, tokenizer, examples):
    expected = Expected({"logits": [], "scores": [], "best": []})
    for example in examples:
        choices = example["choices"]
        encoding = tokenizer([example["prompt"]] * len(choices), choices, padding=True, truncation=True,
                             return_tensors="pt")
        with torch.inference_mode():  # a batch of one example of len(choices) choices
            logits = model(**{name: value[None] for name, value in encoding.items()}).logits[0].float()
        expected["logits"].append(logits.tolist())
        expected["scores"].append(torch.softmax(logits, dim=0).tolist())
        expected["best"].append(int(torch.argmax(logits)))
    return expected


def _predict_next(model, tokenizer, pairs):
    expected = Expected({"logits": [], "scores": [], "is_next": []})
    for pair in pairs:
        with torch.inference_mode():  # each pair alone, unpadded
            logits = model(**tokenizer(pair["text"], pair["text_pair"], return_tensors="pt")).logits[0].float()
        scores = torch.softmax(logits, dim=0)
        expected["logits"].append(logits.tolist())
        expected["scores"].append(scores.tolist())
        expected["is_next"].append(bool(scores[0] > scores[1]))  # index 0: the second text follows
    return expected


def _answer_questions(model, tokenizer, questions, max_answer_len):
    """transformers 5 has no question-answering pipeline any more: the model on each
    question alone, and the span rule its pipeline had, written out here by itself:
    the context's tokens and the classifier token share one softmax, the classifier
    token then scores 0; a span ends at or after its start, at most max_answer_len
    tokens long; its score is its start's times its end's probability; its characters
    run from its first token's word to its last token's."""
    expected = Expected({"start_logits": [], "end_logits": [], "answers": []})
    for question in questions:
        first_part = tokenizer.padding_side == "right"  # the question, unless padding is on the left
        texts = (question["question"], question["context"])
        encoding = tokenizer(*(texts if first_part else texts[::-1]), return_tensors="pt",
                             truncation="only_second" if first_part else "only_first")
        in_context = 1 if first_part else 0
        with torch.inference_mode():
            output = model(**encoding)
        start_logits = output.start_logits[0].float()
        end_logits = output.end_logits[0].float()
        ids, parts = encoding["input_ids"][0].tolist(), encoding.sequence_ids(0)
        allowed = [part == in_context or token == tokenizer.cls_token_id for token, part in zip(ids, parts)]
        probabilities = []
        for logits in (start_logits, end_logits):
            kept = torch.tensor([logit if ok else -10000.0 for logit, ok in zip(logits.tolist(), allowed)])
            p = kept.softmax(-1).tolist()
            p[0] = 0.0
            probabilities.append(p)
        best = (-1.0, 0, 0)
        for start in range(len(ids)):
            for end in range(start, min(start + max_answer_len, len(ids))):
                if allowed[start] and allowed[end]:
                    best = max(best, (probabilities[0][start] * probabilities[1][end], -start, -end))
        score, start, end = best[0], -best[1], -best[2]
        first = encoding.word_to_chars(0, encoding.token_to_word(0, start), in_context)
        last = encoding.word_to_chars(0, encoding.token_to_word(0, end), in_context)
        expected["start_logits"].append(start_logits.tolist())
        expected["end_logits"].append(end_logits.tolist())
        expected["answers"].append({"score": score, "start": first.start, "end": last.end,
                                    "answer": question["context"][first.start:last.end]})
    return expected


def _fill_masks(filler, texts, top_k):
    predictions = []
    for text in texts:
        found = filler(text, top_k=top_k)
        per_mask = found if isinstance(found[0], list) else [found]  # one mask: a flat list
        predictions.append([[{"score": float(p["score"]), "token": int(p["token"]), "token_str": p["token_str"],
                              "sequence": p["sequence"]} for p in ranked] for ranked in per_mask])
    return Expected({"predictions": predictions})


def compare(expected, actual, plan):
    """Embeddings or logits allclose within the plan's tolerance; predictions with the
    labels of each rank equal unless their scores tie (compare.ranked_predictions);
    entities equal but for their scores, which are allclose; a mask's tokens ranked as
    predictions are, each token's token_str and sequence equal."""
    if plan["task"] == "text-generation":
        return _decoder().compare(expected, actual, plan)
    if (missing := missing_outputs(expected, actual)) is not None:
        return missing
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    if "embeddings" in expected:
        return allclose(expected["embeddings"], actual["embeddings"], rtol, atol)
    if "entities" in expected:
        return _compare_entities(expected["entities"], actual["entities"], rtol, atol)
    if "answers" in expected:
        return _compare_answers(expected, actual, rtol, atol)
    if "best" in expected:
        return _compare_choices(expected, actual, rtol, atol)
    if "is_next" in expected:
        return _compare_next(expected, actual, rtol, atol)
    if "logits" not in expected:
        return _compare_masks(expected["predictions"], actual["predictions"], rtol, atol)
    return scores_and_predictions(expected, actual, "logits", rtol, atol)


def _compare_entities(expected, actual, rtol, atol):
    """Per text the same entities (label, index, word, span) in the same order, their
    scores allclose. A label is never excused as a tie: the pipeline reports no
    runner-up score to tell one by."""
    if not isinstance(actual, list) or len(actual) != len(expected):
        return Comparison(False, None, f"entities: expected {len(expected)} lists, got {short(actual)}")
    worst = 0.0
    fields = ("entity", "index", "word", "start", "end")
    for row, (want, got) in enumerate(zip(expected, actual)):
        if not isinstance(got, list):
            return Comparison(False, None, f"entities[{row}]: expected a list, got {short(got)}")
        for index, (w, g) in enumerate(zip(want, got)):
            if not isinstance(g, dict) or any(g.get(f) != w[f] for f in fields):
                return Comparison(False, None, f"entities[{row}][{index}]: expected {short(w)}, got {short(g)}")
        if len(got) != len(want):
            return Comparison(False, None, f"entities[{row}]: {len(got)} entities, expected {len(want)}")
        scores = allclose([w["score"] for w in want], [g["score"] for g in got], rtol, atol)
        if not scores.ok:
            return Comparison(False, scores.max_abs_diff, f"entities[{row}] scores: {scores.message}")
        worst = max(worst, scores.max_abs_diff)
    return Comparison(True, worst, "entities match")


def _rows_allclose(expected, actual, keys, rtol, atol):
    """(the first failed Comparison or None, the largest difference): each key's rows
    allclose one by one, since the rows of a key differ in length (one per input's own
    tokens or choices)."""
    worst = 0.0
    for key in keys:
        if not isinstance(actual[key], list) or len(actual[key]) != len(expected[key]):
            return Comparison(False, None, f"{key}: expected {len(expected[key])} rows, got {short(actual[key])}"), worst
        for row, (want, got) in enumerate(zip(expected[key], actual[key])):
            close = allclose(want, got, rtol, atol)
            if not close.ok:
                return Comparison(False, close.max_abs_diff, f"{key}[{row}]: {close.message}"), worst
            worst = max(worst, close.max_abs_diff)
    return None, worst


def _compare_choices(expected, actual, rtol, atol):
    """Per prompt its logits and scores allclose, and the same best choice unless the
    best two scores tie within the tolerance."""
    failed, worst = _rows_allclose(expected, actual, ("logits", "scores"), rtol, atol)
    if failed:
        return failed
    if actual["best"] != expected["best"]:
        for row, (want, got) in enumerate(zip(expected["best"], actual["best"])):
            scores = expected["scores"][row]
            if want != got and not (isinstance(got, int) and 0 <= got < len(scores)
                                    and abs(scores[want] - scores[got]) <= atol + rtol * abs(scores[want])):
                return Comparison(False, worst, f"best[{row}]: expected choice {want}, got {short(got)}")
    return Comparison(True, worst, "choices match")


def _compare_next(expected, actual, rtol, atol):
    """Per pair its logits and scores allclose, and the same verdict unless its two
    scores tie within the tolerance."""
    failed, worst = _rows_allclose(expected, actual, ("logits", "scores"), rtol, atol)
    if failed:
        return failed
    got = actual["is_next"]
    if not isinstance(got, list) or len(got) != len(expected["is_next"]):
        return Comparison(False, worst, f"is_next: expected {len(expected['is_next'])} verdicts, got {short(got)}")
    for row, (want, verdict) in enumerate(zip(expected["is_next"], got)):
        follows, not_follows = expected["scores"][row]
        if verdict != want and abs(follows - not_follows) > atol + rtol * abs(follows):
            return Comparison(False, worst, f"is_next[{row}]: expected {want}, got {short(verdict)}")
    return Comparison(True, worst, "next-sentence verdicts match")


def _compare_answers(expected, actual, rtol, atol):
    """Start and end logits allclose; per question the same answer (span and text), its
    score allclose."""
    failed, worst = _rows_allclose(expected, actual, ("start_logits", "end_logits"), rtol, atol)
    if failed:
        return failed
    want, got = expected["answers"], actual["answers"]
    if not isinstance(got, list) or len(got) != len(want):
        return Comparison(False, None, f"answers: expected {len(want)}, got {short(got)}")
    fields = ("start", "end", "answer")
    for index, (w, g) in enumerate(zip(want, got)):
        if not isinstance(g, dict) or any(g.get(f) != w[f] for f in fields):
            return Comparison(False, None, f"answers[{index}]: expected {short(w)}, got {short(g)}")
        score = allclose([w["score"]], [g.get("score")], rtol, atol)
        if not score.ok:
            return Comparison(False, score.max_abs_diff, f"answers[{index}] score: {score.message}")
        worst = max(worst, score.max_abs_diff)
    return Comparison(True, worst, "answers match")


def _compare_masks(expected, actual, rtol, atol):
    """Each mask's tokens as ranked predictions whose labels are the token ids; where a
    rank holds the expected token, its token_str and sequence equal too."""
    shaped = isinstance(actual, list) and len(actual) == len(expected) and all(
        isinstance(per_mask, list) and len(per_mask) == len(masks) and all(
            isinstance(ranked, list) and all(isinstance(p, dict) and {"token", "score"} <= p.keys() for p in ranked)
            for ranked in per_mask)
        for per_mask, masks in zip(actual, expected))
    if not shaped:
        return Comparison(False, None, f"predictions: expected per text a list per mask of {{'score', 'token', "
                                       f"'token_str', 'sequence'}} lists, got {short(actual)}")
    want = [ranked for per_mask in expected for ranked in per_mask]
    got = [ranked for per_mask in actual for ranked in per_mask]
    ranking, ties = ranked_predictions([[{"label": p["token"], "score": p["score"]} for p in ranked] for ranked in want],
                                       [[{"label": p["token"], "score": p["score"]} for p in ranked] for ranked in got],
                                       rtol, atol)
    if not ranking.ok:
        return ranking
    for mask, (w_ranked, g_ranked) in enumerate(zip(want, got)):
        for w, g in zip(w_ranked, g_ranked):
            if w["token"] == g["token"] and (w["token_str"], w["sequence"]) != (g.get("token_str"), g.get("sequence")):
                return Comparison(False, None, f"mask {mask}, token {w['token']}: expected {short(w)}, got {short(g)}")
    return Comparison(True, ranking.max_abs_diff, "; ".join(ties) if ties else "predictions match")
