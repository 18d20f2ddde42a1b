"""Comparing handler outputs with references.

Handler outputs are plain Python lists (JSON-serialisable), one entry per input; the
entries of a batch may differ in length (token ids), so comparison goes entry by entry.
"""
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Comparison:
    ok: bool
    max_abs_diff: float | None = None  # None where no numbers were compared
    message: str = ""

    def __bool__(self):
        return self.ok


def _array(value, what):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not a rectangular array of numbers: {exc}") from None


def allclose(expected, actual, rtol, atol):
    """|actual - expected| <= atol + rtol * |expected| everywhere, as numpy.allclose.

    Shapes must match exactly (no broadcasting); NaN matches only NaN at the same place.
    The message names the worst element by its index.
    """
    try:
        want = _array(expected, "expected")
        got = _array(actual, "actual")
    except ValueError as exc:
        return Comparison(False, None, str(exc))
    if want.shape != got.shape:
        return Comparison(False, None, f"shape {list(got.shape)} != expected {list(want.shape)}")
    if want.size == 0:
        return Comparison(True, 0.0, "")
    nan_mismatch = np.isnan(want) != np.isnan(got)
    if nan_mismatch.any():
        index = tuple(int(i) for i in np.argwhere(nan_mismatch)[0])
        return Comparison(False, math.inf, f"NaN mismatch at {list(index)}: "
                                           f"{got[index]!r} vs expected {want[index]!r}")
    diff = np.where(np.isnan(want), 0.0, np.abs(got - want))
    max_abs_diff = float(diff.max())
    excess = diff - (atol + rtol * np.abs(np.where(np.isnan(want), 0.0, want)))
    if (excess <= 0).all():
        return Comparison(True, max_abs_diff, "")
    index = np.unravel_index(int(np.argmax(excess)), excess.shape)
    count = int((excess > 0).sum())
    return Comparison(False, max_abs_diff,
                      f"{count} of {want.size} values differ beyond rtol={rtol} atol={atol}; "
                      f"worst at {[int(i) for i in index]}: {float(got[index])!r} vs expected "
                      f"{float(want[index])!r} (max_abs_diff {max_abs_diff:.3g})")


def equal_ids(expected, actual):
    """Token-id sequences (one list per input) equal entry by entry."""
    if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
        got = len(actual) if isinstance(actual, (list, tuple)) else type(actual).__name__
        return Comparison(False, None, f"{got} sequences, expected {len(expected)}")
    for item, (want, got) in enumerate(zip(expected, actual)):
        want, got = [int(t) for t in want], list(got)
        if got == want:
            continue
        position = next((i for i, (w, g) in enumerate(zip(want, got)) if w != g), min(len(want), len(got)))
        return Comparison(False, None, f"input {item}: token ids differ at position {position}: "
                                       f"{got[position:position + 8]} vs expected {want[position:position + 8]} "
                                       f"(lengths {len(got)} / {len(want)})")
    return Comparison(True, None, "")
