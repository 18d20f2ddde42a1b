#!/usr/bin/env bash
# How far the templates reach: generates a skillset from the registry alone for every
# servable model type of a family that has a template (or for the model types $TYPES
# names), runs every test against it on the backends $BACKENDS (default cpu,openvino),
# and prints per family how many references and skillsets passed on each backend, the
# seconds each backend took in all, and the commonest reasons a reference failed.
# Usage: [TYPES="bert gpt2"] [BACKENDS=b1,b2] scripts/survey.sh [OUT_DIR] (make survey).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
read -r -a specs <<< "${TYPES:---all}"
bin/gen-skillset -q "${specs[@]}" -o "$out/skillsets" --test-dir "$out/tests" > "$out/manifests.jsonl"
bin/gen-tests -q "${specs[@]}" --backends "${BACKENDS:-cpu,openvino}" -o "$out/tests" \
  --skillset-dir "$out/skillsets" > "$out/plans.jsonl"
# run-tests exits 1 when anything failed: that is the survey's subject, not an error.
bin/run-tests --timeout 600 "$out/plans.jsonl" > "$out/results.jsonl" || [ $? -eq 1 ]
.venv/bin/python - "$out/results.jsonl" <<'PY'
import collections, json, re, sys

rows = [json.loads(line) for line in open(sys.argv[1])]
backends = list(rows[0]["backends"]) if rows else []
by_family = collections.defaultdict(collections.Counter)
reasons = collections.Counter()
seconds = collections.Counter()
for row in rows:
    counts = by_family[row["family"]]
    counts["types"] += 1
    counts["reference"] += row["reference"]["status"] == "pass"
    for backend in backends:
        outcome = row["backends"].get(backend, {})
        counts[backend] += outcome.get("status") == "pass"
        seconds[backend] += outcome.get("elapsed_s", 0)
    if row["reference"]["status"] != "pass":
        message = row["reference"].get("message", "").split(": ", 2)[-1]
        reasons[re.sub(r"'[^']*'", "X", message).split("(")[0][:90]] += 1
columns = ["types", "reference", *backends]
print(f"{'family':<26}" + "".join(f" {name:>{max(len(name), 5)}}" for name in columns))
total = sum(by_family.values(), collections.Counter())
for family, c in [*sorted(by_family.items()), ("all", total)]:
    print(f"{family:<26}" + "".join(f" {c[name]:>{max(len(name), 5)}}" for name in columns))
print()
for backend in backends:
    share = 100 * total[backend] / total["types"] if total["types"] else 0
    print(f"{backend} passes {total[backend]} of {total['types']} model types ({share:.0f}%) "
          f"in {seconds[backend]:.0f} s")
print("\ncommonest reasons a reference did not pass:")
for reason, n in reasons.most_common(8):
    print(f"{n:>5}  {reason}")
PY
echo "records in $out" >&2
