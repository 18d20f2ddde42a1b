"""Text to audio: speech and music from text (vits, musicgen, bark, ...).

The handler's contract is data/families.json's "text-to-audio" entry: a text or a list
of texts in; per text the waveform (`audio`: a float list, or per channel a list where
the model makes several) and its `sampling_rate`, as transformers' text-to-audio
pipeline shapes them.

Two kinds of model, told apart as the pipeline tells them, by `can_generate()`:
- forward models (vits) make the waveform in one call, drawing noise (vits' stochastic
  durations and prior): the draws are fixed by the handler's `seed` (default 0), set
  before each text alone, so the same model speaks a text alike on every call and in
  every batch;
- generators (musicgen) generate codec tokens and decode them; decoding is greedy
  (`do_sample=False`) for `max_new_tokens` (default: the family's generation).

The reference is the pipeline itself, on each text alone, under the same seed; where
the pipeline cannot say the text (a processor taking audio first, musicgen_melody's; one
decoding with its codec, higgs_audio_v2's and pocket_tts', whose codes the pipeline does
not find in generate()'s output), the model card's way.

text-to-spectrogram (fastspeech2_conformer, a model without its vocoder): per text its
mel spectrogram, the text alone; the reference is the model's own `spectrogram`.
"""
import functools
import inspect
import json
import os
import tempfile

import numpy as np
import torch
import transformers
from transformers import pipeline
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES
from transformers.models.auto.modeling_auto import (MODEL_FOR_TEXT_TO_SPECTROGRAM_MAPPING_NAMES,
                                                    MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING_NAMES)
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

from .. import tiny, tokenizers
from . import audio_encoder
from ..compare import Comparison, missing_outputs, outputs_allclose, short
from ..expected import Expected
from . import Case

