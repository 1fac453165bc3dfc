#!/usr/bin/env bash
# Installs what is missing, builds everything (the CUDA backend too when nvcc is present) and
# runs the whole test suite. GPU tests skip with a reason when no device is present.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh
bash scripts/fetch-data.sh

build="${ZAE_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "${ZAE_BUILD_JOBS:-2}"
ctest --test-dir "$build" --output-on-failure -j "${ZAE_TEST_JOBS:-2}"
