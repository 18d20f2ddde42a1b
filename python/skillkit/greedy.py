"""Greedy generation compared token for token, ties excepted.

A reference records, at every step of greedy generation, how far the chosen token led
the runner-up (margin()). A step where that lead is within the plan's tolerance is a
tie: another backend (or kernel) may break it the other way, after which the rest of
the sequence legitimately differs. compare() accepts and names such a divergence and
fails any other.
"""
from .compare import Comparison, short


def margin(scores):
    """How far greedy's choice at one step led the runner-up, and the scale of the lead."""
    first, second = sorted(scores, reverse=True)[:2]
    return {"gap": first - second, "top": first}


def margins(step_scores):
    """The margins of one input's generate(output_scores=True) scores, step by step."""
    return [margin(scores[0].tolist()) for scores in step_scores]


def answer(model, inputs, settings, end_ids):
    """One input's greedy answer and its margins: generate() on `inputs` alone, the new
    tokens (a decoder-only model's sequence starts with the prompt, an encoder-decoder's
    with its decoder's: the last len(scores) tokens are the new ones) up to and including
    the first of `end_ids`."""
    import torch

    with torch.inference_mode():
        scored = model.generate(**inputs, **settings, return_dict_in_generate=True, output_scores=True)
    if getattr(scored, "scores", None) is None:
        # diffusion_gemma's block diffusion fills a block of tokens at once, drawing as it
        # goes whatever do_sample says: no token-by-token greedy answer to compare.
        raise NotImplementedError(f"{type(model).__name__}.generate() scores no steps: it does not decode "
                                  "token by token, so it has no greedy answer")
    generated = scored.sequences[0, scored.sequences.shape[1] - len(scored.scores):].tolist()
    token_ids = next((generated[:at + 1] for at, token in enumerate(generated) if token in end_ids), generated)
    return token_ids, margins(scored.scores)


def compare(expected, actual, plan):
    """Token ids equal token for token, and texts equal, but for ties (see above).

    `expected` is an Expected of "token_ids" and "texts" with its margins per input.
    """
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    problems, ties = [], []
    for key in ("token_ids", "texts"):
        if not isinstance(actual.get(key), list) or len(actual[key]) != len(expected[key]):
            return Comparison(False, None, f"{key!r} must be a list of {len(expected[key])} entries, "
                                           f"got {short(actual.get(key))}")
    if not all(isinstance(ids, list) for ids in actual["token_ids"]):
        return Comparison(False, None, f"'token_ids' must hold one list per input, got {short(actual['token_ids'])}")
    for index, (want, got) in enumerate(zip(expected["token_ids"], actual["token_ids"])):
        if got == want:
            if actual["texts"][index] != expected["texts"][index]:
                problems.append(f"input {index}: text {actual['texts'][index]!r} != {expected['texts'][index]!r}")
            continue
        step = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), None)
        if step is None:
            problems.append(f"input {index}: {len(got)} token ids, expected {len(want)}: "
                            f"{short(got)} != {short(want)}")
            continue
        steps = expected.margins[index] if index < len(expected.margins) else []
        if step < len(steps) and steps[step]["gap"] <= atol + rtol * abs(steps[step]["top"]):
            ties.append(f"input {index}: tie at step {step} (gap {steps[step]['gap']:.3g})")
            continue
        problems.append(f"input {index}: token ids {short(got)} != {short(want)} (first difference at step {step})")
    if problems:
        return Comparison(False, None, "; ".join(problems))
    return Comparison(True, None, "; ".join(ties) if ties else "token ids and texts equal")
