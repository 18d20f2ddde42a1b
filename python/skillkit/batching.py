"""Batch policies: the ways a skillset may run a list of inputs
(schemas/batch-policy.schema.json), tried on the reference's model in the plan's order.

A skillset batches a list of inputs for speed, but a batch may change what an input
gives: padding reaches into some models' outputs (funnel's pooling, canine's
downsampling), and some kernels compute differently for a batch than for one input
(mobilenet_v2's convolutions). The reference runs every input alone, so the measure of a
policy is how far its batches move each input's outputs from that input run alone. The
first policy within the plan's tolerance is the one the skillset should use; analyze
carries it into the requirements (docs/DESIGN.md, "The loop learns").

A family that batches declares its policies in data/families.json and gives
run_batch(model_dir, candidate, plan, items) -> (outputs, lengths): the model run once on
`items` as its skillset batches them, per item its own outputs (a tensor without the
padding) and its length, the size the batch pads to (tokens; 1 where nothing is padded).
"""
from .compare import allclose
from .messages import one_line


def batches(policy, lengths):
    """The batches `policy` makes of inputs of these lengths, as lists of their indices.

    >>> batches("equal-length", [3, 5, 3])
    [[0, 2], [1]]
    """
    indices = range(len(lengths))
    if policy == "batched":
        return [list(indices)]
    if policy == "single":
        return [[index] for index in indices]
    if policy == "equal-length":
        groups = {}
        for index in indices:
            groups.setdefault(lengths[index], []).append(index)
        return list(groups.values())
    raise ValueError(f"unknown batch policy {policy!r}")


def _probes(family, model_dir, candidate, plan, cases):
    """(items, each item's outputs alone, lengths) per case that is a list of inputs.

    The case's first input comes again at the end, so that every list holds two inputs of
    one length: a policy that batches them together is measured too."""
    probes = []
    for case in cases:
        # A family whose one input may itself be a list (a video's frames) says which
        # inputs a case holds.
        inputs = family.batch_items(case.input) if hasattr(family, "batch_items") else case.input
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            continue
        items = [*inputs, inputs[0]]
        alone, lengths = [], []
        for item in items:
            outputs, length = family.run_batch(model_dir, candidate, plan, [item])
            alone += outputs
            lengths += length
        probes.append((items, alone, lengths))
    return probes


def _measure(family, model_dir, candidate, plan, probes, policy):
    """The tried-record of `policy`: pass when every input's outputs in its batch are
    allclose to its outputs alone, with the largest difference seen; fail at the first
    that is not, or at a batch the model refuses."""
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    worst = 0.0
    for items, alone, lengths in probes:
        for batch in batches(policy, lengths):
            try:
                outputs, _ = family.run_batch(model_dir, candidate, plan, [items[i] for i in batch])
            except Exception as exc:  # a batch the model cannot take at all (images of two sizes)
                return {"policy": policy, "status": "fail", "max_abs_diff": None,
                        "message": f"inputs {batch} of {len(items)}: {one_line(exc)}"}
            for index, output in zip(batch, outputs):
                comparison = allclose(alone[index].tolist(), output.tolist(), rtol, atol)
                if comparison.max_abs_diff is not None:
                    worst = max(worst, comparison.max_abs_diff)
                if not comparison.ok:  # None where no numbers compared (shapes differ)
                    worst = None if comparison.max_abs_diff is None else worst
                    return {"policy": policy, "status": "fail", "max_abs_diff": worst,
                            "message": f"input {index} of {len(items)}: {comparison.message}"}
    return {"policy": policy, "status": "pass", "max_abs_diff": worst}


def choose(family, model_dir, candidate, plan, cases):
    """The reference's `batching` record (schemas/test-result.schema.json): each policy of
    the plan tried in order up to the first that passes, which is the `policy` (None when
    none does, or the probe itself failed: its `message` says why). None when the plan
    names no policies or the family runs no batches."""
    policies = plan.get("batch_policies")
    if not policies or not hasattr(family, "run_batch"):
        return None
    record = {"policy": None, "tried": []}
    try:
        probes = _probes(family, model_dir, candidate, plan, cases)
        for policy in policies:
            tried = _measure(family, model_dir, candidate, plan, probes, policy)
            record["tried"].append(tried)
            if tried["status"] == "pass":
                record["policy"] = policy
                break
    except Exception as exc:  # the reference stands; only the policy is unknown
        record["message"] = one_line(exc)
    return record
