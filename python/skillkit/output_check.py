"""Whether one handler output is right: real, plain data, of its task's shape
(schemas/outputs/<task>.schema.json), and what the reference expects."""
import functools
import json
from pathlib import Path

from .failures import CONTRACT, PARITY

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
OUTPUTS = SCHEMAS / "outputs"
# The longest a value may be quoted in a message: a wrong-typed value may be a whole
# batch of embeddings.
QUOTE = 60


def mock_in(value):
    """Whether any string in value (keys included) says MOCK."""
    if isinstance(value, str):
        return "MOCK" in value
    if isinstance(value, dict):
        return any(mock_in(k) or mock_in(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(mock_in(v) for v in value)
    return False


@functools.lru_cache(maxsize=None)
def _schemas():
    """Every schema of schemas/ and schemas/outputs/, by its $id, read once: the
    references among them resolve to these files, never to the network."""
    from referencing import Registry, Resource

    resources = []
    for path in [*SCHEMAS.glob("*.schema.json"), *OUTPUTS.glob("*.schema.json")]:
        document = json.loads(path.read_text(encoding="utf-8"))
        # Each is known by its $id, which is its path under schemas/.
        where = document.get("$id") or path.relative_to(SCHEMAS).as_posix()
        resources.append((where, Resource.from_contents(document)))
    return Registry().with_resources(resources).crawl()


@functools.lru_cache(maxsize=None)
def output_validator(task):
    """The validator of `task`'s handler results, or None when the task has no schema."""
    from jsonschema import Draft202012Validator

    path = OUTPUTS / f"{task}.schema.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    # Its references are relative to its place under schemas/ (common.schema.json).
    schema.setdefault("$id", f"outputs/{task}.schema.json")
    return Draft202012Validator(schema, registry=_schemas())


def _quoted(value):
    text = " ".join(repr(value).split())
    return text if len(text) <= QUOTE else text[: QUOTE - 3] + "..."


def _what_failed(error):
    """One line saying how a value broke its schema, quoting at most QUOTE characters of it."""
    kind, want, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        wanted = " or ".join(want) if isinstance(want, list) else want
        got = "null" if value is None else type(value).__name__
        return f"{_quoted(value)} is a {got}, not {wanted}"
    if kind == "const":
        return f"{_quoted(value)} is not {want!r}"
    if kind == "enum":
        return f"{_quoted(value)} is not one of {_quoted(want)}"
    if kind == "minItems":
        return f"{_quoted(value)} has fewer than {want} items"
    if kind == "minimum":
        return f"{_quoted(value)} is less than {want}"
    return " ".join(error.message.split())


def schema_violation(output, task):
    """None when `output` matches schemas/outputs/<task>.schema.json, else one line
    naming the JSON path where it does not and what failed there."""
    validator = output_validator(task)
    if validator is None:
        return (f"task {task!r} has no output schema: schemas/outputs/{task}.schema.json "
                "(every task a family serves needs one)")
    errors = list(validator.iter_errors(output))
    if not errors:
        return None
    # Keys of a failing common.schema.json count as unexpected too: what failed in
    # them says more. Of the rest, the shallowest, and of those the first met (the
    # first input's): where the shape goes wrong, not each place it shows.
    errors = [e for e in errors if e.validator != "unevaluatedProperties"] or errors
    error = min(errors, key=lambda error: len(error.path))
    return (f"the output does not match schemas/outputs/{task}.schema.json at "
            f"{error.json_path}: {_what_failed(error)}")


def check_output(output, family, expected, plan, backend, options=None):
    """(message, max_abs_diff, failure class); message is None when `backend`'s handler
    output is right. The class tells a broken contract from a parity mismatch. The
    output's task is the call's `task=` option where a family takes one (clip's towers),
    else the plan's."""
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
    violation = schema_violation(output, (options or {}).get("task", plan["task"]))
    if violation:
        return violation, None, CONTRACT
    comparison = family.compare(expected, output, plan)
    return (None if comparison.ok else comparison.message), comparison.max_abs_diff, PARITY
