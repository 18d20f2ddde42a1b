"""Speech-to-text encoder-decoders (whisper, speech_to_text, moonshine, ...): greedy
automatic speech recognition.

The handler's contract (docs/DESIGN.md): a float32 mono 16 kHz clip, a path to an audio
file, or a list of them in; `token_ids` and `texts` out, one entry per clip. `token_ids`
are the tokens generate() produced after the decoder prompt (whisper's
<|startoftranscript|>, language, task and <|notimestamps|>; the decoder start token of
the others), up to and excluding the end of text. `texts` are those tokens decoded with
skip_special_tokens=True.

The reference runs the feature extractor and generate() on each clip alone, passing
generate() everything the feature extractor gives (input_features or input_values, an
attention mask where it makes one), and checks its texts against the
automatic-speech-recognition pipeline's (which returns text only, never token ids).

Whisper has a recipe of its own (its special tokens follow the vocabulary, its window
is shrunk with its feature extractor); every other type is built by one general recipe
(_build_any): its own feature extractor with its defaults, an offline tokenizer of its
own kind, its own processor class over both, and a model taught to end one clip early.
"""
import inspect

import torch
import transformers
from transformers import AutoProcessor, GenerationConfig, pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.feature_extraction_auto import (
    FEATURE_EXTRACTOR_MAPPING_NAMES,
)
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES,
    MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING_NAMES,
)
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES
from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES
from transformers.models.whisper.tokenization_whisper import LANGUAGES

from .. import greedy, media, tiny, tokenizers
from ..expected import Expected
from ..teaching import ENDS_AFTER, GOES_ON, fit
from . import Case, audio_encoder, audio_text_to_text

BPE_SIZE = 384

# Whisper's special tokens follow the text vocabulary, in this order, as in the real
# checkpoints. The order matters: the tokenizer finds a language token at
# <|startoftranscript|> + 1 + its index in LANGUAGES, and generate() takes every id
# above <|notimestamps|> for a timestamp, so <|notimestamps|> is the last token (the
# tiny model predicts no timestamps).
END = "<|endoftext|>"
START = "<|startoftranscript|>"
LANGUAGE_TOKENS = tuple(f"<|{code}|>" for code in list(LANGUAGES)[:4])  # en, zh, de, es
TRANSLATE, TRANSCRIBE = "<|translate|>", "<|transcribe|>"
PREVIOUS = "<|startofprev|>"
NO_TIMESTAMPS = "<|notimestamps|>"
NO_SPEECH = "<|nospeech|>"
SPECIAL_TOKENS = (END, START, *LANGUAGE_TOKENS, TRANSLATE, TRANSCRIBE, "<|startoflm|>", PREVIOUS,
                  NO_SPEECH, NO_TIMESTAMPS)

# Weights drawn at whisper's init_std (0.02) give a tiny model whose greedy output is
# the same token sequence for every clip: a test of it could not tell one clip's
# features from another's. Wider weights make the transcript depend on the audio.
INIT_STD = 1.0

# Two traps of real random weights that a tiny model drawn as above misses, set back
# by hand (see _shape_output):
# - they end a transcript early; the tiny model rarely picks <|endoftext|> among its few
#   hundred tokens. Its decoder output is biased towards <|endoftext|> (the final layer
#   norm's bias and the token's embedding point the same way), so that a skillset that
#   drops min_new_tokens, or batches clips without cutting each at its own end, fails;
# - they emit special tokens mid-transcript; the tiny model never does. <|nospeech|> gets
#   a larger embedding, so that a skillset that decodes special tokens into its texts
#   fails.
END_BIAS = 1.0   # length of the final layer norm's bias along the <|endoftext|> direction
END_SCALE = 1.5  # length of the <|endoftext|> embedding, over sqrt(d_model)
NO_SPEECH_SCALE = 1.5  # growth of the <|nospeech|> embedding

