"""Speech recognition without a seq2seq decoder: a CTC head (wav2vec2, hubert, wavlm,
...) or a transducer's (parakeet_rnnt, parakeet_tdt, nemotron_asr_streaming): each
clip's transcript.

The handler's contract is data/families.json's "audio-ctc" entry: a clip or a list of
clips (float32 mono 16 kHz arrays, paths or bytes) in, `texts` out, one greedy
transcript per clip (ctc, rnnt and tdt alike). The reference is transformers'
automatic-speech-recognition pipeline, run on each clip alone: argmax and CTC decoding,
or the transducer's own generate().

audio-classification, audio-frame-classification and feature-extraction are served as
the audio-encoder family serves them (the `audio_tasks` partial), and so tested: that
family's cases, references and comparisons (skillkit.families.audio_encoder), on a tiny
model of this family's recipe with that family's labels. audio-xvector (wav2vec2's
ForXVector heads): each clip's speaker embedding, the model's own `embeddings`.
pretraining (ForPreTraining heads): each clip's projected states, and its projected
quantized states where the head quantizes.
"""
import json
import os
import re

import torch
import transformers
from transformers import pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES

from .. import media, tiny
from ..compare import Comparison, missing_outputs, short
from ..expected import Expected
from . import Case, audio_encoder

# A character vocabulary as wav2vec2's English checkpoints have: specials, the word
# delimiter "|", and letters. CTC's blank is the pad token.
VOCABULARY = ("<pad>", "<s>", "</s>", "<unk>", "|", *"etaoinshrdlucmfwypvbgk'")
# A transducer's blank, after the vocabulary.
BLANK = "<blank>"
TRANSDUCER_SYMBOLS_PER_STEP = 2
TRANSDUCER_SIZES = {"decoder_hidden_size": tiny.HIDDEN, "num_decoder_layers": 1,
                    "prompt_intermediate_size": tiny.HIDDEN}

# The tasks that transcribe, CTC and the transducers (RNN-T, TDT), and their Auto classes.
TRANSCRIBING = ("ctc", "rnnt", "tdt")
TRANSCRIBERS = ("AutoModelForCTC", "AutoModelForRNNT", "AutoModelForTDT")
# What a pretraining head (wav2vec2's contrastive one) gives per clip, of those it has.
PRETRAINING_OUTPUTS = ("projected_states", "projected_quantized_states")


def _extractor_name(model_type, main):
    """The type's feature extractor in transformers' table, unless it does not make the
    model's main input: then the one the type's config documents its input with.
    (wav2vec2-bert's table names Wav2Vec2FeatureExtractor, whose raw `input_values` the
    model does not take; its config's docs say its `input_features` come from
    SeamlessM4TFeatureExtractor, as its checkpoints' preprocessor configs do.)"""
    name = FEATURE_EXTRACTOR_MAPPING_NAMES[model_type]
    if getattr(transformers, name).model_input_names[0] == main:
        return name
    documented = re.findall(r"\[`(\w+FeatureExtractor)`\]", CONFIG_MAPPING[model_type].__doc__ or "")
    for other in dict.fromkeys(documented):
        if hasattr(transformers, other) and getattr(transformers, other).model_input_names[0] == main:
            return other
    raise NotImplementedError(f"no feature extractor makes {model_type}'s {main}: Unrecognized feature extractor")


def _processor(model_type, model_class, out_dir, tokens=VOCABULARY):
    vocabulary = os.path.join(out_dir, "vocab.json")
    with open(vocabulary, "w", encoding="utf-8") as handle:
        json.dump({token: index for index, token in enumerate(tokens)}, handle)
    # A transducer's blank is a special token: decoding skips it, as the pipeline asks.
    specials = {"additional_special_tokens": [BLANK]} if BLANK in tokens else {}
    tokenizer = transformers.Wav2Vec2CTCTokenizer(vocabulary, word_delimiter_token="|", **specials)
    main = getattr(transformers, model_class).main_input_name
    if main == "input_features":
        # A model of spectrogram features (parakeet, lasr): the type's own feature
        # extractor, at the sizes the config's defaults expect.
        extractor = getattr(transformers, _extractor_name(model_type, main))(return_attention_mask=True)
    else:
        # An attention mask and normalisation, as layer-norm checkpoints (wav2vec2-large
        # and later) are configured: a skillset that skips either is caught.
        extractor = transformers.Wav2Vec2FeatureExtractor(
            feature_size=1, sampling_rate=media.SAMPLE_RATE, padding_value=0.0, do_normalize=True,
            return_attention_mask=True)
    return transformers.Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer)


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    tokens = VOCABULARY
    overrides = {"pad_token_id": 0, **tiny.feature_encoder_overrides(config)}
    if "blank_token_id" in vars(config):
        # A transducer (parakeet_tdt, nemotron_asr_streaming): its blank is the last id,
        # after the tokenizer's vocabulary (8192 of parakeet-tdt's 8193), and its decoder
        # starts from it, as transformers' tests and configs set decoder_start_token_id.
        tokens = (*VOCABULARY, BLANK)
        overrides.update(blank_token_id=len(VOCABULARY), decoder_start_token_id=len(VOCABULARY),
                         bos_token_id=len(VOCABULARY), eos_token_id=None)
        # A random joint network seldom says blank, so every frame would emit the most
        # symbols it may (10): two keep the greedy loop short.
        overrides["max_symbols_per_step"] = TRANSDUCER_SYMBOLS_PER_STEP
        # Its prediction network and joint as transformers' tests keep them: one narrow
        # LSTM layer (640 wide, each greedy step costs a fifth of a second on a shared
        # core), and nemotron3_5_asr's language-prompt projection as narrow.
        overrides.update({name: value for name, value in TRANSDUCER_SIZES.items() if name in vars(config)})
    overrides["vocab_size"] = len(tokens)
    processor = _processor(model_type, candidate["model_class"], out_dir, tokens)
    if candidate["auto_class"] not in TRANSCRIBERS:  # audio-encoder's tasks, its labels
        overrides.update(id2label=dict(enumerate(audio_encoder.LABELS)),
                         label2id={label: index for index, label in enumerate(audio_encoder.LABELS)},
                         initializer_range=audio_encoder.INITIALIZER_RANGE)
    tiny.shrink(config, **overrides)
    # A sub-config that reads the same vocabulary (granite_speech5_ctc's encoder, whose
    # self-conditioning CTC head the config wants as wide as its own) follows it.
    for sub in tiny.configs(config):
        if isinstance(getattr(sub, "vocab_size", None), int):
            sub.vocab_size = config.vocab_size
    model = getattr(transformers, candidate["model_class"])(config).eval()
    tiny.save_and_verify(model, processor, out_dir)


