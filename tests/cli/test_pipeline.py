"""The whole loop, for real, on the reference type of every family with a template.

gen-tests | run-tests | analyze | gen-skillset | verify, with real tiny models built
offline, and then the loop again: the second run must change nothing.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

from reference_types import (BACKENDS, ONNX_TYPES, OPENVINO_TYPES, REFERENCE_TYPES, TRANSFORMERSJS_TYPES,
                             WEBNN_TYPES)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SKILLSET_BIN") or ROOT / "bin")  # make asan: another build


def _stage(tool, args, stdin_text, cwd):
    run = subprocess.run([BIN / tool, *args], input=stdin_text, capture_output=True, text=True, cwd=cwd)
    return run


# Every backend but webgpu: the loop runs each test three times, and a headless browser
# computing on a software adapter costs seconds per model type; bert's real test
# (conftest.py's bert_loop) runs webgpu instead.
LOOP_BACKENDS = tuple(backend for backend in BACKENDS if backend != "webgpu")


def _loop(workdir):
    """One pass of the pipeline, stage by stage so that each stage's output can be checked."""
    outputs = {}
    text = None
    stages = [
        ("gen-tests", [*REFERENCE_TYPES, "-o", "tests", "--skillset-dir", "skillsets",
                       "--backends", ",".join(LOOP_BACKENDS)]),
        ("run-tests", []),
        ("analyze", []),
        ("gen-skillset", []),
        ("verify", []),
    ]
    for tool, args in stages:
        run = _stage(tool, args, text, workdir)
        assert run.returncode == 0, f"{tool} exited {run.returncode}: {run.stderr[-2000:]}"
        text = run.stdout
        outputs[tool] = [json.loads(line) for line in text.splitlines()]
    return outputs


@pytest.fixture(scope="module")
def loops(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pipeline")
    first = _loop(workdir)
    skillsets = {p.name: p.read_bytes() for p in (workdir / "skillsets").glob("*.py")}
    second = _loop(workdir)
    return workdir, first, second, skillsets


def test_pipeline_runs_every_stage_with_exit_0_for_every_reference_type(loops):
    _, first, _, _ = loops
    assert sorted(r["model_type"] for r in first["gen-tests"]) == sorted(REFERENCE_TYPES)
    assert sorted(r["model_type"] for r in first["gen-skillset"]) == sorted(REFERENCE_TYPES)


def test_run_tests_before_skillsets_exist_reports_no_skillset_not_failure(loops):
    _, first, _, _ = loops
    for result in first["run-tests"]:
        assert result["reference"]["status"] == "pass", result
        assert {b["status"] for b in result["backends"].values()} == {"no-skillset"}


def test_every_skillset_passes_real_cpu_parity_in_verify(loops):
    _, first, _, _ = loops
    *discrepancies, summary = first["verify"]
    assert discrepancies == []
    assert summary["schema"] == "verify-summary"
    n = len(REFERENCE_TYPES)
    assert summary["skillsets"] == n and summary["passed"] == n
    # cpu, one per skillset, and openvino, onnx and transformersjs-node where the family's
    # template serves them
    served = len(OPENVINO_TYPES) + len(ONNX_TYPES) + len(TRANSFORMERSJS_TYPES)
    assert summary["backend_statuses"]["pass"] == n + served


def test_backends_without_a_device_or_implementation_are_never_passes(loops):
    _, first, _, _ = loops
    n = len(REFERENCE_TYPES)
    statuses = first["verify"][-1]["backend_statuses"]
    passes = len(OPENVINO_TYPES) + len(ONNX_TYPES) + len(TRANSFORMERSJS_TYPES)
    assert statuses.get("skip", 0) + statuses.get("unimplemented", 0) == n * (len(LOOP_BACKENDS) - 1) - passes
    unimplemented = {"openvino": n - len(OPENVINO_TYPES), "onnx": n - len(ONNX_TYPES)}
    # Where the webnn partial serves, webnn is a skip: no WebNN device here.
    unimplemented["webnn"] = n - len(WEBNN_TYPES)
    unimplemented["transformersjs-node"] = n - len(TRANSFORMERSJS_TYPES)
    assert first["verify"][-1]["unimplemented_backends"] == {b: k for b, k in unimplemented.items() if k}


@pytest.mark.parametrize("backend, types", [("openvino", OPENVINO_TYPES), ("onnx", ONNX_TYPES),
                                            ("transformersjs-node", TRANSFORMERSJS_TYPES)])
def test_backend_passes_parity_exactly_where_the_family_serves_it(loops, backend, types):
    _, _, second, _ = loops
    statuses = {r["model_type"]: r["backends"][backend]["status"] for r in second["run-tests"]}
    assert types and set(types) <= set(REFERENCE_TYPES)
    assert statuses == {t: "pass" if t in types else "unimplemented" for t in REFERENCE_TYPES}


def test_webnn_is_a_skip_with_its_graphs_operator_coverage_where_the_family_serves_it(loops):
    _, _, second, _ = loops
    assert WEBNN_TYPES and set(WEBNN_TYPES) <= set(ONNX_TYPES)
    for result in second["run-tests"]:
        webnn = result["backends"]["webnn"]
        if result["model_type"] not in WEBNN_TYPES:
            assert webnn["status"] == "unimplemented", result["model_type"]
            continue
        # No WebNN device here: never a pass, and the graph WebNN would run is checked.
        assert webnn["status"] == "skip" and webnn["reason"] == "no-device", webnn
        assert "WebNN" in webnn["message"] and "operator types" in webnn["message"], webnn
        assert isinstance(webnn["unsupported_ops"], list), webnn
        assert webnn["input_shapes"] and all(
            all(isinstance(d, int) and d > 0 for d in shape) for shape in webnn["input_shapes"].values()), webnn


def test_second_loop_changes_nothing(loops):
    workdir, first, second, skillsets = loops
    assert first["analyze"] == second["analyze"]
    assert {m["status"] for m in second["gen-skillset"]} == {"unchanged"}
    assert {p.name: p.read_bytes() for p in (workdir / "skillsets").glob("*.py")} == skillsets


def test_requirements_record_what_the_reference_measured(loops):
    _, first, _, _ = loops
    by_type = {r["model_type"]: r for r in first["analyze"]}
    assert by_type["bert"]["auto_class"] == "AutoModel"
    assert by_type["gpt2"]["generation"] == {"max_new_tokens": 8}
    assert by_type["whisper"]["processor_class"] == "AutoProcessor"
    for r in by_type.values():
        assert r["measured"] is True
        assert r["versions"]["transformers"]
        assert r["signature"]["outputs"]


def test_make_has_a_target_per_model_type_running_the_loop_for_it():
    dry = subprocess.run(["make", "-n", "xlm-roberta"], capture_output=True, text=True, cwd=ROOT)
    assert dry.returncode == 0, dry.stderr
    assert "pipeline MODELS=xlm-roberta" in dry.stdout
    unknown = subprocess.run(["make", "-n", "no-such-model-type"], capture_output=True, text=True, cwd=ROOT)
    assert unknown.returncode != 0