TEXTS = ("hello there", "the quick brown fox jumps over the lazy dog.", "a cat")
# The letters a character-level tokenizer (VitsTokenizer: one id per letter or phoneme)
# knows: the corpus' own, and the characters of the cases.
CHARACTERS = "_ abcdefghijklmnopqrstuvwxyz,.!?'-"
# A codec's codebook and the generator's vocabulary over it: the same size, as in every
# real checkpoint (the configs' defaults disagree: musicgen's decoder 2048, its encodec
# 1024); the ids past it are the generator's pad and start tokens.
CODEBOOK = 64
# Codebooks a frame of a backbone over codec frames (csm's 32; CsmModelTester's 10).
CODEBOOKS = 4
# The prompt tokens CsmProcessor falls back on where its tokenizer names none.
AUDIO_TOKEN, AUDIO_EOS_TOKEN = "<|AUDIO|>", "<|audio_eos|>"
# A HiFi-GAN vocoder's sizes (vits' upsampler, its duration predictor's filters), as
# transformers' tests keep them (tests/models/vits): narrow, and two upsampling stages of
# 16 samples a frame in all, where checkpoints have four of 256: a random duration
# predictor holds each token for many frames, and 256 samples a frame made a sentence
# last 50 s and its test a minute.
VOCODER_SIZES = {"upsample_initial_channel": 16, "duration_predictor_filter_channels": 16,
                 "flow_size": 16, "spectrogram_bins": 8, "upsample_rates": [8, 2],
                 "upsample_kernel_sizes": [16, 4], "resblock_kernel_sizes": [3, 7],
                 "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]]}
# The rate of a HiFi-GAN vocoder held as a sub-config (fastspeech2_conformer_with_hifigan's
# vocoder_config). Its config class names none; espnet's checkpoints keep it in the
# vocoder's config.json, where the text-to-audio pipeline reads it from a vocoder given
# apart (`vocoder.config.sampling_rate`), and transformers' fastspeech2_conformer docs
# write their waveforms at 22050 Hz.
VOCODER_SAMPLING_RATE = 22050
# bark's stages (semantic, coarse and fine generators over an encodec codec) find their
# tokens at offsets its BarkGenerationConfig keeps for the real vocabularies: 10,000
# semantic tokens, then 48 specials (the text is read from 10,048 on), two codebooks of
# 1,024 for the coarse stage (its specials from 12,048). The tiny ones: SEMANTIC tokens,
# then STAGE_SPECIALS, the codec's CODEBOOK.
SEMANTIC = 32
STAGE_SPECIALS = 16
# bark's stages read a text padded to 256 positions and histories as long: drawn at
# transformers' initializer_range (0.02) the tiny stages gave two texts the same tokens;
# drawn wider (transformers' bark tests leave the stages untrained too) they differ. So
# for a generator of codec codes behind a chat prompt (higgs_audio_v2).
STAGE_INITIALIZER_RANGE = 0.5


def _sub_configs(config):
    return [value for value in vars(config).values() if isinstance(value, transformers.PreTrainedConfig)]


def _tokenizer(model_type, out_dir):
    """The type's own tokenizer class with an offline vocabulary: a character-level
    class (a `vocab_file` of characters, no merges: VitsTokenizer) gets CHARACTERS, with
    phonemizing off (no phonemizer offline); any other, skillkit.tokenizers'."""
    name = tokenizers.TOKENIZER_MAPPING_NAMES.get(model_type)
    tokenizer_class = getattr(transformers, name, None) if isinstance(name, str) else None
    if tokenizer_class is not None and tokenizer_class.vocab_files_names == {"vocab_file": "vocab.json"} \
            and "phonemize" in tokenizer_class.__init__.__code__.co_varnames:
        path = os.path.join(out_dir, "characters.json")
        with open(path, "w", encoding="utf-8") as file:
            json.dump({character: index for index, character in enumerate(CHARACTERS)}, file)
        return tokenizer_class(path, phonemize=False, pad_token=CHARACTERS[0], unk_token="<unk>")
    return tokenizers.for_model_type(model_type, 200, ("pad_token", "eos_token", "unk_token", "bos_token"))


def _stages(config, tokenizer):
    """A model generating in stages through a nested generation config (bark: a
    BarkGenerationConfig of semantic, coarse and fine sub-configs), its vocabularies and
    the generation config's token offsets scaled to the tiny tokenizer and codebook, in
    the layout of the real ones (see SEMANTIC). Returns the generation config, as the
    dict a checkpoint's generation_config.json holds, or None for another model."""
    from transformers.models.bark.generation_configuration_bark import BarkGenerationConfig

    if not isinstance(getattr(config, "semantic_config", None), transformers.PreTrainedConfig):
        return None
    semantic, coarse, fine = config.semantic_config, config.coarse_acoustics_config, config.fine_acoustics_config
    text_start = SEMANTIC + STAGE_SPECIALS
    semantic.output_vocab_size = text_start
    semantic.vocab_size = text_start + len(tokenizer) + 5  # the text, its pad and the infer token
    coarse_start = SEMANTIC + 2 * CODEBOOK
    coarse.vocab_size = coarse.output_vocab_size = coarse_start + STAGE_SPECIALS
    fine.vocab_size, fine.output_vocab_size = CODEBOOK + STAGE_SPECIALS, CODEBOOK
    config.codec_config.codebook_size = CODEBOOK
    for stage in (semantic, coarse, fine):
        stage.initializer_range = STAGE_INITIALIZER_RANGE
    generation = BarkGenerationConfig(
        semantic_config={"eos_token_id": SEMANTIC, "semantic_vocab_size": SEMANTIC, "text_encoding_offset": text_start,
                         "text_pad_token": text_start + len(tokenizer),
                         "semantic_infer_token": text_start + len(tokenizer) + 4},
        coarse_acoustics_config={"coarse_semantic_pad_token": coarse_start, "coarse_infer_token": coarse_start + 2},
        codebook_size=CODEBOOK, sample_rate=config.codec_config.sampling_rate)
    return generation.to_dict()


# Where a processor's codec (its `audio_tokenizer`) is saved, inside the model's directory.
CODEC_DIR = "audio_tokenizer"
# Codebooks of a codec whose frames the model writes one codebook a step later than the
# last (higgs_audio_v2's delay pattern), as HiggsAudioV2ModelTester keeps them: n new
# tokens make n - 1 frames (the first opens the stream) and n - DELAYED_CODEBOOKS frames
# once undelayed, where the tiny codec's bandwidths gave 13 codebooks and 4 new tokens
# nothing to decode (the real checkpoint's 8 need 9 for a frame).
DELAYED_CODEBOOKS = 2
# The chat template of a processor over a codec, in the layout of higgs_audio_v2's real
# checkpoint's (transformers' higgs_audio_v2 conversion script writes it): each message
# under its role's header, and the generation prompt the assistant's header and the
# audio's begin token, after which the model writes the codec's stream (without that
# token higgs_audio_v2 writes no stream to decode; pocket_tts' generate() refuses a
# prompt that does not end with it). pocket_tts' checkpoints' own template is not
# offline: its tiny one gets this layout too.
CODEC_CHAT_TEMPLATE = (
    "{%- for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{%- if message['content'] is string %}{{ message['content'] | trim }}{%- else %}"
    "{%- for item in message['content'] %}{%- if item['type'] == 'text' %}{{ item['text'] | trim }}{%- endif %}"
    "{%- endfor %}{%- endif %}<|eot_id|>{%- endfor %}"
    "{%- if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{{ AUDIO_BOS }}{%- endif %}")


def _processor_class(model_type):
    name = PROCESSOR_MAPPING_NAMES.get(model_type)
    return getattr(transformers, name, None) if name else None


def _codec(model_type, tokenizer, out_dir):
    """The codec a processor decodes the generated codes or latents with (its
    `audio_tokenizer`: higgs_audio_v2's, pocket_tts'), built as audio-encoder builds that
    codec's own type, its codebooks drawn, saved in CODEC_DIR and loaded back from there:
    a saved processor names its codec by that path (`audio_tokenizer_name_or_path`, a Hub
    repository in a real checkpoint). Returns the codec and the tokenizer with the
    prompt's audio tokens (`_audio_tokens`), or (None, tokenizer) for a processor without
    a codec."""
    processor_class = _processor_class(model_type)
    codec_name = getattr(processor_class, "audio_tokenizer_class", None)
    if not codec_name:
        return None, tokenizer
    codec_class = getattr(transformers, codec_name)
    codec_config = audio_encoder._tiny_config(codec_class.config_class.model_type, codec_class)
    if "target_bandwidths" in vars(codec_config):
        # Its codebooks follow from its top bandwidth (bits a second over a code's bits
        # and the frames a second): DELAYED_CODEBOOKS.
        codec_config.target_bandwidths = [DELAYED_CODEBOOKS * codec_config.frame_rate
                                          * codec_config.codebook_nbits / 1000]
    codec = codec_class(codec_config).eval()
    _draw_codebooks(codec)
    path = os.path.join(out_dir, CODEC_DIR)
    codec.save_pretrained(path)
    return codec_class.from_pretrained(path).eval(), _audio_tokens(model_type, processor_class, tokenizer, out_dir)


def _audio_tokens(model_type, processor_class, tokenizer, out_dir):
    """The tokenizer with the prompt's audio tokens as named special tokens: those the
    processor takes, with their defaults (higgs_audio_v2's `audio_token`,
    `audio_bos_token`, ...), and those whose ids the config holds (`audio_..._token_id`:
    pocket_tts', whose processor reads them from the tokenizer's attributes), written
    `<|audio_bos|>` and so on where the processor names none. Named tokens are a
    tokenizer's init arguments: it is saved and loaded back with them."""
    named = {name: parameter.default for name, parameter in inspect.signature(processor_class.__init__).parameters.items()
             if name.endswith("_token") and isinstance(parameter.default, str)}
    for field in vars(CONFIG_MAPPING[model_type]()):
        if field.startswith("audio_") and field.endswith("_token_id"):
            named.setdefault(field[:-len("_id")], f"<|{field[:-len('_token_id')]}|>")
    with tempfile.TemporaryDirectory(dir=out_dir) as path:
        tokenizer.save_pretrained(path)
        return type(tokenizer).from_pretrained(path, extra_special_tokens=named)


def _codec_prompt(config, codec, tokenizer):
    """A generator over a codec's output: its prompt's tokens (`audio_bos_token_id`, ...)
    the tokenizer's named tokens of the same names; drawn at STAGE_INITIALIZER_RANGE (at
    0.02 the tiny higgs_audio_v2 wrote the same codes for every text: its audio path
    barely read the text); and, writing frames of codec codes (higgs_audio_v2:
    `num_codebooks` codes a frame, each of `codebook_size` entries), the codec's codebooks
    with the stream's begin and end codes past them, as in the real config (1,024 codes,
    then 1,024 and 1,025); writing latents (pocket_tts), the codec's latent width, the
    flow head conditioned on the backbone's width."""
    for field in vars(config):
        name = field[:-len("_id")]
        if field.startswith("audio_") and field.endswith("_token_id") and name in tokenizer.special_tokens_map:
            setattr(config, field, tokenizer.convert_tokens_to_ids(tokenizer.special_tokens_map[name]))
    config.initializer_range = STAGE_INITIALIZER_RANGE
    if "num_codebooks" in vars(config):
        size = codec.config.codebook_size
        config.num_codebooks = codec.config.num_quantizers
        config.codebook_size = size + 2
        config.audio_stream_bos_id, config.audio_stream_eos_id = size, size + 1
    flow = getattr(config, "flow_head_config", None)
    if "latent_dim" in vars(config):
        config.latent_dim = codec.config.latent_dim
    if flow is not None:
        flow.latent_dim, flow.condition_dim = codec.config.latent_dim, config.hidden_size


def _processor(model_type, tokenizer, codec=None, config=None):
    """The type's processor class over its feature extractor and the tokenizer, where
    transformers maps it one (musicgen's); else the tokenizer alone (vits'). A processor
    that decodes the generated codes or latents with its codec model gets it
    (`audio_tokenizer`: higgs_audio_v2's, pocket_tts'), the settings it shares with the
    model's config (higgs_audio_v2's stream begin and end codes) and the chat template;
    its feature extractor is the type's, else the codec type's, at the codec's rate."""
    processor_class = _processor_class(model_type)
    name = processor_class.__name__ if processor_class is not None else None
    extractor_name = FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type)
    if codec is not None:
        extractor_class = getattr(transformers, extractor_name or FEATURE_EXTRACTOR_MAPPING_NAMES[
            codec.config.model_type])
        rate = next(getattr(codec.config, field) for field in audio_encoder.RATE_FIELDS if hasattr(codec.config, field))
        extractor = extractor_class(sampling_rate=rate)
        shared = {key: getattr(config, key) for key in inspect.signature(processor_class.__init__).parameters
                  if key in vars(config)}
        bos = tokenizer.special_tokens_map["audio_bos_token"]
        return processor_class(feature_extractor=extractor, tokenizer=tokenizer, audio_tokenizer=codec,
                               chat_template=CODEC_CHAT_TEMPLATE.replace("{{ AUDIO_BOS }}", bos), **shared)
    if name and extractor_name:
        others = [part for part in processor_class.get_attributes() if part not in ("feature_extractor", "tokenizer")]
        if others:
            # qwen2_5_omni's and qwen3_omni_moe's: an image and a video processor too.
            raise NotImplementedError(f"no tiny-model recipe for {model_type!r}: its processor {name} also takes "
                                      f"{', '.join(others)}, which the recipe does not build")
        return processor_class(feature_extractor=getattr(transformers, extractor_name)(), tokenizer=tokenizer)
    if processor_class is not None and _required(processor_class) == ["tokenizer"]:
        # A processor over the tokenizer alone (bark's pads every text to the 256
        # positions its semantic stage reads).
        return processor_class(tokenizer)
    return tokenizer


