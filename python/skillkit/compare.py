"""Comparing handler outputs with references.

Handler outputs are plain Python lists (JSON-serialisable), one entry per input; the
entries of a batch may differ in length (token ids), so comparison goes entry by entry.
Greedy token ids are compared in skillkit.greedy, which knows the reference's margins.
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


def ranked_predictions(expected, actual, rtol, atol):
    """Ranked [{"label", "score"}] lists, one per input: the scores allclose rank by rank,
    and the labels equal rank by rank except where two labels tie.

    A tie is two scores within tolerance of each other, which another backend (or
    kernel) may rank the other way: at rank r the label found must hold, in the
    reference, a score within tolerance of the expected label's. Where it is not in the
    reference's list at all (it was below the top_k cut there), that score is unknown
    but no higher than the last one listed, so the expected label at rank r must itself
    be within tolerance of that last score.
    Returns (Comparison, ties): the ties accepted, as readable strings.
    """
    if not isinstance(actual, list) or len(actual) != len(expected):
        count = len(actual) if isinstance(actual, list) else type(actual).__name__
        return Comparison(False, None, f"predictions: {count} entries, expected {len(expected)}"), []
    worst, ties = 0.0, []
    for index, (want, got) in enumerate(zip(expected, actual)):
        if not isinstance(got, list) or len(got) != len(want) or \
                not all(isinstance(p, dict) and {"label", "score"} <= p.keys() for p in got):
            return Comparison(False, None, f"predictions[{index}]: expected a list of {len(want)} "
                                           f"{{'label', 'score'}} dicts, got {short(got)}"), []
        result = allclose([p["score"] for p in want], [p["score"] for p in got], rtol, atol)
        if not result.ok:
            return Comparison(False, result.max_abs_diff, f"predictions[{index}] scores: {result.message}"), []
        worst = max(worst, result.max_abs_diff)
        reference = {p["label"]: p["score"] for p in want}
        for rank, (w, g) in enumerate(zip(want, got)):
            if w["label"] == g["label"]:
                continue
            rival = reference.get(g["label"], want[-1]["score"])
            if abs(rival - w["score"]) > atol + rtol * abs(w["score"]):
                return Comparison(False, worst, f"predictions[{index}] rank {rank}: label {g['label']!r}, "
                                                f"expected {w['label']!r} (score {w['score']:.6g})"), []
            ties.append(f"input {index} rank {rank}: tie {w['label']!r} / {g['label']!r}")
    return Comparison(True, worst, ""), ties


def missing_outputs(expected, actual):
    """A failed Comparison naming the output keys the reference has and `actual` lacks,
    in the reference's order; None when it has them all."""
    missing = [key for key in expected if key not in actual]
    if missing:
        return Comparison(False, None, f"outputs {missing} expected, got {sorted(actual)}")
    return None


def outputs_allclose(expected, actual, plan, per_entry=()):
    """Every output of the reference allclose to the handler's within the plan's
    tolerance (after missing_outputs); an output named in `per_entry` entry by entry,
    where its entries differ in shape (trajectories, token counts)."""
    missing = missing_outputs(expected, actual)
    if missing is not None:
        return missing
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    worst = 0.0
    for key in expected:
        pairs = [(key, expected[key], actual[key])]
        if key in per_entry:
            if not isinstance(actual[key], list) or len(actual[key]) != len(expected[key]):
                return Comparison(False, None, f"{key}: {len(expected[key])} entries expected, got {short(actual[key])}")
            pairs = [(f"{key}[{index}]", want, got) for index, (want, got) in enumerate(zip(expected[key], actual[key]))]
        for name, want, got in pairs:
            values = allclose(want, got, rtol, atol)
            if not values.ok:
                return Comparison(False, values.max_abs_diff, f"{name}: {values.message}")
            worst = max(worst, values.max_abs_diff)
    return Comparison(True, worst, f"{' and '.join(expected)} match")


def scores_and_predictions(expected, actual, key, rtol, atol):
    """A classifier's output: its raw scores at `key` (logits) allclose, then its
    "predictions" as ranked_predictions, ties accepted and named."""
    values = allclose(expected[key], actual[key], rtol, atol)
    if not values.ok:
        return Comparison(False, values.max_abs_diff, f"{key}: {values.message}")
    predictions, ties = ranked_predictions(expected["predictions"], actual["predictions"], rtol, atol)
    if not predictions.ok:
        return predictions
    worst = max(values.max_abs_diff, predictions.max_abs_diff)
    return Comparison(True, worst, "; ".join(ties) if ties else f"{key} and predictions match")


def short(value, limit=120):
    """repr(value), cut to `limit` characters for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
