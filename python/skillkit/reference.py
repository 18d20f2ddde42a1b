"""The reference loop: the family's hand-written reference for every case, on the first
candidate model class that works, and on that model the first batch policy of the plan
that keeps each input's outputs (skillkit.batching)."""
import math
from pathlib import Path

import transformers

from . import failures
from .batching import choose as choose_batching
from .messages import one_line
from .signature import signature
from .tiny import seed_everything
from .tiny_cache import tiny_model_dir


def record(plan, **fields):
    """The reference part of a test-result (docs/DESIGN.md), an error unless told otherwise
    (an error or a fail carries its failure class: skillkit.failures)."""
    return {"status": "error", "candidate": None, "signature": None,
            "generation": plan.get("generation"), "tolerance": plan["tolerance"], **fields}


def _finite(value):
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    return True


def compute(family, plan, cases):
    """(record, model_dir, expected): the reference record and, when it passed, the model
    dir and one Expected per case."""
    result = record(plan)
    wanted = plan.get("transformers_version")
    if wanted and wanted != transformers.__version__:
        result["message"] = (f"the plan was made for transformers {wanted}, "
                             f"but {transformers.__version__} is installed")
        result["class"] = failures.STALE_PLAN
        return result, None, None
    messages, classes = [], []
    for candidate in plan["candidates"]:
        stage = failures.TINY_MODEL
        try:
            # A plan made from a local checkpoint tests that real model; others a tiny one.
            model_dir = Path(plan["checkpoint"]) if plan.get("checkpoint") else tiny_model_dir(family, plan, candidate)
            stage = failures.REFERENCE
            seed_everything(plan.get("seed", 0))
            expected = [family.reference(str(model_dir), candidate, case, plan) for case in cases]
            described = signature(cases, expected)
        except Exception as exc:  # any failure means: try the next candidate
            messages.append(f"{candidate['model_class']}: {one_line(exc)}")
            classes.append(failures.classify(exc, stage))
            continue
        result.update(candidate=candidate, signature=described)
        if not _finite(expected):
            result.update(status="fail", message="the reference output holds NaN or infinity",
                          **{"class": failures.NON_FINITE})
            return result, None, None
        result["status"] = "pass"
        batching = choose_batching(family, str(model_dir), candidate, plan, cases)
        if batching is not None:
            result["batching"] = batching
        return result, model_dir, expected
    # The first candidate is the one the plan wants most: its failure is the record's class.
    result["message"] = "no candidate worked: " + "; ".join(messages)
    result["class"] = classes[0] if classes else failures.OTHER
    return result, None, None