def _grouped_upsampling(config):
    """A mimi codec's grouped upsampling spanning its tiny width (csm's codec, pocket_tts'
    codec model), as audio-encoder keeps its own mimi."""
    if "upsample_groups" in vars(config):
        config.upsample_groups = config.hidden_size
    return config


def _required(processor_class):
    """The parameters a processor class cannot be made without."""
    return [name for name, parameter in list(inspect.signature(processor_class.__init__).parameters.items())[1:]
            if parameter.default is inspect.Parameter.empty
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)]


def _shrunk(model_type, tokenizer):
    """The type's config, shrunk, its vocabularies the tiny ones: the text encoder's
    (or the model's own) the tokenizer's, a generator's over a codec its codebook's."""
    config = CONFIG_MAPPING[model_type]()
    # The config that reads the tokens: a text encoder's (musicgen), the model's own
    # (vits), or the one sub-config that has a vocabulary (fastspeech2's model_config).
    text = getattr(config, "text_encoder", None) or (config if "vocab_size" in vars(config) else next(
        (sub for sub in _sub_configs(config) if "vocab_size" in vars(sub)), config))
    codec = getattr(config, "audio_encoder", None)
    decoder = getattr(config, "decoder", None)
    for sub in _sub_configs(config):
        _grouped_upsampling(tiny.shrink(sub))
    if codec is not None and decoder is not None and "codebook_size" in vars(codec):
        codec.codebook_size = CODEBOOK
        decoder.vocab_size = CODEBOOK
        for name in ("pad_token_id", "bos_token_id", "decoder_start_token_id"):
            for holder in (decoder, config):
                if getattr(holder, name, None) is not None:
                    setattr(holder, name, CODEBOOK)
    if "text_vocab_size" in vars(config):
        # csm reads its text through `text_vocab_size`; its `vocab_size` is a codebook's.
        config = tiny.shrink(config, text_vocab_size=len(tokenizer))
        _codebook_frames(config, tokenizer)
        return config
    text.vocab_size = len(tokenizer)
    if getattr(text, "pad_token_id", None) is not None and tokenizer.pad_token_id is not None:
        text.pad_token_id = tokenizer.pad_token_id
    overrides = {name: value for name, value in VOCODER_SIZES.items() if name in vars(config)}
    vocoder = getattr(config, "vocoder_config", None)
    if vocoder is not None and getattr(vocoder, "sampling_rate", None) is None:
        vocoder.sampling_rate = VOCODER_SAMPLING_RATE
    if text is config:
        overrides["vocab_size"] = len(tokenizer)
    return tiny.shrink(config, **overrides)


