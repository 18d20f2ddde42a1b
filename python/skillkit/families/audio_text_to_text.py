"""Audio-language generators (qwen2_audio, audioflamingo3, glmasr, ...): a clip and a
prompt in, a greedy answer out.

The handler's contract (docs/DESIGN.md): one {"audio": <float32 mono 16 kHz array, path
or bytes>, "text": <prompt>} or a list of them in; `token_ids` (the new tokens only, up
to and including the first end of sequence, as image-text-to-text's) and `texts` (those
tokens decoded, skip_special_tokens=True) out, one entry per input. The prompt is
written from the text as the contract says (see prompt()): the processor's chat
template with one audio entry where it has one, else the text after the processor's
audio token unless it holds one already. The processor expands that token into as many
as the clip's features take.

The reference runs the processor and generate() on each input alone, unpadded, and takes
the generated tokens from the end of the sequence (len(scores) of them), so a skillset
that batches must show that it changes nothing.

One recipe builds every type, as image-text-to-text's does (see build_tiny): the config's
defaults shrunk in their widths and depths but never in their mel or frame sizes, which
the type's own feature extractor matches (its mel bins taken from the config); an
offline tokenizer holding the special tokens the processor reads
(tokenizers.for_processor); the config's token ids repointed at them; the processor's
own sizes taken from the config.
"""
import functools
import inspect

import transformers
from transformers import AutoProcessor
from transformers.models.auto.configuration_auto import CONFIG_MAPPING, model_type_to_module_name
from transformers.models.auto.feature_extraction_auto import (
    FEATURE_EXTRACTOR_MAPPING_NAMES,
)
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

from .. import greedy, media, tiny, tokenizers
from ..expected import Expected
from . import Case

VOCAB_SIZE = 384
ROLES = ("bos_token", "eos_token", "unk_token", "pad_token")

PROMPTS = ("What do you hear?", "Transcribe the speech in this recording, word for word, please.")
# Clip lengths, all different (seconds).
SECONDS = (1.3, 0.7, 2.1)

# Random weights at the configs' usual initializer range (0.02) answer every clip with
# the same tokens: a skillset that fed the wrong features would still agree. Wider
# weights make the answer depend on the audio.
INITIALIZER_RANGE = 0.2

# A chat template of the generic kind real checkpoints ship, for a processor that has
# none of its own: the user's turn holds the clip (as the processor's audio token) and
# the text, and the assistant's turn is opened for the answer.
CHAT_TEMPLATE = (
    "{{% for message in messages %}}{{{{ message['role'] }}}}: "
    "{{% for part in message['content'] %}}{{% if part['type'] == 'audio' %}}{audio}"
    "{{% else %}}{{{{ part['text'] }}}}{{% endif %}}{{% endfor %}}\n{{% endfor %}}"
    "{{% if add_generation_prompt %}}assistant:{{% endif %}}"
)

