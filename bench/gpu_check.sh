#!/usr/bin/env bash
# GPU check for a lent machine that has the CUDA 13 toolkit and driver but none of zae's other
# dependencies (OpenBLAS, GoogleTest, CLI11, ...) and no network. The binaries are built on a
# development machine and carried over with the shared libraries they need.
#
#   bench/gpu_check.sh --pack DIR [BUILD]   on the build machine: copy zae, zae_gpu_tests,
#                                           zae_tests and gpu_bench from BUILD (default
#                                           build) and their non-glibc, non-CUDA shared
#                                           libraries into DIR, then run --verify
#   bench/gpu_check.sh --verify DIR         check with ldd that every library other than glibc
#                                           and CUDA resolves from DIR/lib
#   bench/gpu_check.sh --run DIR            on the GPU machine: the GPU tests, `zae compare` at
#                                           two shapes and in TF32, and timed steps at three
#                                           shapes, each stage bounded by `timeout` so that
#                                           the whole run ends within 7.5 minutes
#
# --run writes gpu_check.log, gpu_tests.xml, compare.log and gpu_bench.json to $OUT when it
# is set, else to DIR/results. Exit status: 0 when every stage passed, 1 otherwise.
set -uo pipefail

usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

# glibc's own libraries and the CUDA libraries come from the GPU machine, never from the pack.
is_system_library() {
  case "$(basename "$1")" in
    linux-vdso.so.*|ld-linux*.so.*|libc.so.*|libm.so.*|libdl.so.*|librt.so.*|libpthread.so.*|\
    libresolv.so.*|libutil.so.*) return 0 ;;
    libcuda.so.*|libcudart.so.*|libcublas.so.*|libcublasLt.so.*|libcurand.so.*|libnvrtc*.so.*|\
    libnvJitLink.so.*|libnvidia-*.so.*) return 0 ;;
  esac
  return 1
}

pack() {
  local dir="$1"
  local root build
  root="$(cd "$(dirname "$0")/.." && pwd)"
  build="${2:-$root/build}"
  mkdir -p "$dir/bin" "$dir/lib"

  local binaries=("$build/zae" "$build/tests/zae_gpu_tests" "$build/tests/zae_tests"
                  "$build/bench/gpu_bench")
  local binary lib
  for binary in "${binaries[@]}"; do
    if [ ! -x "$binary" ]; then
      echo "pack: warning: $binary is missing, build it first (ninja -C $build)" >&2
      continue
    fi
    cp "$binary" "$dir/bin/"
    # ldd lists the whole dependency closure, with the path each library resolves to here.
    while read -r lib; do
      is_system_library "$lib" && continue
      cp -L "$lib" "$dir/lib/"
    done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
  done
  cp "$0" "$dir/gpu_check.sh"
  chmod +x "$dir/gpu_check.sh"
  echo "pack: $(du -sh "$dir" | cut -f1) in $dir"
  verify "$dir"
}

verify() {
  local dir="$1"
  local status=0 binary line name path
  for binary in "$dir"/bin/*; do
    while read -r line; do
      name="$(awk '{print $1}' <<<"$line")"
      path="$(awk '$2 == "=>" {print $3}' <<<"$line")"
      is_system_library "$name" && continue
      if [ "$path" = "not" ] || [ -z "$path" ]; then
        echo "verify: $(basename "$binary"): $name is not found" >&2
        status=1
      elif [ "$(dirname "$(readlink -f "$path")")" != "$(readlink -f "$dir/lib")" ]; then
        echo "verify: $(basename "$binary"): $name resolves to $path, not to the pack" >&2
        status=1
      fi
    done < <(LD_LIBRARY_PATH="$dir/lib" ldd "$binary" | grep '=>')
  done
  if [ "$status" -eq 0 ]; then
    echo "verify: every non-glibc, non-CUDA library of $dir/bin resolves from $dir/lib"
  fi
  return "$status"
}

# Runs one stage with a time limit, logging its output; records a failure without stopping.
stage() {
  local name="$1" limit="$2"
  shift 2
  echo "== $name (limit ${limit}s)" | tee -a "$log"
  local start=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$log"
  local status=${PIPESTATUS[0]}
  echo "== $name: exit $status after $((SECONDS - start))s" | tee -a "$log"
  if [ "$status" -ne 0 ]; then failures+=("$name (exit $status)"); fi
}

run() {
  local dir
  dir="$(cd "$1" && pwd)"
  local out="${OUT:-$dir/results}"
  mkdir -p "$out"
  log="$out/gpu_check.log"
  : >"$log"
  failures=()
  export LD_LIBRARY_PATH="$dir/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
  local bin="$dir/bin"

  {
    echo "gpu_check: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
      --format=csv,noheader
    "$bin/zae" --version
  } 2>&1 | tee -a "$log"

  # Without a visible GPU the tests below would skip and pass, so a missing device fails here.
  stage "GPU present" 15 nvidia-smi -L

  stage "GPU tests" 170 "$bin/zae_gpu_tests" --gtest_brief=1 \
    "--gtest_output=xml:$out/gpu_tests.xml"

  : >"$out/compare.log"
  stage "compare 2000x192 H=256 trec" 40 bash -o pipefail -c \
    "'$bin/zae' compare --synthetic 2000x192 --hidden 256 --batch 100 --steps 20 \
       | tee -a '$out/compare.log'"
  stage "compare 4000x768 H=1024 tlin, weight decay" 60 bash -o pipefail -c \
    "'$bin/zae' compare --synthetic 4000x768 --hidden 1024 --batch 256 --steps 10 \
       --activation tlin --weight-decay 1e-4 --lr 1e-4 | tee -a '$out/compare.log'"
  stage "compare 2000x192 H=256 tf32" 40 bash -o pipefail -c \
    "'$bin/zae' compare --synthetic 2000x192 --hidden 256 --batch 100 --steps 10 --math tf32 \
       --tolerance 5e-2 | tee -a '$out/compare.log'"

  rm -f "$out/gpu_bench.json"
  stage "timed steps" 120 "$bin/gpu_bench" --shapes 192x1024x256,768x4096x1024,2000x4096x1000 \
    --steps 50 --repeats 5 --warmup 10 --math both --json "$out/gpu_bench.json"

  if [ "${#failures[@]}" -eq 0 ]; then
    echo "gpu_check: all stages passed" | tee -a "$log"
    return 0
  fi
  echo "gpu_check: failed stages: ${failures[*]}" | tee -a "$log"
  return 1
}

case "${1:-}" in
  --pack) [ $# -ge 2 ] || usage; pack "$2" "${3:-}" ;;
  --verify) [ $# -eq 2 ] || usage; verify "$2" ;;
  --run) [ $# -eq 2 ] || usage; run "$2" ;;
  *) usage ;;
esac
