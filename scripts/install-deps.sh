#!/usr/bin/env bash
# Installs the Debian packages that zae builds against, when any is missing. Run as root (or
# with sudo available). The CUDA toolkit is not installed here: when nvcc is on PATH the CUDA
# backend builds, otherwise the host engine builds alone.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libopenblas-openmp-dev   # sgemm and LAPACK, OpenMP build (one thread pool with our loops)
  libgtest-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libstb-dev zlib1g-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
fi

# Python peers for the benchmarks and the check that checkpoints load with the safetensors
# package: a virtual environment in .venv, from PyPI.
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! "$root/.venv/bin/python" -c "import numpy, safetensors" >/dev/null 2>&1; then
  echo "install-deps: creating $root/.venv with numpy and safetensors"
  python3 -m venv "$root/.venv"
  "$root/.venv/bin/python" -m pip install -q --disable-pip-version-check numpy safetensors
fi
