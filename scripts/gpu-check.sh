#!/usr/bin/env bash
# The CUDA figures of docs/DESIGN.md ("CUDA and precision"): a sample of model types
# from every family with a template, run on cpu and cuda at each precision, plus a
# check that dropping a cuda endpoint hands its memory back.
#
#   scripts/gpu-check.sh prepare            # here: writes tests and skillsets to .device/
#   scripts/gpu-check.sh run OUTDIR         # on the GPU machine, from the repo root
#
# Two steps because the GPU machines lent to this project cannot install the tools'
# Debian libraries: `prepare` runs gen-tests and gen-skillset where they are built, and
# `run` drives skillkit's test worker (python -m skillkit.worker, what run-tests runs)
# directly with the same requests run-tests would send. Python packages the GPU
# machine lacks travel as wheels in .whl/ (installed into /tmp/site).
set -euo pipefail
cd "$(dirname "$0")/.."

# Reference types first, then others of each family that pass cpu parity here.
TYPES="bert gpt2 t5 vit whisper clip wav2vec2
       roberta distilbert albert electra deberta-v2 xlm-roberta mpnet
       llama mistral qwen2 opt gpt_neox phi bart mbart pegasus marian
       deit resnet hubert wavlm"
PRECISIONS="fp32 fp16 bf16 int8"

prepare() {
  rm -rf .device && mkdir -p .device
  for precision in $PRECISIONS; do
    # shellcheck disable=SC2086
    bin/gen-tests $TYPES --backends cpu,cuda --precision "$precision" \
      -o ".device/$precision" --skillset-dir .device/skillsets > /dev/null
  done
  # shellcheck disable=SC2086
  bin/gen-skillset $TYPES -o .device/skillsets > /dev/null
}

run() {
  local out=$1 workers=8
  mkdir -p "$out"
  if compgen -G ".whl/*.whl" > /dev/null; then
    ${PYTHON:-python3} -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
  fi
  export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD/python SKILLKIT_CACHE=/tmp/tiny
  ${PYTHON:-python3} - <<'EOF' | tee "$out/device.txt"
import torch, transformers
device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
      f"cuda {torch.version.cuda}, device {device}")
EOF
  # One request per (precision, type), dealt round-robin to the workers.
  local i=0
  for precision in $PRECISIONS; do
    for test in ".device/$precision"/test_hf_*.py; do
      ident=${test##*/test_hf_}; ident=${ident%.py}
      printf '{"id": "%s/%s", "test_file": "%s", "skillset_file": "%s", "backends": ["cpu", "cuda"]}\n' \
        "$precision" "$ident" "$PWD/$test" "$PWD/.device/skillsets/hf_$ident.py" \
        >> "$out/requests.$((i % workers))"
      i=$((i + 1))
    done
  done
  # Workers share the tiny-model cache: a model is built in a temporary directory and
  # renamed into place, so concurrent builds of one model are safe.
  for w in $(seq 0 $((workers - 1))); do
    ${PYTHON:-python3} -m skillkit.worker < "$out/requests.$w" > "$out/answers.$w" 2> "$out/worker.$w.log" &
  done
  wait
  cat "$out"/answers.* > "$out/answers.jsonl"
  rm -f "$out"/answers.[0-9]* "$out"/requests.*
  ${PYTHON:-python3} scripts/gpu_report.py summary "$out/answers.jsonl" | tee "$out/summary.txt"
  ${PYTHON:-python3} scripts/gpu_report.py memory .device/skillsets/hf_bert.py | tee "$out/memory.txt"
}

case ${1:-} in
  prepare) prepare ;;
  run) run "${2:?usage: scripts/gpu-check.sh run OUTDIR}" ;;
  *) echo "usage: scripts/gpu-check.sh prepare | run OUTDIR" >&2; exit 2 ;;
esac
