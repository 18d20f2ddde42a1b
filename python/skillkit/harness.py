"""The test harness behind every generated test_hf_<ident>.py.

run(plan) builds (or reuses) the tiny model, computes the hand-written reference for
every case, loads the skillset by path, drives each backend the way the
ipfs_accelerate_py worker does, and returns the test-result body (docs/DESIGN.md,
"test-result"). check_reference/check_backend turn that into pytest outcomes, and
main() is the standalone command line of a generated test.
"""
import argparse
import hashlib
import importlib.util
import itertools
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

from . import families, tiny, tokenizers
from .tiny import seed_everything

BACKENDS = ("cpu", "cuda", "rocm", "openvino", "apple", "qualcomm", "webnn", "webgpu")
SKIP_REASONS = ("no-device", "package-missing")
UNIMPLEMENTED = "unimplemented"

# The device strings the ipfs_accelerate_py worker passes to init_<backend>.
_DEVICES = {"cpu": "cpu", "cuda": "cuda:0", "rocm": "rocm:0", "openvino": "openvino:0",
            "apple": "apple:0", "qualcomm": "qualcomm:0", "webnn": "webnn:0", "webgpu": "webgpu:0"}

_module_ids = itertools.count()

# A test's own output is its summary, or the worker's protocol: no progress bars.
transformers.utils.logging.disable_progress_bar()
# Tiny models run fastest on one thread (measured: a warm bert run takes 0.06 s with one,
# 0.13 to 1.6 s with two on a busy 2-core machine); run-tests parallelises across
# workers instead.
torch.set_num_threads(1)


def cache_root():
    """Where tiny models are kept: $SKILLKIT_CACHE, else <repo>/.cache/tiny."""
    configured = os.environ.get("SKILLKIT_CACHE")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / ".cache" / "tiny"


def versions():
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__}


def _one_line(exc):
    text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


# --- the tiny model and the reference ---------------------------------------------------

def _builder_digest(family):
    """A digest of the code that builds tiny models, so that changing it rebuilds them."""
    digest = hashlib.sha256()
    for module in (family, tiny, tokenizers):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def tiny_model_dir(family, plan, candidate):
    """The tiny model for this candidate, built once and shared by every later run.

    The key holds everything that changes the built files, the builder code included.
    It is built in a temporary directory beside its final place and renamed into it,
    so a concurrent worker or an interrupted build never leaves a half-written model
    where a reader would take it.
    """
    seed = plan.get("seed", 0)
    digest = hashlib.sha256(json.dumps(
        [plan["model_type"], candidate, seed, transformers.__version__, _builder_digest(family)],
        sort_keys=True).encode()).hexdigest()[:12]
    final = cache_root() / plan["ident"] / f"{candidate['model_class']}-{digest}"
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        seed_everything(seed)
        family.build_tiny(plan["model_type"], candidate, str(building), seed)
        try:
            building.rename(final)
        except OSError:
            if not final.is_dir():  # not merely another worker finishing first
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return final


