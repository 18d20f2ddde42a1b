"""Shared fixtures of skillkit's own tests: a bert plan and a private tiny-model cache."""
import copy
import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

BERT_PLAN = {
    "model_type": "bert", "ident": "bert", "model_id": "bert", "family": "text-encoder",
    "task": "feature-extraction", "tasks": ["feature-extraction"],
    "candidates": [{"model_class": "BertModel", "auto_class": "AutoModel",
                    "processor_class": "AutoTokenizer"}],
    "backends": ["cpu", "cuda", "rocm", "openvino", "apple", "qualcomm", "webnn", "webgpu"],
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


@pytest.fixture
def skillset():
    """The path of a hand-written bert skillset under fixtures/: good, wrong_pooling, mock."""
    return lambda variant: str(FIXTURES / f"hf_bert_{variant}.py")
