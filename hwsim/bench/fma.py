"""The core's multiply-add peak, as the bench measures it: what the parameter-steps per second
of a workload are set against (issue 18).

The yardstick is the best rate of a double-precision matrix product (BLAS dgemm, n x n by
n x n: n^3 fused multiply-adds) on one BLAS thread. A tuned dgemm reaches 85-95 % of a
core's theoretical FMA rate, and unlike a hand-written register loop it needs no knowledge of
the vector width or the number of FMA units: whatever this machine's BLAS achieves is the
practical peak. On the 2-core AMD EPYC of docs/performance.md it measured about 20 G
multiply-adds/s.
"""

from __future__ import annotations

import time

import numpy as np

SIZE = 256          # 16.8 M multiply-adds a product (about 1 ms): three 512 KiB matrices


def fma_peak(seconds: float = 0.3, size: int = SIZE) -> dict:
    """The best multiply-adds per second of ``size``-square dgemm on one BLAS thread over about
    ``seconds`` (at least three products), with how it was measured."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = rng.random((size, size)), rng.random((size, size))
    c = np.empty((size, size))
    best = float("inf")
    count = 0
    with threadpool_limits(limits=1, user_api="blas"):
        np.matmul(a, b, out=c)          # BLAS's first call: its buffers
        start = time.perf_counter()
        while count < 3 or time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            np.matmul(a, b, out=c)
            best = min(best, time.perf_counter() - t0)
            count += 1
    return {"fma_per_s": size ** 3 / best, "method": f"dgemm {size}x{size}, one BLAS thread, best of {count}"}
