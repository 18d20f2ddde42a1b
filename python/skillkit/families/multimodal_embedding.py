"""Text and audio towers in one embedding space (clap, clvp): feature-extraction.

The handler's contract (data/families.json's "multimodal-embedding" entry): a dict of
"texts" (a string or a list) and "audios" (a clip or a list of float32 mono clips at the
feature extractor's sampling rate, paths or bytes), either or both, in; per text and per
clip its projected embedding out, `text_embeddings` (get_text_features) and
`audio_embeddings` (get_audio_features). The reference runs the model on each text and
each clip alone, through the type's own processor, so a skillset that batches must show
that padding texts together and bringing clips to one length change nothing.

The tiny model is clap's: its audio tower (HTSAT, a swin over the mel spectrogram) at
the sizes of transformers' ClapAudioModelTester (a 64-wide spectrogram image of 16 mel
bins, windows of 4, patches of 2, four one-block stages from 32 channels to 256); the
feature extractor hears media's 16 kHz clips through 16 mel bins, every clip repeated up
to 2 s (201 frames: at most the 256 the tower's image takes).

clvp's is its text encoder's: its speech tower embeds the speech tokens its decoder
generates from a text and a voice clip, not a clip, so its cases (and skillset) have
texts only; its text encoder averages over padding too, so the skillset embeds one text
at a time. pe_audio_video (its get_text_audio_embeds calls a method PeAudioModel lacks;
its text-audio-video pair wants videos) and embedding_gemma2 (one language model over
soft tokens, no per-modality embedding) have no recipe and fail as a tiny model that
could not be built.
"""
import torch
import transformers
from transformers import AutoProcessor
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.feature_extraction_auto import (
    FEATURE_EXTRACTOR_MAPPING_NAMES,
)
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

from .. import media, tiny, tokenizers
from ..compare import outputs_allclose
from ..expected import Expected
from . import Case

VOCAB_SIZE = 600
TEXTS = ("a dog barking", "Rain on a tin roof, with thunder far away and a car passing by.")
# clap's audio tower at ClapAudioModelTester's sizes.
AUDIO_TOWER = {"spec_size": 64, "num_mel_bins": 16, "window_size": 4, "patch_size": 2, "patch_stride": 2,
               "patch_embeds_hidden_size": 32, "hidden_size": 256, "depths": [1, 1, 1, 1],
               "num_attention_heads": [2, 2, 2, 2], "intermediate_size": 37}
PROJECTION = 32
# clvp's encoders: heads of 32, the least its rotary embedding spans.
CLVP_HEAD = 32
# Its feature extractor on media's clips (at most 1.4 s): 16 mel bins, 100 frames a
# second, every clip repeated to 2 s (the unfused checkpoints' truncation, which cuts
# only a longer clip at random).
FEATURES = {"feature_size": 16, "sampling_rate": media.SAMPLE_RATE, "hop_length": 160, "fft_window_size": 400,
            "max_length_s": 2, "frequency_max": media.SAMPLE_RATE // 2, "truncation": "rand_trunc",
            "padding": "repeatpad"}


