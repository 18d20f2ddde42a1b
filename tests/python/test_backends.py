import json
from pathlib import Path

import skillkit
from skillkit import backends


def test_the_backend_list_is_the_schema_enum():
    schema = Path(skillkit.__file__).resolve().parents[2] / "schemas" / "backend.schema.json"
    assert backends.NAMES == tuple(json.loads(schema.read_text())["enum"])


def test_device_strings_follow_the_worker_convention():
    assert [backends.device(name) for name in ("cpu", "cuda", "webgpu")] == ["cpu", "cuda:0", "webgpu:0"]


class _Recorder:
    def __getattr__(self, name):
        return lambda *args: (name, args)


def test_init_passes_the_worker_arguments():
    assert backends.init(_Recorder(), "rocm", "/m", "feature-extraction") == \
        ("init_rocm", ("/m", "rocm:0", "rocm:0"))
    name, args = backends.init(_Recorder(), "openvino", "/m", "feature-extraction")
    assert name == "init_openvino" and args[:4] == ("/m", "feature-extraction", "openvino:0", "openvino:0")
    assert len(args) == 8 and all(callable(helper) for helper in args[4:])
