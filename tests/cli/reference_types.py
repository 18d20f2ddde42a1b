"""The reference type of every family with a template, as data/families.json declares
them: the model types the CLI tests run for real, so a new family is tested as soon as
it is declared. A module of its own because test modules cannot import conftest."""
import json
from pathlib import Path

_FAMILIES = Path(__file__).resolve().parents[2] / "data" / "families.json"

REFERENCE_TYPES = tuple(sorted(
    family["reference_type"]
    for family in json.loads(_FAMILIES.read_text(encoding="utf-8"))["families"].values()
    if family.get("reference_type")))
