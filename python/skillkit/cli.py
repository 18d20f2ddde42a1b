"""The standalone command line of a generated test: python3 test_hf_<ident>.py [...]."""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from . import backends as backend_list
from .testrun import run


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
    klass = f" [{reference['class']}]" if "class" in reference else ""
    lines = [f"{plan['model_id']}: reference {reference['status']}{klass} ({candidate})"
             + (f": {reference['message']}" if reference.get("message") else "")]
    for backend, outcome in result["backends"].items():
        line = f"  {backend:<9} {outcome['status']}"
        if "reason" in outcome or "class" in outcome:
            line += f" ({outcome.get('reason') or outcome['class']})"
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
        unknown = [b for b in backends if b not in backend_list.NAMES]
        if unknown or not backends:
            parser.error(f"unknown backend '{unknown[0] if unknown else args.backends}' "
                         f"(known: {','.join(backend_list.NAMES)})")
    result = run(plan, skillset_path=args.skillset, backends=backends)
    if args.json:
        _write_json_atomically(args.json, result)
    print(summary(plan, result), file=sys.stderr)
    return 1 if failed(result) else 0
