"""The harness end to end against a tiny bert and hand-written skillsets (fixtures/)."""
import json
import os
import textwrap
import time

import pytest
import torch

from skillkit import cli, harness
from skillkit.skillset import instantiate

UNIMPLEMENTED = ("openvino", "qualcomm", "webnn", "webgpu", "onnx", "transformersjs-node")


def test_a_correct_skillset_passes_on_cpu_and_the_rest_is_skipped_or_unimplemented(bert_plan):
    result = harness.run(bert_plan)
    reference = result["reference"]
    assert reference["status"] == "pass"
    assert reference["candidate"] == bert_plan["candidates"][0]
    assert reference["signature"]["outputs"] == {"embeddings": {"dtype": "float", "shape": [None, 32]}}
    assert reference["tolerance"] == bert_plan["tolerance"]
    backends = result["backends"]
    assert list(backends) == bert_plan["backends"]
    assert backends["cpu"]["status"] == "pass" and backends["cpu"]["max_abs_diff"] <= 1e-5
    for name in ("rocm", "apple"):
        assert backends[name] == {"status": "skip", "reason": "no-device", "message": backends[name]["message"],
                                  "elapsed_s": backends[name]["elapsed_s"]}
    expected_cuda = "pass" if torch.cuda.is_available() else "skip"
    assert backends["cuda"]["status"] == expected_cuda
    assert all(backends[name]["status"] == "unimplemented" for name in UNIMPLEMENTED)
    assert set(result["versions"]) == {"python", "torch", "transformers"}
    assert result["elapsed_s"] > 0
    # Each backend's own time, so that a run tells what each backend costs.
    assert all(outcome["elapsed_s"] >= 0 for outcome in backends.values())
    assert backends["cpu"]["elapsed_s"] > 0
    assert not cli.failed(result)
    json.dumps(result, allow_nan=False)


def test_a_runtime_that_does_not_run_the_model_type_is_a_skip_never_a_pass(bert_plan, tmp_path):
    path = _write_skillset(tmp_path, """
        class BackendUnavailable(RuntimeError):
            reason = "unsupported-by-runtime"

        class hf_bert:
            def __init__(self, resources=None, metadata=None):
                pass
            def init_transformersjs_node(self, model_name, device, label):
                raise BackendUnavailable("transformersjs-node: transformers.js has no BertModel")
    """)
    result = harness.run(bert_plan, skillset_path=path, backends=["transformersjs-node"])
    outcome = result["backends"]["transformersjs-node"]
    assert (outcome["status"], outcome["reason"], outcome["message"]) == (
        "skip", "unsupported-by-runtime", "transformersjs-node: transformers.js has no BertModel")
    assert not cli.failed(result)


def test_a_webnn_skip_carries_the_graphs_operators_missing_from_the_webnn_execution_provider(bert_plan, skillset):
    result = harness.run(bert_plan, skillset_path=skillset("webnn_graph"), backends=["webnn"])
    webnn = result["backends"]["webnn"]
    assert webnn["status"] == "skip" and webnn["reason"] == "no-device"
    assert webnn["unsupported_ops"] == ["ai.onnx:IsNaN", "com.example:Fused"]
    assert webnn["input_shapes"] == {"input_ids": [1, 128]}
    assert webnn["message"].startswith("webnn: WebNN is not supported here; 2 of 3 operator types")
    assert not cli.failed(result)


def test_pooling_over_padding_fails_on_the_batch(bert_plan, skillset):
    result = harness.run(bert_plan, skillset_path=skillset("wrong_pooling"), backends=["cpu"])
    cpu = result["backends"]["cpu"]
    assert (cpu["status"], cpu["class"]) == ("fail", "parity")
    assert cpu["message"].startswith("case batch:")
    assert cpu["max_abs_diff"] > bert_plan["tolerance"]["atol"]
    assert cli.failed(result)


def test_a_mock_is_never_a_pass(bert_plan, skillset):
    cpu = harness.run(bert_plan, skillset_path=skillset("mock"), backends=["cpu"])["backends"]["cpu"]
    assert cpu["status"] == "fail" and "MOCK" in cpu["message"]
    assert cpu["class"] == "contract"


def test_a_handler_that_ignores_an_unknown_option_fails(bert_plan, skillset):
    cpu = harness.run(bert_plan, skillset_path=skillset("ignores_options"), backends=["cpu"])["backends"]["cpu"]
    assert cpu["status"] == "fail" and "accepted the unknown option" in cpu["message"], cpu
    assert cpu["class"] == "contract"


