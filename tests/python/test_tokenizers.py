import json
import subprocess
import sys

from transformers import BertTokenizer, GPT2Tokenizer, T5Tokenizer

from skillkit import tokenizers

ALL = "import json; from skillkit import tokenizers as t; print(json.dumps([t.wordpiece_vocab(300), " \
      "t.byte_level_bpe(400, ['<|endoftext|>']), t.unigram(300, ['<pad>', '</s>', '<unk>'])]))"


def test_vocabularies_are_the_same_in_every_process():
    # The trainers of the tokenizers library break ties in hash order, which differs
    # per process; a fresh interpreter each time is what would show it.
    runs = [subprocess.run([sys.executable, "-c", ALL], check=True, capture_output=True, text=True).stdout
            for _ in range(2)]
    here = json.loads(json.dumps([tokenizers.wordpiece_vocab(300),
                                  tokenizers.byte_level_bpe(400, ["<|endoftext|>"]),
                                  tokenizers.unigram(300, ["<pad>", "</s>", "<unk>"])]))
    assert json.loads(runs[0]) == json.loads(runs[1]) == here


def test_wordpiece_vocab_serves_bert_tokenizer_without_unknowns():
    vocab = tokenizers.wordpiece_vocab(300)
    assert len(vocab) == 300 and sorted(vocab.values()) == list(range(300))
    assert list(vocab)[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = BertTokenizer(vocab=vocab)
    for sentence in tokenizers.CORPUS:
        assert tokenizer.unk_token_id not in tokenizer(sentence)["input_ids"], sentence
    assert len(tokenizer.tokenize("the quick brown fox")) < len("thequickbrownfox")


def test_wordpiece_vocab_takes_other_special_tokens():
    assert list(tokenizers.wordpiece_vocab(100, ["<s>", "<pad>", "</s>", "<unk>"]))[:4] == \
        ["<s>", "<pad>", "</s>", "<unk>"]


def test_byte_level_bpe_round_trips_any_text_through_gpt2_tokenizer():
    vocab, merges = tokenizers.byte_level_bpe(400, ["<|endoftext|>"])
    assert vocab["<|endoftext|>"] == 0 and len(vocab) <= 400
    assert all(isinstance(m, tuple) and len(m) == 2 for m in merges)
    tokenizer = GPT2Tokenizer(vocab=vocab, merges=merges)
    text = "Ünïcödé and emoji 🙂 never seen before, with the quick fox."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    assert len(tokenizer.tokenize("the quick brown fox")) < len("the quick brown fox")


def test_unigram_serves_t5_tokenizer():
    vocab = tokenizers.unigram(300, ["<pad>", "</s>", "<unk>"])
    assert vocab[:3] == [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    assert len({piece for piece, _ in vocab}) == len(vocab) <= 300
    assert all(score < 0 for _, score in vocab[3:])
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    ids = tokenizer("The quick brown fox jumps over the lazy dog.")["input_ids"]
    assert tokenizer.unk_token_id not in ids and ids[-1] == tokenizer.eos_token_id


def test_for_model_type_uses_the_own_class_where_it_takes_byte_level_bpe():
    tokenizer = tokenizers.for_model_type("qwen2", 384, ("bos_token", "eos_token", "unk_token"))
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"
    # Its default special tokens come first, not appended past the trained vocabulary.
    assert len(tokenizer) == 384 and tokenizer.eos_token_id == 0
    assert tokenizers.round_trips(tokenizer, 384)


def test_for_model_type_falls_back_to_a_generic_tokenizer_that_reloads(tmp_path):
    from transformers import AutoTokenizer, LlamaConfig
    # LlamaTokenizer's Metaspace pipeline cannot take a byte-level vocabulary losslessly.
    tokenizer = tokenizers.for_model_type("llama", 384, ("bos_token", "eos_token", "unk_token", "pad_token"))
    assert type(tokenizer).__name__ == "TokenizersBackend"
    # Special tokens take the first ids in the fairseq order, whatever order roles name them in.
    assert [tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id,
            tokenizer.unk_token_id] == [0, 1, 2, 3]
    LlamaConfig().save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "Hello, world! Zebras & yaks."
    assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert reloaded.decode(reloaded(text)["input_ids"]) == text
    assert reloaded.eos_token_id == 2


def test_for_model_type_is_the_same_in_every_call():
    first = tokenizers.for_model_type("llama", 384, ("eos_token",))
    second = tokenizers.for_model_type("llama", 384, ("eos_token",))
    assert first.get_vocab() == second.get_vocab()


def test_for_model_type_trains_the_vocabulary_kind_of_the_own_class():
    bert = tokenizers.for_model_type("bert", 300, tokenizers.ROLES)
    assert type(bert).__name__ == "BertTokenizer"
    assert bert.convert_ids_to_tokens([0, 1, 2, 3, 4]) == ["[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"]
    t5 = tokenizers.for_model_type("t5", 300, ("bos_token", "eos_token", "unk_token", "pad_token"))
    assert type(t5).__name__ == "T5Tokenizer"
    assert [t5.pad_token_id, t5.eos_token_id, t5.unk_token_id] == [0, 1, 2]  # as T5Tokenizer assumes
    clip = tokenizers.for_model_type("clip", 600, ("bos_token", "eos_token", "unk_token", "pad_token"))
    assert type(clip).__name__ == "CLIPTokenizer" and len(clip) == 600
    ids = clip("a photo of a cat")["input_ids"]
    assert clip.unk_token_id not in ids[1:-1] and clip.decode(ids, skip_special_tokens=True) == "a photo of a cat"


def test_a_lossless_tokenizer_never_lower_cases():
    # OpenAIGPTTokenizer lower-cases: fine for an encoder, not where decoded texts are compared.
    assert type(tokenizers.for_model_type("openai-gpt", 600, ("unk_token",))).__name__ == "OpenAIGPTTokenizer"
    lossless = tokenizers.for_model_type("openai-gpt", 600, ("unk_token",), lossless=True)
    assert type(lossless).__name__ == "TokenizersBackend"
    assert tokenizers.round_trips(lossless, len(lossless))
