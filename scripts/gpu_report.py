"""What scripts/gpu-check.sh prints: its answers tallied, and the cuda memory check.

    python3 scripts/gpu_report.py summary ANSWERS.jsonl
    python3 scripts/gpu_report.py memory SKILLSET   (hf_bert.py; its tiny model must be cached)
"""
import collections
import gc
import importlib.util
import json
import os
import sys
from pathlib import Path


def summary(path):
    """Per precision and backend: statuses, the worst max_abs_diff, the failures."""
    counts = collections.defaultdict(collections.Counter)
    worst = collections.defaultdict(float)
    elapsed = collections.Counter()
    problems = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        answer = json.loads(line)
        precision, ident = answer["id"].split("/")
        if "error" in answer:
            problems.append(f"{precision} {ident}: worker error: {answer['error']}")
            continue
        result = answer["result"]
        elapsed[precision] += result["elapsed_s"]
        if result["reference"]["status"] != "pass":
            counts[(precision, "reference")][result["reference"]["status"]] += 1
            problems.append(f"{precision} {ident}: reference {result['reference'].get('message', '')[:160]}")
            continue
        for backend, outcome in result["backends"].items():
            counts[(precision, backend)][outcome["status"]] += 1
            if outcome.get("max_abs_diff") is not None:
                worst[(precision, backend)] = max(worst[(precision, backend)], outcome["max_abs_diff"])
            if outcome["status"] != "pass":
                why = outcome.get("reason") or outcome.get("message", "")
                problems.append(f"{precision} {ident} {backend}: {outcome['status']}: {why[:160]}")
    for (precision, backend), tally in sorted(counts.items()):
        shown = ", ".join(f"{n} {status}" for status, n in sorted(tally.items()))
        diff = worst.get((precision, backend))
        print(f"{precision:5} {backend:9} {shown}" + (f"; worst max_abs_diff {diff:.3g}" if diff else ""))
    for precision, seconds in sorted(elapsed.items()):
        print(f"{precision:5} tests took {seconds:.1f} s in all (reference, cpu and cuda)")
    print("\n".join(problems))


def memory(skillset):
    """cuda memory before init_cuda, with the endpoint served, and after it is dropped."""
    import torch

    root = Path(os.environ.get("SKILLKIT_CACHE", "/tmp/tiny")) / "bert"
    model_dir = next(str(d) for d in sorted(root.iterdir()) if (d / "config.json").is_file())
    spec = importlib.util.spec_from_file_location("hf_bert", skillset)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def mib(value):
        return f"{value / 2**20:.1f} MiB"

    torch.cuda.empty_cache()
    before = (torch.cuda.memory_allocated(), torch.cuda.memory_reserved())
    endpoint = module.hf_bert().init_cuda(model_dir, "cuda:0", "cuda:0")
    endpoint[2](["a sentence", "another, longer sentence"])
    served = (torch.cuda.memory_allocated(), torch.cuda.memory_reserved())
    del endpoint
    gc.collect()
    after = (torch.cuda.memory_allocated(), torch.cuda.memory_reserved())
    for name, (allocated, reserved) in (("before init_cuda", before), ("served", served),
                                        ("endpoint dropped", after)):
        print(f"{name:17} allocated {mib(allocated)}, reserved {mib(reserved)}")
    print("released" if after == before else "NOT released")


if __name__ == "__main__":
    {"summary": summary, "memory": memory}[sys.argv[1]](sys.argv[2])
