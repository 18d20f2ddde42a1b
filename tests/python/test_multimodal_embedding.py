"""The multimodal-embedding family (clap, clvp, pe_audio_video, embedding_gemma2): its tiny models, its reference, and the
skillset gen-skillset writes for it, on a real tiny model."""

import numpy as np
import pytest
import torch
import transformers

from skillkit import media
from skillkit.families import multimodal_embedding
from skillkit.output_check import schema_violation

CANDIDATE = {"model_class": "ClapModel", "auto_class": "AutoModel", "processor_class": "AutoProcessor"}
PLAN = {"seed": 0, "task": "feature-extraction", "tolerance": {"rtol": 1e-4, "atol": 1e-4}, "candidates": [CANDIDATE]}
CLVP = {"model_class": "ClvpModelForConditionalGeneration", "auto_class": "AutoModel",
        "processor_class": "AutoProcessor"}
CLVP_PLAN = dict(PLAN, candidates=[CLVP])


@pytest.fixture(scope="module")
def clap(tmp_path_factory):
    out = tmp_path_factory.mktemp("clap")
    multimodal_embedding.build_tiny("clap", CANDIDATE, str(out), PLAN["seed"])
    return str(out)


def test_the_tiny_clap_hears_every_clip_repeated_to_a_spectrogram_its_audio_tower_takes(clap):
    processor = transformers.AutoProcessor.from_pretrained(clap)
    config = transformers.AutoConfig.from_pretrained(clap)
    longest = max(media.audio(4, 0), key=len)
    features = processor(audio=longest, sampling_rate=media.SAMPLE_RATE, return_tensors="pt")["input_features"]
    frames, bins = features.shape[-2:]
    audio = config.audio_config
    ratio = audio.spec_size // audio.num_mel_bins  # how HTSAT folds time into its image
    assert bins == audio.num_mel_bins and frames <= audio.spec_size * ratio


def test_the_reference_embeds_texts_and_clips_apart_and_a_changed_value_fails(clap):
    case = multimodal_embedding.cases(PLAN)[0]
    expected = multimodal_embedding.reference(clap, CANDIDATE, case, PLAN)
    assert [len(expected[key]) for key in ("text_embeddings", "audio_embeddings")] == [2, 2]
    first, second = np.asarray(expected["audio_embeddings"])
    assert np.abs(first - second).max() > 1e-3  # two clips, two embeddings
    assert multimodal_embedding.compare(expected, dict(expected), PLAN).ok
    moved = [[value + 0.01 for value in row] for row in expected["text_embeddings"]]
    assert not multimodal_embedding.compare(expected, dict(expected, text_embeddings=moved), PLAN).ok
    assert not multimodal_embedding.compare(expected, {"text_embeddings": moved}, PLAN).ok


@pytest.fixture(scope="module")
def clvp(tmp_path_factory):
    out = tmp_path_factory.mktemp("clvp")
    multimodal_embedding.build_tiny("clvp", CLVP, str(out), PLAN["seed"])
    return str(out)


def test_clvp_is_asked_for_texts_only_and_its_padded_batch_would_differ(clvp):
    cases = multimodal_embedding.cases(CLVP_PLAN)
    assert all(set(case.input) == {"texts"} for case in cases)
    expected = multimodal_embedding.reference(clvp, CLVP, cases[0], CLVP_PLAN)
    first, second = np.asarray(expected["text_embeddings"])
    assert first.shape == (32,) and np.abs(first - second).max() > 1e-3
    # Why the skillset embeds one text at a time: clvp's encoder averages over the
    # padding too, so the shorter text padded to the longer one's length changes.
    model = transformers.ClvpModelForConditionalGeneration.from_pretrained(clvp).eval()
    processor = transformers.AutoProcessor.from_pretrained(clvp)
    with torch.inference_mode():
        batch = processor(text=list(multimodal_embedding.TEXTS), padding=True, return_tensors="pt")
        padded = model.get_text_features(**batch).embeds[0].numpy()
    assert np.abs(padded - first).max() > 1e-3


EG = {"model_class": "EmbeddingGemma2Model", "auto_class": "AutoModel", "processor_class": "AutoProcessor"}
EG_PLAN = dict(PLAN, candidates=[EG])


@pytest.fixture(scope="module")
def embedding_gemma2(tmp_path_factory):
    out = tmp_path_factory.mktemp("embedding_gemma2")
    multimodal_embedding.build_tiny("embedding_gemma2", EG, str(out), PLAN["seed"])
    return str(out)


