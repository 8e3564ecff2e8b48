"""Counter-based random numbers: every value is a pure function of (stream seed, a, b).

Nothing is stored per step: the perturbation of parameter i at perturbation index k, the
cost noise of step n and the data order of epoch e are all recomputed from their keys, which
is what makes runs replayable, checkpointable and independent of block size.

The mixer is the splitmix64 finaliser (Steele, Lea & Flood 2014), applied to a keyed sum.
All arithmetic is explicit uint64 so numba never promotes to float.
"""

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S32 = np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_INV53 = 1.0 / 9007199254740992.0
_INV32 = 1.0 / 4294967296.0


@njit(cache=True, inline="always")
def mix64(z):
    z = np.uint64(z)
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def hash_key(seed, a):
    """The part of hash3(seed, a, b) that does not depend on b: computed once for many b."""
    h = mix64(np.uint64(seed) + _GOLDEN)
    return mix64(h ^ (np.uint64(a) * _GOLDEN + _M1))


@njit(cache=True, inline="always")
def hash_word(key, b):
    """hash3(seed, a, b) from key = hash_key(seed, a)."""
    return mix64(key ^ (np.uint64(b) * _M2 + _GOLDEN))


@njit(cache=True, inline="always")
def hash3(seed, a, b):
    """64 random bits keyed by (seed, a, b); a and b are non-negative integers."""
    return hash_word(hash_key(seed, a), b)


@njit(cache=True, inline="always")
def uniform(seed, a, b):
    """U[0, 1) with 53 random bits."""
    return float(hash3(seed, a, b) >> _S11) * _INV53


@njit(cache=True, inline="always")
def normal(seed, a, b):
    """N(0, 1) by Box-Muller on the two 32-bit halves of one hash."""
    h = hash3(seed, a, b)
    u1 = (float(h >> _S32) + 0.5) * _INV32
    u2 = (float(h & _LOW32) + 0.5) * _INV32
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(cache=True)
def permutation_into(seed, key, out):
    """Fill ``out`` with a permutation of 0..n-1 keyed by (seed, key) (Fisher-Yates)."""
    n = out.shape[0]
    for j in range(n):
        out[j] = j
    for j in range(n - 1, 0, -1):
        r = int(uniform(seed, key, j) * (j + 1))
        if r > j:
            r = j
        tmp = out[j]
        out[j] = out[r]
        out[r] = tmp
