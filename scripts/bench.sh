#!/usr/bin/env bash
# Prints wall times of the toolchain's main jobs. Figures, not assertions: compare runs
# on the same machine. Usage: scripts/bench.sh (make bench).
set -euo pipefail
cd "$(dirname "$0")/.."
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
  bin/gen-tests -q bert gpt2 t5 vit whisper clip -o "$work/tests" --skillset-dir "$work/sk" \
    | bin/run-tests -q | bin/analyze -q | bin/gen-skillset -q | bin/verify -q
}

echo "machine: $(nproc) cores; transformers $(.venv/bin/python -c 'import transformers; print(transformers.__version__)')"
seconds "pipeline, six model types, cold tiny-model cache" pipeline
seconds "pipeline, six model types, warm cache" pipeline
seconds "gen-skillset --all (every model type of the registry)" bin/gen-skillset -q --all -o "$work/all"
seconds "gen-skillset --all again (all unchanged)" bin/gen-skillset -q --all -o "$work/all"
seconds "gen-tests --all" bin/gen-tests -q --all -o "$work/all-tests" --skillset-dir "$work/all"
seconds "python worker start-up (import torch, transformers)" \
  .venv/bin/python -m skillkit.worker < /dev/null
