"""Fast JSON text for fixed-precision float arrays (the 778 x 3 vertices of every sample).

``json.dumps(array.tolist())`` costs more per synthetic sample than rendering its image. Values here are already
rounded to ``decimals`` places, so printing them with that many places (trailing zeros dropped) gives numbers that
parse to exactly the same doubles as Python's shortest ``repr`` would; the layout matches ``json.dumps``
(``", "`` between items).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _format(values, decimals, out):  # pragma: no cover - numba
    """Write a flat float64 array as ``[[a, b, c], [d, e, f], ...]`` (rows of ``values.shape[1]``) into ``out``;
    return the byte count, or -1 for a non-finite value."""
    n, m = values.shape
    scale = 10.0**decimals
    digits = np.empty(24, np.uint8)
    pos = 0
    out[pos] = 91  # [
    pos += 1
    for i in range(n):
        if i:
            out[pos] = 44  # ,
            out[pos + 1] = 32
            pos += 2
        out[pos] = 91
        pos += 1
        for j in range(m):
            if j:
                out[pos] = 44
                out[pos + 1] = 32
                pos += 2
            v = values[i, j]
            if not np.isfinite(v):
                return -1
            q = np.int64(np.round(abs(v) * scale))
            if v < 0 and q != 0:
                out[pos] = 45  # -
                pos += 1
            ip = q // np.int64(scale)
            fp = q - ip * np.int64(scale)
            # integer part
            k = 0
            if ip == 0:
                digits[0] = 48
                k = 1
            while ip > 0:
                digits[k] = 48 + ip % 10
                ip //= 10
                k += 1
            for d in range(k - 1, -1, -1):
                out[pos] = digits[d]
                pos += 1
            out[pos] = 46  # .
            pos += 1
            # fraction: `decimals` digits without trailing zeros, at least one digit
            digits[0] = 48
            for d in range(decimals - 1, -1, -1):
                digits[d] = 48 + fp % 10
                fp //= 10
            last = max(decimals - 1, 0)
            while last > 0 and digits[last] == 48:
                last -= 1
            for d in range(last + 1):
                out[pos] = digits[d]
                pos += 1
        out[pos] = 93  # ]
        pos += 1
    out[pos] = 93
    return pos + 1


def format_rows(values: np.ndarray, decimals: int) -> str:
    """JSON text of a 2-D array of floats rounded to ``decimals`` places (0-9).

    Args:
        values: ``(n, m)`` floats.
        decimals: decimal places to print.

    Returns:
        e.g. ``"[[0.1, -0.25], [3.0, 0.0]]"``.
    """
    v = np.ascontiguousarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"format_rows: expected a 2-D array, got shape {v.shape}")
    if not 0 <= decimals <= 9:
        raise ValueError(f"format_rows: decimals must be 0..9, got {decimals}")
    if np.any(np.abs(v) * 10.0**decimals > 2**62):
        raise ValueError("format_rows: values too large for fixed-point printing")
    out = np.empty(4 + v.size * (34 + decimals) + 2 * v.shape[0], np.uint8)
    n = _format(v, decimals, out)
    if n < 0:
        raise ValueError("format_rows: non-finite value")
    return out[:n].tobytes().decode("ascii")
