"""text-decoder's heads besides generation (feature-extraction, text-classification,
token-classification), served on torch as the text-encoder family serves them."""
import pytest
import transformers

from skillkit.families import Case, text_decoder
from skillkit.skillset import instantiate

TEXTS = ["Hello world.", "A much longer second sentence, so that the batch needs padding!"]
CLASSIFIER = {"model_class": "GPT2ForSequenceClassification", "auto_class": "AutoModelForSequenceClassification",
              "processor_class": "AutoTokenizer"}


def skillset(run_tool, out, task):
    rc, _, err = run_tool("gen-skillset", "-q", "--task", task, "-o", out, "gpt2")
    assert rc == 0, err
    return instantiate(str(out / "hf_gpt2.py"), "gpt2")


def test_a_decoder_classifier_whose_config_names_no_padding_token_scores_each_text_alone(tmp_path, run_tool):
    model_dir = tmp_path / "model"
    text_decoder.build_tiny("gpt2", CLASSIFIER, str(model_dir), seed=0)
    # As many fine-tuned decoders ship: the head cannot find a padded text's last token.
    config = transformers.AutoConfig.from_pretrained(model_dir)
    config.pad_token_id = None
    config.save_pretrained(model_dir)
    plan = {"task": "text-classification", "model_type": "gpt2", "tolerance": {"rtol": 1e-4, "atol": 1e-5}}
    _, _, handler, _, _ = skillset(run_tool, tmp_path, "text-classification").init_cpu(str(model_dir))
    actual = handler(TEXTS, top_k=None)
    expected = text_decoder.reference(str(model_dir), CLASSIFIER, Case("batch", TEXTS, {"top_k": None}), plan)
    comparison = text_decoder.compare(expected, actual, plan)
    assert comparison.ok, comparison.message
    assert len(actual["logits"]) == len(actual["predictions"]) == 2


@pytest.mark.parametrize("init", ["init_openvino", "init_onnx", "init_transformersjs_node"])
def test_a_decoder_head_on_a_converted_backend_is_unimplemented_not_a_failure(tmp_path, run_tool, init):
    hf = skillset(run_tool, tmp_path, "feature-extraction")
    args = ("gpt2", "gpt2", "openvino:0", "openvino:0") if init == "init_openvino" else ("gpt2",)
    with pytest.raises(hf.BackendUnavailable) as raised:
        getattr(hf, init)(*args)
    assert raised.value.reason == "unimplemented" and "torch only" in str(raised.value)