# Whisper hears 30 s windows (3000 mel frames, 1500 encoder positions); the tiny model
# hears 4 s, which makes it several times faster and keeps every code path. A skillset
# that assumes 30 s or 3000 frames instead of asking the feature extractor fails here.
CHUNK_SECONDS = 4
# Clip lengths: all different, all shorter than CHUNK_SECONDS. Left to end where it
# chooses (seed 0, up to 8 new tokens), the tiny model says <|endoftext|> after 7, 5, 4,
# 6 and 2 tokens of these clips, and <|nospeech|> is the 7th token of the first clip's
# transcript; the cases pick from them.
SECONDS = (1.3, 0.7, 2.1, 1.0, 1.7)


def _tokenizer():
    """A WhisperTokenizer: byte-level BPE trained offline, then whisper's special tokens.

    Not tokenizers.for_model_type, which gives special tokens the first ids: whisper's
    follow the text vocabulary, and its decoder prompt depends on their order.
    """
    vocab, merges = tokenizers.byte_level_bpe(BPE_SIZE, [])
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    tokenizer = transformers.WhisperTokenizer(vocab=vocab, merges=merges)  # <|endoftext|>: unk, bos, eos
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS[1:])})
    ids = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    if ids != list(range(BPE_SIZE, BPE_SIZE + len(SPECIAL_TOKENS))) or len(tokenizer) != ids[-1] + 1:
        raise RuntimeError(f"whisper's special tokens landed at {ids} in a vocabulary of {len(tokenizer)}")
    return tokenizer


def _generation_config(tokenizer, max_target_positions):
    """What openai/whisper-* checkpoints ship: multilingual, transcribe, no timestamps.

    Built fresh, not derived from the model config: a config derived from the model's
    drops whisper's own entries (lang_to_id, ...) when it is saved.
    """
    def token(text):
        return tokenizer.convert_tokens_to_ids(text)

    end = token(END)
    return GenerationConfig(
        decoder_start_token_id=token(START),
        bos_token_id=end,
        eos_token_id=end,
        pad_token_id=end,
        max_length=max_target_positions,
        # The checkpoints' way of asking for "detect the language, then transcribe".
        forced_decoder_ids=[[1, None], [2, token(TRANSCRIBE)]],
        is_multilingual=True,
        lang_to_id={language: token(language) for language in LANGUAGE_TOKENS},
        task_to_id={"transcribe": token(TRANSCRIBE), "translate": token(TRANSLATE)},
        no_timestamps_token_id=token(NO_TIMESTAMPS),
        prev_sot_token_id=token(PREVIOUS),
        return_timestamps=False,
        begin_suppress_tokens=[token("Ġ"), end],
        suppress_tokens=[],
    )


def _shape_output(model, tokenizer):
    """Make <|endoftext|> a likely greedy choice, <|nospeech|> a possible one (see END_BIAS)."""
    decoder = model.get_decoder()
    embeddings = decoder.embed_tokens.weight  # tied to the output projection
    end, no_speech = tokenizer.convert_tokens_to_ids([END, NO_SPEECH])
    generator = torch.Generator().manual_seed(0)
    direction = torch.randn(model.config.d_model, generator=generator)
    direction /= direction.norm()
    with torch.no_grad():
        decoder.layer_norm.bias.copy_(END_BIAS * direction)
        embeddings[end] = END_SCALE * direction * model.config.d_model ** 0.5
        embeddings[no_speech] *= NO_SPEECH_SCALE


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    if model_type == "whisper":
        _build_whisper(candidate, out_dir)
    else:
        _build_any(model_type, candidate, out_dir, seed)


