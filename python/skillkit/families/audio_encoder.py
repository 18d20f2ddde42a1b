"""Audio encoders: audio classification (audio-spectrogram-transformer), audio
tokenization with neural codecs (dac, encodec, mimi, ...), and audio features.

The task is the plan's (the skillset serves one, fixed when it is generated). The
handler's contract is data/families.json's "audio-encoder" entry: a clip or a list of
clips (float32 mono arrays at the feature extractor's sampling rate, paths or bytes) in;
out, per clip:
- audio-classification: `logits` and the top_k (5) `predictions`, as transformers'
  audio-classification pipeline gives them (the reference runs the pipeline on each clip
  alone, and the model on the pipeline's feature extractor's output for the logits);
- audio-tokenization: what the codec's `encode()` makes of the clip alone, in the
  layout encode() returns for a batch of one (so that `decode()` takes it back):
  `audio_codes` (integers) for a quantizing codec, `latents` (floats) for a continuous
  one (pocket_tts', vibevoice's);
- audio-frame-classification: `logits`, frames x labels per clip (no pipeline exists
  for the task; nemotron3_diarization's speakers, each active where its sigmoid is);
- feature-extraction: for a codec (a model with `encode()`), as audio-tokenization: a
  codec's features are its codes; for any other encoder, `last_hidden_state` (an
  audio-text model's audio tower's, a CTC or transducer head's encoder's), or `latents`
  for a codec's encoder half (mimi_encoder), which has no other output.
"""
import functools
import inspect

import numpy as np
import torch
import transformers
from transformers import pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING, CONFIG_MAPPING_NAMES
from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES

from .. import media, tiny
from ..compare import Comparison, allclose, missing_outputs, scores_and_predictions, short
from ..expected import Expected
from . import Case

# Seven labels: more than the default top_k of 5, so the cut is exercised.
LABELS = ("speech", "music", "dog bark", "siren", "rain", "engine", "birdsong")
# Wider weights than the configs' 0.02, so that two clips differ in their logits (and a
# codec's codes) by far more than the tolerance.
INITIALIZER_RANGE = 0.2
# A codec's sizes, where its config names them, as transformers' tests keep them small
# (tests/models/encodec, mimi, dac): few conv filters and codebook entries, one LSTM and
# one residual layer, a quantizer of few codebooks. Strides and kernels stay: they fix how
# many frames a clip gives.
CODEC_SIZES = {"num_filters": 8, "num_residual_layers": 1, "num_lstm_layers": 1, "codebook_size": 64,
               "n_codebooks": 4,
               "encoder_hidden_size": 8, "decoder_hidden_size": 32}
# Sampling-rate fields of configs (encodec's, mimi's: sampling_rate; xcodec's: sample_rate).
RATE_FIELDS = ("sampling_rate", "sample_rate")


def _mel_bins(config):
    """The mel bins the config (or its audio sub-config) declares, or None."""
    for each in (config, *(sub for sub in vars(config).values() if isinstance(sub, transformers.PreTrainedConfig))):
        if isinstance(getattr(each, "num_mel_bins", None), int):
            return each.num_mel_bins
    return None


def _extractor_name(model_type):
    """The feature extractor class a checkpoint of `model_type` is saved with.

    The type's own, where transformers' table has one. Else that of the model whose part
    the type is: an audio tower or a codec half (qwen2_audio_encoder, mimi_encoder,
    vibevoice_acoustic_tokenizer_encoder) has no processor of its own, its config lives
    in the module of the composite model (models/qwen2_audio/), and its checkpoints are
    cut from that model's, hearing what that model's feature extractor makes of a clip.
    The one type of that module with a feature extractor names it."""
    name = FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type)
    if name is not None:
        return name
    module = CONFIG_MAPPING[model_type].__module__
    owners = {FEATURE_EXTRACTOR_MAPPING_NAMES[other] for other in FEATURE_EXTRACTOR_MAPPING_NAMES
              if other in CONFIG_MAPPING_NAMES and _config_module(other) == module}
    if len(owners) != 1:
        raise NotImplementedError(f"no feature extractor for {model_type!r}: Unrecognized feature extractor"
                                  + (f" (its module's types name {sorted(owners)})" if owners else ""))
    return owners.pop()


