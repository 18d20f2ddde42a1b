"""Offline tokenizers for tiny models, trained with the `tokenizers` library.

No tokenizer may be downloaded, so each tiny model gets one trained here on a small
built-in English corpus. The same call always yields the same vocabulary (see each
builder for how, where a trainer alone would not). transformers 5 tokenizer classes
take the results directly: BertTokenizer(vocab=dict), GPT2Tokenizer(vocab=, merges=),
CLIPTokenizer(vocab=, merges=), WhisperTokenizer(vocab=, merges=),
T5Tokenizer(vocab=[(piece, score), ...]). for_model_type picks the builder for a model
type's own tokenizer class; every family builds its tokenizer through it, but whisper,
whose special tokens follow the vocabulary as its decoder prompt needs them.
"""
import importlib
import inspect
import json
import math
import re
from collections import Counter

import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES
from transformers.tokenization_utils_tokenizers import TokenizersBackend

from . import tiny

CORPUS = (
    "The quick brown fox jumps over the lazy dog.",
    "A small model can still exercise every code path of a large one.",
    "Hello world, this is a test of the tokenizer.",
    "She sells sea shells by the sea shore, and the shells she sells are surely seashells.",
    "In 1969, two people walked on the Moon for the first time.",
    "The weather today is sunny with a chance of rain in the evening.",
    "Machine learning models turn text into numbers and numbers into text.",
    "Please send the report to the team before Friday at 5 pm.",
    "My favourite colours are red, green, blue and yellow.",
    "The library opens at nine o'clock and closes at six.",
    "Water boils at 100 degrees Celsius at sea level.",
    "He asked: \"Where is the nearest train station?\"",
    "They planted apple, pear and cherry trees in the garden.",
    "Reading books every night helps children learn new words.",
    "The museum has paintings, sculptures and old maps of the city.",
    "It was the best of times, it was the worst of times.",
    "Our server handles thousands of requests every second.",
    "The cat sat on the mat while the dog slept by the door.",
    "Fresh bread, warm soup and cold milk make a good dinner.",
    "Scientists measured the speed of light with great precision.",
    "The river flows north through forests, hills and farms.",
    "Can you tell me how much this jacket costs?",
    "Music, art and sport are part of every school day.",
    "The train from London arrives at 10:45 on platform 3.",
    "Birds fly south for the winter when the days grow short.",
    "She wrote a letter to her grandmother in Spain.",
    "Numbers like 0, 1, 2, 3, 4, 5, 6, 7, 8 and 9 are digits.",
    "The engineer fixed the bridge before the storm arrived.",
    "Every morning he runs five kilometres along the beach.",
    "Questions, answers, ideas and stories fill the notebook.",
    "The price rose by 12% after the new law was passed.",
    "Stars shine brightly in the clear night sky above the desert.",
    "We will meet again next week to discuss the results.",
    "Translation between languages is a hard problem for computers.",
    "The children laughed, sang and danced around the fire.",
    "A journey of a thousand miles begins with a single step.",
    "Doctors recommend drinking water and sleeping eight hours.",
    "The company released version 2.0 of its software yesterday.",
    "Mountains, lakes and valleys make the country beautiful.",
    "Who, what, when, where, why and how are useful questions.",
    "Wow! The team won the match (3-1); everyone cheered & sang.",
    "Send an e-mail to info@example.org or call +1 555 0100 #42.",
    "Zebras, jaguars and quick yaks visit Oxford, Quebec and Zurich.",
)


def _train(tokenizer, trainer):
    # Several passes: the corpus is small, and repetition gives pair counts that rank
    # merges by real frequency rather than by ties.
    tokenizer.train_from_iterator(list(CORPUS) * 4, trainer=trainer)
    return json.loads(tokenizer.to_str())["model"]


def _ranked(counts, size):
    """The `size` most useful pieces: weighted by characters covered, ties by piece."""
    return sorted(counts, key=lambda piece: (-counts[piece] * len(piece.lstrip("#")), piece))[:max(size, 0)]


BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def wordpiece_vocab(size, special_tokens=BERT_SPECIAL_TOKENS):
    """A BERT-style WordPiece vocabulary ({token: id}) of about `size` entries.

    Built by counting rather than with the WordPiece trainer, whose ids and tie-breaks
    follow hash order and change from run to run. Lower-cased and split as
    BertTokenizer(do_lower_case=True) does; `special_tokens` first, in order, then
    every character of the corpus alone and as a continuation ("##x"), so no text
    written with those characters maps to [UNK], then the most frequent words, word
    starts and "##" word parts. Larger than `size` when the alphabet alone needs more.
    """
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words = Counter(word for line in CORPUS
                    for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line)))
    alphabet = sorted({char for word in words for char in word})
    base = list(special_tokens) + alphabet + ["##" + c for c in alphabet]
    pieces = Counter()
    for word, count in words.items():
        for end in range(2, len(word) + 1):
            pieces[word[:end]] += count
        for start in range(1, len(word)):
            for end in range(start + 2, min(start + 4, len(word)) + 1):
                pieces["##" + word[start:end]] += count
    tokens = base + _ranked(pieces, size - len(base))
    return {token: index for index, token in enumerate(tokens)}


def byte_level_bpe(size, special_tokens):
    """A GPT-2-style byte-level BPE: (vocab {token: id}, merges [("a", "b"), ...]).

    All 256 byte symbols are in the vocabulary, so any text encodes without unknowns;
    `special_tokens` come first, in the given order. The BPE trainer is deterministic
    here: its initial alphabet is sorted and merge ties break by symbol id.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=size, special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    model = _train(tokenizer, trainer)
    return dict(model["vocab"]), [tuple(merge) for merge in model["merges"]]


def unigram(size, special_tokens):
    """A SentencePiece-style Unigram vocabulary: [(piece, log-probability), ...].

    Pieces use the "\u2581" word-boundary marker (Metaspace), as T5-like tokenizers
    expect; `special_tokens` come first, in the given order, with score 0, and the
    first one containing "unk" is the unknown token. The Unigram trainer chooses the
    pieces (the same set every run), but its scores are not reproducible: EM sums in
    hash order and the penalty scores of required characters follow hash order. So the
    scores are recomputed here: the log relative frequency of each piece in the corpus.
    """
    unk = next((t for t in special_tokens if "unk" in t.lower()), None)
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=size, special_tokens=list(special_tokens), unk_token=unk,
        show_progress=False)
    specials = set(special_tokens)
    pieces = [piece for piece, _ in _train(tokenizer, trainer)["vocab"] if piece not in specials]
    text = "".join("\u2581" + line.replace(" ", "\u2581") for line in CORPUS)
    counts = {piece: max(text.count(piece), 1) for piece in pieces}
    scores = {piece: math.log(counts[piece] / len(text)) for piece in pieces}
    ordered = sorted(pieces, key=lambda piece: (-scores[piece], piece))
    return [(token, 0.0) for token in special_tokens] + [(piece, scores[piece]) for piece in ordered]


def word_end_bpe(tokenizer_class, size, special_tokens):
    """A CLIP-style BPE (vocab {token: id}, merges [(a, b), ...]) of about `size` entries.

    CLIP's BPE marks the last piece of every word with "</w>", so byte_level_bpe would
    leave every word's end unknown (and CLIP's unknown token is its end-of-text token,
    which the text model pools at). The merges are learnt here from the corpus, split by
    the class's own normaliser and pre-tokeniser: the most frequent pair first, ties by
    the pair itself. (The tokenizers library's BpeTrainer with end_of_word_suffix breaks
    ties in hash order, so its merges change from run to run.) The vocabulary is laid
    out as CLIP's: the 256 byte symbols, the same with "</w>" (so nothing encodes as
    unknown), one token per merge, then `special_tokens`.
    """
    backend = tokenizer_class().backend_tokenizer  # the class's pipeline, a 3-token vocab
    words = Counter()
    for line in CORPUS:
        for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(line)):
            words[tuple(word[:-1]) + (word[-1] + "</w>",)] += 1
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    learnt = []
    for _ in range(size - 2 * len(alphabet) - len(special_tokens)):
        pairs = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        learnt.append(best)
        words = Counter({_merged(word, best): count for word, count in words.items()})
    tokens = alphabet + [symbol + "</w>" for symbol in alphabet] + ["".join(pair) for pair in learnt] \
        + list(special_tokens)
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


# Special-token roles in the order their tokens take the first ids: the fairseq order
# (<s>, <pad>, </s>, <unk>) most checkpoints share, which also gives T5Tokenizer the
# <pad> 0, </s> 1, <unk> 2 it assumes.
ROLES = ("cls_token", "bos_token", "pad_token", "sep_token", "eos_token", "unk_token", "mask_token")

# Special tokens of the generic tokenizer (for_model_type's fallback), by role.
GENERIC_SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                          "pad_token": "<pad>", "cls_token": "<s>", "sep_token": "</s>",
                          "mask_token": "<mask>"}


def _class_defaults(tokenizer_class, roles):
    """{role: token} of the tokenizer class' constructor defaults for `roles`."""
    parameters = inspect.signature(tokenizer_class.__init__).parameters
    defaults = {}
    for role in roles:
        default = parameters[role].default if role in parameters else None
        if default is not None and default is not inspect.Parameter.empty:
            defaults[role] = str(default)
    return defaults