def _build_whisper(candidate, out_dir):
    model_type = "whisper"
    tokenizer = _tokenizer()
    end = tokenizer.convert_tokens_to_ids(END)
    config = CONFIG_MAPPING[model_type]()
    tiny.shrink(
        config,
        # The encoder takes exactly 2 x max_source_positions mel frames (a stride-2
        # convolution halves them), and the feature extractor pads every clip to
        # chunk_length seconds of 100 frames: the two shrink together.
        max_source_positions=CHUNK_SECONDS * 100 // 2,
        vocab_size=len(tokenizer),
        decoder_start_token_id=tokenizer.convert_tokens_to_ids(START),
        bos_token_id=end,
        eos_token_id=end,
        pad_token_id=end,
        suppress_tokens=[],
        begin_suppress_tokens=[tokenizer.convert_tokens_to_ids("Ġ"), end],
        init_std=INIT_STD,
    )
    feature_extractor = transformers.WhisperFeatureExtractor(feature_size=config.num_mel_bins,
                                                            chunk_length=CHUNK_SECONDS)
    frames = feature_extractor.nb_max_frames
    if frames != 2 * config.max_source_positions:
        raise RuntimeError(f"the feature extractor gives {frames} frames; the encoder wants "
                           f"{2 * config.max_source_positions}")
    processor = transformers.WhisperProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer)

    model = getattr(transformers, candidate["model_class"])(config).eval()
    if not hasattr(model, "generate"):
        raise TypeError(f"{candidate['model_class']} cannot generate")
    _shape_output(model, tokenizer)
    model.generation_config = _generation_config(tokenizer, config.max_target_positions)
    tiny.save_and_verify(model, processor, out_dir)

    reloaded = AutoProcessor.from_pretrained(out_dir)
    if len(reloaded.tokenizer) != len(tokenizer) or \
            reloaded.tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)) != \
            tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)):
        raise RuntimeError(f"the tokenizer saved in {out_dir} does not reload with the same vocabulary")


# The general recipe's offline tokenizer: room for the byte-level BPE's 256 symbols and
# merges; the roles generation and batching need.
VOCAB_SIZE = 384
ROLES = ("bos_token", "eos_token", "unk_token", "pad_token")
# What the general recipe's tiny model is taught to say (see _teach): the first ENDS_AFTER
# tokens of the first and end, for the clip that ends early in the cases (SECONDS[4]);
# GOES_ON tokens of the second for the clip that goes on (SECONDS[3]).
# What an audio language model whose processor writes no transcription request
# (granite_speech's) is asked with its clip, in the words of IBM's model card.
TRANSCRIPTION_INSTRUCTION = "can you transcribe the speech into a written format?"
ANSWERS = ("The house is wonderful.", "The river flows north through forests, hills and farms.")
ENDING, GOING_ON = 4, 3  # indices in SECONDS