def _config_module(model_type):
    try:
        return CONFIG_MAPPING[model_type].__module__
    except (ImportError, KeyError):  # a config that needs a missing package
        return None


def _feature_extractor(model_type, config):
    """The type's feature extractor (_extractor_name) with its defaults, hearing media's
    16 kHz clips.

    A spectrogram extractor that counts its mel bins as its feature size (nemotron's,
    80 by default for speech recognition) is given the config's count (128 for
    diarization), as the real checkpoint's processor is."""
    name = _extractor_name(model_type)
    extractor = getattr(transformers, name)()
    bins = _mel_bins(config)
    if bins and not hasattr(extractor, "num_mel_bins") and getattr(extractor, "feature_size", 1) not in (1, bins):
        extractor = getattr(transformers, name)(feature_size=bins)
    if getattr(extractor, "sampling_rate", None) not in (None, media.SAMPLE_RATE):
        # A codec of 24 kHz (encodec, mimi) takes 16 kHz as well: its strides count
        # samples, not seconds, and the tiny model is told the rate below.
        extractor.sampling_rate = media.SAMPLE_RATE
    return extractor


def codec_overrides(config):
    """The codec sizes and the sampling rate `config` declares, and its wav2vec2-style
    feature encoder (xcodec's semantic hubert) narrowed as the audio-ctc family's."""
    declared = vars(config)
    overrides = {name: value for name, value in CODEC_SIZES.items() if name in declared}
    overrides.update({name: media.SAMPLE_RATE for name in RATE_FIELDS if name in declared})
    if "upsample_groups" in declared:  # mimi's grouped upsampling spans its whole width
        overrides["upsample_groups"] = tiny.HIDDEN
    overrides.update(tiny.feature_encoder_overrides(config))
    return overrides


def _decoder_half(model_type):
    """A codec's decoder half (mimi_decoder, pocket_tts', vibevoice's): codec latents
    (batch x hidden_size x frames) in, audio out."""
    return model_type.endswith("_decoder")


def _vocoder(model_class):
    """A vocoder (univnet): a spectrogram and a noise sequence in, a waveform out."""
    return "noise_sequence" in inspect.signature(model_class.forward).parameters


def _tiny_config(model_type, model_class):
    """The type's config, shrunk as its tiny model is built (cases() makes inputs of its
    sizes: a decoder half's latent channels, a vocoder's mel bins)."""
    config = CONFIG_MAPPING[model_type]()
    # Sub-models (xcodec's acoustic dac and semantic hubert) get the same sizes; shrink
    # sets the top-level config's last.
    for sub in vars(config).values():
        if isinstance(sub, transformers.PreTrainedConfig):
            for name, value in codec_overrides(sub).items():
                setattr(sub, name, value)
    overrides = codec_overrides(config)
    if getattr(config, "initializer_range", None) is not None:
        overrides["initializer_range"] = INITIALIZER_RANGE
    if model_class.__name__.endswith("ForAudioClassification"):
        overrides.update(id2label=dict(enumerate(LABELS)),
                         label2id={label: index for index, label in enumerate(LABELS)})
    joined = _joined_quantizer(config)
    tiny.shrink(config, **overrides)
    tiny.even_feed_forward(config)
    if joined:
        config.quantization_dim = config.hidden_size + config.semantic_model_config.hidden_size
    # A head that reads the audio encoder's width names it (nemotron3_diarization's
    # head_config.audio_hidden_size): it follows the tiny encoder's.
    audio = getattr(config, "audio_config", None)
    for sub in vars(config).values():
        if isinstance(sub, transformers.PreTrainedConfig) and "audio_hidden_size" in vars(sub) and audio is not None:
            sub.audio_hidden_size = audio.hidden_size
    return config