def test_a_result_served_by_another_backend_is_never_a_pass(bert_plan, skillset):
    rocm = harness.run(bert_plan, skillset_path=skillset("falls_back_to_cpu"), backends=["rocm"])["backends"]["rocm"]
    assert rocm["status"] == "fail" and "backend 'cpu' served it, not 'rocm'" in rocm["message"], rocm
    assert rocm["class"] == "contract"


def test_the_harness_asks_skillsets_for_strict_backends(tmp_path):
    path = _write_skillset(tmp_path, """
        class hf_bert:
            def __init__(self, resources=None, metadata=None):
                self.metadata = metadata
    """)
    metadata = instantiate(path, "bert").metadata
    assert (metadata["strict_backends"], metadata["precision"]) == (True, "fp32")


def test_a_missing_skillset_is_not_a_failure(bert_plan, tmp_path):
    result = harness.run(bert_plan, skillset_path=str(tmp_path / "hf_bert.py"))
    assert result["reference"]["status"] == "pass"
    assert {b["status"] for b in result["backends"].values()} == {"no-skillset"}
    assert not cli.failed(result)


def test_the_skillset_comes_from_the_environment_before_the_plan(bert_plan, skillset, monkeypatch):
    monkeypatch.setenv("SKILLSET_FILE", skillset("mock"))
    assert harness.run(bert_plan, backends=["cpu"])["backends"]["cpu"]["status"] == "fail"


def _write_skillset(tmp_path, body):
    path = tmp_path / "hf_bert.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_exceptions_are_errors_and_bad_init_results_are_failures(bert_plan, tmp_path):
    path = _write_skillset(tmp_path, """
        class hf_bert:
            def __init__(self, resources=None, metadata=None):
                pass
            def init_cpu(self, model_name, device, label):
                def handler(input, **options):
                    raise ValueError("handler broke")
                return None, None, handler, None, 1
            def init_cuda(self, model_name, device, label):
                return None, None, None
            def init_rocm(self, model_name, device, label):
                raise OSError("driver exploded")
            def init_openvino(self, model_name, model_type, device, label, *helpers):
                import no_such_package_of_a_skillset
    """)
    backends = harness.run(bert_plan, skillset_path=path,
                           backends=["cpu", "cuda", "rocm", "apple", "openvino"])["backends"]
    assert (backends["cpu"]["status"], backends["cpu"]["message"]) == ("error", "case one: ValueError: handler broke")
    assert backends["cuda"]["status"] == "fail" and "batch_size" in backends["cuda"]["message"]
    assert (backends["rocm"]["status"], backends["rocm"]["message"]) == ("error", "init_rocm: OSError: driver exploded")
    assert backends["apple"]["status"] == "error" and "init_apple" in backends["apple"]["message"]
    assert [backends[name]["class"] for name in ("cpu", "cuda", "rocm", "apple", "openvino")] == [
        "skillset-error", "contract", "skillset-error", "skillset-error", "missing-dependency:no-such-package-of-a-skillset"]


def test_a_skillset_that_does_not_import_is_an_error_on_every_backend(bert_plan, tmp_path):
    path = _write_skillset(tmp_path, "def hf_bert(:\n")
    backends = harness.run(bert_plan, skillset_path=path, backends=["cpu", "webnn"])["backends"]
    assert {(b["status"], b["class"]) for b in backends.values()} == {("error", "skillset-error")}
    assert "SyntaxError" in backends["cpu"]["message"]


def test_candidates_are_tried_in_order(bert_plan):
    broken = {"model_class": "NoSuchModel", "auto_class": "AutoModel", "processor_class": "AutoTokenizer"}
    bert_plan["candidates"].insert(0, broken)
    reference = harness.run(bert_plan, backends=["cpu"])["reference"]
    assert reference["status"] == "pass" and reference["candidate"]["model_class"] == "BertModel"


def test_without_a_working_candidate_the_reference_errs_and_nothing_is_compared(bert_plan):
    bert_plan["candidates"] = [{"model_class": "NoSuchModel", "auto_class": "AutoModel",
                                "processor_class": "AutoTokenizer"}]
    result = harness.run(bert_plan, backends=["cpu"])
    assert result["reference"]["status"] == "error"
    assert "NoSuchModel" in result["reference"]["message"]
    assert result["reference"]["class"] == "tiny-model"
    assert result["backends"]["cpu"]["status"] == "skip"
    assert result["backends"]["cpu"]["reason"] == "no-reference"
    assert cli.failed(result)


def test_an_unknown_family_is_a_reference_error(bert_plan):
    bert_plan["family"] = "no-such-family"
    result = harness.run(bert_plan, backends=["cpu"])
    assert result["reference"]["status"] == "error" and "no-such-family" in result["reference"]["message"]
    assert result["reference"]["class"] == "other"