def round_trips(tokenizer, vocab_size):
    """Whether the tokenizer encodes every corpus line without unknowns or tokens beyond
    the trained vocabulary, and decodes it back to the same text."""
    if len(tokenizer) != vocab_size:
        return False
    for line in CORPUS:
        ids = tokenizer(line, add_special_tokens=False)["input_ids"]
        if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids:
            return False
        if tokenizer.decode(ids) != line:
            return False
    return True


def _own_class(model_type):
    """The tokenizer class AutoTokenizer maps model_type to, and its tokenizers-library
    model (WordPiece, BPE, Unigram); None where there is none."""
    name = TOKENIZER_MAPPING_NAMES.get(model_type)
    try:  # a class whose optional dependency is missing (sentencepiece) raises here
        tokenizer_class = getattr(transformers, name, None) if isinstance(name, str) else None
        return tokenizer_class, getattr(tokenizer_class, "model", None)
    except ImportError:
        return None, None


def _marks_word_ends(tokenizer_class):
    """Whether the BPE class marks the last piece of a word (CLIP's "</w>")."""
    try:
        return bool(getattr(tokenizer_class().backend_tokenizer.model, "end_of_word_suffix", None))
    except Exception:  # noqa: BLE001 -- a class that cannot be built bare marks nothing we know of
        return False


def _of_own_class(tokenizer_class, kind, size, specials):
    """The class with a vocabulary of its own kind trained here, or None where the class
    cannot take one."""
    tokens = list(dict.fromkeys(specials.values()))
    if kind is models.WordPiece:
        return tokenizer_class(vocab=wordpiece_vocab(size, tokens), **specials)
    if kind is models.Unigram:
        return tokenizer_class(vocab=unigram(size, tokens), **specials)
    if kind is not models.BPE or not {"vocab", "merges"} <= set(inspect.signature(tokenizer_class.__init__).parameters):
        return None
    vocab, merges = (word_end_bpe(tokenizer_class, size, tokens) if _marks_word_ends(tokenizer_class)
                     else byte_level_bpe(size, tokens))
    return tokenizer_class(vocab=vocab, merges=merges, **specials)


