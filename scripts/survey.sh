#!/usr/bin/env bash
# How far the templates reach: generates a skillset from the registry alone for every
# servable model type of a family that has a template, runs every test against it, and
# prints per family how many references and CPU skillsets passed, and the commonest
# reasons for the rest. Usage: scripts/survey.sh [OUT_DIR] (make survey).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
bin/gen-skillset -q --all -o "$out/skillsets" --test-dir "$out/tests" > "$out/manifests.jsonl"
bin/gen-tests -q --all -o "$out/tests" --skillset-dir "$out/skillsets" > "$out/plans.jsonl"
# run-tests exits 1 when anything failed: that is the survey's subject, not an error.
bin/run-tests --timeout 300 "$out/plans.jsonl" > "$out/results.jsonl" || [ $? -eq 1 ]
.venv/bin/python - "$out/results.jsonl" <<'PY'
import collections, json, re, sys

rows = [json.loads(line) for line in open(sys.argv[1])]
by_family = collections.defaultdict(collections.Counter)
reasons = collections.Counter()
for row in rows:
    counts = by_family[row["family"]]
    counts["types"] += 1
    counts["reference pass"] += row["reference"]["status"] == "pass"
    cpu = row["backends"].get("cpu", {}).get("status", "none")
    counts[f"cpu {cpu}"] += 1
    if row["reference"]["status"] != "pass":
        message = row["reference"].get("message", "").split(": ", 2)[-1]
        reasons[re.sub(r"'[^']*'", "X", message).split("(")[0][:90]] += 1
print(f"{'family':<26} {'types':>5} {'ref pass':>8} {'cpu pass':>8} {'cpu fail':>8} {'cpu error':>9}")
for family, c in sorted(by_family.items()):
    print(f"{family:<26} {c['types']:>5} {c['reference pass']:>8} {c['cpu pass']:>8} {c['cpu fail']:>8} {c['cpu error']:>9}")
total = sum(by_family.values(), collections.Counter())
print(f"{'all':<26} {total['types']:>5} {total['reference pass']:>8} {total['cpu pass']:>8} {total['cpu fail']:>8} {total['cpu error']:>9}")
print("\ncommonest reasons a reference did not pass:")
for reason, n in reasons.most_common(8):
    print(f"{n:>5}  {reason}")
PY
echo "records in $out" >&2
