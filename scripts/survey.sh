#!/usr/bin/env bash
# How far the templates reach: generates a skillset from the registry alone for every
# servable model type of a family that has a template (or for the model types $TYPES
# names), runs every test against it on the backends $BACKENDS (default cpu,openvino),
# and prints per family how many references and skillsets passed on each backend, the
# seconds each backend took in all, the failure class of every servable type that does
# not pass and `REAL CPU parity: N of M` over the registry's servable model types and
# (type, task) pairs (scripts/survey_report.py), after one turn of the test-driven loop
# over the tests whose reference passed and cpu did not. TASKS=all tests, beside each type's
# default task, every other task of the type its family's template serves.
# Usage: [TYPES="bert gpt2"] [BACKENDS=b1,b2] [TASKS=all] scripts/survey.sh [OUT_DIR] (make survey).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
read -r -a specs <<< "${TYPES:---all}"
# Both exit 1 when a named type's family has no template: the survey counts those too.
bin/gen-skillset -q "${specs[@]}" -o "$out/skillsets" --test-dir "$out/tests" > "$out/manifests.jsonl" || [ $? -eq 1 ]
bin/gen-tests -q "${specs[@]}" --backends "${BACKENDS:-cpu,openvino}" -o "$out/tests" \
  --skillset-dir "$out/skillsets" > "$out/plans.jsonl" || [ $? -eq 1 ]
if [ "${TASKS:-}" = all ]; then
  # Each task's skillsets and tests in a directory of their own: a file is named after
  # its model type alone. Their manifests stay out of manifests.jsonl, which classes
  # the types that were not tested on their default task.
  [ "${TYPES:-}" ] && read -r -a names <<< "$TYPES" || names=()
  .venv/bin/python scripts/survey_report.py --other-tasks "${names[@]}" | while read -r task types; do
    read -r -a these <<< "$types"
    bin/gen-skillset -q --task "$task" "${these[@]}" -o "$out/$task/skillsets" \
      --test-dir "$out/$task/tests" >> "$out/task-manifests.jsonl" || [ $? -eq 1 ]
    bin/gen-tests -q --task "$task" "${these[@]}" --backends "${BACKENDS:-cpu,openvino}" -o "$out/$task/tests" \
      --skillset-dir "$out/$task/skillsets" >> "$out/plans.jsonl" || [ $? -eq 1 ]
  done
fi
# run-tests exits 1 when anything failed: that is the survey's subject, not an error.
bin/run-tests --timeout 600 "$out/plans.jsonl" > "$out/results.jsonl" || [ $? -eq 1 ]
# One turn of the test-driven loop (docs/DESIGN.md, "The loop learns"), over the tests
# whose reference passed and whose cpu backend did not: what they measured (a batch
# policy) becomes requirements, gen-skillset rewrites the skillsets those change, and
# verify runs those skillsets' tests again. The report counts both.
.venv/bin/python scripts/survey_report.py --loop-candidates "$out" > "$out/loop-results.jsonl"
: > "$out/loop-manifests.jsonl"
: > "$out/loop-verify.jsonl"
if [ -s "$out/loop-results.jsonl" ]; then
  bin/analyze -q "$out/loop-results.jsonl" > "$out/loop-requirements.jsonl" || [ $? -eq 1 ]
  bin/gen-skillset -q -r "$out/loop-requirements.jsonl" > "$out/loop-generated.jsonl"
  grep '"status":"written"' "$out/loop-generated.jsonl" > "$out/loop-manifests.jsonl" || true
fi
if [ -s "$out/loop-manifests.jsonl" ]; then
  bin/verify -q --timeout 600 "$out/loop-manifests.jsonl" > "$out/loop-verify.jsonl" || [ $? -eq 1 ]
fi
.venv/bin/python scripts/survey_report.py "$out"
echo "records in $out" >&2