def _codebook_frames(config, tokenizer):
    """A backbone that reads and writes frames of codec codes (csm: `num_codebooks`
    codes a frame, each from a codebook of `vocab_size` entries; its text read through
    `text_vocab_size`), and a depth decoder that writes a frame's later codes from the
    backbone's output, sized as CsmModelTester keeps them: CODEBOOK codes, the last the
    pad, CODEBOOKS codebooks, the depth decoder reading the backbone's width. The
    prompt's tokens (the text's begin, the audio token and the audio's end, which the
    processor names `<|AUDIO|>` and `<|audio_eos|>` where the tokenizer names none) are
    the tiny tokenizer's; the real config's pad is its audio token, and stays so."""
    specials = [token for token in (AUDIO_TOKEN, AUDIO_EOS_TOKEN) if token not in tokenizer.get_vocab()]
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    ids = {"audio_token_id": tokenizer.convert_tokens_to_ids(AUDIO_TOKEN),
           "audio_eos_token_id": tokenizer.convert_tokens_to_ids(AUDIO_EOS_TOKEN),
           "bos_token_id": tokenizer.bos_token_id}
    if config.pad_token_id == config.audio_token_id:
        ids["pad_token_id"] = ids["audio_token_id"]
    for name, value in ids.items():
        setattr(config, name, value)
    # Every code the backbone may write is one the codec decodes: a random backbone
    # writes the specials past a real codebook (csm's 2048 codes of 2051) too, which the
    # codec cannot look up; CsmModelTester's vocabulary (6) is within its codebook (64).
    config.codebook_pad_token_id = CODEBOOK - 1
    config.vocab_size = config.depth_decoder_config.vocab_size = CODEBOOK
    config.num_codebooks = config.depth_decoder_config.num_codebooks = CODEBOOKS
    config.depth_decoder_config.max_position_embeddings = CODEBOOKS + 1
    config.depth_decoder_config.backbone_hidden_size = config.hidden_size
    codec = config.codec_config
    codec.codebook_size = CODEBOOK
    codec.num_quantizers = CODEBOOKS


