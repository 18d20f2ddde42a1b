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
    """cuda memory around two rounds of init_cuda, one handler call and the endpoint dropped.

    The first round also makes what torch keeps per process from the first call on
    (cuBLAS and cuBLASLt workspaces), so the second round shows what serving one model
    leaves behind once it is dropped: nothing, if the endpoint's memory goes back."""
    import torch

    root = Path(os.environ.get("SKILLKIT_CACHE", "/tmp/tiny")) / "bert"
    model_dir = next(str(d) for d in sorted(root.iterdir()) if (d / "config.json").is_file())
    spec = importlib.util.spec_from_file_location("hf_bert", skillset)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def state():
        return torch.cuda.memory_allocated(), torch.cuda.memory_reserved()

    for round in (1, 2):
        before = state()
        endpoint = module.hf_bert().init_cuda(model_dir, "cuda:0", "cuda:0")
        endpoint[2](["a sentence", "another, longer sentence"])
        served = state()
        del endpoint
        gc.collect()
        after = state()
        print(f"round {round}: allocated / reserved bytes before init_cuda {before}, "
              f"served {served}, endpoint dropped {after}")
    print("released" if after == before else "NOT released")


if __name__ == "__main__":
    {"summary": summary, "memory": memory}[sys.argv[1]](sys.argv[2])
