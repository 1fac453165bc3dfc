"""Check that a zae checkpoint loads with the Python safetensors package.

Usage: check_safetensors.py PATH HIDDEN VISIBLE ROW COLUMN VALUE

Loads PATH with safetensors.numpy.load_file and checks that W is float32 of shape
(HIDDEN, VISIBLE) with W[ROW, COLUMN] == VALUE, and that the metadata names the zae
checkpoint format. Prints "ok" and exits 0, or prints the mismatch and exits 1.
"""

import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def main(argv):
    if len(argv) != 7:
        print(__doc__.strip().splitlines()[2])
        return 2
    path = argv[1]
    hidden, visible, row, column = (int(text) for text in argv[2:6])
    value = np.float32(float(argv[6]))

    tensors = load_file(path)
    weights = tensors["W"]
    if weights.dtype != np.float32:
        print(f"W has dtype {weights.dtype}, expected float32")
        return 1
    if weights.shape != (hidden, visible):
        print(f"W has shape {weights.shape}, expected {(hidden, visible)}")
        return 1
    if weights[row, column] != value:
        print(f"W[{row}, {column}] = {weights[row, column]!r}, expected {value!r}")
        return 1

    with safe_open(path, framework="np") as handle:
        metadata = handle.metadata()
    if metadata.get("format") != "zae-checkpoint-1":
        print(f"metadata format is {metadata.get('format')!r}, expected 'zae-checkpoint-1'")
        return 1

    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
