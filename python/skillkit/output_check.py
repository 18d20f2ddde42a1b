"""Whether one handler output is right: real, plain data, and what the reference expects."""
import json

from .failures import CONTRACT, PARITY


def mock_in(value):
    """Whether any string in value (keys included) says MOCK."""
    if isinstance(value, str):
        return "MOCK" in value
    if isinstance(value, dict):
        return any(mock_in(k) or mock_in(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(mock_in(v) for v in value)
    return False


def check_output(output, family, expected, plan, backend):
    """(message, max_abs_diff, failure class); message is None when `backend`'s handler
    output is right. The class tells a broken contract from a parity mismatch."""
    if not isinstance(output, dict):
        return f"the handler returned {type(output).__name__}, not a dict", None, CONTRACT
    # A result served by another backend in this one's place (the CPU fallback) is
    # never this backend's pass.
    if output.get("backend") != backend:
        return f"the result says backend {output.get('backend')!r} served it, not {backend!r}", None, CONTRACT
    # "model" echoes the path the harness passed in, which is not the skillset's to label.
    if mock_in({key: value for key, value in output.items() if key != "model"}):
        return "the handler returned a MOCK result", None, CONTRACT
    if output.get("implementation_type") != "REAL":
        return f"implementation_type is {output.get('implementation_type')!r}, not 'REAL'", None, CONTRACT
    try:
        json.dumps(output, allow_nan=True)
    except (TypeError, ValueError) as exc:
        return f"the output is not plain JSON data: {exc}", None, CONTRACT
    comparison = family.compare(expected, output, plan)
    return (None if comparison.ok else comparison.message), comparison.max_abs_diff, PARITY
