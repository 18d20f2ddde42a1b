"""One model on one backend measured for make bench-models (skillkit.bench): its skillset's
handler and the direct transformers call (skillkit.direct) timed side by side at each
batch size, their peak memory, and the benchmark records (schemas/benchmark.schema.json).
docs/DESIGN.md, "Benchmarks", says what is measured and how.
"""
import ctypes
import ctypes.util
import gc
import importlib.metadata
import json
import statistics
import time
from pathlib import Path

import torch

from . import backends as backend_list
from . import families
from .direct import FAMILIES, Direct
from .expected import Expected
from .messages import one_line
from .output_check import check_output
from .skillset import instantiate
from .testrun import versions
from .tiny_cache import tiny_model_dir

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
# The torch device the direct calls run on, per backend; the rest run beside torch on the CPU.
TORCH_DEVICES = {"cuda": "cuda", "rocm": "cuda", "apple": "mps"}
# The package whose version says which runtime a backend ran on, beyond torch's.
RUNTIMES = {"openvino": "openvino", "onnx": "onnxruntime"}


def check_workload(plan):
    """ValueError unless the plan's family and task have a benchmark workload."""
    workload = FAMILIES.get(plan["family"])
    if workload is None or workload.task != plan["task"]:
        raise ValueError(f"no benchmark of task {plan['task']} in family {plan['family']}")


def model_dir(plan, candidate):
    """What both sides load: the plan's checkpoint, else the tiny model its tests build
    (built once, then taken from the tiny-model cache)."""
    if plan.get("checkpoint"):
        return Path(plan["checkpoint"])
    return tiny_model_dir(families.load(plan["family"]), plan, candidate)


def _identity(plan):
    """The identity fields of the plan (schemas/identity.schema.json) but the files: the
    test and the skillset lived in a temporary directory, gone after the run."""
    fields = json.loads((SCHEMAS / "identity.schema.json").read_text(encoding="utf-8"))["properties"]
    return {key: plan[key] for key in fields if key in plan and key not in ("test_file", "skillset_file")}


_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))


def _status_bytes(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_memory_bytes(call, device):
    """How far one call raises memory above where it started: on a GPU, torch's peak
    allocated bytes; on the CPU, the peak resident set (Linux's VmHWM, reset through
    /proc/self/clear_refs) after the allocator has given back what it kept
    (malloc_trim), so memory freed by an earlier call does not hide this one's."""
    if device == "cuda":
        torch.cuda.synchronize()
        start = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        call()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - start
    gc.collect()
    _LIBC.malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    start = _status_bytes("VmRSS")
    call()
    return max(0, _status_bytes("VmHWM") - start)


def percentile(values, pct):
    """The pct-th percentile of values, interpolated linearly between the nearest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def timings(seconds, batch_size, peak_bytes):
    """A side's figures (the schema's timings) from its timed calls' seconds. Throughput
    is the batch over the median call, as steady as the median on a busy machine,
    where a mean would follow the slowest calls."""
    median = statistics.median(seconds)
    return {"latency_ms_median": median * 1000, "latency_ms_p95": percentile(seconds, 95) * 1000,
            "throughput_per_s": batch_size / median, "peak_memory_bytes": peak_bytes}


def time_interleaved(sides, repeats):
    """Each side's call timed `repeats` times, the sides taking turns (and turns about
    who goes first), so a machine that slows down mid-run slows both alike. The cyclic
    garbage collector is off meanwhile, as timeit has it: its pauses would land on
    whichever call happened to cross its threshold."""
    seconds = {side: [] for side in sides}
    names = list(sides)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for repeat in range(repeats):
            for name in names if repeat % 2 == 0 else reversed(names):
                start = time.perf_counter()
                sides[name]()
                seconds[name].append(time.perf_counter() - start)
    finally:
        if enabled:
            gc.enable()
    gc.collect()
    return seconds


def measure_backend(plan, skillset_file, candidate, model_dir, backend, settings, progress, model):
    """(records, failure) of one model on one backend: its records, and None, or the
    records it made before it failed, and why. A backend that cannot serve here
    (BackendUnavailable) makes no record and no failure. `settings` holds the
    batch_sizes, repeats and warmup; progress(message) tells of each step, the model
    called `model` there."""
    family = families.load(plan["family"])
    workload = FAMILIES[plan["family"]]
    instance = instantiate(skillset_file, plan["ident"], plan.get("precision", "fp32"))
    try:
        handler = backend_list.init(instance, backend, str(model_dir), plan["task"])[2]
    except instance.BackendUnavailable as exc:
        progress(f"{model} {backend}: skipped ({exc.reason}): {' '.join(str(exc).split())}")
        return [], None
    except Exception as exc:
        return [], f"{backend_list.method(backend)}: {one_line(exc)}"
    device = TORCH_DEVICES.get(backend, "cpu")
    direct = Direct(plan["family"], candidate, str(model_dir), device, plan.get("generation"))
    found = []
    for batch_size in settings.batch_sizes:
        input, options = workload.batch(batch_size, plan.get("seed", 0))
        sides = {"skillset": lambda input=input, options=options: handler(input, **options),
                 "direct": lambda input=input, options=options: direct(input, **options)}
        try:
            # The first warm-up calls (a graph backend converts its graphs here) also
            # show that both sides did the same work: the skillset's outputs are checked
            # against the direct call's as the tests check them against the reference.
            message, _, _ = check_output(sides["skillset"](), family, Expected(sides["direct"]()), plan,
                                         backend, options)
            if message:
                return found, f"batch {batch_size}: the skillset and the direct call differ: {message}"
            for _ in range(settings.warmup - 1):
                time_interleaved(sides, 1)
            seconds = time_interleaved(sides, settings.repeats)
            peaks = {side: peak_memory_bytes(call, device) for side, call in sides.items()}
        except Exception as exc:
            return found, f"batch {batch_size}: {one_line(exc)}"
        figures = {side: timings(seconds[side], batch_size, peaks[side]) for side in sides}
        overhead = 100 * (figures["skillset"]["latency_ms_median"] / figures["direct"]["latency_ms_median"] - 1)
        found.append(record(plan, backend, batch_size, settings, figures, overhead, device))
        progress(f"{model} {backend} batch {batch_size}: skillset "
                 f"{figures['skillset']['latency_ms_median']:.2f} ms, direct "
                 f"{figures['direct']['latency_ms_median']:.2f} ms, overhead {overhead:+.1f}%")
    return found, None


def record(plan, backend, batch_size, settings, figures, overhead, device):
    """One benchmark record (schemas/benchmark.schema.json)."""
    runtime = RUNTIMES.get(backend)
    return {"schema": "benchmark", "version": 1, **_identity(plan), "backend": backend,
            "checkpoint": plan.get("checkpoint") or "tiny", "batch_size": batch_size,
            "repeats": settings.repeats, "warmup": settings.warmup, "torch_threads": torch.get_num_threads(),
            "direct_device": device, "skillset": figures["skillset"], "direct": figures["direct"],
            "overhead_pct": overhead,
            "versions": {**versions(), **({runtime: importlib.metadata.version(runtime)} if runtime else {})}}


