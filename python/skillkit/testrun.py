"""One test run: the reference for every case, then each backend of the skillset driven
the way the ipfs_accelerate_py worker drives it; the test-result body (docs/DESIGN.md)."""
import contextlib
import math
import platform
import time

import torch
import transformers

from . import backends as backend_list
from . import failures, families, reference, webnn_ops
from .messages import one_line
from .output_check import check_output
from .skillset import instantiate, skillset_file
from .tiny import seed_everything

# Why a backend may not serve here without that being a failure: no device, its
# package not installed, or its runtime cannot run this model type (or precision).
SKIP_REASONS = ("no-device", "package-missing", "unsupported-by-runtime")
UNIMPLEMENTED = "unimplemented"

# A test's own output is its summary, or the worker's protocol: no progress bars.
transformers.utils.logging.disable_progress_bar()
# Tiny models run fastest on one thread (measured: a warm bert run takes 0.06 s with one,
# 0.13 to 1.6 s with two on a busy 2-core machine); run-tests parallelises across
# workers instead.
torch.set_num_threads(1)


def versions():
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__}


def _run_backend(instance, backend, family, plan, model_dir, cases, expected):
    try:
        endpoint = backend_list.init(instance, backend, str(model_dir), plan["task"])
    except Exception as exc:
        # The contract's BackendUnavailable says what is missing in its message; any
        # other exception is a bug, so its type is part of the message.
        reason = getattr(exc, "reason", None)
        if reason in SKIP_REASONS:
            result = {"status": "skip", "reason": reason, "message": " ".join(str(exc).split())}
        elif reason == UNIMPLEMENTED:
            result = {"status": "unimplemented", "message": " ".join(str(exc).split())}
        else:
            return {"status": "error", "class": failures.classify(exc, failures.SKILLSET),
                    "message": f"{backend_list.method(backend)}: {one_line(exc)}"}
        if backend == "webnn" and getattr(exc, "operators", None) is not None:
            result.update(_webnn_coverage(exc.operators, exc.input_shapes, result["message"]))
        return result
    if not isinstance(endpoint, tuple) or len(endpoint) != 5 or not callable(endpoint[2]):
        return {"status": "fail", "class": failures.CONTRACT, "message": f"{backend_list.method(backend)} did not "
                "return (endpoint, processor, handler, queue, batch_size) with a callable handler"}
    handler = endpoint[2]
    worst = None
    for case, want in zip(cases, expected):
        try:
            output = handler(case.input, **case.options)
        except Exception as exc:
            return {"status": "error", "class": failures.classify(exc, failures.SKILLSET),
                    "message": f"case {case.name}: {one_line(exc)}"}
        message, diff, kind = check_output(output, family, want, plan, backend, case.options)
        if diff is not None and math.isfinite(diff):
            worst = diff if worst is None else max(worst, diff)
        if message:
            result = {"status": "fail", "class": kind, "message": f"case {case.name}: {message}"}
            if worst is not None:
                result["max_abs_diff"] = worst
            return result
    for case in cases:  # each case's options: clip's tasks take different ones
        refused = _refuses_unknown_options(handler, case)
        if refused:
            return {"status": "fail", "class": failures.CONTRACT, "message": f"case {case.name}: {refused}"}
    result = {"status": "pass"}
    if worst is not None:
        result["max_abs_diff"] = worst
    return result


def _webnn_coverage(operators, input_shapes, message):
    """The graph init_webnn exported, checked against the WebNN execution provider's
    operators: what a skip or an unimplemented webnn record carries beside its reason."""
    missing = webnn_ops.unsupported(operators)
    if missing:
        coverage = (f"{len(missing)} of {len(operators)} operator types are not in the WebNN "
                    f"execution provider's list: {', '.join(missing)}")
    else:
        coverage = f"all {len(operators)} operator types are in the WebNN execution provider's list"
    return {"message": f"{message}; {coverage}", "unsupported_ops": missing,
            "input_shapes": input_shapes}


