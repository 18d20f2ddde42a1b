"""The speech-seq2seq family's general tiny-model recipe and reference, on real tiny models."""
import subprocess
from pathlib import Path

import pytest
import transformers
from transformers import AutoProcessor, Speech2TextConfig

from skillkit import media, skillset, tokenizers
from skillkit.families import speech_seq2seq
from skillkit.output_check import schema_violation
from skillkit.teaching import ENDS_AFTER

ROOT = Path(__file__).resolve().parents[2]
GEN_SKILLSET = ROOT / "bin" / "gen-skillset"

PLAN = {"seed": 0, "generation": {"max_new_tokens": 8}}


def _built(model_type, model_class, tmp_path):
    candidate = {"model_class": model_class, "auto_class": "AutoModelForSpeechSeq2Seq"}
    speech_seq2seq.build_tiny(model_type, candidate, str(tmp_path), PLAN["seed"])
    return candidate


@pytest.mark.parametrize("model_type, model_class, main_input", [
    ("speech_to_text", "Speech2TextForConditionalGeneration", "input_features"),
    ("moonshine", "MoonshineForConditionalGeneration", "input_values"),
    # No feature extractor in transformers' table, and no key-value heads in its config.
    ("moonshine_streaming", "MoonshineStreamingForConditionalGeneration", "input_values"),
])
def test_any_speech_encoder_decoder_gets_a_tiny_model_that_ends_one_clip_early(
        model_type, model_class, main_input, tmp_path):
    candidate = _built(model_type, model_class, tmp_path)
    processor = AutoProcessor.from_pretrained(tmp_path)
    assert type(processor).__name__ == transformers.models.auto.processing_auto.PROCESSOR_MAPPING_NAMES[model_type]
    assert main_input in processor.feature_extractor(media.audio(1, 0)[0], sampling_rate=media.SAMPLE_RATE)
    cases = {case.name: case for case in speech_seq2seq.cases(PLAN)}
    # The reference takes whichever input the feature extractor makes, and the taught
    # clip ends early where let, the other going on to max_new_tokens.
    own_ends = speech_seq2seq.reference(tmp_path, candidate, cases["a WAV file and a clip, each to its own end"],
                                        PLAN)
    assert [len(tokens) for tokens in own_ends["token_ids"]] == [8, ENDS_AFTER]
    forced = speech_seq2seq.reference(tmp_path, candidate, cases["one clip"], PLAN)
    assert len(forced["token_ids"][0]) == 8 and forced["token_ids"][0][:ENDS_AFTER] == own_ends["token_ids"][1]


def test_a_waveform_model_the_extractor_table_misses_gets_the_plain_waveform_extractor():
    # moonshine_streaming hears raw 16 kHz samples (input_values) and frames them itself.
    assert speech_seq2seq._waveform_extractor("moonshine_streaming") == "Wav2Vec2FeatureExtractor"
    # A model of spectrogram features gets none: its extractor's sizes would be guessed.
    assert speech_seq2seq._waveform_extractor("speech_to_text") is None


def test_special_token_overrides_repoint_each_role_at_the_tiny_vocabulary():
    tokenizer = tokenizers.for_model_type("speech_to_text", 384, speech_seq2seq.ROLES, lossless=True)
    config = Speech2TextConfig(pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    overrides = tokenizers.special_token_overrides("speech_to_text", config, tokenizer)
    assert overrides == {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
                         "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                         "decoder_start_token_id": tokenizer.eos_token_id}


def test_sizes_spelled_with_a_prefix_of_their_own_are_shrunk_as_the_unprefixed_ones():
    config = transformers.SeamlessM4TConfig()
    overrides = speech_seq2seq._prefixed_sizes(config)
    # seamless_m4t's 24-layer, 4096-wide speech encoder made a tiny model too slow to teach.
    assert overrides["speech_encoder_layers"] == 2 and overrides["speech_encoder_attention_heads"] == 4
    assert overrides["speech_encoder_intermediate_size"] == 37 and overrides["t2u_decoder_ffn_dim"] == 37
    assert "num_adapter_layers" not in overrides and "vocab_size" not in overrides


def _served(model_type, model_class, tmp_path):
    """The skillset gen-skillset writes for `model_type`, served on its tiny model."""
    candidate = _built(model_type, model_class, tmp_path / "model")
    subprocess.run([str(GEN_SKILLSET), "-q", model_type, "-o", str(tmp_path / "skillset")], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    instance = skillset.instantiate(tmp_path / "skillset" / f"hf_{model_type}.py", model_type)
    _, _, handler, _, _ = instance.init_cpu(str(tmp_path / "model"), "cpu", "cpu")
    return candidate, handler


@pytest.mark.parametrize("model_type, model_class", [
    # An audio language model, prompted with its processor's transcription request.
    ("qwen3_asr", "Qwen3ASRForConditionalGeneration"),
    # A decoder-only model over a 24 kHz codec, hearing the cases' 16 kHz clips.
    ("kyutai_speech_to_text", "KyutaiSpeechToTextForConditionalGeneration"),
    # An audio language model whose processor writes no transcription request: the
    # contract's prompt and an instruction.
    ("granite_speech", "GraniteSpeechForConditionalGeneration"),
])
def test_a_model_that_is_not_an_encoder_decoder_transcribes_every_case_as_the_reference(
        model_type, model_class, tmp_path):
    candidate, handler = _served(model_type, model_class, tmp_path)
    processor = AutoProcessor.from_pretrained(tmp_path / "model")
    # granite_speech's processor names its extractor audio_processor.
    extractor = getattr(processor, "feature_extractor", None) or processor.audio_processor
    assert extractor.sampling_rate == media.SAMPLE_RATE
    plan = dict(PLAN, tolerance={"rtol": 1e-4, "atol": 1e-4})
    for case in speech_seq2seq.cases(plan):
        expected = speech_seq2seq.reference(tmp_path / "model", candidate, case, plan)
        served = handler(case.input, **case.options)
        assert schema_violation(served, "automatic-speech-recognition") is None
        assert speech_seq2seq.compare(expected, served, plan).ok, case.name
        if "min_new_tokens" in case.options:
            assert all(len(tokens) == 8 for tokens in served["token_ids"])
        if case.name == "two clips of different lengths":
            # The model hears the clips (kyutai's codec codes them with drawn codebooks).
            assert served["token_ids"][0] != served["token_ids"][1]


@pytest.mark.parametrize("model_type, model_class, reason", [
    # vibevoice's processor writes speech, not transcription prompts.
    ("vibevoice", "VibeVoiceForConditionalGeneration", "writes no transcription request"),
    # dia's decodes the codes it generates with a codec: a speech generator.
    ("dia", "DiaForConditionalGeneration", "generates speech"),
])
def test_a_speech_generator_listed_among_speech_seq2seq_models_is_refused_with_its_reason(
        model_type, model_class, reason, tmp_path):
    with pytest.raises(NotImplementedError, match=reason):
        _built(model_type, model_class, tmp_path)
