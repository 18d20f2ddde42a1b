"""Encoder-decoder language models (t5, ...): greedy text-to-text generation.

The handler's contract (docs/DESIGN.md): a text or a list of texts in; `token_ids` (the
generated tokens after the decoder start token) and `texts` (those tokens decoded) out,
one entry per input. transformers 5 has no text2text-generation pipeline, so the
reference calls generate() directly, on each input alone, unpadded.

As for decoders, the tiny model is taught (skillkit.teaching) to answer the first text
with ENDS_AFTER tokens and end, and the second with GOES_ON tokens, so that the cases
can see min_new_tokens and a batch whose rows end at different steps.

pretraining is served as text2text-generation: a type's pretraining head is its
conditional generation model (t5's T5ForConditionalGeneration), and a pretraining head
keeps the family's default task.

text-classification, token-classification and question-answering are served as the
text-encoder family serves them, and so tested (skillkit.families.text_encoder).
feature-extraction embeds a text as the mean of the encoder's last hidden state:
the reference runs the encoder on each text alone; text-encoding likewise, where the
model (T5EncoderModel) is the encoder.
"""
import inspect

import torch
import transformers
from transformers import AutoTokenizer
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES
from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

from .. import greedy, tiny, tokenizers
from ..expected import Expected
from ..teaching import ENDS_AFTER, GOES_ON, fit, generation_cases
from . import text_encoder

# The byte-level BPE (for types without a tokenizer of their own kind) needs its 256
# byte symbols before any merge.
VOCAB_SIZE = 384
# The tasks whose head generates: text2text-generation's, and a pretraining head, which
# keeps the family's default.
GENERATING = ("text2text-generation", "pretraining")
GENERATING_AUTO_CLASSES = ("AutoModelForSeq2SeqLM", "AutoModelForPreTraining")

TEXTS = (
    "translate English to German: The house is wonderful.",
    "summarize: The river flows north through forests, hills and farms, and the children "
    "laughed, sang and danced around the fire.",
)
# What the tiny model is taught to answer them with (see _teach).
ANSWERS = (
    "Das Haus ist wunderbar.",
    # Its first tokens repeat no three of the text's: blenderbot's generation forbids
    # any (encoder_no_repeat_ngram_size), as its checkpoints do.
    "Kids sang songs by a warm blaze until dawn.",
)


def build_tiny(model_type, candidate, out_dir, seed):
    _refuse_beside_text(model_type, candidate)
    tiny.seed_everything(seed)
    generates = candidate["auto_class"] in GENERATING_AUTO_CLASSES
    config = CONFIG_MAPPING[model_type]()
    if generates:
        roles = ("bos_token", "eos_token", "unk_token", "pad_token")  # batches of inputs need padding
        if _no_beginning_token(model_type, config):
            roles = roles[1:]
        tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, roles, lossless=True)
    else:  # as text encoders have it: a head reads the special tokens (bart's classifier its eos)
        tokenizer = tokenizers.for_model_type(model_type, text_encoder.VOCAB_SIZE, tokenizers.ROLES)
    overrides = tokenizers.special_token_overrides(model_type, config, tokenizer)
    if getattr(config, "decoder_vocab_size", None) is not None:  # marian's own output vocabulary
        overrides["decoder_vocab_size"] = len(tokenizer)
    tiny.shrink(config, **overrides)
    _pair_sizes(config)
    if not generates:  # a classification or question-answering head, or the bare model
        text_encoder.dress_head(config, candidate["auto_class"])
    if candidate["auto_class"] == "AutoModelForTextEncoding":
        # An encoder model's checkpoint is configured as the encoder alone
        # (T5GemmaEncoderModel refuses an encoder-decoder config).
        config.is_encoder_decoder = False
    model = getattr(transformers, candidate["model_class"])(config).eval()
    if generates:
        _teach(model, tokenizer)
    tiny.save_and_verify(model, tokenizer, out_dir)


def _no_beginning_token(model_type, config):
    """Whether the type's own tokenizer class declares no beginning-of-sequence token
    though its config names an id for one (prophetnet's: its [PAD] is id 0, where its
    decoder's cached step checks its position as if its padding id were 0). Its tiny
    vocabulary then has none either, and padding takes the first id."""
    tokenizer_class = getattr(transformers, TOKENIZER_MAPPING_NAMES.get(model_type) or "", None)
    if tokenizer_class is None or tokenizer_class.__name__ == "TokenizersBackend":
        return False
    declared = inspect.signature(tokenizer_class.__init__).parameters
    return "bos_token" not in declared and getattr(config, "bos_token_id", None) is not None


def _pair_sizes(config):
    """Sizes kept under an encoder and a decoder name that shrink() knows one of
    (prophetnet's num_encoder_layers beside num_decoder_layers, num_decoder_attention_heads
    beside num_encoder_attention_heads) take the shrunk one's value, as transformers'
    ProphetNet tests size both sides alike. Measured: with 16 decoder heads over a width
    of 32 the tiny model did not learn to answer from its encoder."""
    sizes = vars(config)
    for kind in ("layers", "attention_heads"):
        pair = [sizes.get(f"num_{side}_{kind}") for side in ("encoder", "decoder")]
        if all(isinstance(value, int) and not isinstance(value, bool) for value in pair) and pair[0] != pair[1]:
            for side in ("encoder", "decoder"):
                setattr(config, f"num_{side}_{kind}", min(pair))


