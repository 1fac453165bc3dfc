#!/usr/bin/env bash
# The main job: installs what is missing, fetches the photographs, builds zae in Release, cuts
# colour patches from the photographs, whitens them, trains a zero-bias autoencoder (TRec,
# theta 1) and writes the model and a picture of its filters to runs/main/.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh
bash scripts/fetch-data.sh

build="${ZAE_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "${ZAE_BUILD_JOBS:-2}" --target zae

patches=data/patches-10x10-colour.npy
if [ ! -f "$patches" ]; then
  "$build/zae" patches --images data/photos --size 10 --count 200000 --seed 1 \
    --channels 3 --out "$patches"
fi

# The authors' recipe at a size that trains in minutes on two cores: whitening that keeps 99%
# of the variance, W from 0.1 x random whitened patches, momentum 0.9, batch 100, a warm-up at
# 1e-4 before 1e-2.
"$build/zae" train --data "$patches" --hidden 256 --activation trec --threshold 1 \
  --contrast-norm true --whiten pca --retain 0.99 --init patches --init-scale 0.1 \
  --schedule warmup --warmup-epochs 1 --warmup-lr 1e-4 --lr 1e-2 --momentum 0.9 --batch 100 \
  --epochs 10 --seed 1 --device auto --out runs/main --overwrite "$@"
