#!/usr/bin/env bash
# Prints wall times of the toolchain's main jobs. Figures, not assertions: compare runs
# on the same machine. Usage: scripts/bench.sh MODEL_TYPE... (make bench passes the
# reference type of every family, from data/families.json).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: scripts/bench.sh MODEL_TYPE..." >&2; exit 2; }
types=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SKILLKIT_CACHE="$work/tiny"

seconds() {  # seconds LABEL COMMAND...: runs COMMAND, prints its wall time
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  awk -v l="$label" -v s="$start" -v e="$end" 'BEGIN { printf "%-58s %8.2f s\n", l, e - s }'
}

pipeline() {
  bin/gen-tests -q "${types[@]}" -o "$work/tests" --skillset-dir "$work/sk" \
    | bin/run-tests -q | bin/analyze -q | bin/gen-skillset -q | bin/verify -q
}

echo "machine: $(nproc) cores; transformers $(.venv/bin/python -c 'import transformers; print(transformers.__version__)')"
seconds "pipeline, ${#types[@]} model types, cold tiny-model cache" pipeline
seconds "pipeline, ${#types[@]} model types, warm cache" pipeline
seconds "gen-skillset --all (every model type of the registry)" bin/gen-skillset -q --all -o "$work/all"
seconds "gen-skillset --all again (all unchanged)" bin/gen-skillset -q --all -o "$work/all"
seconds "gen-tests --all" bin/gen-tests -q --all -o "$work/all-tests" --skillset-dir "$work/all"
seconds "python worker start-up (import torch, transformers)" \
  .venv/bin/python -m skillkit.worker < /dev/null

# Model specs through the Hub client, against the fake Hub on loopback (50 ms a request).
.venv/bin/python tests/fake_hub/server.py --latency-ms 50 > "$work/hub.url" &
hub_pid=$!
trap 'kill $hub_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/hub.url" ] && break; sleep 0.1; done
export HF_ENDPOINT=$(head -1 "$work/hub.url") HF_HUB_CACHE="$work/hub-cache"
ids=$(for i in $(seq 100); do echo "bulk/model-$i"; done)
# shellcheck disable=SC2086
seconds "100 repo ids, cold cache, one call (concurrent fetches)" bin/gen-skillset -q $ids -o "$work/hub-sk"
# shellcheck disable=SC2086
seconds "the same 100 ids, warm cache (cached lookups)" bin/gen-skillset -q $ids -o "$work/hub-sk"
rm -rf "$HF_HUB_CACHE"
one_at_a_time() { for id in $ids; do bin/gen-skillset -q "$id" -o "$work/hub-sk"; done; }
seconds "100 repo ids, cold cache, one call per id (sequential)" one_at_a_time
