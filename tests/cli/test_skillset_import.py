"""A generated skillset imports both ways the ipfs_accelerate_py worker may load it.

As a module of the worker's package it must take the package's AnyioQueue (the
worker's own loader once failed on exactly this); loaded as a plain file by path it
falls back to asyncio.Queue. The package here is a minimal tree of the real layout
(ipfs_accelerate_py/worker/{anyio_queue.py, skillset/}) with a queue class of our own
standing in for the worker's.
"""
import json
import subprocess
import sys

import pytest

from reference_types import REFERENCE_TYPES, ident

QUEUE_STAND_IN = '''
class AnyioQueue:
    """Stands in for the worker's queue: same module path, same constructor."""

    def __init__(self, maxsize=0):
        self.maxsize = maxsize
'''

PROBE = '''
import asyncio, importlib, importlib.util, json, sys
mode, ident, path = sys.argv[1:]
if mode == "package":
    module = importlib.import_module(f"ipfs_accelerate_py.worker.skillset.hf_{ident}")
    from ipfs_accelerate_py.worker.anyio_queue import AnyioQueue
    expected = AnyioQueue
else:
    spec = importlib.util.spec_from_file_location(f"hf_{ident}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = asyncio.Queue
print(json.dumps({"queue_ok": getattr(module, f"hf_{ident}")._Queue is expected,
                  "has_class": hasattr(module, f"hf_{ident}"),
                  "torch_imported": "torch" in sys.modules}))
'''


@pytest.fixture(scope="module")
def package(tmp_path_factory, run_tool):
    root = tmp_path_factory.mktemp("worker")
    worker = root / "ipfs_accelerate_py" / "worker"
    skillsets = worker / "skillset"
    skillsets.mkdir(parents=True)
    for directory in (root / "ipfs_accelerate_py", worker, skillsets):
        (directory / "__init__.py").write_text("")
    (worker / "anyio_queue.py").write_text(QUEUE_STAND_IN)
    rc, _, err = run_tool("gen-skillset", *REFERENCE_TYPES, "-o", str(skillsets), "-q")
    assert rc == 0, err
    return root


@pytest.mark.parametrize("mode", ["package", "path"])
@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
def test_skillset_imports_as_package_module_and_by_path(package, model_type, mode):
    path = package / "ipfs_accelerate_py" / "worker" / "skillset" / f"hf_{ident(model_type)}.py"
    probe = subprocess.run([sys.executable, "-c", PROBE, mode, ident(model_type), str(path)],
                           capture_output=True, text=True, cwd=package)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == {"queue_ok": True, "has_class": True, "torch_imported": False}
