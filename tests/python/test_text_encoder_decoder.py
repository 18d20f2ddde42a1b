"""text-encoder-decoder's refusal of a type whose processor takes more than text."""
import pytest

from skillkit.families import text_encoder_decoder


def test_a_type_whose_processor_takes_audio_beside_text_is_refused_for_want_of_a_processor():
    candidate = {"model_class": "MusicFlamingoForConditionalGeneration", "auto_class": "AutoModelForSeq2SeqLM"}
    with pytest.raises(NotImplementedError, match="no processor makes .* takes a feature_extractor beside the text"):
        text_encoder_decoder._refuse_beside_text("musicflamingo", candidate)


def test_a_text_to_text_type_with_a_tokenizer_alone_is_built():
    candidate = {"model_class": "T5ForConditionalGeneration", "auto_class": "AutoModelForSeq2SeqLM"}
    assert text_encoder_decoder._refuse_beside_text("t5", candidate) is None