def test_a_plan_for_another_transformers_version_is_a_reference_error(bert_plan):
    bert_plan["transformers_version"] = "0.0.1"
    reference = harness.run(bert_plan, backends=["cpu"])["reference"]
    assert reference["status"] == "error" and "0.0.1" in reference["message"]
    assert reference["class"] == "stale-plan"


def test_pytest_checks_fail_skip_and_pass(bert_plan, skillset, monkeypatch):
    harness.check_reference(bert_plan)
    harness.check_backend(bert_plan, "cpu")
    with pytest.raises(pytest.skip.Exception, match="no-device"):
        harness.check_backend(bert_plan, "rocm")
    with pytest.raises(pytest.skip.Exception, match="unimplemented"):
        harness.check_backend(bert_plan, "webgpu")
    monkeypatch.setenv("SKILLSET_FILE", skillset("wrong_pooling"))
    with pytest.raises(pytest.fail.Exception, match=r"cpu fail \(parity\): case batch"):
        harness.check_backend(bert_plan, "cpu")


def test_main_writes_json_and_exits_by_outcome(bert_plan, skillset, tmp_path, capsys):
    out = tmp_path / "result.json"
    assert harness.main(bert_plan, ["--backends", "cpu,webnn", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["backends"]) == {"cpu", "webnn"}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left
    summary = capsys.readouterr().err
    assert "reference pass (BertModel)" in summary and "webnn" in summary
    assert harness.main(bert_plan, ["--skillset", skillset("wrong_pooling"), "--backends", "cpu"]) == 1
    assert "cpu       fail (parity) max_abs_diff=" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        harness.main(bert_plan, ["--backends", "cpu,tpu"])
    assert exit_info.value.code == 2


def test_tiny_models_are_built_once_into_the_cache(bert_plan, tiny_cache):
    harness.run(bert_plan, backends=["cpu"])
    built = list((tiny_cache / "bert").iterdir())
    assert [path.name.startswith("BertModel-") for path in built] == [True]  # no temp dir left
    stamp = (built[0] / "model.safetensors").stat().st_mtime_ns
    harness.run(bert_plan, backends=["cpu"])
    assert (built[0] / "model.safetensors").stat().st_mtime_ns == stamp
    bert_plan["seed"] = 1
    harness.run(bert_plan, backends=["cpu"])
    assert len(list((tiny_cache / "bert").iterdir())) == 2


def test_a_new_build_deletes_the_builds_of_its_class_no_run_read_for_a_day(bert_plan, tiny_cache):
    harness.run(bert_plan, backends=["cpu"])
    used = max((tiny_cache / "bert").iterdir(), key=lambda path: path.stat().st_mtime)  # the run just read it
    stale = tiny_cache / "bert" / "BertModel-000000000000"
    stale.mkdir()
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(stale, (two_days_ago, two_days_ago))
    os.utime(used, (two_days_ago, two_days_ago))
    harness.run(bert_plan, backends=["cpu"])  # reads `used`: marks it used again
    bert_plan["seed"] = 7
    harness.run(bert_plan, backends=["cpu"])  # a new key of BertModel
    assert not stale.exists() and used.exists()


WHISPER_PLAN = {
    "model_type": "whisper", "ident": "whisper", "model_id": "whisper", "family": "speech-seq2seq",
    "task": "automatic-speech-recognition", "tasks": ["automatic-speech-recognition"],
    "candidates": [{"model_class": "WhisperForConditionalGeneration",
                    "auto_class": "AutoModelForSpeechSeq2Seq", "processor_class": "AutoProcessor"}],
    "backends": ["cpu"], "tolerance": {"rtol": 1e-4, "atol": 1e-4}, "seed": 0,
    "generation": {"max_new_tokens": 8}, "skillset_file": "/nonexistent/hf_whisper.py",
}


def test_greedy_margins_stay_out_of_the_signature():
    reference = harness.run(WHISPER_PLAN)["reference"]
    assert reference["status"] == "pass", reference.get("message")
    assert set(reference["signature"]["outputs"]) == {"token_ids", "texts"}


def test_a_tiny_models_cache_key_holds_the_code_of_every_family_module_its_recipe_calls():
    from skillkit import families
    from skillkit.tiny_cache import builder_modules

    def names(family):
        return {module.__name__ for module in builder_modules(families.load(family))}
    # speech-seq2seq builds audio language models with audio-text-to-text's recipe.
    assert {"skillkit.families.audio_text_to_text", "skillkit.tiny"} <= names("speech-seq2seq")
    assert not any("audio" in name for name in names("vision"))  # not every family loaded so far
