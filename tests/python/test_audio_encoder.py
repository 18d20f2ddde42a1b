"""The audio-encoder family: tiny audio classifiers and codecs, their references, and the
skillsets gen-skillset writes for them, on real tiny models."""
import subprocess
from pathlib import Path

import numpy as np
import pytest
import transformers

from skillkit import failures, media, skillset
from skillkit.families import Case, audio_encoder
from skillkit.output_check import schema_violation

ROOT = Path(__file__).resolve().parents[2]
GEN_SKILLSET = ROOT / "bin" / "gen-skillset"
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
# (model type, its default task, model class): a classifier, a quantizing codec served
# as audio-tokenization, one served as feature-extraction, a continuous codec, and a
# frame classifier (speaker diarization).
TYPES = {
    "audio-spectrogram-transformer": ("audio-classification", "ASTForAudioClassification"),
    "dac": ("audio-tokenization", "DacModel"),
    "encodec": ("feature-extraction", "EncodecModel"),
    "pocket_tts_audio_tokenizer": ("audio-tokenization", "PocketTTSAudioTokenizerModel"),
    "nemotron3_diarization": ("audio-frame-classification", "Nemotron3DiarizationForAudioFrameClassification"),
    # A codec's encoder half and an audio tower, neither with a feature extractor of its own.
    "mimi_encoder": ("feature-extraction", "MimiEncoderModel"),
    "audioflamingo3_encoder": ("feature-extraction", "AudioFlamingo3Encoder"),
    # A codec's decoder half (latents in) and a vocoder (a spectrogram in): waveforms out.
    "mimi_decoder": ("feature-extraction", "MimiDecoderModel"),
    "univnet": ("feature-extraction", "UnivNetModel"),
}


def _plan(model_type):
    return {"seed": 0, "model_type": model_type, "task": TYPES[model_type][0], "tolerance": TOLERANCE,
            "candidates": [_candidate(model_type)]}


