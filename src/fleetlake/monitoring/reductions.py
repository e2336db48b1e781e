"""Small numba kernels: float max and min that LLVM vectorises, and sliding medians.

numba lowers Python's `max`/`min` on floats to a compare and a select that keep NaN's
semantics, and LLVM will not turn such a loop-carried max into SIMD even under fastmath: a
nearest-window search then runs one value at a time. `llvm.maxnum`/`llvm.minnum` with fast
flags are recognised as reductions and run four values an instruction (AVX2): the distance
sweep took 1.1 ns a value with `max`, 0.5 ns with these. Inputs here are never NaN.

`sliding_medians` is numpy's median of each window of k, for the few readings of a round
(numpy's costs 45 µs a call whatever the count; this, well under one).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir

from fleetlake.platform.numba_cache import prepare

prepare()
import numba  # noqa: E402  (after the cache is placed)
from numba import types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402


def _binary(name: str) -> Any:
    def typer(typingctx: Any, a: Any, b: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            x, y = args
            kind = ir.FunctionType(x.type, [x.type, x.type])
            function = builder.module.declare_intrinsic(name, [x.type], kind)
            return builder.call(function, [x, y], fastmath=("fast",))

        return types.float64(types.float64, types.float64), codegen

    return intrinsic(typer)


fmax = _binary("llvm.maxnum")
fmin = _binary("llvm.minnum")


@numba.njit(cache=True, nogil=True)
def sliding_medians(values: np.ndarray, k: int) -> np.ndarray:
    """The median of each run of k values (values.shape[0] - k + 1 of them), as np.median:
    the mean of the middle two when k is even."""
    count = values.shape[0] - k + 1
    out = np.empty(max(count, 0))
    window = np.empty(k)
    for i in range(count):
        for t in range(k):  # insertion sort: k is a handful
            v, j = values[i + t], t
            while j > 0 and window[j - 1] > v:
                window[j] = window[j - 1]
                j -= 1
            window[j] = v
        half = k // 2
        out[i] = window[half] if k % 2 else 0.5 * (window[half - 1] + window[half])
    return out
