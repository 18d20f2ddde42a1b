"""A generated test's pytest tests: one run per plan and skillset, its outcomes as pytest's."""
import json
import os

import pytest

from .testrun import run

_results = {}


def _cached_run(plan):
    """One run per plan and skillset for the whole pytest session."""
    key = json.dumps([plan, os.environ.get("SKILLSET_FILE")], sort_keys=True, default=str)
    if key not in _results:
        _results[key] = run(plan)
    return _results[key]


def check_reference(plan):
    reference = _cached_run(plan)["reference"]
    if reference["status"] != "pass":
        pytest.fail(f"reference {reference['status']} ({reference.get('class')}): {reference.get('message', '')}",
                    pytrace=False)


def check_backend(plan, backend):
    result = _cached_run(plan)["backends"][backend]
    status = result["status"]
    if status == "pass":
        return
    detail = result.get("message", "")
    if status in ("fail", "error"):
        pytest.fail(f"{backend} {status} ({result.get('class')}): {detail}", pytrace=False)
    reason = f" ({result['reason']})" if "reason" in result else ""
    pytest.skip(f"{backend} {status}{reason}: {detail}")
