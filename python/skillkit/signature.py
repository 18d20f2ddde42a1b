"""What a skillset must accept and return, inferred from the cases and their references."""
import numpy as np

from .expected import Expected


def _leaves(value):
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _shape(value):
    """The nested-list shape of value, None for a ragged dimension."""
    if not isinstance(value, (list, tuple)):
        return []
    inner = [_shape(item) for item in value]
    if not inner:
        return [0]
    if any(len(s) != len(inner[0]) for s in inner):
        return [len(value)]
    return [len(value)] + [dims[0] if len(set(dims)) == 1 else None for dims in zip(*inner)]


def _dtype(value):
    kinds = {type(leaf) for leaf in _leaves(value)}
    for name, types in (("int", {int}), ("float", {float, int}), ("bool", {bool}), ("str", {str})):
        if kinds and kinds <= types:
            return name
    return "object"


def _describe(value):
    """A short, JSON-able description of a handler input."""
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return [_describe(item) for item in value]
    if isinstance(value, np.ndarray):
        return f"ndarray[{value.dtype}]{list(value.shape)}"
    if hasattr(value, "size") and hasattr(value, "mode"):  # a PIL image
        return f"image[{value.mode}]{list(value.size)}"
    return type(value).__name__


def signature(cases, expected):
    """Inputs and outputs of the cases: what the skillset must accept and return.

    The outputs are the keys of each Expected, nothing else: a reference's other data
    is no output, so anything but an Expected is refused. An output dimension that
    differs between cases (the batch) or between the entries of one output (ragged
    token lists) is None.
    """
    outputs = {}
    for case, result in zip(cases, expected):
        if not isinstance(result, Expected):
            raise TypeError(f"the reference of case {case.name!r} is a {type(result).__name__}, not an Expected")
        for name, value in result.items():
            shape = _shape(value)
            seen = outputs.setdefault(name, {"dtype": _dtype(value), "shape": shape})
            if len(seen["shape"]) != len(shape):
                seen["shape"] = None
            elif seen["shape"] is not None:
                seen["shape"] = [a if a == b else None for a, b in zip(seen["shape"], shape)]
    inputs = {case.name: {"input": _describe(case.input), "options": case.options} for case in cases}
    return {"inputs": inputs, "outputs": outputs}
