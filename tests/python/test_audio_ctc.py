"""The audio-ctc family beyond CTC: transducers (rnnt, tdt), x-vector and pretraining heads,
and a feature extractor the config documents; on real tiny models, and the skillsets
gen-skillset writes for them."""
import subprocess
from pathlib import Path

import numpy as np
import pytest
import transformers

from skillkit import media, skillset
from skillkit.families import Case, audio_ctc
from skillkit.output_check import schema_violation

ROOT = Path(__file__).resolve().parents[2]
GEN_SKILLSET = ROOT / "bin" / "gen-skillset"
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
# (model type, task): its model class and Auto class, as the registry names them.
HEADS = {
    ("parakeet_tdt", "tdt"): ("ParakeetForTDT", "AutoModelForTDT"),
    ("wav2vec2", "audio-xvector"): ("Wav2Vec2ForXVector", "AutoModelForAudioXVector"),
    ("wav2vec2", "pretraining"): ("Wav2Vec2ForPreTraining", "AutoModelForPreTraining"),
    ("unispeech-sat", "pretraining"): ("UniSpeechSatForPreTraining", "AutoModelForPreTraining"),
}


def _plan(head):
    return {"seed": 0, "task": head[1], "tolerance": TOLERANCE}


def _candidate(head):
    model_class, auto_class = HEADS[head]
    return {"model_class": model_class, "auto_class": auto_class, "processor_class": "AutoProcessor"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny model of a (type, task), built once for the module."""
    dirs = {}

    def build(head):
        if head not in dirs:
            out = tmp_path_factory.mktemp("-".join(head))
            audio_ctc.build_tiny(head[0], _candidate(head), str(out), 0)
            dirs[head] = str(out)
        return dirs[head]

    return build


def test_a_transducers_blank_follows_the_vocabulary_and_starts_its_decoder(built):
    head = ("parakeet_tdt", "tdt")
    model_dir = built(head)
    config = transformers.AutoConfig.from_pretrained(model_dir)
    generation = transformers.GenerationConfig.from_pretrained(model_dir)
    assert config.blank_token_id == len(audio_ctc.VOCABULARY) == config.vocab_size - 1
    assert generation.decoder_start_token_id == config.blank_token_id
    case = Case("two", media.audio(2, 0))
    expected = audio_ctc.reference(model_dir, _candidate(head), case, _plan(head))
    texts = expected["texts"]
    assert len(texts) == 2 and all(isinstance(text, str) for text in texts)
    assert audio_ctc.BLANK not in "".join(texts)  # decoding drops the blank
    assert not audio_ctc.compare(expected, {"texts": [texts[0] + "x", texts[1]]}, _plan(head)).ok


def test_wav2vec2_bert_hears_the_feature_extractor_its_config_documents():
    # Its table entry (Wav2Vec2FeatureExtractor) makes input_values, which it does not take.
    assert audio_ctc._extractor_name("wav2vec2-bert", "input_features") == "SeamlessM4TFeatureExtractor"
    assert audio_ctc._extractor_name("parakeet_ctc", "input_features") == "ParakeetFeatureExtractor"


def test_a_pretraining_head_gives_quantized_states_only_where_it_quantizes(built):
    case = Case("one", media.audio(1, 0)[0])
    for head, keys in ((("wav2vec2", "pretraining"), ["projected_states", "projected_quantized_states"]),
                       (("unispeech-sat", "pretraining"), ["projected_states"])):
        expected = audio_ctc.reference(built(head), _candidate(head), case, _plan(head))
        assert list(expected) == keys
        nudged = {key: (np.asarray(rows) + 1e-2).tolist() for key, rows in expected.items()}
        assert not audio_ctc.compare(expected, nudged, _plan(head)).ok


def test_two_clips_have_speaker_embeddings_far_apart(built):
    head = ("wav2vec2", "audio-xvector")
    expected = audio_ctc.reference(built(head), _candidate(head), Case("two", media.audio(2, 0)), _plan(head))
    first, second = np.asarray(expected["embeddings"])
    assert first.shape == second.shape and np.abs(first - second).max() > 1e-3


@pytest.mark.skipif(not GEN_SKILLSET.exists(), reason="needs bin/gen-skillset (make)")
@pytest.mark.parametrize("head", list(HEADS), ids="-".join)
def test_the_generated_skillset_serves_every_case_as_the_reference_in_its_tasks_schema(built, head, tmp_path):
    model_dir, plan, candidate = built(head), _plan(head), _candidate(head)
    model_type, task = head
    subprocess.run([str(GEN_SKILLSET), "-q", "--task", task, model_type, "-o", str(tmp_path)], check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    ident = model_type.replace("-", "_")
    instance = skillset.instantiate(tmp_path / f"hf_{ident}.py", ident)
    assert instance.TASK == task
    _, _, handler, _, _ = instance.init_cpu(model_dir, "cpu", "cpu")
    for case in audio_ctc.cases(plan):
        served = handler(case.input, **case.options)
        assert served["implementation_type"] == "REAL" and served["backend"] == "cpu"
        assert schema_violation(served, task) is None
        expected = audio_ctc.reference(model_dir, candidate, case, plan)
        assert audio_ctc.compare(expected, served, plan).ok, case.name


def test_a_sub_config_that_reads_the_ctc_vocabulary_follows_the_tiny_one(tmp_path):
    # granite_speech5_ctc: its encoder's self-conditioning CTC head, which the config
    # wants as wide as the model's (16384 in both defaults).
    candidate = {"model_class": "GraniteSpeech5ForCTC", "auto_class": "AutoModelForCTC"}
    audio_ctc.build_tiny("granite_speech5_ctc", candidate, str(tmp_path), 0)
    config = transformers.AutoConfig.from_pretrained(tmp_path)
    assert config.vocab_size == len(audio_ctc.VOCABULARY) == config.encoder_config.vocab_size