def _finite(value):
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    return True


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

    An output dimension that differs between cases (the batch) or between the entries
    of one output (ragged token lists) is None.
    """
    outputs = {}
    for case, result in zip(cases, expected):
        for name, value in result.items():
            shape = _shape(value)
            seen = outputs.setdefault(name, {"dtype": _dtype(value), "shape": shape})
            if len(seen["shape"]) != len(shape):
                seen["shape"] = None
            elif seen["shape"] is not None:
                seen["shape"] = [a if a == b else None for a, b in zip(seen["shape"], shape)]
    inputs = {case.name: {"input": _describe(case.input), "options": case.options} for case in cases}
    return {"inputs": inputs, "outputs": outputs}


def _reference_record(plan, **fields):
    return {"status": "error", "candidate": None, "signature": None,
            "generation": plan.get("generation"), "tolerance": plan["tolerance"], **fields}


def _reference(family, plan, cases):
    """The reference record and, when it passed, the model dir and the expected outputs."""
    record = _reference_record(plan)
    wanted = plan.get("transformers_version")
    if wanted and wanted != transformers.__version__:
        record["message"] = (f"the plan was made for transformers {wanted}, "
                             f"but {transformers.__version__} is installed")
        return record, None, None
    failures = []
    for candidate in plan["candidates"]:
        try:
            # A plan made from a local checkpoint tests that real model; others a tiny one.
            model_dir = Path(plan["checkpoint"]) if plan.get("checkpoint") else tiny_model_dir(family, plan, candidate)
            seed_everything(plan.get("seed", 0))
            expected = [family.reference(str(model_dir), candidate, case, plan) for case in cases]
        except Exception as exc:  # any failure means: try the next candidate
            failures.append(f"{candidate['model_class']}: {_one_line(exc)}")
            continue
        record.update(candidate=candidate, signature=signature(cases, expected))
        if not _finite(expected):
            record.update(status="fail", message="the reference output holds NaN or infinity")
            return record, None, None
        record["status"] = "pass"
        return record, model_dir, expected
    record["message"] = "no candidate worked: " + "; ".join(failures)
    return record, None, None


# --- the skillset -------------------------------------------------------------------------

def skillset_file(plan, skillset_path=None):
    return Path(skillset_path or os.environ.get("SKILLSET_FILE") or plan["skillset_file"])


def load_skillset(path, ident):
    """Import the skillset file by path under a unique name and return its class.

    A unique module name per load keeps a regenerated file from being served stale
    out of sys.modules. The module is not registered there at all: a skillset is a
    plain file here, not part of a package.
    """
    spec = importlib.util.spec_from_file_location(f"_skillset_{ident}_{next(_module_ids)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, f"hf_{ident}")


class _PackageMissing(RuntimeError):
    reason = "package-missing"


# optimum-intel's model class per task, as the worker's get_optimum_openvino_model picks it.
_OPTIMUM_CLASSES = {
    "feature-extraction": "OVModelForFeatureExtraction",
    "text-embedding": "OVModelForFeatureExtraction",
    "text-generation": "OVModelForCausalLM",
    "text2text-generation": "OVModelForSeq2SeqLM",
    "image-classification": "OVModelForImageClassification",
    "automatic-speech-recognition": "OVModelForSpeechSeq2Seq",
}


def _require(package):
    try:
        return importlib.import_module(package)
    except ImportError:
        raise _PackageMissing(f"python package '{package}' is not installed") from None


def _openvino_helpers(task):
    """The four helpers the worker passes to init_openvino, in its order and signatures.

    Each does the real thing with openvino / optimum-intel; where those are not
    installed (as in this project's venv) it raises with reason package-missing, so a
    skillset that relies on them is recorded as a skip, never as a pass.
    """
    def get_optimum_openvino_model(model_name, model_type=None, openvino_label=None):
        optimum_intel = _require("optimum.intel")
        class_name = _OPTIMUM_CLASSES.get(model_type or task)
        if class_name is None:
            raise ValueError(f"no optimum-intel model class for task '{model_type or task}'")
        return getattr(optimum_intel, class_name).from_pretrained(model_name, export=True)

    def get_openvino_model(model_name, model_type=None, openvino_label=None):
        return _require("openvino").Core().read_model(model_name)

    def get_openvino_pipeline_type(model_name, model_type=None):
        return model_type or task

    def openvino_cli_convert(model_name, model_dst_path, task=task, weight_format="fp32", **_):
        cli = shutil.which("optimum-cli")
        if cli is None:
            raise _PackageMissing("optimum-cli (python package 'optimum-intel') is not installed")
        subprocess.run([cli, "export", "openvino", "--model", model_name, "--task", task,
                        "--weight-format", weight_format, model_dst_path],
                       check=True, stdout=subprocess.DEVNULL)
        return model_dst_path

    return (get_optimum_openvino_model, get_openvino_model, get_openvino_pipeline_type,
            openvino_cli_convert)


def _init(instance, backend, model_dir, task):
    device = _DEVICES[backend]
    if backend == "openvino":
        return instance.init_openvino(model_dir, task, device, device, *_openvino_helpers(task))
    return getattr(instance, f"init_{backend}")(model_dir, device, device)


def _mock_in(value):
    if isinstance(value, str):
        return "MOCK" in value
    if isinstance(value, dict):
        return any(_mock_in(k) or _mock_in(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_mock_in(v) for v in value)
    return False


def _check_output(output, family, expected, plan):
    """None when the handler output is right, else (message, max_abs_diff)."""
    if not isinstance(output, dict):
        return f"the handler returned {type(output).__name__}, not a dict", None
    # "model" echoes the path the harness passed in, which is not the skillset's to label.
    if _mock_in({key: value for key, value in output.items() if key != "model"}):
        return "the handler returned a MOCK result", None
    if output.get("implementation_type") != "REAL":
        return f"implementation_type is {output.get('implementation_type')!r}, not 'REAL'", None
    try:
        json.dumps(output, allow_nan=True)
    except (TypeError, ValueError) as exc:
        return f"the output is not plain JSON data: {exc}", None
    comparison = family.compare(expected, output, plan)
    return (None if comparison.ok else comparison.message), comparison.max_abs_diff


def _run_backend(instance, backend, family, plan, model_dir, cases, expected):
    try:
        endpoint = _init(instance, backend, str(model_dir), plan["task"])
    except Exception as exc:
        # The contract's BackendUnavailable says what is missing in its message; any
        # other exception is a bug, so its type is part of the message.
        reason = getattr(exc, "reason", None)
        if reason in SKIP_REASONS:
            return {"status": "skip", "reason": reason, "message": " ".join(str(exc).split())}
        if reason == UNIMPLEMENTED:
            return {"status": "unimplemented", "message": " ".join(str(exc).split())}
        return {"status": "error", "message": f"init_{backend}: {_one_line(exc)}"}
    if not isinstance(endpoint, tuple) or len(endpoint) != 5 or not callable(endpoint[2]):
        return {"status": "fail", "message": f"init_{backend} did not return "
                "(endpoint, processor, handler, queue, batch_size) with a callable handler"}
    handler = endpoint[2]
    worst = None
    for case, want in zip(cases, expected):
        try:
            output = handler(case.input, **case.options)
        except Exception as exc:
            return {"status": "error", "message": f"case {case.name}: {_one_line(exc)}"}
        message, diff = _check_output(output, family, want, plan)
        if diff is not None and math.isfinite(diff):
            worst = diff if worst is None else max(worst, diff)
        if message:
            result = {"status": "fail", "message": f"case {case.name}: {message}"}
            if worst is not None:
                result["max_abs_diff"] = worst
            return result
    result = {"status": "pass"}
    if worst is not None:
        result["max_abs_diff"] = worst
    return result


def _run_backends(plan, family, path, backends, model_dir, cases, expected):
    if not path.is_file():
        return {b: {"status": "no-skillset", "message": f"no skillset at {path}"} for b in backends}
    if expected is None:
        return {b: {"status": "skip", "reason": "no-reference",
                    "message": "the reference failed, so there is nothing to compare with"}
                for b in backends}
    try:
        cls = load_skillset(path, plan["ident"])
        # As the worker does: one instance per model, handed the modules it already has.
        instance = cls(resources={"torch": torch, "transformers": transformers, "numpy": np},
                       metadata={})
    except Exception as exc:
        message = f"loading {path}: {_one_line(exc)}"
        return {b: {"status": "error", "message": message} for b in backends}
    results = {}
    for backend in backends:
        if backend not in _DEVICES:
            results[backend] = {"status": "error", "message": f"unknown backend '{backend}'"}
            continue
        seed_everything(plan.get("seed", 0))
        results[backend] = _run_backend(instance, backend, family, plan, model_dir, cases, expected)
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
    try:
        family = families.load(plan["family"])
        cases = family.cases(plan)
    except Exception as exc:
        reference = _reference_record(plan, message=f"family '{plan['family']}': {_one_line(exc)}")
    else:
        reference, model_dir, expected = _reference(family, plan, cases)
    results = _run_backends(plan, family, skillset_file(plan, skillset_path), backends,
                            model_dir, cases, expected)
    return {"reference": reference, "backends": results, "versions": versions(),
            "elapsed_s": round(time.monotonic() - started, 3)}


# --- pytest glue --------------------------------------------------------------------------

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
        pytest.fail(f"reference {reference['status']}: {reference.get('message', '')}", pytrace=False)


def check_backend(plan, backend):
    result = _cached_run(plan)["backends"][backend]
    status = result["status"]
    if status == "pass":
        return
    detail = result.get("message", "")
    if status in ("fail", "error"):
        pytest.fail(f"{backend} {status}: {detail}", pytrace=False)
    reason = f" ({result['reason']})" if "reason" in result else ""
    pytest.skip(f"{backend} {status}{reason}: {detail}")


# --- standalone ---------------------------------------------------------------------------

def _write_json_atomically(path, data):
    path = Path(path)
    handle = tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False)
    try:
        with handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise


def failed(result):
    """Whether the result holds a fail or an error (a skip is neither)."""
    statuses = [result["reference"]["status"]] + [b["status"] for b in result["backends"].values()]
    return any(status in ("fail", "error") for status in statuses)


def summary(plan, result):
    reference = result["reference"]
    candidate = (reference.get("candidate") or {}).get("model_class", "-")
    lines = [f"{plan['model_id']}: reference {reference['status']} ({candidate})"
             + (f": {reference['message']}" if reference.get("message") else "")]
    for backend, outcome in result["backends"].items():
        line = f"  {backend:<9} {outcome['status']}"
        if "reason" in outcome:
            line += f" ({outcome['reason']})"
        if "max_abs_diff" in outcome:
            line += f" max_abs_diff={outcome['max_abs_diff']:.3g}"
        if outcome["status"] in ("fail", "error") and outcome.get("message"):
            line += f": {outcome['message']}"
        lines.append(line)
    lines.append(f"  {result['elapsed_s']:.1f}s")
    return "\n".join(lines)


def main(plan, argv):
    parser = argparse.ArgumentParser(
        prog=Path(plan.get("test_file") or sys.argv[0]).name,
        description=f"Test the {plan['model_id']} skillset against a tiny {plan['model_type']} model.")
    parser.add_argument("--skillset", metavar="PATH", help="skillset file (default: the plan's)")
    parser.add_argument("--backends", metavar="LIST",
                        help=f"comma-separated backends (default: {','.join(plan['backends'])})")
    parser.add_argument("--json", metavar="OUT", help="also write the result as JSON to OUT")
    args = parser.parse_args(argv)
    backends = None
    if args.backends:
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        unknown = [b for b in backends if b not in BACKENDS]
        if unknown or not backends:
            parser.error(f"unknown backend '{unknown[0] if unknown else args.backends}' "
                         f"(known: {','.join(BACKENDS)})")
    result = run(plan, skillset_path=args.skillset, backends=backends)
    if args.json:
        _write_json_atomically(args.json, result)
    print(summary(plan, result), file=sys.stderr)
    return 1 if failed(result) else 0