def _draw_codebooks(model):
    """A codec's codebooks drawn (normal), where they start as zeros until trained
    (encodec's `embed`): with every code decoded to the same vector, the waveform of a
    generator over the codec (musicgen) did not depend on its codes, and a handler that
    generated other tokens would still have matched."""
    with torch.no_grad():
        for name, module in model.named_modules():
            embed_sum = getattr(module, "embed_sum", None)
            if isinstance(embed_sum, torch.Tensor) and not embed_sum.any():
                # mimi's (csm's codec): its `embed` is derived from `embed_sum`, the
                # buffer a checkpoint holds.
                embed_sum.normal_()
                module._embed = None
                continue
            embed = getattr(module, "embed", None)
            if "codebook" in name and isinstance(embed, torch.Tensor) and not embed.any():
                embed.normal_()
                if isinstance(getattr(module, "embed_avg", None), torch.Tensor):
                    module.embed_avg.copy_(embed)


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    tokenizer = _tokenizer(model_type, out_dir)
    # The codec before the config: the model writes its codes, and reads the audio
    # tokens it adds to the tokenizer.
    codec, tokenizer = _codec(model_type, tokenizer, out_dir)
    config = _shrunk(model_type, tokenizer)
    if codec is not None:
        _codec_prompt(config, codec, tokenizer)
    staged = _stages(config, tokenizer)
    # The processor first: a type whose processor the recipe cannot make is refused for
    # that, before its model is built.
    processor = _processor(model_type, tokenizer, codec, config)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    if staged is not None:
        # A plain GenerationConfig holding the stages' dicts, as loading bark's
        # generation_config.json gives: BarkGenerationConfig itself cannot be saved
        # (transformers 5.23: its validate reads attributes it never sets).
        model.generation_config = transformers.GenerationConfig.from_dict(staged)
    _draw_codebooks(model)
    tiny.save_and_verify(model, processor, out_dir)


