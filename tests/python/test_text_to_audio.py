"""The text-to-audio family on real tiny models: vits (a forward model drawing noise) and
musicgen (a generator of codec tokens) speak, the reference is fixed by its seed, and a
generated skillset matches it (and would not with the bugs its cases are there to
catch)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

from skillkit.families import Case, text_to_audio
from skillkit.output_check import schema_violation

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = json.loads((ROOT / "data" / "registry.json").read_text(encoding="utf-8"))
TASK = "text-to-audio"


def _plan(model_type):
    return {"model_type": model_type, "task": TASK, "seed": 0, "generation": {"max_new_tokens": 8},
            "tolerance": {"rtol": 1e-4, "atol": 1e-4}}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Tiny models, built once per type for the module."""
    made = {}

    def build(model_type):
        if model_type not in made:
            out = tmp_path_factory.mktemp(model_type)
            candidate = {"model_class": REGISTRY["models"][model_type]["tasks"][TASK]}
            text_to_audio.build_tiny(model_type, candidate, str(out), 0)
            made[model_type] = str(out), candidate
        return made[model_type]

    return build




def test_a_vits_waveform_depends_on_the_seed_and_not_on_the_batch(built):
    model_dir, candidate = built("vits")
    plan = _plan("vits")
    longer, shorter = text_to_audio.cases(plan)[1].input
    batch = text_to_audio.reference(model_dir, candidate, Case("b", [longer, shorter]), plan)
    alone = text_to_audio.reference(model_dir, candidate, Case("a", shorter), plan)
    assert batch["audio"][1] == alone["audio"][0]
    assert batch["sampling_rate"] == [16000, 16000]
    other_seed = text_to_audio.reference(model_dir, candidate, Case("s", shorter, {"seed": 7}), plan)
    assert other_seed["audio"][0] != alone["audio"][0]


# musicgen_melody: its processor takes audio first, where the pipeline passes the text,
# so its reference is the model card's processor(text=...) and generate().
@pytest.mark.parametrize("model_type", ["vits", "musicgen", "fastspeech2_conformer_with_hifigan", "bark",
                                        "musicgen_melody", "csm", "higgs_audio_v2", "pocket_tts"])
def test_a_generated_skillset_matches_the_reference_on_every_case(model_type, built, skillsets):
    model_dir, candidate = built(model_type)
    plan = _plan(model_type)
    _, _, handler, _, _ = skillsets(model_type).init_cpu(model_dir)
    for case in text_to_audio.cases(plan):
        expected = text_to_audio.reference(model_dir, candidate, case, plan)
        result = handler(case.input, **case.options)
        assert schema_violation(result, TASK) is None
        comparison = text_to_audio.compare(expected, result, plan)
        assert comparison.ok, (case.name, comparison.message)


def test_a_model_holding_its_vocoder_gives_the_vocoders_waveform_at_the_vocoders_rate(built):
    """fastspeech2_conformer_with_hifigan: its output's first field is the spectrogram
    (80 mel bins a frame), its waveform comes last; its rate is its vocoder's."""
    model_dir, candidate = built("fastspeech2_conformer_with_hifigan")
    plan = _plan("fastspeech2_conformer_with_hifigan")
    expected = text_to_audio.reference(model_dir, candidate, Case("one", "hello there"), plan)
    waveform = np.asarray(expected["audio"][0])
    assert expected["sampling_rate"] == [text_to_audio.VOCODER_SAMPLING_RATE]
    assert waveform.ndim == 1 and waveform.std() > 0
    # As long as the vocoder makes it: its upsampling's samples for each spectrogram frame.
    model = transformers.FastSpeech2ConformerWithHifiGan.from_pretrained(model_dir).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    with torch.inference_mode():
        frames = model(**tokenizer("hello there", return_tensors="pt")).spectrogram.shape[1]
    assert waveform.size == frames * int(np.prod(model.config.vocoder_config.upsample_rates))


def test_texts_padded_into_one_batch_are_caught(built):
    """What a handler that batched the texts would give: vits reads the padding, so the
    shorter text's waveform changes (its length, or its samples)."""
    model_dir, candidate = built("vits")
    plan = _plan("vits")
    case = text_to_audio.cases(plan)[1]
    expected = text_to_audio.reference(model_dir, candidate, case, plan)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.VitsModel.from_pretrained(model_dir).eval()
    inputs = tokenizer(case.input, padding=True, return_tensors="pt")
    torch.manual_seed(0)
    with torch.inference_mode():
        output = model(**inputs)
    batched = [wave[:length].tolist() for wave, length in zip(output.waveform, output.sequence_lengths.tolist())]
    assert not text_to_audio.compare(expected, {"audio": batched, "sampling_rate": [16000, 16000]}, plan).ok


