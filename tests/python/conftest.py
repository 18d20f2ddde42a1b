"""Shared fixtures of skillkit's own tests: a bert plan, a private tiny-model cache and
the skillsets gen-skillset writes."""
import copy
import os
import subprocess
from pathlib import Path

import pytest

from skillkit import backends
from skillkit.skillset import instantiate

FIXTURES = Path(__file__).parent / "fixtures"
GEN_SKILLSET = Path(__file__).resolve().parents[2] / "bin" / "gen-skillset"

BERT_PLAN = {
    "model_type": "bert", "ident": "bert", "model_id": "bert", "family": "text-encoder",
    "task": "feature-extraction", "tasks": ["feature-extraction"],
    "candidates": [{"model_class": "BertModel", "auto_class": "AutoModel",
                    "processor_class": "AutoTokenizer"}],
    "backends": list(backends.NAMES),
    "tolerance": {"rtol": 1e-4, "atol": 1e-5}, "seed": 0, "generation": None,
    "skillset_file": str(FIXTURES / "hf_bert_good.py"),
    "test_file": "/nonexistent/test_hf_bert.py",
}


@pytest.fixture(scope="session", autouse=True)
def tiny_cache(tmp_path_factory):
    """Tiny models of this session go to a private cache, built once for all tests."""
    path = tmp_path_factory.mktemp("tiny")
    saved = {name: os.environ.pop(name, None) for name in ("SKILLKIT_CACHE", "SKILLSET_FILE")}
    os.environ["SKILLKIT_CACHE"] = str(path)
    yield path
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value


@pytest.fixture
def bert_plan():
    """A fresh copy of the bert plan, served by the known-good fixture skillset."""
    return copy.deepcopy(BERT_PLAN)


# The known-bad skillsets are the hand-written good one with one deliberate bug each, so
# each differs from it by exactly what its test is about.
MUTATIONS = {
    # The cpu backend labels real numbers MOCK, which must never count as a pass.
    "mock": ('"implementation_type": "REAL"', '"implementation_type": "MOCK"'),
    # Padding positions count in the mean: one sentence comes out right, a batch of two
    # sentences of different lengths does not.
    "wrong_pooling": ('            mask = batch["attention_mask"].unsqueeze(-1).float()\n'
                      '            embeddings = (hidden * mask).sum(dim=1) / mask.sum(dim=1)\n',
                      '            embeddings = hidden.mean(dim=1)\n'),
    # The handler swallows options it does not know: right numbers, but a caller's
    # misspelt option would be ignored without a word.
    "ignores_options": ("        def handler(input):\n", "        def handler(input, **options):\n"),
    # The batch's embeddings flattened into one list: real numbers, not the shape the
    # task's output schema (schemas/outputs/feature-extraction.schema.json) promises.
    "flat_embeddings": ('"embeddings": embeddings.tolist()', '"embeddings": embeddings.flatten().tolist()'),
    # rocm, unavailable here, serves on the CPU instead, as a skillset does in the
    # ipfs_accelerate_py worker: real numbers, but not rocm's.
    "falls_back_to_cpu": ('        raise self.BackendUnavailable("rocm", "no-device", "no ROCm device")\n',
                          '        return self._init(model_name, "cpu", "cpu")\n'),
    # init_webnn as the generated ones raise where the browser has no WebNN: with the
    # operators and input shapes of the graph it exported.
    "webnn_graph": ('        raise self.BackendUnavailable("webnn", "unimplemented", "not written")\n',
                    '        error = self.BackendUnavailable("webnn", "no-device", "WebNN is not supported here")\n'
                    '        error.operators = ["ai.onnx:IsNaN", "ai.onnx:MatMul", "com.example:Fused"]\n'
                    '        error.input_shapes = {"input_ids": [1, 128]}\n'
                    '        raise error\n'),
}


@pytest.fixture(scope="session")
def skillset(tmp_path_factory):
    """The path of a bert skillset: "good" (fixtures/hf_bert_good.py) or a MUTATIONS key."""
    good = FIXTURES / "hf_bert_good.py"
    directory = tmp_path_factory.mktemp("skillsets")

    def path(variant):
        if variant == "good":
            return str(good)
        old, new = MUTATIONS[variant]
        text = good.read_text()
        assert text.count(old) == 1, f"the {variant} mutation no longer applies to {good.name}"
        mutant = directory / f"hf_bert_{variant}.py"
        mutant.write_text(text.replace(old, new))
        return str(mutant)

    return path


@pytest.fixture(scope="module")
def skillsets(tmp_path_factory):
    """skillsets(model_type, task=None): the skillset gen-skillset writes from the
    registry for the type (serving `task`, else its family's default), instantiated."""
    if not GEN_SKILLSET.exists():
        pytest.skip("needs bin/gen-skillset (make tools)")
    out = tmp_path_factory.mktemp("skillsets")

    def generate(model_type, task=None):
        target = out / (task or "default")
        subprocess.run([str(GEN_SKILLSET), "-q", model_type, *(["--task", task] if task else []), "-o", str(target)],
                       check=True, capture_output=True)
        ident = model_type.replace("-", "_")
        return instantiate(target / f"hf_{ident}.py", ident)

    return generate
