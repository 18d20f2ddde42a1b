#!/usr/bin/env bash
# How far the templates reach: generates a skillset from the registry alone for every
# servable model type of a family that has a template (or for the model types $TYPES
# names), runs every test against it on the backends $BACKENDS (default cpu,openvino),
# and prints per family how many references and skillsets passed on each backend, the
# seconds each backend took in all, the failure class of every servable type that does
# not pass and `REAL CPU parity: N of M` over the registry's servable model types and
# (type, task) pairs (scripts/survey_report.py).
# Usage: [TYPES="bert gpt2"] [BACKENDS=b1,b2] scripts/survey.sh [OUT_DIR] (make survey).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
read -r -a specs <<< "${TYPES:---all}"
# Both exit 1 when a named type's family has no template: the survey counts those too.
bin/gen-skillset -q "${specs[@]}" -o "$out/skillsets" --test-dir "$out/tests" > "$out/manifests.jsonl" || [ $? -eq 1 ]
bin/gen-tests -q "${specs[@]}" --backends "${BACKENDS:-cpu,openvino}" -o "$out/tests" \
  --skillset-dir "$out/skillsets" > "$out/plans.jsonl" || [ $? -eq 1 ]
# run-tests exits 1 when anything failed: that is the survey's subject, not an error.
bin/run-tests --timeout 600 "$out/plans.jsonl" > "$out/results.jsonl" || [ $? -eq 1 ]
.venv/bin/python scripts/survey_report.py "$out"
echo "records in $out" >&2