def test_a_waveform_of_the_wrong_seed_or_rate_is_caught(built):
    model_dir, candidate = built("vits")
    plan = _plan("vits")
    expected = text_to_audio.reference(model_dir, candidate, Case("a", "a cat"), plan)
    other = text_to_audio.reference(model_dir, candidate, Case("s", "a cat", {"seed": 1}), plan)
    assert not text_to_audio.compare(expected, dict(other), plan).ok
    assert not text_to_audio.compare(expected, dict(expected, sampling_rate=[22050]), plan).ok
    assert text_to_audio.compare(expected, dict(expected), plan).ok


def test_a_forward_model_refuses_generation_options_and_a_generator_takes_them(built, skillsets):
    vits_dir, _ = built("vits")
    _, _, speak, _, _ = skillsets("vits").init_cpu(vits_dir)
    with pytest.raises(TypeError, match="max_new_tokens"):
        speak("a cat", max_new_tokens=4)
    musicgen_dir, _ = built("musicgen")
    _, _, play, _, _ = skillsets("musicgen").init_cpu(musicgen_dir)
    short, longer = play("a cat", max_new_tokens=4)["audio"][0], play("a cat", max_new_tokens=8)["audio"][0]
    assert 0 < len(short) < len(longer)
    assert np.isfinite(longer).all()


def test_musicgen_speaks_two_texts_differently(built):
    """Its codec's codebooks drawn: zeros until trained decoded every code alike."""
    model_dir, candidate = built("musicgen")
    plan = _plan("musicgen")
    first, second = text_to_audio.reference(model_dir, candidate, text_to_audio.cases(plan)[1], plan)["audio"]
    assert len(first) == len(second)
    assert not text_to_audio.compare({"audio": [first], "sampling_rate": [1]},
                                     {"audio": [second], "sampling_rate": [1]}, plan).ok


def test_bark_speaks_two_texts_differently_and_as_long_as_its_semantic_stage_generates(built):
    """bark's three stages drawn wider than transformers' default: at 0.02 two texts,
    padded to 256 positions, gave the same tokens; its length is its semantic stage's."""
    model_dir, candidate = built("bark")
    plan = _plan("bark")
    cases = {case.name: case for case in text_to_audio.cases(plan)}
    first, second = text_to_audio.reference(model_dir, candidate, cases["two texts of different lengths"],
                                            plan)["audio"]
    assert len(first) == len(second)
    assert not text_to_audio.compare({"audio": [first], "sampling_rate": [1]},
                                     {"audio": [second], "sampling_rate": [1]}, plan).ok
    shorter = text_to_audio.reference(model_dir, candidate, cases["one text, 4 new tokens"], plan)
    assert 0 < len(shorter["audio"][0]) < len(first)
    assert shorter["sampling_rate"] == [24000]


def test_csm_speaks_two_texts_differently_through_its_codec(built):
    """csm's backbone writes frames of codes its mimi codec decodes: codes within the
    codec's codebook, whose entries are drawn (zeros until trained decoded every code
    alike), and a prompt of the tiny tokenizer's own tokens."""
    model_dir, candidate = built("csm")
    plan = _plan("csm")
    config = transformers.AutoConfig.from_pretrained(model_dir)
    assert config.vocab_size <= config.codec_config.codebook_size
    assert config.depth_decoder_config.backbone_hidden_size == config.hidden_size
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    assert tokenizer.convert_ids_to_tokens(config.audio_token_id) == "<|AUDIO|>"
    first, second = text_to_audio.reference(model_dir, candidate, text_to_audio.cases(plan)[1], plan)["audio"]
    assert len(first) == len(second)
    assert not text_to_audio.compare({"audio": [first], "sampling_rate": [1]},
                                     {"audio": [second], "sampling_rate": [1]}, plan).ok


def test_higgs_audio_v2_speaks_two_texts_differently_through_its_processors_codec(built):
    """higgs_audio_v2 writes delayed frames of codec codes that its processor decodes with
    its codec (`audio_tokenizer`): the tiny codec is saved in the model's directory, the
    model's codebooks and stream codes are the codec's, and the prompt's audio tokens the
    tiny tokenizer's."""
    model_dir, candidate = built("higgs_audio_v2")
    plan = _plan("higgs_audio_v2")
    processor = transformers.AutoProcessor.from_pretrained(model_dir)
    codec = processor.audio_tokenizer
    assert Path(codec.name_or_path) == Path(model_dir) / text_to_audio.CODEC_DIR
    config = transformers.AutoConfig.from_pretrained(model_dir)
    assert config.num_codebooks == codec.config.num_quantizers == text_to_audio.DELAYED_CODEBOOKS
    assert config.audio_stream_bos_id == processor.audio_stream_bos_id == codec.config.codebook_size
    assert config.audio_bos_token_id == processor.audio_bos_token_id
    first, second = text_to_audio.reference(model_dir, candidate, text_to_audio.cases(plan)[1], plan)["audio"]
    assert len(first) > 0 and len(second) > 0
    assert first[:len(second)] != second[:len(first)]
    four = text_to_audio.reference(model_dir, candidate, Case("four", "a cat", {"max_new_tokens": 4}), plan)
    assert 0 < len(four["audio"][0]) < len(second)


