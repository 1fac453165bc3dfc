"""One ZAE training step in NumPy, the peer that bench/cpu_bench.sh times against zae's CPU step.

The step is the one zae runs: TRec units with threshold 1, tied weights, a visible bias, the
gradient of both paths, and SGD with classical momentum. Prints the median milliseconds per
step as `numpy_step_ms <value>` for the calling script to parse.

Usage: numpy_step.py D H B [repeats]
"""

import sys
import time

import numpy as np


def step(X, W, c, vW, vc, lr, mu, theta):
    A = X @ W.T
    mask = A > theta
    Hh = np.where(mask, A, 0.0).astype(np.float32)
    E = Hh @ W + c - X
    G = E @ W.T
    dA = G * mask
    B = X.shape[0]
    dW = (Hh.T @ E + dA.T @ X) / B
    dc = E.sum(axis=0) / B
    vW *= mu
    vW -= lr * dW
    W += vW
    vc *= mu
    vc -= lr * dc
    c += vc
    return 0.5 * float((E * E).sum()) / B


def main():
    D, H, B = (int(v) for v in sys.argv[1:4])
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    rng = np.random.default_rng(1)
    W = (rng.standard_normal((H, D)) * (1.5 / np.sqrt(D))).astype(np.float32)
    c = np.zeros(D, np.float32)
    vW = np.zeros_like(W)
    vc = np.zeros_like(c)
    data = rng.standard_normal((8 * B, D)).astype(np.float32)
    times = []
    for r in range(repeats + 3):
        X = data[(r % 8) * B:(r % 8 + 1) * B]
        start = time.perf_counter()
        step(X, W, c, vW, vc, np.float32(1e-4), np.float32(0.9), np.float32(1.0))
        if r >= 3:
            times.append(time.perf_counter() - start)
    times.sort()
    print(f"numpy_step_ms {times[len(times) // 2] * 1e3:.3f}")


if __name__ == "__main__":
    main()
