"""A generated skillset's init_onnx on a tiny bert: fp32 within the family's tolerance of
torch, int8 quantized (near, not equal), precisions onnxruntime does not serve refused,
and exported graphs cached so a second init exports nothing."""
import json
import os
import subprocess

import pytest

SERVE = """\
import importlib.util, json, os, sys
from skillkit import families, tiny_cache

path, cache = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("hf_bert", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
plan = {"model_type": "bert", "ident": "bert", "seed": 0}
candidate = {"model_class": "BertModel", "auto_class": "AutoModel", "processor_class": "AutoTokenizer"}
model = str(tiny_cache.tiny_model_dir(families.load("text-encoder"), plan, candidate))
texts = ["a short text", "a longer text than the short one"]
found = {"cpu": module.hf_bert().init_cpu(model)[2](texts)["embeddings"], "runs": []}
for precision in ("fp32", "int8", "fp32"):
    metadata = {"precision": precision, "onnx_cache_dir": cache, "strict_backends": True}
    skillset = module.hf_bert(metadata=metadata)
    output = skillset.init_onnx(model)[2](texts)
    found["runs"].append({"precision": precision, "embeddings": output["embeddings"],
                          "device": output["device"], "files": sorted(os.listdir(cache))})
try:
    module.hf_bert(metadata={"precision": "fp16", "strict_backends": True}).init_onnx(model)
    found["fp16"] = None
except module.hf_bert.BackendUnavailable as exc:
    found["fp16"] = {"backend": exc.backend, "reason": exc.reason, "message": str(exc)}
print(json.dumps(found))
"""


def max_abs_diff(a, b):
    return max(abs(x - y) for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))


@pytest.fixture(scope="module")
def served(cli, tmp_path_factory):
    work = tmp_path_factory.mktemp("onnx")
    rc, out, err = cli.run("gen-skillset", "-q", "-o", work, "bert")
    assert rc == 0, err
    env = dict(os.environ, PYTHONPATH=str(cli.root / "python"))
    done = subprocess.run([cli.python, "-c", SERVE, str(work / "hf_bert.py"), str(work / "cache")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_init_onnx_fp32_matches_torch_within_the_text_encoders_tolerance(served):
    fp32 = served["runs"][0]
    assert fp32["device"] == "onnx:0"
    assert max_abs_diff(fp32["embeddings"], served["cpu"]) <= 1e-5


def test_init_onnx_int8_runs_a_quantized_graph_near_fp32(served):
    int8 = served["runs"][1]
    diff = max_abs_diff(int8["embeddings"], served["cpu"])
    # Quantized: not fp32's numbers, but near them (2e-2 measured on the tiny bert).
    assert 1e-4 < diff < 0.1, diff
    assert len(int8["files"]) == len(served["runs"][0]["files"]) + 1


def test_init_onnx_second_init_exports_nothing_and_leaves_no_staged_file(served):
    first, _, again = served["runs"]
    assert first["files"] and all(name.count(".") == 1 and name.endswith(".onnx") for name in first["files"])
    assert again["files"] == served["runs"][1]["files"]
    assert again["embeddings"] == first["embeddings"]


def test_init_onnx_refuses_a_precision_onnxruntime_does_not_serve_here(served):
    assert served["fp16"] == {"backend": "onnx", "reason": "unimplemented", "message": served["fp16"]["message"]}
    assert "fp16" in served["fp16"]["message"] and "int8" in served["fp16"]["message"]
