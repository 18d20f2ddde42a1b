"""The hardware backends a skillset serves, and how the worker calls their init_<backend>.

The list is schemas/backend.schema.json's "enum", the project's one backend list, read
from the checkout skillkit is used from; adding a backend touches that enum, the
skillset templates' backends partial and, where its init_<backend> takes more than the
usual arguments, init() below.
"""
import json
from pathlib import Path

from . import worker_helpers

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "backend.schema.json"
NAMES = tuple(json.loads(SCHEMA.read_text(encoding="utf-8"))["enum"])


def device(backend):
    """The device string the ipfs_accelerate_py worker passes to init_<backend>."""
    return "cpu" if backend == "cpu" else f"{backend}:0"


def method(backend):
    """The skillset method serving `backend`: init_<backend>, a hyphen written as '_'."""
    return "init_" + backend.replace("-", "_")


def init(instance, backend, model_dir, task):
    """Call the skillset's init_<backend> with the worker's arguments; its result."""
    where = device(backend)
    if backend == "openvino":
        return instance.init_openvino(model_dir, task, where, where, *worker_helpers.openvino(task))
    return getattr(instance, method(backend))(model_dir, where, where)