def for_model_type(model_type, size, roles, lossless=False):
    """A deterministic tokenizer of about `size` entries for any model type, offline.

    The model type's own tokenizer class (the one AutoTokenizer maps it to) is used with
    a vocabulary of its own kind: WordPiece (wordpiece_vocab), Unigram (unigram), or BPE,
    CLIP-style (word_end_bpe) where the class marks word ends, else byte-level
    (byte_level_bpe). The class' default special tokens for `roles` take the first ids,
    in ROLES order (the last, in word_end_bpe). A family that compares decoded texts
    asks for a `lossless` one: then the class must also encode the corpus without
    unknowns or tokens past its vocabulary and decode it back exactly (round_trips;
    Qwen2Tokenizer, T5Tokenizer, ... do; LlamaTokenizer's Metaspace pipeline and
    OpenAIGPTTokenizer's lower-casing do not). Otherwise a byte-level BPE is wrapped as a generic TokenizersBackend
    (PreTrainedTokenizerFast) with GENERIC_SPECIAL_TOKENS for `roles`; its saved
    tokenizer_config names that class, so AutoTokenizer loads it back.
    """
    roles = [role for role in ROLES if role in roles]
    tokenizer_class, kind = _own_class(model_type)
    if tokenizer_class is not None:
        try:
            tokenizer = _of_own_class(tokenizer_class, kind, size, _class_defaults(tokenizer_class, roles))
        except Exception:  # noqa: BLE001 -- a class that wants more falls back to the generic one
            tokenizer = None
        # Lossless: nothing beyond the trained vocabulary either, but for the class' own
        # extra special tokens (T5's <extra_id_*>), which its real checkpoints hold too.
        if tokenizer is not None and (not lossless or round_trips(
                tokenizer, tokenizer.vocab_size + len(getattr(tokenizer, "extra_special_tokens", None) or ()))):
            return tokenizer

    specials = {role: GENERIC_SPECIAL_TOKENS[role] for role in roles}
    vocab, merges = byte_level_bpe(size, list(dict.fromkeys(specials.values())))
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=specials.get("unk_token")))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = TokenizersBackend(tokenizer_object=backend, **specials)
    if not round_trips(tokenizer, len(vocab)):
        raise RuntimeError(f"the generic offline tokenizer for {model_type!r} does not round-trip its corpus")
    return tokenizer


def special_token_overrides(model_type, config, tokenizer):
    """shrink() overrides that repoint the config's special token ids at `tokenizer`'s.

    The config's ids point into the real vocabulary. Each of pad, eos and bos that the
    config sets takes the tiny vocabulary's token of that role (eos also where the
    config leaves it unset: generation needs one, and real checkpoints name it). Decoding
    starts from the token of the role the config's decoder_start_token_id had, else from
    padding (T5 leaves it unset, and every T5 checkpoint starts there); the tokens
    generation forces (bart's forced_eos_token_id) follow their role the same way.
    """
    overrides = {"vocab_size": len(tokenizer)}
    roles = {}
    for role in ("pad", "eos", "bos"):
        if (token_id := getattr(config, f"{role}_token_id", None)) is not None:
            roles.setdefault(token_id, role)
            overrides[f"{role}_token_id"] = getattr(tokenizer, f"{role}_token_id")
        elif role == "eos":
            overrides["eos_token_id"] = tokenizer.eos_token_id
    start_role = roles.get(getattr(config, "decoder_start_token_id", None), "pad")
    overrides["decoder_start_token_id"] = getattr(tokenizer, f"{start_role}_token_id")
    for name in ("forced_bos_token_id", "forced_eos_token_id"):
        if (token_id := getattr(config, name, None)) is not None:
            if token_id not in roles:
                raise NotImplementedError(f"{model_type}: {name}={token_id} is none of the pad, eos, bos tokens")
            overrides[name] = getattr(tokenizer, f"{roles[token_id]}_token_id")
    return overrides


# Special-looking string literals of a processor's module (qwen2_vl's "<|image_pad|>",
# pixtral's "[IMG_BREAK]", qwen2_audio's "<|AUDIO|>"): tokens its tokenizer must hold as
# one piece each.
_TOKEN_LITERAL = re.compile(r"""["'](<\|?[A-Za-z][A-Za-z0-9_:./ -]*\|?>|\[[A-Z][A-Z0-9_]*\])["']""")
# What a processor reads of its tokenizer by name (gemma3's tokenizer.boi_token, gemma4's
# getattr(tokenizer, "boa_token", None)).
_TOKENIZER_ATTRIBUTE = re.compile(r"""tokenizer(?:\.|,\s*["'])([a-z][a-z0-9_]*_token)\b(?!_)""")