def _joined_quantizer(config):
    """Whether the codec quantizes its acoustic and semantic states side by side: its
    `quantization_dim` is the sum of the two widths in the defaults (xcodec2's and
    neucodec's, 1024 + 1024), and the tiny one the sum of the tiny widths, as
    Xcodec2ModelTester sets it."""
    semantic = vars(config).get("semantic_model_config")
    sizes = (vars(config).get("quantization_dim"), vars(config).get("hidden_size"),
             vars(semantic).get("hidden_size") if semantic is not None else None)
    return all(isinstance(size, int) for size in sizes) and sizes[0] == sizes[1] + sizes[2]


def _vocoder_extractor(model_type, config):
    """A vocoder's feature extractor, making the spectrogram and noise the tiny config
    reads: its mel bins and noise channels (as UnivNetModelTester pairs them)."""
    return getattr(transformers, _extractor_name(model_type))(num_mel_bins=config.num_mel_bins,
                                                              model_in_channels=config.model_in_channels)


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    model_class = getattr(transformers, candidate["model_class"])
    config = _tiny_config(model_type, model_class)
    if _vocoder(model_class):
        extractor = _vocoder_extractor(model_type, config)
    else:
        # A decoder half saves the feature extractor of the codec it is cut from
        # (_extractor_name): its sampling rate is the rate of the audio it makes.
        extractor = _feature_extractor(model_type, config)
    model = model_class(config).eval()
    if model_class.main_input_name == "input_ids" and model.get_encoder(modality="audio") is model:
        # moshi's MoshiModel, which the registry names for feature-extraction: a decoder
        # of text tokens (its codec's codes reach it as ids through generate()), with no
        # audio tower to ask for features (pe_audio, an audio-text dual encoder, has one).
        raise NotImplementedError(f"no processor makes {model_class.__name__}'s input from a clip: it takes "
                                  "token ids, not audio, and has no audio tower")
    tiny.save_and_verify(model, extractor, out_dir)


def _task_class(plan):
    """The model class of the plan's first candidate: the registry's for its task."""
    return getattr(transformers, plan["candidates"][0]["model_class"])


def cases(plan):
    # audio-ctc's tests ask for the cases of a plan with neither (its feature-extraction).
    model_type, candidates = plan.get("model_type", ""), plan.get("candidates")
    if plan["task"] == "feature-extraction" and _decoder_half(model_type):
        # Seeded latents of the tiny config's channels, of two lengths: a skillset that
        # pads one to the other's length gives the shorter more samples.
        channels = _tiny_config(model_type, _task_class(plan)).hidden_size
        rng = torch.Generator().manual_seed(plan.get("seed", 0))
        latents = [torch.randn(channels, frames, generator=rng).numpy() for frames in (4, 6, 3)]
        return [Case("one input's latents", latents[0]),
                Case("two inputs of different lengths", [latents[1], latents[2]]),
                Case("latents as nested lists", [latents[2].tolist()])]
    clips = media.audio(3, plan.get("seed", 0))
    if plan["task"] == "feature-extraction" and candidates and _vocoder(_task_class(plan)):
        # Spectrograms (frames x mel bins) as the vocoder's feature extractor makes them
        # of clips, as transformers' tests feed univnet.
        extractor = _vocoder_extractor(model_type, _tiny_config(model_type, _task_class(plan)))
        spectrograms = [extractor(clip, sampling_rate=extractor.sampling_rate, return_noise=False).input_features[0]
                        for clip in clips]
        return [Case("one spectrogram", spectrograms[0]),
                Case("two spectrograms of different lengths", [spectrograms[1], spectrograms[2]]),
                Case("one spectrogram, another noise seed", spectrograms[2], {"seed": 7})]
    result = [
        Case("one clip", clips[0]),
        # Of different lengths: a skillset that pads one to the other's length changes
        # the shorter one's codes, or gives it more frames.
        Case("two clips of different lengths", [clips[1], clips[2]]),
        Case("a WAV file and a clip", [media.wav_file(clips[2], "encoder.wav"), clips[0]]),
    ]
    if plan["task"] == "audio-classification":
        result.append(Case("one clip, top_k 2", clips[1], {"top_k": 2}))
    return result


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _loaded(model_dir, model_class):
    model = getattr(transformers, model_class).from_pretrained(model_dir).eval()
    return model, transformers.AutoFeatureExtractor.from_pretrained(model_dir)