def _candidate(model_type):
    return {"model_class": TYPES[model_type][1], "processor_class": "AutoFeatureExtractor"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny model of a type, built once for the module."""
    dirs = {}

    def build(model_type):
        if model_type not in dirs:
            out = tmp_path_factory.mktemp(model_type)
            audio_encoder.build_tiny(model_type, _candidate(model_type), str(out), 0)
            dirs[model_type] = str(out)
        return dirs[model_type]

    return build


def test_an_audio_classifier_has_seven_labels_and_two_clips_differ_in_logits(built):
    model_dir = built("audio-spectrogram-transformer")
    plan, candidate = _plan("audio-spectrogram-transformer"), _candidate("audio-spectrogram-transformer")
    assert len(transformers.AutoConfig.from_pretrained(model_dir).id2label) == len(audio_encoder.LABELS)
    cases = {case.name: case for case in audio_encoder.cases(plan)}
    expected = audio_encoder.reference(model_dir, candidate, cases["two clips of different lengths"], plan)
    first, second = np.asarray(expected["logits"])
    assert np.abs(first - second).max() > 0.01  # far beyond the tolerance
    assert [len(ranked) for ranked in expected["predictions"]] == [5, 5]
    top_two = audio_encoder.reference(model_dir, candidate, cases["one clip, top_k 2"], plan)
    assert [len(ranked) for ranked in top_two["predictions"]] == [2]
    swapped = [list(reversed(ranked)) for ranked in expected["predictions"]]
    assert not audio_encoder.compare(expected, dict(expected, predictions=swapped), plan).ok


def test_a_codec_hears_16_khz_and_gives_each_clip_integer_codes_of_its_own_length(built):
    model_dir = built("dac")
    plan = _plan("dac")
    assert transformers.AutoFeatureExtractor.from_pretrained(model_dir).sampling_rate == media.SAMPLE_RATE
    case = Case("two", media.audio(2, 0))  # 1.0 s and 0.6 s
    expected = audio_encoder.reference(model_dir, _candidate("dac"), case, plan)
    long, short = (np.asarray(codes) for codes in expected["audio_codes"])
    assert long.dtype.kind == "i" and long.shape[:2] == short.shape[:2] and long.shape[-1] > short.shape[-1]
    assert len(np.unique(long)) > 1  # the codes vary along the clip
    assert audio_encoder.compare(expected, dict(expected), plan).ok
    changed = long.copy()
    changed[0, 0, -1] = (changed[0, 0, -1] + 1) % 64
    assert not audio_encoder.compare(expected, {"audio_codes": [changed.tolist(), short.tolist()]}, plan).ok


def test_a_continuous_codec_gives_latents_compared_within_the_tolerance(built):
    model_dir = built("pocket_tts_audio_tokenizer")
    plan = _plan("pocket_tts_audio_tokenizer")
    case = Case("one", media.audio(1, 0)[0])
    expected = audio_encoder.reference(model_dir, _candidate("pocket_tts_audio_tokenizer"), case, plan)
    assert list(expected) == ["latents"]
    nudged = (np.asarray(expected["latents"]) + 1e-3).tolist()
    assert not audio_encoder.compare(expected, {"latents": nudged}, plan).ok


def test_a_frame_classifier_hears_the_configs_mel_bins_and_gives_logits_per_frame(built):
    model_dir = built("nemotron3_diarization")
    config = transformers.AutoConfig.from_pretrained(model_dir)
    extractor = transformers.AutoFeatureExtractor.from_pretrained(model_dir)
    # The extractor's default of 80 bins (speech recognition's) follows the config's 128.
    assert extractor.feature_size == config.audio_config.num_mel_bins == 128
    plan = _plan("nemotron3_diarization")
    case = Case("two", media.audio(2, 0))  # 1.0 s and 0.6 s
    expected = audio_encoder.reference(model_dir, _candidate("nemotron3_diarization"), case, plan)
    long, short = (np.asarray(logits) for logits in expected["logits"])
    assert long.shape[1] == short.shape[1] == config.head_config.num_speakers and len(long) > len(short)
    assert np.abs(long[0] - long[-1]).max() > 0.01  # frames differ, far beyond the tolerance
    assert not audio_encoder.compare(expected, {"logits": [short.tolist(), long.tolist()]}, plan).ok


def test_an_audio_tower_or_codec_half_takes_the_feature_extractor_of_the_model_it_is_part_of():
    assert audio_encoder._extractor_name("qwen2_audio_encoder") == "WhisperFeatureExtractor"  # qwen2_audio's
    assert audio_encoder._extractor_name("mimi_encoder") == "EncodecFeatureExtractor"  # mimi's
    assert audio_encoder._extractor_name("vibevoice_acoustic_tokenizer_encoder") == \
        "VibeVoiceAcousticTokenizerFeatureExtractor"
    assert audio_encoder._extractor_name("encodec") == "EncodecFeatureExtractor"  # its own


def test_a_codecs_decoder_half_decodes_each_inputs_latents_into_audio_at_its_codecs_rate(built):
    model_dir, plan = built("mimi_decoder"), _plan("mimi_decoder")
    cases = audio_encoder.cases(plan)
    latents = cases[1].input  # two inputs, 6 and 3 frames of the tiny config's channels
    channels = transformers.MimiDecoderConfig.from_pretrained(model_dir).hidden_size
    assert [item.shape for item in latents] == [(channels, 6), (channels, 3)]
    expected = audio_encoder.reference(model_dir, _candidate("mimi_decoder"), cases[1], plan)
    long, short = (np.asarray(waveform) for waveform in expected["waveforms"])
    assert long.ndim == 2 and long.shape[0] == short.shape[0] == 1  # channels x samples
    assert long.shape[1] == 2 * short.shape[1]  # each input decoded alone, samples in proportion
    assert expected["sampling_rate"] == [media.SAMPLE_RATE] * 2  # mimi's extractor, told 16 kHz


def test_a_vocoders_waveform_is_drawn_from_noise_of_the_seed_option(built):
    model_dir, plan, candidate = built("univnet"), _plan("univnet"), _candidate("univnet")
    spectrogram = audio_encoder.cases(plan)[0].input  # frames x the config's mel bins
    assert spectrogram.shape[1] == transformers.UnivNetConfig.from_pretrained(model_dir).num_mel_bins
    first, again, other = (audio_encoder.reference(model_dir, candidate, Case("one", spectrogram, options), plan)
                           for options in ({}, {"seed": 0}, {"seed": 7}))
    assert first["waveforms"] == again["waveforms"]
    assert not np.allclose(first["waveforms"][0], other["waveforms"][0], atol=1e-3)
    assert np.asarray(first["waveforms"][0]).ndim == 1  # samples


def test_a_codecs_encoder_half_gives_latents_of_each_clips_own_length(built):
    model_dir, plan = built("mimi_encoder"), _plan("mimi_encoder")
    case = Case("two", media.audio(2, 0))  # 1.0 s and 0.6 s
    expected = audio_encoder.reference(model_dir, _candidate("mimi_encoder"), case, plan)
    assert list(expected) == ["latents"]
    long, short = (np.asarray(latents) for latents in expected["latents"])
    assert long.shape[0] == short.shape[0] and long.shape[1] > short.shape[1]  # channels x frames


def test_an_audio_tower_that_counts_frames_from_a_mask_is_given_one(built):
    model_dir, plan = built("audioflamingo3_encoder"), _plan("audioflamingo3_encoder")
    case = Case("one", media.audio(1, 0)[0])
    expected = audio_encoder.reference(model_dir, _candidate("audioflamingo3_encoder"), case, plan)
    (hidden,) = (np.asarray(rows) for rows in expected["last_hidden_state"])
    assert hidden.ndim == 2 and np.isfinite(hidden).all()


@pytest.mark.skipif(not GEN_SKILLSET.exists(), reason="needs bin/gen-skillset (make)")
@pytest.mark.parametrize("model_type", ["audio-spectrogram-transformer", "dac", "encodec", "nemotron3_diarization",
                                        "mimi_encoder", "audioflamingo3_encoder", "mimi_decoder", "univnet"])
def test_the_generated_skillset_serves_every_case_as_the_reference_in_its_tasks_schema(
        built, model_type, tmp_path):
    model_dir, plan, candidate = built(model_type), _plan(model_type), _candidate(model_type)
    subprocess.run([str(GEN_SKILLSET), "-q", model_type, "-o", str(tmp_path)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    ident = model_type.replace("-", "_")
    instance = skillset.instantiate(tmp_path / f"hf_{ident}.py", ident)
    assert instance.TASK == plan["task"]
    _, _, handler, _, _ = instance.init_cpu(model_dir, "cpu", "cpu")
    for case in audio_encoder.cases(plan):
        served = handler(case.input, **case.options)
        assert served["implementation_type"] == "REAL" and served["backend"] == "cpu"
        assert schema_violation(served, plan["task"]) is None
        expected = audio_encoder.reference(model_dir, candidate, case, plan)
        assert audio_encoder.compare(expected, served, plan).ok, case.name
    with pytest.raises(TypeError, match="unexpected keyword argument 'bandwidth'"):
        handler(media.audio(1, 0)[0], bandwidth=6.0)


def test_a_quantizer_over_semantic_and_acoustic_states_reads_the_tiny_widths_sum():
    # xcodec2's and neucodec's quantization_dim: 1024 + 1024 in their defaults.
    for model_type, model_class in (("xcodec2", transformers.Xcodec2Model), ("neucodec", transformers.NeuCodecModel)):
        config = audio_encoder._tiny_config(model_type, model_class)
        assert config.quantization_dim == config.hidden_size + config.semantic_model_config.hidden_size < 1024


def test_an_extractor_that_names_its_mask_for_the_tower_itself_is_taken_as_it_is(tmp_path):
    # fun_asr_nano's extractor returns input_features_mask, no attention_mask.
    candidate = {"model_class": "FunAsrNanoEncoder", "processor_class": "AutoFeatureExtractor"}
    audio_encoder.build_tiny("fun_asr_nano_encoder", candidate, str(tmp_path), 0)
    plan = {"seed": 0, "model_type": "fun_asr_nano_encoder", "task": "feature-extraction",
            "tolerance": TOLERANCE, "candidates": [candidate]}
    clips = media.audio(2, 0)
    expected = audio_encoder.reference(str(tmp_path), candidate, Case("two", clips), plan)
    first, second = (np.asarray(rows) for rows in expected["last_hidden_state"])
    assert np.isfinite(first).all() and first.shape != second.shape  # each clip its own frames


def test_a_model_of_token_ids_is_refused_as_no_processor_makes_its_input_from_a_clip(tmp_path):
    # moshi's MoshiModel, which the registry names for feature-extraction.
    with pytest.raises(NotImplementedError, match="takes token ids, not audio, and has no audio tower") as refused:
        audio_encoder.build_tiny("moshi", {"model_class": "MoshiModel"}, str(tmp_path), 0)
    assert failures.classify(refused.value, failures.TINY_MODEL) == "no-processor"