def for_processor(model_type, processor_class, size, roles):
    """A lossless offline tokenizer of the type's own kind (for_model_type), holding the
    special tokens the processor reads: those its constructor defaults to (llava's
    image_token "<image>", qwen2_audio's audio_token "<|AUDIO|>"), those it reads of the
    tokenizer by name (gemma3's boi_token: "<boi>"), and the special-looking literals of
    its module. Returns it and {name: token} of the named ones.

    Shared by the families whose processor writes media placeholders into the prompt
    (image-text-to-text, audio-text-to-text).
    """
    tokenizer = for_model_type(model_type, size, roles, lossless=True)
    named = {}
    for name, parameter in inspect.signature(processor_class.__init__).parameters.items():
        if name.endswith("_token") and isinstance(parameter.default, str) and parameter.default:
            named[name] = parameter.default
    source = inspect.getsource(importlib.import_module(processor_class.__module__))
    for name in _TOKENIZER_ATTRIBUTE.findall(source):
        if name not in ROLES and not hasattr(tokenizer, name):
            named.setdefault(name, f"<{name.removesuffix('_token')}>")
    literals = [token for token in _TOKEN_LITERAL.findall(source) if token not in named.values()]
    new = [token for token in dict.fromkeys([*named.values(), *literals]) if token not in tokenizer.get_vocab()]
    tokenizer.add_tokens(new, special_tokens=True)
    tokenizer.add_special_tokens({"extra_special_tokens": new}, replace_extra_special_tokens=False)
    tokenizer._set_model_specific_special_tokens(named)
    return tokenizer, named


def _token_for(role, tokenizer, named, processor=None):
    """The tiny vocabulary's token for a config's `<role>_token_id`, if it holds one: the
    tokenizer's own role, a named token, the processor's token of that name (got_ocr2's
    image_token "<imgpad>"), or a literal of that name ("<|vision_start|>")."""
    if role in ("bos", "eos", "pad", "unk"):
        return getattr(tokenizer, f"{role}_token")
    # The tokenizer's named token first: gemma3's processor calls its placeholder (boi)
    # image_token, while the model's image_token_id is the tokenizer's image_token.
    if f"{role}_token" in named:
        return named[f"{role}_token"]
    if isinstance(getattr(processor, f"{role}_token", None), str):
        return getattr(processor, f"{role}_token")
    for token in tokenizer.get_vocab():
        if token.strip("<|>[]").lower() == role.lower():
            return token
    return None


def repoint_token_ids(config, tokenizer, named, processor=None):
    """Every token id the configs name (image_token_id, llava's image_token_index,
    audio_token_id, ...) at the tiny vocabulary's token of the same role, and every
    vocabulary size (but a vision tower's) at its length. An id with no such token is
    left: a model that reads it fails honestly.

    Once before the model is built (the tokenizer's roles and named tokens) and once
    the processor exists (what it calls its tokens), into the same config object, which
    the model reads its token ids from as it runs."""
    for sub in tiny.configs(config):
        for name, value in list(vars(sub).items()):
            match = re.fullmatch(r"(\w+?)_token_(?:id|index)", name)
            if match and (isinstance(value, int) or value is None):
                role = match.group(1)
                # An id left unset stays so, but for the end of sequence and the image's
                # and video's tokens, which a config may leave to its checkpoints
                # (minicpmv4_6's image_token_id None) and the model reads.
                if value is None and role not in ("eos", "image", "video"):
                    continue
                token = _token_for(role, tokenizer, named, processor)
                if token is not None:
                    setattr(sub, name, tokenizer.convert_tokens_to_ids(token))
            elif name == "vocab_size" and isinstance(value, int) and sub is not config.__dict__.get("vision_config"):
                sub.vocab_size = len(tokenizer)


def media_prompt(processor, text, kind):
    """The prompt for one `kind` ("image", "audio") item and `text`, as the media-to-text
    families' contract writes it: the processor's chat template with one entry of that
    kind where it has one, else the processor's placeholder token (image_token,
    audio_token) before the text, unless the text holds it already."""
    if getattr(processor, "chat_template", None):
        messages = [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": text}]}]
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    token = getattr(processor, f"{kind}_token", None)
    if isinstance(token, str) and token not in text:
        return token + text
    return text
