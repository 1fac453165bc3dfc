#!/usr/bin/env bash
# Fetches the public-domain and CC0 photographs that Debian's python3-skimage package ships
# (skimage/data/) into data/photos/, without installing the package: `apt-get download` then
# `dpkg -x`. Does nothing when data/photos already contains them.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
photos="$root/data/photos"
# Natural photographs only; the package's synthetic test images are left out.
names=(astronaut.png brick.png camera.png chelsea.png coffee.png coins.png grass.png
       gravel.png moon.png rocket.jpg motorcycle_left.png)

if [ -f "$photos/.complete" ]; then
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  if ! apt-get download python3-skimage >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    apt-get download python3-skimage >/dev/null
  fi
  dpkg -x python3-skimage_*.deb unpacked
)
source_dir="$(find "$work/unpacked" -type d -path '*skimage/data' | head -n 1)"
if [ -z "$source_dir" ]; then
  echo "fetch-data: skimage/data not found in python3-skimage" >&2
  exit 1
fi
mkdir -p "$photos"
for name in "${names[@]}"; do
  cp "$source_dir/$name" "$photos/$name"
done
touch "$photos/.complete"
echo "fetch-data: ${#names[@]} photographs in $photos"