def cases(plan):
    if plan["task"] not in TRANSCRIBING:
        return audio_encoder.cases(plan)
    clips = media.audio(3, plan.get("seed", 0))
    return [
        Case("one clip", clips[0]),
        # Of different lengths: a skillset that pads one to the other's length changes
        # what the shorter one transcribes.
        Case("two clips of different lengths", [clips[1], clips[2]]),
        Case("a WAV file and a clip", [media.wav_file(clips[2], "ctc.wav"), clips[0]]),
    ]


def _xvectors(model_dir, candidate, case):
    """Each clip alone: the x-vector head's speaker embedding (no pipeline exists for
    the task; the model's own `embeddings`, which transformers' speaker-verification
    examples compare by cosine similarity)."""
    model = getattr(transformers, candidate["model_class"]).from_pretrained(model_dir).eval()
    extractor = transformers.AutoFeatureExtractor.from_pretrained(model_dir)
    expected = Expected({"embeddings": []})
    for item in (case.input if isinstance(case.input, list) else [case.input]):
        features = extractor(media.load_clip(item), sampling_rate=extractor.sampling_rate, return_tensors="pt")
        with torch.inference_mode():
            expected["embeddings"].append(model(**features).embeddings[0].tolist())
    return expected


def _pretraining(model_dir, candidate, case):
    """Each clip alone, unmasked: the pretraining head's projected context vectors and,
    where it quantizes (wav2vec2's, unispeech's), the projected quantized targets that
    its contrastive loss compares them with."""
    model = getattr(transformers, candidate["model_class"]).from_pretrained(model_dir).eval()
    extractor = transformers.AutoFeatureExtractor.from_pretrained(model_dir)
    expected = None
    for item in (case.input if isinstance(case.input, list) else [case.input]):
        features = extractor(media.load_clip(item), sampling_rate=extractor.sampling_rate, return_tensors="pt")
        with torch.inference_mode():
            output = model(**features)
        keys = [key for key in PRETRAINING_OUTPUTS if output.get(key) is not None]
        expected = expected or Expected({key: [] for key in keys})
        for key in keys:
            expected[key].append(output[key][0].tolist())
    return expected


def reference(model_dir, candidate, case, plan):
    if plan["task"] == "audio-xvector":
        return _xvectors(model_dir, candidate, case)
    if plan["task"] == "pretraining":
        return _pretraining(model_dir, candidate, case)
    if plan["task"] not in TRANSCRIBING:
        return audio_encoder.reference(model_dir, candidate, case, plan)
    model = getattr(transformers, candidate["model_class"]).from_pretrained(model_dir).eval()
    processor = transformers.AutoProcessor.from_pretrained(model_dir)
    recognizer = pipeline("automatic-speech-recognition", model=model, tokenizer=processor.tokenizer,
                          feature_extractor=processor.feature_extractor, device="cpu")
    items = case.input if isinstance(case.input, list) else [case.input]
    expected = Expected({"texts": []})
    for item in items:  # each alone
        clip = media.load_clip(item)
        expected["texts"].append(recognizer({"raw": clip, "sampling_rate": media.SAMPLE_RATE})["text"])
    return expected


def compare(expected, actual, plan):
    """Transcripts equal, clip by clip: greedy decoding of the same logits has no
    tolerance. The other tasks as audio-encoder compares them (x-vectors allclose, as
    its hidden states)."""
    if plan["task"] == "pretraining":
        if (missing := missing_outputs(expected, actual)) is not None:
            return missing
        worst = 0.0
        for key in expected:  # each as audio-encoder compares one output
            result = audio_encoder.compare({key: expected[key]}, {key: actual[key]}, plan)
            if not result.ok:
                return result
            worst = max(worst, result.max_abs_diff)
        return Comparison(True, worst, f"{', '.join(expected)} match")
    if plan["task"] not in TRANSCRIBING:
        return audio_encoder.compare(expected, actual, plan)
    if "texts" not in actual:
        return Comparison(False, None, f"output 'texts' expected, got {sorted(actual)}")
    want, got = expected["texts"], actual["texts"]
    if not isinstance(got, list) or len(got) != len(want):
        return Comparison(False, None, f"texts: {len(want)} transcripts expected, got {short(got)}")
    for index, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return Comparison(False, None, f"texts[{index}]: expected {short(a)}, got {short(b)}")
    return Comparison(True, None, "transcripts match")