# Processor arguments that are parts, not sizes to take from the config.
_PROCESSOR_PARTS = ("feature_extractor", "audio_processor", "chat_template", "self", "args", "kwargs")


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    model_class = getattr(transformers, candidate["model_class"])
    if not hasattr(model_class, "generate"):
        raise TypeError(f"{candidate['model_class']} cannot generate")
    processor_name = PROCESSOR_MAPPING_NAMES.get(model_type)
    config = CONFIG_MAPPING[model_type]()
    extractor_name = FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type) or _tower_extractor(config)
    if not isinstance(processor_name, str) or not extractor_name:
        raise NotImplementedError(f"{model_type}: no processor and feature extractor class to build "
                                  f"({processor_name}, {extractor_name})")
    processor_class = getattr(transformers, processor_name)
    tokenizer, named = tokenizers.for_processor(model_type, processor_class, VOCAB_SIZE, ROLES)
    blank_last = _blank_last(config)
    tokenizers.repoint_token_ids(config, tokenizer, named)
    for sub in tiny.configs(config):
        if getattr(sub, "initializer_range", None) is not None:
            sub.initializer_range = INITIALIZER_RANGE
    # An audio encoder whose feed-forward width is a whole multiple of its width in the
    # defaults may reuse that multiple elsewhere: glmasr's projector reads the encoder's
    # output, four frames merged, at its intermediate_size (1280 x 4 = 5120). The tiny
    # one keeps the multiple, as transformers' GlmAsrModelTester does (128 x 4 = 512).
    audio = vars(config).get("audio_config")
    multiple = _feed_forward_multiple(audio)
    # An adaptor between the two at the text's width whose feed-forward is a whole
    # fraction of it (fun_asr_nano's, 1024 / 4, which its config requires) keeps the
    # fraction.
    fractions = _adaptor_fractions(config)
    tiny.shrink(config)
    if multiple:
        audio.intermediate_size = audio.hidden_size * multiple
    for sub, fraction in fractions:
        sub.intermediate_size = sub.hidden_size // fraction
    # What the audio tower's projector gives is what the language model reads: qwen3_asr's
    # output_dim (3584, its real text width) is the tiny text width, as Qwen3ASRModelTester
    # sets it.
    text = vars(config).get("text_config")
    if audio is not None and isinstance(vars(audio).get("output_dim"), int) and text is not None:
        audio.output_dim = text.hidden_size
    processor = _processor(processor_class, getattr(transformers, extractor_name), tokenizer, config)
    # The processor may name its audio token otherwise than its constructor's default:
    # the config follows, and the model is built from it.
    tokenizers.repoint_token_ids(config, tokenizer, named, processor)
    for sub in blank_last:
        # The classes are the tokenizer's pieces, then the blank.
        sub.vocab_size, sub.blank_token_id = len(tokenizer) + 1, len(tokenizer)
    tiny.seed_everything(seed)
    model = model_class(config).eval()
    if not getattr(processor, "chat_template", None):
        audio_token = getattr(processor, "audio_token", None)
        processor.chat_template = CHAT_TEMPLATE.format(audio=audio_token if isinstance(audio_token, str) else "")
    tiny.save_and_verify(model, processor, out_dir)


def _tower_extractor(config):
    """The feature extractor class of the type whose package holds the config's audio
    tower, for a type the feature-extractor table misses though its processor takes one
    (the registry's `processor_takes_all` claim): musicflamingo's tower is
    AudioFlamingo3Encoder (audio_config `audioflamingo3_encoder`, of the audioflamingo3
    package), which hears WhisperFeatureExtractor's features, as musicflamingo's
    checkpoints and transformers' processor tests give it. None where it has no audio
    tower or that package's type has no extractor either."""
    audio = vars(config).get("audio_config")
    if not isinstance(getattr(audio, "model_type", None), str):
        return None
    for name in (audio.model_type, model_type_to_module_name(audio.model_type)):
        if isinstance(FEATURE_EXTRACTOR_MAPPING_NAMES.get(name), str):
            return FEATURE_EXTRACTOR_MAPPING_NAMES[name]
    return None


def _blank_last(config):
    """The configs whose classes end with a blank after a tokenizer's pieces (its
    `blank_token_id` is the last class: nemo_speechlm's word-timestamp head, 23862 of
    23863 classes). Their vocabulary follows the tiny tokenizer's, one class more, and
    the blank stays last: left at the real id, it lay past the tiny vocabulary, which
    the config refuses."""
    return [sub for sub in tiny.configs(config)
            if isinstance(vars(sub).get("blank_token_id"), int) and isinstance(vars(sub).get("vocab_size"), int)
            and sub.blank_token_id == sub.vocab_size - 1]


def _feed_forward_multiple(audio_config):
    """intermediate_size over hidden_size of an audio encoder's config, where it names
    both and the one is a whole multiple of the other; else None."""
    sizes = vars(audio_config) if audio_config is not None else {}
    hidden, intermediate = sizes.get("hidden_size"), sizes.get("intermediate_size")
    if isinstance(hidden, int) and isinstance(intermediate, int) and hidden > 0 and intermediate % hidden == 0:
        return intermediate // hidden
    return None


