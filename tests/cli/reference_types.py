"""The reference type of every family with a template, as data/families.json declares
them: the model types the CLI tests run for real, so a new family is tested as soon as
it is declared. A module of its own because test modules cannot import conftest."""
import json
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
_FAMILIES = json.loads((_ROOT / "data" / "families.json").read_text(encoding="utf-8"))["families"]

# Every backend column, in order: the one list, schemas/backend.schema.json.
BACKENDS = tuple(json.loads((_ROOT / "schemas" / "backend.schema.json").read_text(encoding="utf-8"))["enum"])

REFERENCE_TYPES = tuple(sorted(
    family["reference_type"] for family in _FAMILIES.values() if family.get("reference_type")))


def _includes(name, partial):
    """Whether the family's template includes the partial (`{{> partial}}`)."""
    template = _ROOT / "templates" / "skillset" / f"{name}.py.mustache"
    return "{{> %s}}" % partial in template.read_text(encoding="utf-8")


def _reference_types_including(partial):
    return tuple(sorted(
        family["reference_type"] for name, family in _FAMILIES.items()
        if family.get("reference_type") and _includes(name, partial)))


# The reference types whose init_openvino runs the model on OpenVINO (the openvino
# partial); the others' raises unimplemented.
OPENVINO_TYPES = _reference_types_including("openvino")

# The reference types whose init_onnx runs the model's ONNX export on onnxruntime (the
# onnx partial); the others' raises unimplemented.
ONNX_TYPES = _reference_types_including("onnx")

# The reference types whose init_webnn exports the model with WebNN's fixed shapes and
# asks the browser for WebNN (the webnn partial); the others' raises unimplemented.
WEBNN_TYPES = _reference_types_including("webnn")

# The reference types of the families that generate (their `generation` settings).
GENERATING_TYPES = tuple(sorted(
    family["reference_type"] for family in _FAMILIES.values()
    if family.get("reference_type") and family.get("generation")))

# The reference types whose init_transformersjs_node and init_webgpu run the model with
# transformers.js (the transformersjs partial); the others' raise unimplemented.
TRANSFORMERSJS_TYPES = _reference_types_including("transformersjs")

# The reference types the ipfs_accelerate_py worker can serve: it looks a model up as
# hf_<config model_type>.py and takes the class of the file's name, which a hyphen
# (audio-spectrogram-transformer) leaves without a Python class name (docs/DESIGN.md,
# "The skillset contract": the worker's own limits).
# The worker test sends each type one input, then a list of two: the families whose one
# call takes a dict of modalities (clap's texts and clips, colpali's pages and queries)
# have no such pair of cases, so they are left out of it.
_DICT_INPUT_FAMILIES = ("multimodal-embedding", "retrieval")
WORKER_TYPES = tuple(name for name in REFERENCE_TYPES if "-" not in name and name not in {
    _FAMILIES[family]["reference_type"] for family in _DICT_INPUT_FAMILIES})


def ident(model_type):
    """The model type as gen-skillset names its file and class (hf_<ident>): a hyphen,
    which no Python name holds, becomes an underscore."""
    return model_type.replace("-", "_")