def _build_any(model_type, candidate, out_dir, seed):
    """Any speech encoder-decoder but whisper, from its own classes' defaults.

    The feature extractor keeps its defaults, and so do the config's mel and frame sizes
    (shrink never touches them), so the two agree as in a real checkpoint.
    """
    config = CONFIG_MAPPING[model_type]()
    if hasattr(config, "audio_token_id"):  # or under another name (granite_speech's audio_token_index)
        # qwen3_asr, vibevoice_asr, voxtral: a language model that reads the clip's
        # features in place of audio tokens of its prompt, built as audio-text-to-text
        # builds its own; transcribing is prompting it with the processor's
        # transcription request, or, where the processor writes none (granite_speech's),
        # with the contract's prompt of the clip and TRANSCRIPTION_INSTRUCTION. A model
        # transformers lists as a speech generator (vibevoice) is no transcriber.
        processor_name = PROCESSOR_MAPPING_NAMES.get(model_type)
        if not hasattr(getattr(transformers, str(processor_name), None), "apply_transcription_request") \
                and model_type in MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING_NAMES:
            raise NotImplementedError(f"{model_type} is an audio language model whose processor "
                                      f"({processor_name}) writes no transcription request")
        audio_text_to_text.build_tiny(model_type, candidate, out_dir, seed)
        return
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, ROLES, lossless=True)
    past_text = _past_the_vocabulary(config)
    # A codec the model hears through (kyutai's mimi, a sub-config naming its
    # codebook_size) is made as small as audio-encoder makes the codecs it serves.
    for sub in vars(config).values():
        if isinstance(sub, transformers.PreTrainedConfig) and "codebook_size" in vars(sub):
            for name, value in audio_encoder.codec_overrides(sub).items():
                setattr(sub, name, value)
    tiny.shrink(config, **tokenizers.special_token_overrides(model_type, config, tokenizer),
                **tiny.feature_encoder_overrides(config), **_prefixed_sizes(config))
    tiny.even_feed_forward(config)
    if "num_attention_heads" in vars(config) and not hasattr(config, "num_key_value_heads"):
        # A decoder config that declares no key-value heads, though its model reads them
        # (moonshine_streaming's: its checkpoints' config.json name them): as many as
        # heads, as MoonshineStreamingModelTester passes them.
        config.num_key_value_heads = config.num_attention_heads
    # A conformer's convolutional subsampling (canary's and cohere_asr's parakeet
    # encoder: 256 channels) is as narrow as a feature encoder's, as the parakeet-family
    # ModelTesters keep it (32 to 64): at 256 it made teaching five times slower.
    for sub in tiny.configs(config):
        if isinstance(vars(sub).get("subsampling_conv_channels"), int):
            sub.subsampling_conv_channels = tiny.CONV_CHANNELS
    # A decoder sub-config's vocabulary and special tokens (canary's decoder_config)
    # follow the tokenizer too.
    tokenizers.repoint_token_ids(config, tokenizer, {})
    for name, offset in past_text.items():
        setattr(config, name, config.vocab_size + offset)
    if not config.is_encoder_decoder:
        # Not taught (see below): wider weights, as audio-text-to-text's untaught
        # models, so that the transcript depends on the clip.
        for sub in tiny.configs(config):
            if getattr(sub, "initializer_range", None) is not None:
                sub.initializer_range = audio_text_to_text.INITIALIZER_RANGE
    processor = _processor(model_type, tokenizer, config)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    if not hasattr(model, "generate"):
        raise TypeError(f"{candidate['model_class']} cannot generate")
    _draw_codebooks(model, seed)
    if config.is_encoder_decoder:
        _teach(model, processor, seed)
    # A decoder-only one (kyutai_speech_to_text: the codec's tokens and the text's, frame
    # by frame) is not taught: its training input is not a decoder's; its random
    # transcripts still differ from clip to clip.
    tiny.save_and_verify(model, processor, out_dir)