# An option no handler takes: every handler must refuse it (docs/DESIGN.md, "Handler
# inputs and outputs"), since an option silently ignored is a result the caller did not ask for.
UNKNOWN_OPTION = "skillkit_no_such_option"


def _refuses_unknown_options(handler, case):
    """None when the handler raises TypeError naming an option it does not know, else why not.

    A handler checks its options before it reads the input, so this costs no inference."""
    try:
        handler(case.input, **case.options, **{UNKNOWN_OPTION: 1})
    except TypeError as exc:
        if UNKNOWN_OPTION in str(exc):
            return None
        return f"an unknown option raised TypeError without naming it: {one_line(exc)}"
    except Exception as exc:
        return f"an unknown option raised {type(exc).__name__}, not TypeError: {one_line(exc)}"
    return f"the handler accepted the unknown option {UNKNOWN_OPTION!r}"


# Told each stage a run enters (skillkit.worker passes it on to run-tests, which blames
# a crash or a timeout on the stage that was running): see stages_reported_to.
_stage_listener = None


@contextlib.contextmanager
def stages_reported_to(listener):
    """Within it, run() calls listener(stage, partial) as it enters each stage: "reference",
    "skillset" (importing and constructing the skillset), then each backend by name;
    partial is the test-result body so far (the reference, the backends done)."""
    global _stage_listener
    previous, _stage_listener = _stage_listener, listener
    try:
        yield
    finally:
        _stage_listener = previous


def _entering(stage, reference_record, backends):
    if _stage_listener is not None:
        _stage_listener(stage, {"reference": reference_record, "backends": dict(backends)})


def _run_backends(plan, family, path, backends, model_dir, cases, expected, entering):
    """Each backend's record; entering(stage, the backends' records so far) before each stage."""
    if not path.is_file():
        return {b: {"status": "no-skillset", "message": f"no skillset at {path}"} for b in backends}
    if expected is None:
        return {b: {"status": "skip", "reason": "no-reference",
                    "message": "the reference failed, so there is nothing to compare with"}
                for b in backends}
    entering("skillset", {})
    try:
        instance = instantiate(path, plan["ident"], plan.get("precision", "fp32"))
    except Exception as exc:
        failed = {"status": "error", "class": failures.classify(exc, failures.SKILLSET),
                  "message": f"loading {path}: {one_line(exc)}"}
        return {b: dict(failed) for b in backends}
    results = {}
    for backend in backends:
        if backend not in backend_list.NAMES:
            results[backend] = {"status": "error", "class": failures.OTHER,
                                "message": f"unknown backend '{backend}'"}
            continue
        entering(backend, results)
        seed_everything(plan.get("seed", 0))
        started = time.monotonic()
        results[backend] = _run_backend(instance, backend, family, plan, model_dir, cases, expected)
        results[backend]["elapsed_s"] = round(time.monotonic() - started, 3)
    return results


def run(plan, skillset_path=None, backends=None):
    """The test-result body for this plan (docs/DESIGN.md, test-result).

    skillset_path defaults to $SKILLSET_FILE, then the plan's skillset_file; backends
    (a list, or a comma-separated string) to the plan's.
    """
    started = time.monotonic()
    if isinstance(backends, str):
        backends = [name for name in backends.split(",") if name]
    backends = list(backends or plan["backends"])
    seed_everything(plan.get("seed", 0))
    family = cases = model_dir = expected = None
    _entering("reference", None, {})
    try:
        family = families.load(plan["family"])
        cases = family.cases(plan)
    except Exception as exc:
        result = reference.record(plan, message=f"family '{plan['family']}': {one_line(exc)}",
                                  **{"class": failures.classify(exc, failures.OTHER)})
    else:
        result, model_dir, expected = reference.compute(family, plan, cases)
    results = _run_backends(plan, family, skillset_file(plan, skillset_path), backends,
                            model_dir, cases, expected,
                            lambda stage, done: _entering(stage, result, done))
    return {"reference": result, "backends": results, "versions": versions(),
            "elapsed_s": round(time.monotonic() - started, 3)}
