"""Text and audio towers in one embedding space (clap, clvp, pe_audio_video, embedding_gemma2): feature-extraction.

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
at a time.

pe_audio_video's is its audio side: get_audio_embeds, the clip in the text-audio space
(PeAudioModel's audio head over its DAC-fronted encoder). Its text side is broken in
transformers 5.23 (get_text_audio_embeds calls `audio_model.get_text_embeds`, which
PeAudioModel does not define) and its text-audio-video pair wants videos with the clips,
so its cases (and skillset) have clips only. Its tiny model is tiny.shrink's with
PeAudioVideoEncoderTester's codec and vision sizes; its waveform extractor hears the
cases' 16 kHz (the codec's strides count samples).

embedding_gemma2 is one language model over a prompt (its image, audio and video towers
put soft tokens into it, and its default config has none of them); transformers gives
its last hidden state, already projected to its embedding width, and leaves the pooling
to SentenceTransformers' mean. Its text embedding is that mean over the text's tokens;
its cases (and skillset) have texts only. Its tiny model is tiny.shrink's text-only
default config, its processor its own over the type's extractor and image and video
processors at their defaults and an offline tokenizer holding the processor's tokens.
"""
import torch
import transformers
from transformers import AutoProcessor
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.feature_extraction_auto import (
    FEATURE_EXTRACTOR_MAPPING_NAMES,
)
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES
from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING_NAMES

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
# pe_audio_video's DAC front end and timm PE vision tower at PeAudioVideoEncoderTester's
# sizes (its hop, the product of the downsampling ratios, is derived once, at the
# config's construction: set with them).
DAC = {"encoder_hidden_size": 16, "downsampling_ratios": [2, 4, 4], "hop_length": 32, "decoder_hidden_size": 16,
       "n_codebooks": 6, "codebook_size": 512, "codebook_dim": 32}
# Without the rotary embedding of the real PE vision tower: transformers' tied-weight keys
# of PeAudioVideoModel take timm's rope buffer (`bands`) for a parameter, and the saved
# model does not load back (transformers' own PeAudioVideoEncoder test skips save/load).
# The served clip embedding never runs the video tower.
PE_VISION_ARGS = {"embed_dim": 64, "img_size": (14, 14), "depth": 2, "use_rot_pos_emb": False}
# Random weights at 0.02 embed media's three clips within 1e-4 of each other; wider ones
# tell them apart.
INITIALIZER_RANGE = 0.2
# clvp's encoders: heads of 32, the least its rotary embedding spans.
CLVP_HEAD = 32
# Its feature extractor on media's clips (at most 1.4 s): 16 mel bins, 100 frames a
# second, every clip repeated to 2 s (the unfused checkpoints' truncation, which cuts
# only a longer clip at random).
FEATURES = {"feature_size": 16, "sampling_rate": media.SAMPLE_RATE, "hop_length": 160, "fft_window_size": 400,
            "max_length_s": 2, "frequency_max": media.SAMPLE_RATE // 2, "truncation": "rand_trunc",
            "padding": "repeatpad"}


def pools_tokens(model_class_name):
    """Whether the model's text embedding is the mean of its last hidden state over the
    text's tokens (embedding_gemma2): it has neither get_text_features nor a clip
    embedder of its own space (get_audio_embeds)."""
    model_class = getattr(transformers, model_class_name)
    return not hasattr(model_class, "get_text_features") and not hasattr(model_class, "get_audio_embeds")


def serves_clips(model_class_name):
    """Whether the model embeds clips (get_audio_features, or pe_audio_video's
    get_audio_embeds): clap's does; clvp's speech tower embeds speech tokens its decoder
    generates from a text and a voice clip, so a clip alone has no embedding and its
    skillset serves texts only; embedding_gemma2's audio tower puts soft tokens into its
    language model's prompt, no embedding of their own."""
    model_class = getattr(transformers, model_class_name)
    return not pools_tokens(model_class_name) and (
        hasattr(model_class, "get_audio_features") or hasattr(model_class, "get_audio_embeds"))


def serves_texts(model_class_name):
    """Whether the model embeds texts (get_text_features, or embedding_gemma2's pooled
    tokens): pe_audio_video's text-audio embedding fails in transformers itself (see the
    module's doc), so it serves clips only."""
    return hasattr(getattr(transformers, model_class_name), "get_text_features") or pools_tokens(model_class_name)


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    model_class = getattr(transformers, candidate["model_class"])
    audio_config = getattr(config, "audio_config", None)
    if hasattr(model_class, "get_speech_features"):
        _build_speech_text(model_type, config, model_class, out_dir)
        return
    if hasattr(model_class, "get_audio_embeds"):
        _build_audio_side(model_type, config, model_class, out_dir)
        return
    if pools_tokens(candidate["model_class"]) and audio_config is None:
        _build_token_pooler(model_type, config, model_class, out_dir)
        return
    if audio_config is None or not hasattr(audio_config, "spec_size"):
        raise NotImplementedError(f"no tiny-model recipe for {model_type!r}: only clap's text and HTSAT audio towers, "
                                  "clvp's text tower, pe_audio_video's audio side and a text-only token pooler")
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