def _draw_codebooks(model, seed):
    """Codebooks its init leaves at zero (mimi's `embed_sum`, in kyutai_speech_to_text's
    codec) drawn at random, seeded: at zero every frame of every clip quantizes to code
    0, and the model hears nothing of the clip; a trained codec's entries differ."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            codebook = getattr(module, "embed_sum", None)
            if isinstance(codebook, torch.Tensor) and not codebook.any():
                codebook.copy_(torch.randn(codebook.shape, generator=generator))


def _past_the_vocabulary(config):
    """The token ids at or past the end of the text vocabulary, by their distance from
    it: the rows of other tokens an embedding holds after the text's (kyutai's
    audio_pad_token_id, 69569, the last row after 4001 text tokens and 32 codebooks of
    2049). They keep that distance from the tiny vocabulary's end, as no text token
    stands for them."""
    vocabulary = vars(config).get("vocab_size")
    if not isinstance(vocabulary, int):
        return {}
    return {name: value - vocabulary for name, value in vars(config).items()
            if name.endswith("_token_id") and isinstance(value, int) and not isinstance(value, bool)
            and value >= vocabulary}


def _prefixed_sizes(config):
    """shrink() overrides for the depths, head counts and feed-forward widths a config
    spells with a prefix of its own (seamless_m4t's speech_encoder_layers,
    speech_encoder_intermediate_size, t2u_decoder_attention_heads; moonshine's
    encoder_num_hidden_layers): the tiny sizes of the names they end in, never more
    than the config's own. SeamlessM4TModelTester shrinks them as it shrinks the
    unprefixed ones; left at their defaults, seamless_m4t's 24-layer speech encoder made
    a tiny model of 13.6M parameters that took ten minutes to teach.
    """
    sizes = ((tiny._LAYERS, tiny.LAYERS), (tiny._HEADS, tiny.HEADS), (tiny._INTERMEDIATES, tiny.INTERMEDIATE))
    overrides = {}
    for name, value in vars(config).items():
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        for names, size in sizes:
            if name not in names and any(name.endswith("_" + known) for known in names):
                overrides[name] = min(value, size)
    return overrides


def _processor(model_type, tokenizer, config):
    """The type's own processor class over its own feature extractor and `tokenizer`.

    The feature extractor keeps its defaults but for the mel bins, which follow the
    config where it names them (tiny.feature_extractor: canary's encoder takes 128, its
    extractor's default is 80).
    """
    extractor_name = FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type) or _waveform_extractor(model_type)
    if not extractor_name:
        raise NotImplementedError(f"{model_type}: no feature extractor class in transformers' feature "
                                  "extractor table")
    processor_name = PROCESSOR_MAPPING_NAMES.get(model_type) or _shared_processor(model_type)
    if not processor_name:
        raise NotImplementedError(f"{model_type}: no processor class in transformers' processor table")
    if "audio_tokenizer" in inspect.signature(getattr(transformers, processor_name).__init__).parameters:
        # dia's: a codec that turns the model's output codes into speech. transformers
        # lists dia among speech seq2seq models, but it speaks text; it does not
        # transcribe.
        raise NotImplementedError(f"{model_type} generates speech (its processor {processor_name} takes an "
                                  "audio_tokenizer to decode it): not a speech recognizer")
    extractor = audio_text_to_text.at_cases_rate(tiny.feature_extractor(getattr(transformers, extractor_name), config),
                                                 config)
    if model_type not in FEATURE_EXTRACTOR_MAPPING_NAMES:
        # The waveform extractor of a type the table misses masks the padding, as the
        # model's card reads `attention_mask` from its processor's output.
        extractor.return_attention_mask = True
    processor_class = getattr(transformers, processor_name)
    # granite_speech's processor names its feature extractor `audio_processor`.
    takes = inspect.signature(processor_class.__init__).parameters
    return processor_class(**{"audio_processor" if "audio_processor" in takes else "feature_extractor": extractor},
                           tokenizer=tokenizer)


def _waveform_extractor(model_type):
    """The feature extractor of a type the table misses whose model hears the raw
    waveform (`main_input_name` "input_values": moonshine_streaming, which cuts the clip
    into 5 ms frames itself): the plain waveform extractor, Wav2Vec2FeatureExtractor, as
    moonshine's. It only pads a batch and masks the padding; the model's own front end
    (its CMVN over each frame) does the rest. None for a model of other inputs."""
    name = MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES.get(model_type)
    model_class = getattr(transformers, name, None) if isinstance(name, str) else None
    if model_class is None or model_class.main_input_name != "input_values":
        return None
    return "Wav2Vec2FeatureExtractor"


def _shared_processor(model_type):
    """The processor class of the types whose feature extractor and tokenizer classes are
    `model_type`'s, where they agree on one: a type the processor table misses may share
    its predecessor's (seamless_m4t_v2 seamless_m4t's SeamlessM4TProcessor), as its
    checkpoints do."""
    parts = (FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type), TOKENIZER_MAPPING_NAMES.get(model_type))
    names = {name for other, name in PROCESSOR_MAPPING_NAMES.items() if isinstance(name, str) and
             (FEATURE_EXTRACTOR_MAPPING_NAMES.get(other), TOKENIZER_MAPPING_NAMES.get(other)) == parts}
    return names.pop() if len(names) == 1 else None


def _teach(model, processor, seed):
    """Train the model to answer the clip SECONDS[ENDING] with ENDS_AFTER tokens of
    ANSWERS[0] and end, and SECONDS[GOING_ON] with GOES_ON tokens of ANSWERS[1].

    Random weights rarely end within a few tokens, and then neither min_new_tokens nor a
    batch whose rows end at different steps can be seen.
    """
    clips = media.audio(len(SECONDS), seed, SECONDS)  # the cases' clips
    taught = [clips[ENDING], clips[GOING_ON]]
    end = model.generation_config.eos_token_id
    start = model.generation_config.decoder_start_token_id
    answers = [processor.tokenizer(answer, add_special_tokens=False)["input_ids"] for answer in ANSWERS]
    wanted = [answers[0][:ENDS_AFTER] + [end], answers[1][:GOES_ON]]
    width = max(map(len, wanted))
    extractor = processor.feature_extractor
    # With the attention mask wherever the model takes one: the padding of the shorter
    # clip must not be what the model learns from, since each is answered alone.
    features = extractor(taught, sampling_rate=media.SAMPLE_RATE, padding=True, return_attention_mask=True,
                         return_tensors="pt")
    if "attention_mask" not in inspect.signature(model.forward).parameters:
        features.pop("attention_mask", None)
    fit(model, {**features,
                "decoder_input_ids": torch.tensor([([start] + tokens + [end] * width)[:width] for tokens in wanted]),
                "labels": torch.tensor([tokens + [-100] * (width - len(tokens)) for tokens in wanted])})
    for clip, tokens in zip(taught, wanted):
        inputs = extractor(clip, sampling_rate=media.SAMPLE_RATE, return_tensors="pt")
        with torch.no_grad():
            sequence = model.generate(**inputs, do_sample=False, max_new_tokens=len(tokens) + 1)
        if sequence[0, 1:1 + len(tokens)].tolist() != tokens:
            raise RuntimeError(f"the tiny model did not learn its answer to a clip of {len(clip)} samples: "
                               f"{sequence[0].tolist()}, taught {tokens}")


def cases(plan):
    n = plan["generation"]["max_new_tokens"]
    clips = media.audio(len(SECONDS), plan["seed"], SECONDS)
    # min_new_tokens == max_new_tokens: random weights may emit end-of-text at once,
    # and two empty transcripts would agree whatever the skillset does. The clip
    # SECONDS[ENDING] ends early when let (whisper's after 2 tokens, the taught ones'
    # after ENDS_AFTER): a skillset that drops min_new_tokens fails. The first of the
    # two holds whisper's <|nospeech|>, which its text must not.
    fixed = {"max_new_tokens": n, "min_new_tokens": n}
    return [
        Case("one clip", clips[ENDING], fixed),
        Case("two clips of different lengths", [clips[0], clips[2]], fixed),
        # Each clip stops at its own end-of-text, SECONDS[GOING_ON] late (whisper's
        # after 6 tokens, the taught ones' not within n) and SECONDS[ENDING] early: a
        # batch must not pass the shorter one's padding off as its tokens. One clip comes
        # as a WAV file, the other as an array.
        Case("a WAV file and a clip, each to its own end",
             [media.wav_file(clips[GOING_ON], "clip.wav"), clips[ENDING]], {"max_new_tokens": n}),
    ]


def reference(model_dir, candidate, case, plan):
    processor = AutoProcessor.from_pretrained(model_dir)
    model = getattr(transformers, candidate["auto_class"]).from_pretrained(model_dir).eval()
    settings = dict(case.options, do_sample=False, num_beams=1)
    items = case.input if isinstance(case.input, list) else [case.input]
    if isinstance(getattr(processor, "audio_token", None), str):
        return _reference_prompted(processor, model, items, settings, case)
    # The speech-recognition pipeline checks the texts of an encoder-decoder; a
    # decoder-only model's (kyutai_speech_to_text's) it cannot preprocess: it asks the
    # feature extractor for an attention mask, which kyutai's does not make. Its
    # reference is the processor and generate(), as its model card runs it.
    recognizer = pipeline("automatic-speech-recognition", model=model, tokenizer=processor.tokenizer,
                          feature_extractor=processor.feature_extractor, device="cpu") \
        if model.config.is_encoder_decoder else None
    config = model.generation_config
    end_ids = {token for value in (config.eos_token_id, config.pad_token_id) if value is not None
               for token in (value if isinstance(value, list) else [value])}
    expected = Expected({"token_ids": [], "texts": []})
    for item in items:  # each alone
        clip = media.load_clip(item)
        # Everything the feature extractor gives: input_features or input_values, and an
        # attention mask where it makes one.
        features = processor.feature_extractor(clip, sampling_rate=media.SAMPLE_RATE, return_tensors="pt")
        with torch.inference_mode():
            scored = model.generate(**features, **settings, return_dict_in_generate=True, output_scores=True)
        # The whole sequence, decoder prompt first: the last len(scores) tokens are the
        # generated ones.
        generated = scored.sequences[0, scored.sequences.shape[1] - len(scored.scores):].tolist()
        token_ids = next((generated[:at] for at, token in enumerate(generated) if token in end_ids), generated)
        if len(token_ids) < case.options.get("min_new_tokens", 0):
            raise RuntimeError(f"generate() returned {len(token_ids)} tokens, fewer than min_new_tokens "
                               f"{case.options['min_new_tokens']}")
        text = processor.batch_decode([token_ids], skip_special_tokens=True)[0]
        heard = text
        if recognizer is not None:
            heard = recognizer({"raw": clip, "sampling_rate": media.SAMPLE_RATE}, generate_kwargs=settings)["text"]
        if heard != text:
            raise RuntimeError(f"the speech-recognition pipeline heard {heard!r}; "
                               f"the decoded tokens {token_ids} read {text!r}")
        expected["token_ids"].append(token_ids)
        expected["texts"].append(text)
        expected.margins.append(greedy.margins(scored.scores))
    return expected


def _reference_prompted(processor, model, items, settings, case):
    """An audio language model's transcripts: each clip alone, in the inputs its
    processor's transcription request makes (apply_transcription_request, tokenized),
    the new tokens up to its end of sequence, which the transcript leaves out. The
    speech-recognition pipeline is not asked: it feeds such a model no prompt.

    A processor that writes no request (granite_speech's) is given the prompt the
    contract writes for the clip and TRANSCRIPTION_INSTRUCTION (its chat template with
    an audio entry and the instruction, as IBM's model card asks; else its audio token
    before the instruction) and the clip, as the card calls it."""
    end = model.generation_config.eos_token_id
    end_ids = set(end) if isinstance(end, list) else {end}
    expected = Expected({"token_ids": [], "texts": []})
    for item in items:
        clip = media.load_clip(item)
        if hasattr(processor, "apply_transcription_request"):
            inputs = processor.apply_transcription_request(clip, return_tensors="pt")
        else:
            inputs = processor(text=tokenizers.media_prompt(processor, TRANSCRIPTION_INSTRUCTION, "audio"),
                               audio=clip, sampling_rate=media.SAMPLE_RATE, return_tensors="pt")
        token_ids, margins = greedy.answer(model, inputs, settings, end_ids)
        if token_ids and token_ids[-1] in end_ids:
            token_ids = token_ids[:-1]
        if len(token_ids) < case.options.get("min_new_tokens", 0):
            raise RuntimeError(f"generate() returned {len(token_ids)} tokens, fewer than min_new_tokens "
                               f"{case.options['min_new_tokens']}")
        expected["token_ids"].append(token_ids)
        expected["texts"].append(processor.batch_decode([token_ids], skip_special_tokens=True)[0])
        expected.margins.append(margins)
    return expected


# Token ids equal token for token and texts equal, ties named.
compare = greedy.compare
