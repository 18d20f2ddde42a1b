#!/usr/bin/env bash
# The test-driven loop (make loop; docs/DESIGN.md, "The loop learns"). Starts from the
# skillsets gen-skillset writes from the registry alone, then turns tests -> analyze ->
# gen-skillset -> verify until verify passes or gen-skillset changes no skillset, and
# reports per model type whether it passed before and after, what the tests changed,
# and how many pass only because of the loop.
# Usage: [TYPES="canine bert"] [BACKENDS=b1,b2] [JOBS=N] scripts/loop.sh [OUT_DIR]
# TYPES defaults to every servable type of the families with a template.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SKILLSET_BIN:-bin}
out=${1:-$(mktemp -d)}
mkdir -p "$out"
read -r -a specs <<< "${TYPES:---all}"
jobs=()
[ -n "${JOBS:-}" ] && jobs=(-j "$JOBS")
# gen-tests and gen-skillset exit 1 when a type named is not supported yet, run-tests,
# analyze and verify when something failed: the loop's subject, not an error; any other status
# stops it.
findings() { "$@" || [ $? -eq 1 ]; }

findings "$bin"/gen-tests -q "${specs[@]}" --backends "${BACKENDS:-cpu}" -o "$out/tests" \
  --skillset-dir "$out/skillsets" > "$out/plans.jsonl"
findings "$bin"/gen-skillset -q "${specs[@]}" -o "$out/skillsets" --test-dir "$out/tests" > "$out/registry-manifests.jsonl"
round=1
findings "$bin"/run-tests -q "${jobs[@]}" --timeout 600 "$out/plans.jsonl" > "$out/results-1.jsonl"
while :; do
  findings "$bin"/analyze -q "$out/results-$round.jsonl" > "$out/requirements-$round.jsonl"
  "$bin"/gen-skillset -q -r "$out/requirements-$round.jsonl" > "$out/manifests-$round.jsonl"
  written=$(grep -c '"status":"written"' "$out/manifests-$round.jsonl" || true)
  echo "loop: round $round: the tests' requirements rewrote $written skillsets" >&2
  if [ "$written" -eq 0 ]; then
    final=(--results "$out/results-$round.jsonl")
    break
  fi
  status=0
  "$bin"/verify -q "${jobs[@]}" --timeout 600 "$out/manifests-$round.jsonl" > "$out/verify-$round.jsonl" || status=$?
  if [ "$status" -eq 0 ]; then
    final=(--results "$out/results-$round.jsonl" --verified "$out/verify-$round.jsonl")
    break
  fi
  [ "$status" -eq 1 ]
  round=$((round + 1))
  findings "$bin"/run-tests -q "${jobs[@]}" --timeout 600 "$out/plans.jsonl" > "$out/results-$round.jsonl"
done
.venv/bin/python scripts/loop_report.py --plans "$out/plans.jsonl" --baseline "$out/results-1.jsonl" \
  --requirements "$out/requirements-$round.jsonl" "${final[@]}"
echo "records in $out" >&2