def _adaptor_fractions(config):
    """(sub-config, hidden_size over intermediate_size) for each sub-config but the text
    model's that is as wide as the text model and whose feed-forward width is a whole
    fraction of its width, in the defaults."""
    text = vars(config).get("text_config")
    width = vars(text).get("hidden_size") if text is not None else None
    found = []
    for sub in tiny.configs(config):
        hidden, intermediate = vars(sub).get("hidden_size"), vars(sub).get("intermediate_size")
        if sub is not text and isinstance(width, int) and hidden == width and isinstance(intermediate, int) \
                and 0 < intermediate < hidden and hidden % intermediate == 0:
            found.append((sub, hidden // intermediate))
    return found


def _processor(processor_class, extractor_class, tokenizer, config):
    """The type's processor over its own feature extractor (tiny.feature_extractor: its
    defaults, but the mel bins the config's audio encoder takes) and `tokenizer`, which also stands for any other
    tokenizer it takes (nemo_speechlm's alignment_tokenizer), with the sizes its
    constructor takes that the config names (moss_transcribe_diarize's audio_merge_size)."""
    extractor = at_cases_rate(tiny.feature_extractor(extractor_class, config), config)
    # granite_speech's processor names its feature extractor `audio_processor`.
    takes = inspect.signature(processor_class.__init__).parameters
    parts = {"audio_processor" if "audio_processor" in takes else "feature_extractor": extractor}
    for name in inspect.signature(processor_class.__init__).parameters:
        if name.endswith("tokenizer"):
            parts[name] = tokenizer
        elif name not in _PROCESSOR_PARTS and not name.endswith("_token"):
            value = next((vars(sub)[name] for sub in tiny.configs(config)
                          if isinstance(vars(sub).get(name), (int, float)) and not isinstance(vars(sub)[name], bool)),
                         None)
            if value is not None:
                parts[name] = value
    return processor_class(**parts)


def at_cases_rate(extractor, config):
    """`extractor`, hearing the cases' 16 kHz clips (shared with speech-seq2seq).

    One that passes the waveform on (feature_size 1: the 24 kHz codec front ends of
    kyutai_speech_to_text and vibevoice_asr) is told 16 kHz, and so are the configs that
    declare a `sampling_rate` (kyutai's mimi codec): the model's strides count samples,
    not seconds, as audio-encoder's tiny codecs (encodec, mimi) hear 16 kHz. A
    spectrogram extractor's mel filters are made for its rate: another is refused.
    """
    if extractor.sampling_rate == media.SAMPLE_RATE:
        return extractor
    if getattr(extractor, "feature_size", None) != 1:
        raise NotImplementedError(f"{type(extractor).__name__} takes {extractor.sampling_rate} Hz audio, "
                                  f"not the cases' {media.SAMPLE_RATE} Hz")
    extractor.sampling_rate = media.SAMPLE_RATE
    for sub in tiny.configs(config):
        if isinstance(vars(sub).get("sampling_rate"), int):
            sub.sampling_rate = media.SAMPLE_RATE
    return extractor


def prompt(processor, text):
    """The prompt the contract writes for one clip and `text` (see the module's doc)."""
    return tokenizers.media_prompt(processor, text, "audio")


def cases(plan):
    n = plan["generation"]["max_new_tokens"]
    one, first, second = media.audio(len(SECONDS), plan.get("seed", 0), SECONDS)
    # min_new_tokens == max_new_tokens: a random model may end at once, and two empty
    # answers would agree whatever the skillset does.
    fixed = {"max_new_tokens": n, "min_new_tokens": n}
    return [
        Case("one clip and a prompt", {"audio": one, "text": PROMPTS[0]}, fixed),
        # Different lengths of clip and prompt: a batch that pads them together must
        # change nothing.
        Case("two clips of different lengths, prompts of different lengths",
             [{"audio": first, "text": PROMPTS[0]}, {"audio": second, "text": PROMPTS[1]}], fixed),
        Case("one clip as a WAV file, each to its own end",
             [{"audio": media.wav_file(one, "clip.wav"), "text": PROMPTS[1]}], {"max_new_tokens": n}),
    ]


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _load(model_dir, auto_class):
    processor = AutoProcessor.from_pretrained(model_dir)
    model = getattr(transformers, auto_class).from_pretrained(model_dir).eval()
    return processor, model


def reference(model_dir, candidate, case, plan):
    processor, model = _load(model_dir, candidate["auto_class"])
    settings = dict(case.options, do_sample=False, num_beams=1)
    end = model.generation_config.eos_token_id
    end_ids = set(end) if isinstance(end, list) else {end}
    items = case.input if isinstance(case.input, list) else [case.input]
    expected = Expected({"token_ids": [], "texts": []})
    for item in items:  # each alone: nothing padded together
        clip = media.load_clip(item["audio"])
        inputs = processor(text=prompt(processor, item["text"]), audio=clip, sampling_rate=media.SAMPLE_RATE,
                           return_tensors="pt")
        token_ids, margins = greedy.answer(model, inputs, settings, end_ids)
        expected["token_ids"].append(token_ids)
        expected["texts"].append(processor.batch_decode([token_ids], skip_special_tokens=True)[0])
        expected.margins.append(margins)
    return expected


# Token ids equal token for token and texts equal, ties named.
compare = greedy.compare