def _clips(case):
    items = case.input if isinstance(case.input, list) else [case.input]
    return [media.load_clip(item) for item in items]


def _classify(model, extractor, case):
    classifier = pipeline("audio-classification", model=model, feature_extractor=extractor, device="cpu")
    top_k = case.options.get("top_k", 5)
    expected = Expected({"logits": [], "predictions": []})
    for clip in _clips(case):  # each alone
        with torch.inference_mode():
            logits = model(**classifier.preprocess(clip)).logits[0]
        expected["logits"].append(logits.tolist())
        ranked = classifier(clip, top_k=top_k)
        expected["predictions"].append([{"label": p["label"], "score": float(p["score"])} for p in ranked])
    return expected


def _encode(model, extractor, case):
    """Each clip alone through the feature extractor and the codec's encode(), given the
    extractor's inputs that encode() takes (dac's takes no padding mask)."""
    taken = inspect.signature(model.encode).parameters
    expected = None
    for clip in _clips(case):
        features = extractor(clip, sampling_rate=extractor.sampling_rate, return_tensors="pt")
        with torch.inference_mode():
            encoded = model.encode(**{name: value for name, value in features.items() if name in taken})
        key = "audio_codes" if getattr(encoded, "audio_codes", None) is not None else "latents"
        expected = expected or Expected({key: []})
        expected[key].append(encoded[key].tolist())
    return expected


def _frame_logits(model, extractor, case):
    expected = Expected({"logits": []})
    for clip in _clips(case):  # each alone
        features = extractor(clip, sampling_rate=extractor.sampling_rate, return_tensors="pt")
        with torch.inference_mode():
            expected["logits"].append(model(**features).logits[0].tolist())
    return expected


def _inputs(case):
    """A case's latents or spectrograms, each a 2-D array: one, or a list of them."""
    one = not isinstance(case.input, list) or np.ndim(case.input[0]) == 1
    return [np.asarray(item, dtype=np.float32) for item in ([case.input] if one else case.input)]


def _waveforms(model, extractor, case):
    """Each input alone through the model's forward: a decoder half's latents (its
    first argument), or a vocoder's spectrogram with the noise its feature extractor
    draws from a generator seeded by the `seed` option (0). Per input the waveform as
    the forward gives it for a batch of one (channels x samples; univnet's: samples),
    with the codec's (or vocoder's) sampling rate, its feature extractor's."""
    expected = Expected({"waveforms": [], "sampling_rate": []})
    for item in _inputs(case):
        with torch.inference_mode():
            if _vocoder(type(model)):
                noise = extractor.generate_noise(item.shape[0], np.random.default_rng(case.options.get("seed", 0)))
                output = model(input_features=torch.from_numpy(item)[None],
                               noise_sequence=torch.from_numpy(noise)[None])
            else:
                output = model(torch.from_numpy(item)[None])
        waveform = next(output[key] for key in ("waveforms", "audio_values", "audio") if output.get(key) is not None)
        expected["waveforms"].append(waveform[0].tolist())
        expected["sampling_rate"].append(extractor.sampling_rate)
    return expected


