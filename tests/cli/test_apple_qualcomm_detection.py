"""apple (MPS) and qualcomm (QNN) are detected, and where they cannot serve, their
init_<backend> says what is missing: a SKIP with its reason, never a fake path.

apple asks torch for an MPS device. qualcomm looks for Qualcomm's QNN runtime as
onnxruntime's QNNExecutionProvider; even where it is present, no path runs a model on
it yet, and init_qualcomm says so (unimplemented). onnxruntime is handed in through
`resources` (the worker's contract) where the test needs one that lists QNN."""
import json
import subprocess
import textwrap

import pytest

from reference_types import REFERENCE_TYPES

PROBE = textwrap.dedent("""\
    import importlib.util, json, sys, types
    path, ident = sys.argv[1], sys.argv[2]
    spec = importlib.util.spec_from_file_location("hf_" + ident, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = getattr(module, "hf_" + ident)

    def raised(resources, backend):
        skillset = cls(resources=resources, metadata={"strict_backends": True})
        try:
            getattr(skillset, "init_" + backend)("/nonexistent/model", backend + ":0", backend + ":0")
        except cls.BackendUnavailable as exc:
            return {"reason": exc.reason, "backend": exc.backend, "message": str(exc)}
        return None

    def onnxruntime(*providers):
        return types.SimpleNamespace(get_available_providers=lambda: list(providers))

    found = {
        "apple": raised({}, "apple"),
        "qualcomm without QNN": raised({"onnxruntime": onnxruntime("CPUExecutionProvider")}, "qualcomm"),
        "qualcomm with QNN": raised(
            {"onnxruntime": onnxruntime("QNNExecutionProvider", "CPUExecutionProvider")}, "qualcomm"),
    }
    sys.modules["onnxruntime"] = None  # as if not installed: its import raises ImportError
    found["qualcomm without onnxruntime"] = raised({}, "qualcomm")
    print(json.dumps(found))
""")


@pytest.fixture(scope="module")
def detected(tmp_path_factory, cli):
    """What init_apple and init_qualcomm raise in each reference skillset, per case."""
    work = tmp_path_factory.mktemp("detection")
    rc, out, err = cli.run("gen-skillset", "-q", "-o", work, *REFERENCE_TYPES)
    assert rc == 0, err
    found = {}
    for manifest in cli.records(out):
        done = subprocess.run([cli.python, "-c", PROBE, manifest["skillset_file"], manifest["ident"]],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        found[manifest["model_type"]] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_apple_without_an_mps_device_is_no_device_naming_mps(detected, model_type):
    # No machine these tests run on has Apple silicon; torch is the real one.
    assert detected[model_type]["apple"] == {
        "reason": "no-device", "backend": "apple",
        "message": "apple: torch sees no MPS device (Apple silicon, a torch built with MPS)"}


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_qualcomm_without_onnxruntime_is_package_missing_naming_it(detected, model_type):
    raised = detected[model_type]["qualcomm without onnxruntime"]
    assert raised["reason"] == "package-missing" and raised["backend"] == "qualcomm"
    assert "'onnxruntime'" in raised["message"], raised


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_qualcomm_without_the_qnn_execution_provider_is_no_device_naming_it(detected, model_type):
    raised = detected[model_type]["qualcomm without QNN"]
    assert raised["reason"] == "no-device" and raised["backend"] == "qualcomm"
    assert "QNNExecutionProvider" in raised["message"], raised


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_qualcomm_with_a_qnn_runtime_is_honestly_unimplemented(detected, model_type):
    raised = detected[model_type]["qualcomm with QNN"]
    assert raised["reason"] == "unimplemented" and raised["backend"] == "qualcomm"
    assert "QNN" in raised["message"], raised