def _build_audio_side(model_type, config, model_class, out_dir):
    """pe_audio_video: shrunk by tiny.shrink, its DAC codec and timm vision tower at
    PeAudioVideoEncoderTester's sizes, weights drawn wider (INITIALIZER_RANGE), its own
    feature extractor at 16 kHz with the codec's hop, its processor over that and an
    offline tokenizer (its text tower is built, though it cannot embed a text yet)."""
    tiny.shrink(config)
    encoder = config.audio_video_config
    for name, value in DAC.items():
        setattr(encoder.audio_config.dac_config, name, value)
    encoder.video_config.vision_config.model_args = dict(PE_VISION_ARGS)
    for sub in tiny.configs(config):
        if getattr(sub, "initializer_range", None) is not None:
            sub.initializer_range = INITIALIZER_RANGE
    roles = ("bos_token", "eos_token", "unk_token", "pad_token")
    tokenizer = tokenizers.for_model_type(model_type, VOCAB_SIZE, roles)
    tokenizers.repoint_token_ids(config.text_config, tokenizer, {})
    config.text_config.vocab_size = len(tokenizer)
    model = model_class(config).eval()
    feature_extractor = getattr(transformers, FEATURE_EXTRACTOR_MAPPING_NAMES[model_type])(
        sampling_rate=media.SAMPLE_RATE, hop_length=DAC["hop_length"])
    # Its processor wants a video processor too: the type's own, at its defaults (no
    # case gives it a video).
    video_processor = getattr(transformers, VIDEO_PROCESSOR_MAPPING_NAMES[model_type]["torchvision"])()
    processor = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])(
        feature_extractor=feature_extractor, video_processor=video_processor, tokenizer=tokenizer)
    tiny.save_and_verify(model, processor, out_dir)


def _build_token_pooler(model_type, config, model_class, out_dir):
    """embedding_gemma2: its text-only default config shrunk, its token ids pointing at an
    offline tokenizer that holds its processor's tokens (tokenizers.for_processor), its
    processor over the type's own feature extractor, image and video processors at their
    defaults (the processor takes all four; no case gives an image, clip or video)."""
    roles = ("bos_token", "eos_token", "unk_token", "pad_token")
    processor_class = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])
    tokenizer, named = tokenizers.for_processor(model_type, processor_class, VOCAB_SIZE, roles)
    tokenizers.repoint_token_ids(config, tokenizer, named)
    tiny.shrink(config)
    model = model_class(config).eval()
    parts = {"tokenizer": tokenizer,
             "feature_extractor": getattr(transformers, FEATURE_EXTRACTOR_MAPPING_NAMES[model_type])(),
             "image_processor": getattr(transformers, tiny.image_processor_name(model_type))(),
             "video_processor": getattr(transformers, VIDEO_PROCESSOR_MAPPING_NAMES[model_type]["torchvision"])()}
    processor = processor_class(**{name: part for name, part in parts.items()
                                   if name in processor_class.get_attributes()})
    tiny.save_and_verify(model, processor, out_dir)


def cases(plan):
    model_class = plan["candidates"][0]["model_class"] if plan.get("candidates") else None
    if model_class and not serves_clips(model_class):
        return [Case("two texts of different lengths", {"texts": list(TEXTS)}),
                Case("one text", {"texts": TEXTS[0]})]
    clips = media.audio(3, plan.get("seed", 0))
    if model_class and not serves_texts(model_class):
        return [Case("two clips of different lengths", {"audios": clips[1:]}),
                Case("one clip as a WAV file", {"audios": media.wav_file(clips[0], "clip.wav")})]
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
            texts = [texts] if isinstance(texts, str) else texts
            if pools_tokens(candidate["model_class"]):
                # SentenceTransformers' mean over the text's tokens, each text alone.
                expected["text_embeddings"] = [
                    model(**processor(text=text, return_tensors="pt")).last_hidden_state[0].mean(dim=0).tolist()
                    for text in texts]
            else:
                expected["text_embeddings"] = [
                    _projected(model.get_text_features(**processor(text=text, return_tensors="pt")))[0].tolist()
                    for text in texts]
        if "audios" in case.input:
            clips = case.input["audios"]
            clips = [media.load_clip(clip) for clip in (clips if isinstance(clips, list) else [clips])]
            embed = getattr(model, "get_audio_features", None) or model.get_audio_embeds
            expected["audio_embeddings"] = [
                _projected(embed(**processor(audio=clip, sampling_rate=rate, return_tensors="pt")))[0].tolist()
                for clip in clips]
    return expected


def _projected(features):
    """The projected embeddings get_*_features gives: clvp's `embeds` (its pooler_output
    is the mean before the projection), else the pooler_output (clap's); pe_audio_video's
    get_audio_embeds gives them as a tensor."""
    if isinstance(features, torch.Tensor):
        return features
    embeds = getattr(features, "embeds", None)
    return features.pooler_output if embeds is None else embeds


def compare(expected, actual, plan):
    """Each modality's embeddings allclose within the plan's tolerance."""
    return outputs_allclose(expected, actual, plan)