def _hidden_states(model, extractor, case):
    """Each clip alone: its encoder's last hidden state, or an encoder half's latents
    (mimi_encoder's, vibevoice's: they have no other output).

    A model with an audio tower (an audio-text dual encoder: pe_audio's) is asked for
    its tower's (get_encoder(modality="audio")); a head class (parakeet_ctc's, a
    transducer's: the registry names one where the type has no bare encoder class) for
    its encoder's (get_encoder()). The extractor's main input goes in as the forward's
    first argument (vibevoice's encoder half names it hidden_states). An audio tower that
    counts its frames from an `input_features_mask` (audioflamingo3's, qwen3_asr's) is
    given the extractor's attention mask under that name, as its composite model's
    processor asks for it and renames it. What the forward does not take stays out."""
    encoder = model.get_encoder(modality="audio")
    if encoder is model and "For" in type(model).__name__:
        encoder = model.get_encoder()
    taken = inspect.signature(encoder.forward).parameters
    expected = None
    masked = {"return_attention_mask": True} if "input_features_mask" in taken else {}
    for clip in _clips(case):
        features = dict(extractor(clip, sampling_rate=extractor.sampling_rate, return_tensors="pt", **masked))
        main = features.pop(extractor.model_input_names[0])
        if masked and "attention_mask" in features:  # fun_asr_nano's extractor names it so itself
            features["input_features_mask"] = features.pop("attention_mask")
        with torch.inference_mode():
            output = encoder(main, **{name: value for name, value in features.items() if name in taken})
        key = next((key for key in ("last_hidden_state", "latents") if output.get(key) is not None), None)
        if key is None:  # univnet, a vocoder: a waveform from a spectrogram
            raise NotImplementedError(f"{type(encoder).__name__} gives {', '.join(output.keys())}: "
                                      "neither hidden states nor latents to serve as features")
        expected = expected or Expected({key: []})
        # A tower that packs its clips' frames into one sequence (qwen3_asr's) gives
        # frames x hidden, no batch axis.
        value = output[key] if output[key].dim() == 2 else output[key][0]
        expected[key].append(value.tolist())
    return expected


def reference(model_dir, candidate, case, plan):
    model, extractor = _loaded(model_dir, candidate["model_class"])
    task = plan["task"]
    if task == "audio-classification":
        return _classify(model, extractor, case)
    if task == "audio-frame-classification":
        return _frame_logits(model, extractor, case)
    if task == "audio-tokenization" or (task == "feature-extraction" and hasattr(model, "encode")):
        return _encode(model, extractor, case)
    if task == "feature-extraction" and (_decoder_half(model.config.model_type) or _vocoder(type(model))):
        return _waveforms(model, extractor, case)
    if task == "feature-extraction":
        return _hidden_states(model, extractor, case)
    raise ValueError(f"unknown task {task!r}")


def compare(expected, actual, plan):
    """Classification: logits allclose and the predictions ranked alike; codes equal,
    clip by clip; latents and hidden states allclose."""
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    if (missing := missing_outputs(expected, actual)) is not None:
        return missing
    if "predictions" in expected:
        return scores_and_predictions(expected, actual, "logits", rtol, atol)
    if "audio_codes" in expected:
        for index, (want, got) in enumerate(zip(expected["audio_codes"], actual["audio_codes"])):
            if want != got:
                return Comparison(False, None, f"audio_codes[{index}]: {short(got)}, expected {short(want)}")
        if len(expected["audio_codes"]) != len(actual["audio_codes"]):
            return Comparison(False, None, f"{len(actual['audio_codes'])} clips' codes, "
                                           f"expected {len(expected['audio_codes'])}")
        return Comparison(True, 0.0, "audio_codes equal")
    if "waveforms" in expected:
        if actual.get("sampling_rate") != expected["sampling_rate"]:
            return Comparison(False, None, f"sampling_rate {actual.get('sampling_rate')}, "
                                           f"expected {expected['sampling_rate']}")
        key = "waveforms"
    else:
        (key,) = expected.keys()
    if not isinstance(actual[key], list) or len(actual[key]) != len(expected[key]):
        return Comparison(False, None, f"{key}: one entry per clip expected, got {short(actual[key])}")
    worst = 0.0
    for index, (want, got) in enumerate(zip(expected[key], actual[key])):
        result = allclose(want, got, rtol, atol)
        if not result.ok:
            return Comparison(False, result.max_abs_diff, f"{key}[{index}]: {result.message}")
        worst = max(worst, result.max_abs_diff)
    return Comparison(True, worst, f"{key} match")