def test_a_cached_model_whose_processor_names_its_codec_by_path_reloads_after_the_rename(tiny_cache):
    """The tiny-model cache builds in a temporary directory and renames it: the path by
    which the saved processor names its codec is rewritten to the final directory."""
    from skillkit import tiny_cache as cache

    candidate = {"model_class": REGISTRY["models"]["higgs_audio_v2"]["tasks"][TASK]}
    plan = dict(_plan("higgs_audio_v2"), ident="higgs_audio_v2")
    model_dir = cache.tiny_model_dir(text_to_audio, plan, candidate)
    processor = transformers.AutoProcessor.from_pretrained(model_dir)
    assert Path(processor.audio_tokenizer.name_or_path) == model_dir.resolve() / text_to_audio.CODEC_DIR


@pytest.mark.parametrize("model_type", ["pocket_tts", "gradium_phonon_tts"])
def test_a_latent_speech_model_speaks_two_texts_differently_through_its_processors_codec(model_type, built):
    """pocket_tts (and gradium_phonon_tts, over the same processor) generates latents
    that its processor decodes with its codec: its prompt's tokens are the tokenizer's
    named tokens (the processor reads them from its attributes), the model's latents
    the codec's width."""
    model_dir, candidate = built(model_type)
    plan = _plan(model_type)
    processor = transformers.AutoProcessor.from_pretrained(model_dir)
    config = transformers.AutoConfig.from_pretrained(model_dir)
    assert config.audio_bos_token_id == processor.tokenizer.convert_tokens_to_ids(processor.audio_bos_token)
    assert config.audio_prompt_token_id == processor.audio_token_id
    assert config.latent_dim == processor.audio_tokenizer.config.latent_dim
    first, second = text_to_audio.reference(model_dir, candidate, text_to_audio.cases(plan)[1], plan)["audio"]
    assert len(first) > 0 and len(second) > 0
    assert not text_to_audio.compare({"audio": [first[:len(second)]], "sampling_rate": [1]},
                                     {"audio": [second[:len(first)]], "sampling_rate": [1]}, plan).ok


@pytest.mark.parametrize("model_type, reason", [
    # An omni model's processor takes image and video parts beside the audio's.
    ("qwen2_5_omni", "also takes image_processor, video_processor"),
])
def test_a_processor_the_recipe_cannot_make_is_refused_with_its_reason(model_type, reason, tmp_path):
    candidate = {"model_class": REGISTRY["models"][model_type]["tasks"][TASK]}
    with pytest.raises(NotImplementedError, match=reason):
        text_to_audio.build_tiny(model_type, candidate, str(tmp_path), 0)


def test_compare_fails_waveforms_beyond_the_tolerance():
    plan = _plan("vits")
    want = {"audio": [[0.5, -0.25]], "sampling_rate": [16000]}
    assert text_to_audio.compare(want, {"audio": [[0.5, -0.25001]], "sampling_rate": [16000]}, plan).ok
    assert not text_to_audio.compare(want, {"audio": [[0.5, -0.3]], "sampling_rate": [16000]}, plan).ok
    assert not text_to_audio.compare(want, {"audio": [[0.5]], "sampling_rate": [16000]}, plan).ok
    assert not text_to_audio.compare(want, {"audio": [[0.5, -0.25]]}, plan).ok


def test_a_model_without_a_vocoder_serves_each_texts_spectrogram_as_the_reference(tmp_path, skillsets):
    """fastspeech2_conformer's task is text-to-spectrogram: per text its mel spectrogram
    (frames x mel bins), each text alone; a spectrogram of the other text is caught."""
    candidate = {"model_class": REGISTRY["models"]["fastspeech2_conformer"]["tasks"]["text-to-spectrogram"]}
    text_to_audio.build_tiny("fastspeech2_conformer", candidate, str(tmp_path), 0)
    plan = dict(_plan("fastspeech2_conformer"), task="text-to-spectrogram")
    instance = skillsets("fastspeech2_conformer")
    assert instance.TASK == "text-to-spectrogram"
    _, _, handler, _, _ = instance.init_cpu(str(tmp_path))
    for case in text_to_audio.cases(plan):
        expected = text_to_audio.reference(str(tmp_path), candidate, case, plan)
        result = handler(case.input, **case.options)
        assert schema_violation(result, "text-to-spectrogram") is None
        comparison = text_to_audio.compare(expected, result, plan)
        assert comparison.ok, (case.name, comparison.message)
    bins = transformers.AutoConfig.from_pretrained(tmp_path).num_mel_bins
    assert {len(row) for row in expected["spectrogram"][0]} == {bins}
    swapped = {**result, "spectrogram": result["spectrogram"][::-1]}
    assert not text_to_audio.compare(expected, swapped, plan).ok
