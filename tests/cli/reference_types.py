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


def _serves_openvino(name):
    """Whether the family's template serves init_openvino for real (its openvino partial)."""
    template = _ROOT / "templates" / "skillset" / f"{name}.py.mustache"
    return "{{> openvino}}" in template.read_text(encoding="utf-8")


# The reference types whose init_openvino runs the model on OpenVINO; the others' raises
# unimplemented.
OPENVINO_TYPES = tuple(sorted(
    family["reference_type"] for name, family in _FAMILIES.items()
    if family.get("reference_type") and _serves_openvino(name)))

# The reference types of the families that generate (their `generation` settings).
GENERATING_TYPES = tuple(sorted(
    family["reference_type"] for family in _FAMILIES.values()
    if family.get("reference_type") and family.get("generation")))