def cases(plan):
    one, longer, short_one = TEXTS
    if plan["task"] == "text-to-spectrogram":
        # A model without a vocoder and without noise (fastspeech2_conformer): no seed.
        return [Case("one text", one), Case("two texts of different lengths", [longer, short_one])]
    result = [
        Case("one text", one),
        # Of different lengths: a skillset that pads them together changes the shorter
        # one's waveform (vits' durations read the padding) or its length.
        Case("two texts of different lengths", [longer, short_one]),
        Case("one text, seed 7", one, {"seed": 7}),
    ]
    if (plan.get("generation") or {}).get("max_new_tokens") and _generates(plan["model_type"]):
        result.append(Case("one text, 4 new tokens", short_one, {"max_new_tokens": 4}))
    return result


def _generates(model_type):
    """Whether the type's model generates (the pipeline's own test, can_generate())."""
    try:
        model_class = getattr(transformers, MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING_NAMES.get(model_type)
                              or MODEL_FOR_TEXT_TO_SPECTROGRAM_MAPPING_NAMES[model_type])
    except (KeyError, TypeError, AttributeError):
        return False
    return bool(model_class.can_generate())


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _pipeline(model_dir):
    """The text-to-audio pipeline on the tiny model. A model that holds its vocoder
    (fastspeech2_conformer_with_hifigan) keeps the rate in the vocoder's config, which
    the pipeline reads only from a vocoder given apart: it is passed as the pipeline's
    own `sampling_rate`."""
    config = transformers.AutoConfig.from_pretrained(model_dir)
    rate = getattr(getattr(config, "vocoder_config", None), "sampling_rate", None)
    return pipeline("text-to-audio", model=model_dir, device="cpu", sampling_rate=rate)


def _spectrograms(model_dir, candidate, case):
    """Each text's mel spectrogram, the text alone, as transformers' fastspeech2_conformer
    docs make it before their vocoder: the tokenizer's ids, the model's `spectrogram`.
    (The text-to-audio pipeline would load a vocoder from the Hub for such a model.)"""
    model = getattr(transformers, candidate["model_class"]).from_pretrained(model_dir).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    expected = Expected({"spectrogram": []})
    with torch.inference_mode():
        for text in [case.input] if isinstance(case.input, str) else case.input:
            spectrogram = model(**tokenizer(text, return_tensors="pt")).spectrogram[0]
            expected["spectrogram"].append(spectrogram.tolist())
    return expected


def reference(model_dir, candidate, case, plan):
    if plan["task"] == "text-to-spectrogram":
        return _spectrograms(model_dir, candidate, case)
    speaker = _pipeline(model_dir)
    texts = [case.input] if isinstance(case.input, str) else list(case.input)
    options = dict(case.options)
    seed = options.pop("seed", 0)
    generate = {}
    if speaker.model.can_generate():
        generate = {"max_new_tokens": plan["generation"]["max_new_tokens"], **options}
        if getattr(speaker.model.generation_config, "semantic_config", None) is not None:
            # bark hands its settings to its three stages; how long it speaks is its
            # semantic stage's (its coarse stage sets its own max_new_tokens).
            generate = {f"semantic_{name}": value for name, value in generate.items()}
        generate["do_sample"] = False
    expected = Expected({"audio": [], "sampling_rate": []})
    with torch.random.fork_rng(devices=[]):  # leave the worker's own random state alone
        for text in texts:  # each alone, under the seed
            torch.manual_seed(seed)
            if generate and _audio_first(speaker.processor):
                spoken = _generated_by_hand(speaker, text, generate)
            elif generate and getattr(speaker.processor, "audio_tokenizer", None) is not None:
                spoken = _decoded_by_codec(speaker, text, generate)
            else:
                spoken = speaker(text, generate_kwargs=generate) if generate else speaker(text)
            audio = spoken["audio"]
            if not generate:
                audio = _waveform(speaker, text, seed, audio)
            expected["audio"].append(np.asarray(audio, dtype=np.float32).tolist())
            if spoken["sampling_rate"] is None:  # a config that names none, and no vocoder's
                raise ValueError("the text-to-audio pipeline finds no sampling rate in the model's config "
                                 "or processor: a waveform without its rate cannot be served")
            expected["sampling_rate"].append(int(spoken["sampling_rate"]))
    return expected