def _refuse_beside_text(model_type, candidate):
    """A type filed here for its text2text-generation class whose processor takes more
    than a tokenizer (musicflamingo's a feature extractor: an audio language model, whose
    feature extractor transformers' table does not list, so the registry's
    audio-text-to-text claim misses it) has no input a tokenizer alone makes."""
    name = PROCESSOR_MAPPING_NAMES.get(model_type)
    processor_class = getattr(transformers, name, None) if isinstance(name, str) else None
    beside = [part for part in (processor_class.get_attributes() if processor_class else ())
              if not part.endswith("tokenizer")]
    if beside:
        raise NotImplementedError(f"no processor makes {candidate['model_class']}'s input: its processor "
                                  f"{name} takes a {' and a '.join(beside)} beside the text")


def _teach(model, tokenizer):
    """Train the model to answer TEXTS[0] with the first ENDS_AFTER tokens of ANSWERS[0]
    and end there, and TEXTS[1] with the first GOES_ON tokens of ANSWERS[1]."""
    end = model.generation_config.eos_token_id
    start = model.generation_config.decoder_start_token_id
    answers = [tokenizer(answer, add_special_tokens=False)["input_ids"] for answer in ANSWERS]
    wanted = [answers[0][:ENDS_AFTER] + [end], answers[1][:GOES_ON]]
    width = max(map(len, wanted))
    # The decoder is fed what generate() feeds it, starting from the decoder start token,
    # not what the model's own label shifting would (mbart's starts from the label's last
    # token); positions past a row's end are masked by its labels.
    fit(model, {**tokenizer(list(TEXTS), padding=True, return_tensors="pt"),
                "decoder_input_ids": torch.tensor([([start] + tokens + [end] * width)[:width]
                                                   for tokens in wanted]),
                "labels": torch.tensor([tokens + [-100] * (width - len(tokens)) for tokens in wanted])})
    for text, tokens in zip(TEXTS, wanted):
        # One token more than taught: a forced end of sequence (bart's
        # forced_eos_token_id) takes the last step, not a taught one.
        with torch.no_grad():
            sequence = model.generate(**tokenizer(text, return_tensors="pt"), do_sample=False,
                                      max_new_tokens=len(tokens) + 1)
        if sequence[0, 1:1 + len(tokens)].tolist() != tokens:
            raise RuntimeError(f"the tiny model did not learn its answer to {text!r}")


def _generates(plan):
    return plan["task"] in GENERATING


def cases(plan):
    if not _generates(plan):
        return text_encoder.cases(plan)
    return generation_cases(plan, TEXTS, "text")


def reference(model_dir, candidate, case, plan):
    if plan["task"] in ("feature-extraction", "text-encoding"):
        return _embed(model_dir, candidate, [case.input] if isinstance(case.input, str) else case.input)
    if not _generates(plan):
        return text_encoder.reference(model_dir, candidate, case, plan)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = getattr(transformers, candidate["auto_class"]).from_pretrained(model_dir).eval()
    start = model.generation_config.decoder_start_token_id
    texts = [case.input] if isinstance(case.input, str) else list(case.input)
    expected = Expected({"token_ids": [], "texts": []})
    for text in texts:  # each alone: no padding
        inputs = tokenizer(text, return_tensors="pt")
        with torch.inference_mode():
            output = model.generate(**inputs, **case.options, do_sample=False,
                                    return_dict_in_generate=True, output_scores=True)
        sequence = output.sequences[0].tolist()
        if sequence[0] != start:
            raise RuntimeError(f"generate() started from token {sequence[0]}, not the decoder start {start}")
        expected["token_ids"].append(sequence[1:])
        expected["texts"].append(tokenizer.decode(sequence[1:], skip_special_tokens=True))
        expected.margins.append(greedy.margins(output.scores))
    return expected


def _embed(model_dir, candidate, texts):
    """Per text, alone: the mean over its tokens of the encoder's last hidden state (an
    encoder model, AutoModelForTextEncoding's, is the encoder)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = getattr(transformers, candidate["auto_class"]).from_pretrained(model_dir).eval()
    encoder = model if candidate["auto_class"] == "AutoModelForTextEncoding" else model.get_encoder()
    embeddings = []
    for text in texts:
        with torch.inference_mode():
            hidden = encoder(**tokenizer(text, return_tensors="pt")).last_hidden_state[0]
        embeddings.append(hidden.float().mean(dim=0).tolist())
    return Expected({"embeddings": embeddings})


def compare(expected, actual, plan):
    """Generation: token ids equal token for token and texts equal, ties named
    (skillkit.greedy); the other tasks as text-encoder compares them."""
    if not _generates(plan):
        return text_encoder.compare(expected, actual, plan)
    return greedy.compare(expected, actual, plan)
