"""One module per architecture family: tiny model, test cases, reference, comparison.

A family module exposes build_tiny(model_type, candidate, out_dir, seed), cases(plan),
reference(model_dir, candidate, case, plan) and compare(expected, actual, plan); see
docs/DESIGN.md ("skillkit").
"""
import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Case:
    """One handler call: handler(input, **options)."""
    name: str
    input: Any
    options: dict = field(default_factory=dict)


def load(family):
    """The family's module, skillkit.families.<family with '-' as '_'>."""
    return importlib.import_module(f"{__name__}.{family.replace('-', '_')}")