def _audio_first(processor):
    """Whether the pipeline's processor takes audio in the place the pipeline hands it
    the text (MusicgenMelodyProcessor, whose first argument is its melody: the pipeline
    gives musicgen's the tokenizer instead, but not musicgen_melody's)."""
    if processor is None or getattr(processor, "feature_extractor", None) is None:
        return False
    return next(iter(inspect.signature(processor.__call__).parameters), None) != "text"


def _generated_by_hand(speaker, text, generate):
    """What the pipeline would say of `text` had it passed the text as text: the
    model card's way (musicgen_melody's), the processor called with `text=`, generate()'s
    audio values (batch x channels x samples) for the one text, squeezed as the
    pipeline's postprocessing squeezes them, at the rate the pipeline finds."""
    inputs = speaker.processor(text=[text], padding=True, return_tensors="pt")
    with torch.inference_mode():
        values = speaker.model.generate(**inputs, **generate)
    return {"audio": values[0].float().numpy().squeeze(), "sampling_rate": speaker.sampling_rate}


def _decoded_by_codec(speaker, text, generate):
    """The model card's way for a model whose processor decodes the generated codes
    with its codec (higgs_audio_v2's): the text as the user's message of a conversation
    through the processor's chat template, whose generation prompt opens the audio
    stream; generate(); the processor's batch_decode() of the codes, for the one text,
    at the rate the pipeline finds. (The pipeline itself asks generate() for a dict and
    decodes its `sequences`, which for higgs_audio_v2 are the text's ids: its codes are
    `audio_sequences`, and the decode fails.)"""
    conversation = [{"role": "user", "content": [{"type": "text", "text": text}]}]
    inputs = speaker.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True,
                                                   return_dict=True, return_tensors="pt")
    with torch.inference_mode():
        # Not the dict pocket_tts' checkpoints' generation config asks for (the tiny
        # one's does not): the codes themselves.
        codes = speaker.model.generate(**inputs, **generate, return_dict_in_generate=False)
    # higgs_audio_v2's: a batch of frames of codes; pocket_tts': a list of latents a text.
    audio = speaker.processor.decode(codes[0] if isinstance(codes, list) else codes)
    return {"audio": audio.float().numpy().squeeze(), "sampling_rate": speaker.sampling_rate}


def _waveform(speaker, text, seed, audio):
    """The waveform of a forward model whose output names one. The pipeline takes the
    output's first field, which is the waveform for vits but the spectrogram, before
    its vocoder, for fastspeech2_conformer_with_hifigan (its `waveform` comes last):
    the model's own output field is read there, from the pipeline's own
    preprocessing, under the same seed; else the pipeline's audio."""
    torch.manual_seed(seed)
    with torch.inference_mode():
        output = speaker.model(**speaker.preprocess(text))
    waveform = getattr(output, "waveform", None)
    return audio if waveform is None else waveform.float().squeeze().numpy()


def compare(expected, actual, plan):
    """Sampling rates equal; waveforms of the same length, allclose within the plan's
    tolerance, text by text."""
    if (missing := missing_outputs(expected, actual)) is not None:
        return missing
    if "spectrogram" in expected:
        return outputs_allclose(expected, actual, plan, per_entry=["spectrogram"])
    if actual["sampling_rate"] != expected["sampling_rate"]:
        return Comparison(False, None, f"sampling_rate {short(actual['sampling_rate'])}, "
                                       f"expected {expected['sampling_rate']}")
    # Each text's waveform by itself: their lengths differ.
    return outputs_allclose({"audio": expected["audio"]}, actual, plan, per_entry=["audio"])
