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


def test_sizes_under_an_encoder_and_a_decoder_name_are_shrunk_alike():
    from transformers import ProphetNetConfig

    from skillkit import tiny

    config = ProphetNetConfig()
    tiny.shrink(config, vocab_size=384)
    text_encoder_decoder._pair_sizes(config)
    assert config.num_encoder_layers == config.num_decoder_layers
    assert config.num_encoder_attention_heads == config.num_decoder_attention_heads
    assert config.hidden_size % config.num_decoder_attention_heads == 0


def test_a_tokenizer_class_without_a_beginning_token_gets_none_where_its_config_names_one():
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    def lacks(model_type):
        return text_encoder_decoder._no_beginning_token(model_type, CONFIG_MAPPING[model_type]())

    assert lacks("prophetnet")  # its [PAD] is then id 0, as its decoder's cached step assumes
    assert not lacks("t5") and not lacks("bart")  # t5's config names none; bart's class declares <s>
