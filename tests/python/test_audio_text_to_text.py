"""The audio-text-to-text family: its tiny-model recipe, its reference and its generated
skillset, on real tiny models (qwen2_audio, the reference type, whose processor has a
chat template of its own; audioflamingo3, which gets the generic one)."""
import subprocess
from pathlib import Path

import pytest
import torch
import transformers
from skillkit import greedy, media, skillset
from skillkit.families import Case
from skillkit.families import audio_text_to_text as family
from skillkit.output_check import schema_violation
from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration

ROOT = Path(__file__).resolve().parents[2]
PLAN = {"seed": 0, "generation": {"max_new_tokens": 8}, "tolerance": {"rtol": 1e-4, "atol": 1e-4}}
QWEN2_AUDIO = {"model_class": "Qwen2AudioForConditionalGeneration", "auto_class": "AutoModelForSeq2SeqLM"}
PAIR = "two clips of different lengths, prompts of different lengths"


@pytest.fixture(scope="module")
def qwen2_audio_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("qwen2_audio")
    family.build_tiny("qwen2_audio", QWEN2_AUDIO, str(out), PLAN["seed"])
    return out


@pytest.fixture(scope="module")
def qwen2_audio_skillset(tmp_path_factory, qwen2_audio_dir):
    """The generated qwen2_audio skillset, serving the tiny qwen2_audio on the CPU."""
    out = tmp_path_factory.mktemp("qwen2_audio-skillset")
    done = subprocess.run([str(ROOT / "bin" / "gen-skillset"), "-q", "-o", str(out), "qwen2_audio"],
                          check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    instance = skillset.instantiate(out / "hf_qwen2_audio.py", "qwen2_audio")
    return instance, instance.init_cpu(str(qwen2_audio_dir))[2]


def test_qwen2_audio_tiny_model_reads_as_many_audio_tokens_as_its_encoder_gives_features(qwen2_audio_dir):
    processor = AutoProcessor.from_pretrained(qwen2_audio_dir)
    model = Qwen2AudioForConditionalGeneration.from_pretrained(qwen2_audio_dir).eval()
    # The chat template writes the clip as one audio token, which the processor expands
    # to one per feature the encoder gives; the model's audio_token_id is that token.
    text = family.prompt(processor, family.PROMPTS[0])
    assert text.count(processor.audio_token) == 1
    [clip] = media.audio(1, 0, family.SECONDS[:1])
    inputs = processor(text=text, audio=clip, sampling_rate=media.SAMPLE_RATE, return_tensors="pt")
    assert inputs["input_features"].shape[1] == model.config.audio_config.num_mel_bins
    assert (inputs["input_ids"] == model.config.audio_token_id).sum().item() > 1
    # The forward pass checks that the placeholders and the encoder's features agree.
    with torch.no_grad():
        assert model(**inputs).logits.shape[-1] == len(processor.tokenizer)


def test_reference_answers_each_input_alone_with_the_new_tokens_only(qwen2_audio_dir):
    cases = {case.name: case for case in family.cases(PLAN)}
    pair = family.reference(qwen2_audio_dir, QWEN2_AUDIO, cases[PAIR], PLAN)
    assert [len(tokens) for tokens in pair["token_ids"]] == [8, 8]  # min_new_tokens: no prompt token among them
    first = cases[PAIR].input[0]
    alone = family.reference(qwen2_audio_dir, QWEN2_AUDIO,
                             Case("the first alone", first, {"max_new_tokens": 8, "min_new_tokens": 8}), PLAN)
    assert alone["token_ids"][0] == pair["token_ids"][0]
    assert len(pair.margins) == 2 and all(len(steps) == 8 for steps in pair.margins)


def test_tiny_model_answers_different_clips_differently(qwen2_audio_dir):
    # The same prompt about two clips: a skillset that lost or swapped its clips must
    # not agree by chance.
    first, second = (item["audio"] for item in {case.name: case for case in family.cases(PLAN)}[PAIR].input)
    same_prompt = Case("one prompt, two clips", [{"audio": first, "text": family.PROMPTS[0]},
                                                 {"audio": second, "text": family.PROMPTS[0]}],
                       {"max_new_tokens": 8, "min_new_tokens": 8})
    answers = family.reference(qwen2_audio_dir, QWEN2_AUDIO, same_prompt, PLAN)["token_ids"]
    assert answers[0] != answers[1]


def test_generated_skillset_gives_the_reference_tokens_and_texts_on_every_case(qwen2_audio_dir, qwen2_audio_skillset):
    _, handler = qwen2_audio_skillset
    for case in family.cases(PLAN):
        expected = family.reference(qwen2_audio_dir, QWEN2_AUDIO, case, PLAN)
        result = handler(case.input, **case.options)
        comparison = greedy.compare(expected, result, PLAN)
        assert comparison.ok, (case.name, comparison.message)
        assert result["implementation_type"] == "REAL" and result["backend"] == "cpu"
        assert schema_violation(result, "text2text-generation") is None


def test_generated_skillset_refuses_an_input_without_its_prompt(qwen2_audio_skillset):
    instance, _ = qwen2_audio_skillset
    [clip] = media.audio(1, 0, family.SECONDS[:1])
    with pytest.raises(TypeError, match="text"):
        instance._as_requests({"audio": clip})
    with pytest.raises(TypeError, match="dict"):
        instance._as_requests(clip)


def test_a_processor_without_a_chat_template_gets_the_generic_one_with_its_audio_token(tmp_path):
    candidate = {"model_class": "AudioFlamingo3ForConditionalGeneration", "auto_class": "AutoModelForSeq2SeqLM"}
    family.build_tiny("audioflamingo3", candidate, str(tmp_path), PLAN["seed"])
    processor = AutoProcessor.from_pretrained(tmp_path)
    text = family.prompt(processor, family.PROMPTS[0])
    assert text.startswith(f"user: {processor.audio_token}{family.PROMPTS[0]}") and text.endswith("assistant:")
    one = family.cases(PLAN)[0]
    assert [len(tokens) for tokens in family.reference(tmp_path, candidate, one, PLAN)["token_ids"]] == [8]


def test_a_blank_class_after_the_tokenizers_pieces_stays_last_in_the_tiny_vocabulary(tmp_path):
    # nemo_speechlm's word-timestamp head: 23862 pieces, then the blank.
    family.build_tiny("nemo_speechlm", {"model_class": "Nemotron3_5TranscribeForConditionalGeneration"},
                      str(tmp_path), 0)
    processor = AutoProcessor.from_pretrained(tmp_path)
    head = transformers.AutoConfig.from_pretrained(tmp_path).word_timestamp_config
    assert head.vocab_size == len(processor.tokenizer) + 1 and head.blank_token_id == len(processor.tokenizer)


def test_a_type_the_feature_extractor_table_misses_takes_its_audio_towers_extractor(tmp_path):
    # musicflamingo: no feature extractor in transformers' table; its audio tower is
    # audioflamingo3's encoder, which hears whisper's features.
    from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES

    assert "musicflamingo" not in FEATURE_EXTRACTOR_MAPPING_NAMES
    candidate = {"model_class": "MusicFlamingoForConditionalGeneration", "auto_class": "AutoModelForSeq2SeqLM"}
    family.build_tiny("musicflamingo", candidate, str(tmp_path), PLAN["seed"])
    processor = AutoProcessor.from_pretrained(tmp_path)
    assert type(processor.feature_extractor).__name__ == "WhisperFeatureExtractor"
    answers = family.reference(tmp_path, candidate, family.cases(PLAN)[1], PLAN)
    assert [len(tokens) for tokens in answers["token_ids"]] == [8, 8]


def test_a_config_without_an_audio_tower_names_no_extractor():
    assert family._tower_extractor(transformers.Qwen2Config()) is None
