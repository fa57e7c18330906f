#!/usr/bin/env bash
# Training-step speed: graftrec (`bench train`) against the PyTorch CPU reference (bench/pytorch_reference.py) on
# the same configuration, for each thread count. PyTorch is a benchmark baseline only, never a graftrec dependency.
#
# Usage: bench/compare-train.sh [--backbone nextitnet|sasrec|gru4rec] [--items N] [--dim N] [--blocks N]
#                               [--layers N] [--heads N] [--dropout P] [--batch N] [--max-len N] [--negatives N]
#                               [--steps N] [--warmup N] [--threads "1 2"] [--repeats N]
# or the same through the environment: BACKBONE ITEMS DIM BLOCKS LAYERS HEADS DROPOUT BATCH MAX_LEN NEGATIVES STEPS
# WARMUP THREADS REPEATS (flags win). Defaults: --backbone nextitnet --items 100000 --blocks 8 --batch 128
# --max-len 50 --negatives 100 --steps 20 --warmup 3 --threads "1 2" --repeats 2; --dim, --layers, --heads and
# --dropout default per backbone (graftrec's defaults: dim nextitnet 64, sasrec 50, gru4rec 64; sasrec 2 layers,
# 1 head, dropout 0.5; gru4rec 1 layer, dropout 0.25). --blocks is NextItNet's only; --layers/--heads/--dropout
# are the other backbones' only. --negatives 0 compares the full softmax.
# PT_OPTIMIZER=sparse|dense|auto, PT_CONV=conv1d|matmul|auto (nextitnet) and PT_ATTENTION=mha|manual|sdpa|auto
# (sasrec) pin the PyTorch variant (default auto: every variant is timed in its own process and the fastest is
# reported; see bench/pytorch_reference.py and bench/pytorch_backbones.py).
#
# Each measurement is run --repeats times, graftrec and PyTorch interleaved, and the best seq/s of each is
# reported (the machine may be shared). Prints one JSON line per thread count:
#   {"threads":T,"graftrecSeqPerSec":..,"pytorchSeqPerSec":..,"ratio":graftrec/pytorch,...}
#
# Requirements: a built graftrec (npm run build) and Debian's PyTorch:
#   apt-get install python3-torch libopenblas0-pthread
# Debian installs torch for its own /usr/bin/python3; a pyenv/venv python3 earlier on PATH usually cannot import
# it. The first of $PYTHON, /usr/bin/python3, python3 on PATH that can `import torch` is used.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the PyTorch command only.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."

BACKBONE=${BACKBONE:-nextitnet} LAYERS=${LAYERS:-} HEADS=${HEADS:-} DROPOUT=${DROPOUT:-}
ITEMS=${ITEMS:-100000} DIM=${DIM:-} BLOCKS=${BLOCKS:-8} BATCH=${BATCH:-128} MAX_LEN=${MAX_LEN:-50}
NEGATIVES=${NEGATIVES:-100} STEPS=${STEPS:-20} WARMUP=${WARMUP:-3} THREADS=${THREADS:-"1 2"} REPEATS=${REPEATS:-2}
PT_OPTIMIZER=${PT_OPTIMIZER:-auto} PT_CONV=${PT_CONV:-auto} PT_ATTENTION=${PT_ATTENTION:-auto}

die() { echo "compare-train: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "$1 needs a value"
  case "$1" in
    --backbone) BACKBONE=$2 ;; --layers) LAYERS=$2 ;; --heads) HEADS=$2 ;; --dropout) DROPOUT=$2 ;;
    --items) ITEMS=$2 ;; --dim) DIM=$2 ;; --blocks) BLOCKS=$2 ;; --batch) BATCH=$2 ;; --max-len) MAX_LEN=$2 ;;
    --negatives) NEGATIVES=$2 ;; --steps) STEPS=$2 ;; --warmup) WARMUP=$2 ;; --threads) THREADS=$2 ;;
    --repeats) REPEATS=$2 ;;
    *) die "unknown option $1 (see the header of $0)" ;;
  esac
  shift 2
done

PY=""
for candidate in ${PYTHON:-} /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch' >/dev/null 2>&1; then
    PY=$candidate
    break
  fi
done
[ -n "$PY" ] || die "no python3 can import torch; install PyTorch with: apt-get install python3-torch libopenblas0-pthread"
[ -f dist/src/cli/main.js ] || die "graftrec is not built (dist/src/cli/main.js missing); run npm run build"