def serves_clips(model_class_name):
    """Whether the model embeds clips (get_audio_features): clap's does; clvp's speech
    tower embeds speech tokens its decoder generates from a text and a voice clip, so a
    clip alone has no embedding and its skillset serves texts only."""
    return hasattr(getattr(transformers, model_class_name), "get_audio_features")


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    model_class = getattr(transformers, candidate["model_class"])
    audio_config = getattr(config, "audio_config", None)
    if hasattr(model_class, "get_speech_features"):
        _build_speech_text(model_type, config, model_class, out_dir)
        return
    if audio_config is None or not hasattr(audio_config, "spec_size"):
        # pe_audio_video: its get_text_audio_embeds calls the audio model's
        # get_text_embeds, which PeAudioModel does not define, and its text-audio-video
        # pair takes videos with the clips. embedding_gemma2: one language model over a
        # prompt with image and audio soft tokens, no per-modality embedding.
        raise NotImplementedError(f"no tiny-model recipe for {model_type!r}: only clap's text and HTSAT audio towers "
                                  "and clvp's text tower")
    tiny.shrink(config)  # and its text_config and audio_config
    for name, value in AUDIO_TOWER.items():
        setattr(audio_config, name, value)
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, ("bos_token", "eos_token", "unk_token", "pad_token"))
    text_config = config.text_config
    text_config.vocab_size = len(tokenizer)
    text_config.pad_token_id = tokenizer.pad_token_id
    tokenizer.model_max_length = text_config.max_position_embeddings - 2  # roberta's offset
    for each in (config, text_config, audio_config):
        each.projection_dim = PROJECTION
    model = getattr(transformers, candidate["model_class"])(config).eval()
    feature_extractor = transformers.ClapFeatureExtractor(**FEATURES)
    processor = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])(
        feature_extractor=feature_extractor, tokenizer=tokenizer)
    tiny.save_and_verify(model, processor, out_dir)


def _build_speech_text(model_type, config, model_class, out_dir):
    """clvp: its text and speech encoders shrunk, their heads CLVP_HEAD wide (its rotary
    embedding spans at least 32 dimensions of a head, ClvpRotaryPositionalEmbedding), a
    tokenizer of VOCAB_SIZE, its own feature extractor at its defaults."""
    tiny.shrink(config)
    for encoder in (config.text_config, config.speech_config):
        encoder.num_attention_heads = 2
        encoder.hidden_size = 2 * CLVP_HEAD
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, ("bos_token", "eos_token", "unk_token", "pad_token"))
    config.text_config.vocab_size = len(tokenizer)
    model = model_class(config).eval()
    feature_extractor = getattr(transformers, FEATURE_EXTRACTOR_MAPPING_NAMES[model_type])()
    processor = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])(
        feature_extractor=feature_extractor, tokenizer=tokenizer)
    tiny.save_and_verify(model, processor, out_dir)


def cases(plan):
    if plan.get("candidates") and not serves_clips(plan["candidates"][0]["model_class"]):
        return [Case("two texts of different lengths", {"texts": list(TEXTS)}),
                Case("one text", {"texts": TEXTS[0]})]
    clips = media.audio(3, plan.get("seed", 0))
    return [
        Case("two texts of different lengths and two clips of different lengths",
             {"texts": list(TEXTS), "audios": clips[1:]}),
        Case("one text", {"texts": TEXTS[0]}),
        Case("one clip as a WAV file", {"audios": media.wav_file(clips[0], "clip.wav")}),
    ]


def reference(model_dir, candidate, case, plan):
    model = getattr(transformers, candidate["model_class"]).from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    rate = processor.feature_extractor.sampling_rate
    expected = Expected()
    with torch.inference_mode():
        if "texts" in case.input:
            texts = case.input["texts"]
            expected["text_embeddings"] = [
                _projected(model.get_text_features(**processor(text=text, return_tensors="pt")))[0].tolist()
                for text in ([texts] if isinstance(texts, str) else texts)]
        if "audios" in case.input:
            clips = case.input["audios"]
            clips = [media.load_clip(clip) for clip in (clips if isinstance(clips, list) else [clips])]
            expected["audio_embeddings"] = [
                model.get_audio_features(**processor(audio=clip, sampling_rate=rate, return_tensors="pt"))
                .pooler_output[0].tolist() for clip in clips]
    return expected


def _projected(features):
    """The projected embeddings get_*_features gives: clvp's `embeds` (its pooler_output
    is the mean before the projection), else the pooler_output (clap's)."""
    embeds = getattr(features, "embeds", None)
    return features.pooler_output if embeds is None else embeds


def compare(expected, actual, plan):
    """Each modality's embeddings allclose within the plan's tolerance."""
    return outputs_allclose(expected, actual, plan)