def test_embedding_gemma2_is_asked_for_texts_only_and_embeds_each_as_its_mean_token(embedding_gemma2):
    cases = multimodal_embedding.cases(EG_PLAN)
    assert all(set(case.input) == {"texts"} for case in cases)
    expected = multimodal_embedding.reference(embedding_gemma2, EG, cases[0], EG_PLAN)
    first, second = np.asarray(expected["text_embeddings"])
    config = transformers.AutoConfig.from_pretrained(embedding_gemma2)
    assert first.shape == (config.text_config.embedding_dim,) and np.abs(first - second).max() > 1e-3
    # The mean over every token: the first token alone (a CLS-style pooling) differs.
    model = transformers.EmbeddingGemma2Model.from_pretrained(embedding_gemma2).eval()
    processor = transformers.AutoProcessor.from_pretrained(embedding_gemma2)
    with torch.inference_mode():
        hidden = model(**processor(text=multimodal_embedding.TEXTS[0], return_tensors="pt")).last_hidden_state
    assert np.abs(hidden[0, 0].numpy() - first).max() > 1e-3


def test_the_embedding_gemma2_skillset_embeds_each_text_as_the_reference_and_refuses_clips(
        embedding_gemma2, skillsets):
    instance = skillsets("embedding_gemma2")
    _, _, handler, _, _ = instance.init_cpu(embedding_gemma2, "cpu", "cpu")
    for case in multimodal_embedding.cases(EG_PLAN):
        expected = multimodal_embedding.reference(embedding_gemma2, EG, case, EG_PLAN)
        served = handler(case.input, **case.options)
        assert schema_violation(served, "feature-extraction") is None
        assert multimodal_embedding.compare(expected, served, EG_PLAN).ok, case.name
    with pytest.raises(TypeError, match="texts only"):
        handler({"audios": media.audio(1, 0)[0]})


def test_a_type_with_towers_no_recipe_knows_is_refused(tmp_path):
    with pytest.raises(NotImplementedError, match="no tiny-model recipe"):
        multimodal_embedding.build_tiny("musicflamingo", {"model_class": "MusicFlamingoModel"}, str(tmp_path), 0)


PE = {"model_class": "PeAudioVideoModel", "auto_class": "AutoModel", "processor_class": "AutoProcessor"}
PE_PLAN = dict(PLAN, candidates=[PE])


@pytest.fixture(scope="module")
def pe_audio_video(tmp_path_factory):
    out = tmp_path_factory.mktemp("pe_audio_video")
    multimodal_embedding.build_tiny("pe_audio_video", PE, str(out), PLAN["seed"])
    return str(out)


def test_pe_audio_video_is_asked_for_clips_only_and_tells_them_apart(pe_audio_video):
    cases = multimodal_embedding.cases(PE_PLAN)
    assert all(set(case.input) == {"audios"} for case in cases)
    expected = multimodal_embedding.reference(pe_audio_video, PE, cases[0], PE_PLAN)
    first, second = np.asarray(expected["audio_embeddings"])
    assert np.abs(first - second).max() > 1e-3
    # Why it embeds no text: its text-audio embedding fails in transformers itself.
    model = transformers.PeAudioVideoModel.from_pretrained(pe_audio_video).eval()
    with pytest.raises(AttributeError, match="get_text_embeds"):
        model.get_text_audio_embeds(torch.tensor([[1, 2, 3]]))


def test_the_pe_audio_video_skillset_embeds_each_clip_as_the_reference_and_refuses_texts(pe_audio_video, skillsets):
    instance = skillsets("pe_audio_video")
    _, _, handler, _, _ = instance.init_cpu(pe_audio_video, "cpu", "cpu")
    for case in multimodal_embedding.cases(PE_PLAN):
        expected = multimodal_embedding.reference(pe_audio_video, PE, case, PE_PLAN)
        served = handler(case.input, **case.options)
        assert schema_violation(served, "feature-extraction") is None
        assert multimodal_embedding.compare(expected, served, PE_PLAN).ok, case.name
    with pytest.raises(TypeError, match="clips only"):
        handler({"texts": "a dog barking"})


def test_the_generated_skillset_serves_every_case_as_the_reference_in_its_schema(clap, skillsets):
    instance = skillsets("clap")
    _, _, handler, _, _ = instance.init_cpu(clap, "cpu", "cpu")
    for case in multimodal_embedding.cases(PLAN):
        expected = multimodal_embedding.reference(clap, CANDIDATE, case, PLAN)
        served = handler(case.input, **case.options)
        assert served["implementation_type"] == "REAL" and served["backend"] == "cpu"
        assert schema_violation(served, "feature-extraction") is None
        assert multimodal_embedding.compare(expected, served, PLAN).ok, case.name
    with pytest.raises(TypeError, match="texts"):
        handler(["a dog barking"])


def test_the_clvp_skillset_embeds_each_text_as_the_reference_and_refuses_clips(clvp, skillsets):
    instance = skillsets("clvp")
    _, _, handler, _, _ = instance.init_cpu(clvp, "cpu", "cpu")
    for case in multimodal_embedding.cases(CLVP_PLAN):
        expected = multimodal_embedding.reference(clvp, CLVP, case, CLVP_PLAN)
        served = handler(case.input, **case.options)
        assert schema_violation(served, "feature-extraction") is None
        assert multimodal_embedding.compare(expected, served, CLVP_PLAN).ok, case.name
    with pytest.raises(TypeError, match="texts only"):
        handler({"audios": media.audio(1, 0)[0]})
