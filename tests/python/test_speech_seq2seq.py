"""The speech-seq2seq family's general tiny-model recipe and reference, on real tiny models."""
import pytest
import transformers
from transformers import AutoProcessor, Speech2TextConfig

from skillkit import media, tokenizers
from skillkit.families import speech_seq2seq
from skillkit.teaching import ENDS_AFTER

PLAN = {"seed": 0, "generation": {"max_new_tokens": 8}}


def _built(model_type, model_class, tmp_path):
    candidate = {"model_class": model_class, "auto_class": "AutoModelForSpeechSeq2Seq"}
    speech_seq2seq.build_tiny(model_type, candidate, str(tmp_path), PLAN["seed"])
    return candidate


@pytest.mark.parametrize("model_type, model_class, main_input", [
    ("speech_to_text", "Speech2TextForConditionalGeneration", "input_features"),
    ("moonshine", "MoonshineForConditionalGeneration", "input_values"),
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


def test_special_token_overrides_repoint_each_role_at_the_tiny_vocabulary():
    tokenizer = tokenizers.for_model_type("speech_to_text", 384, speech_seq2seq.ROLES, lossless=True)
    config = Speech2TextConfig(pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    overrides = tokenizers.special_token_overrides("speech_to_text", config, tokenizer)
    assert overrides == {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
                         "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                         "decoder_start_token_id": tokenizer.eos_token_id}
