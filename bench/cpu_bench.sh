#!/usr/bin/env bash
# CPU step throughput in one run: zae's fused CPU step, its five sgemm calls alone (the ceiling)
# and a NumPy step (the peer), at the same shape and thread count.
#
# Usage: bench/cpu_bench.sh [D H B] [threads]   (default 192 1024 256, 2 threads)
# Needs a build (scripts/test.sh or scripts/main-job.sh) and .venv from scripts/install-deps.sh.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ZAE_BUILD_DIR:-$root/build}"
D="${1:-192}"
H="${2:-1024}"
B="${3:-256}"
threads="${4:-2}"

if [ ! -x "$build/bench/cpu_step" ]; then
  cmake --build "$build" --target cpu_step -j 2
fi

echo "== zae CPU step, $threads threads"
OMP_NUM_THREADS="$threads" "$build/bench/cpu_step" "$D" "$H" "$B" 50 | tee /tmp/zae-cpu-step.txt
zae_ms="$(awk '/^step /{print $2}' /tmp/zae-cpu-step.txt)"

echo "== NumPy step, $threads threads"
# NumPy's wheel bundles its own OpenBLAS; the OPENBLAS_CORETYPE override that older Debian
# OpenBLAS builds need here would slow it, so the peer runs without it.
numpy_ms="$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$threads" \
  OMP_NUM_THREADS="$threads" "$root/.venv/bin/python" "$root/bench/peers/numpy_step.py" \
  "$D" "$H" "$B" 50 | awk '/^numpy_step_ms/{print $2}')"
echo "numpy step  $numpy_ms ms"
awk -v z="$zae_ms" -v n="$numpy_ms" 'BEGIN { printf "zae speed-up over NumPy: %.2fx\n", n / z }'