case "$BACKBONE" in nextitnet | sasrec | gru4rec) ;; *) die "--backbone must be nextitnet, sasrec or gru4rec" ;; esac
CONFIG=(--backbone "$BACKBONE" --items "$ITEMS" --batch "$BATCH" --max-len "$MAX_LEN"
  --negatives "$NEGATIVES" --steps "$STEPS" --warmup "$WARMUP")
[ -z "$DIM" ] || CONFIG+=(--dim "$DIM")
PT_VARIANT=(--optimizer "$PT_OPTIMIZER")
if [ "$BACKBONE" = nextitnet ]; then
  [ -z "$LAYERS$HEADS$DROPOUT" ] || die "--layers, --heads and --dropout are for sasrec and gru4rec"
  CONFIG+=(--blocks "$BLOCKS")
  PT_VARIANT+=(--conv "$PT_CONV")
else
  [ -z "$LAYERS" ] || CONFIG+=(--layers "$LAYERS")
  [ -z "$DROPOUT" ] || CONFIG+=(--dropout "$DROPOUT")
  if [ "$BACKBONE" = sasrec ]; then
    [ -z "$HEADS" ] || CONFIG+=(--heads "$HEADS")
    PT_VARIANT+=(--attention "$PT_ATTENTION")
  else
    [ -z "$HEADS" ] || die "--heads is for sasrec"
  fi
fi

# Last JSON line of stdin -> the named field (prints "null" when absent).
field() { node -e '
  const lines = require("fs").readFileSync(0, "utf8").trim().split("\n");
  const v = JSON.parse(lines[lines.length - 1])[process.argv[1]];
  console.log(v === undefined ? "null" : JSON.stringify(v));' "$1"; }
best() { node -e 'const xs = process.argv.slice(1).map(Number); console.log(Math.max(...xs));' "$@"; }

for T in $THREADS; do
  g_runs=() p_runs=() g_best="" p_best=""
  for ((r = 0; r < REPEATS; r++)); do
    g=$(node dist/src/cli/main.js bench train "${CONFIG[@]}" --threads "$T" --json) \
      || die "graftrec bench train failed (threads $T)"
    p=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" bench/pytorch_reference.py "${CONFIG[@]}" --threads "$T" \
      "${PT_VARIANT[@]}" --json) || die "PyTorch reference failed (threads $T)"
    echo "# threads=$T run $((r + 1)): graftrec $g" >&2
    echo "# threads=$T run $((r + 1)): pytorch  $p" >&2
    g_runs+=("$(field seqPerSec <<<"$g")") p_runs+=("$(field seqPerSec <<<"$p")")
    # Keep the full record of each side's best run (its peak RSS and chosen variant).
    if [ -z "$g_best" ] || [ "$(best "${g_runs[-1]}" "$(field seqPerSec <<<"$g_best")")" = "${g_runs[-1]}" ]; then g_best=$g; fi
    if [ -z "$p_best" ] || [ "$(best "${p_runs[-1]}" "$(field seqPerSec <<<"$p_best")")" = "${p_runs[-1]}" ]; then p_best=$p; fi
  done
  node -e '
    const [T, g, p, gRuns, pRuns] = process.argv.slice(1);
    const G = JSON.parse(g), P = JSON.parse(p);
    console.log(JSON.stringify({
      backbone: G.backbone, dim: G.dim, threads: Number(T), graftrecSeqPerSec: G.seqPerSec, pytorchSeqPerSec: P.seqPerSec,
      ratio: Math.round((G.seqPerSec / P.seqPerSec) * 100) / 100,
      graftrecMsPerStep: G.msPerStep, pytorchMsPerStep: P.msPerStep,
      graftrecPeakRssMB: G.peakRssMB, pytorchPeakRssMB: P.peakRssMB,
      pytorchOptimizer: P.optimizer, pytorchVariant: P.variant, torch: P.torch, negatives: G.negatives,
      graftrecRuns: gRuns.split(" ").map(Number), pytorchRuns: pRuns.split(" ").map(Number),
    }));' "$T" "$(tail -n 1 <<<"$g_best")" "$(tail -n 1 <<<"$p_best")" "${g_runs[*]}" "${p_runs[*]}"
done
