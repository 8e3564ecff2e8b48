"""Perturbation generators: theta~ at perturbation index k as a pure function of the seed.

Scheme codes (see hwsim.chip.perturbation for the spec names):
  0 tdma      one parameter at a time gets +amplitude, order a seeded permutation
  1 cdma      i.i.d. +-a, a = amplitude*sqrt(sparsity/P), zero with prob. 1 - 1/sparsity
  2 walsh     a * H[row_i, k mod N_H], Sylvester Hadamard rows 1..N_H-1 (seeded choice)
  3 fdma      A * sin(2 pi f_i k + phi_i), A = amplitude*sqrt(2/P)
  4 gaussian  i.i.d. N(0, amplitude^2/P)
Tables (permutation, rows, frequencies, phases) are fixed per run and built from the seed.
The perturb phase of a step (``perturb``) draws theta~ through the generators' circuit
(``emit``, ``perturbation_circuit``: mismatch, resolution, injection into the devices);
hwsim.chip.perturbation builds the tables and the configuration.
"""

import numpy as np
from numba import njit

from hwsim.kernels.codes import CDMA, CONSTANT, FDMA, TDMA, WALSH
from hwsim.kernels.forward import quantise
from hwsim.kernels.optim import schedule_value
from hwsim.kernels.rng import hash_key, hash_word, normal, uniform

_SIX = np.uint64(6)
_ONE = np.uint64(1)
_SIXTYTHREE = np.uint64(63)


@njit(cache=True, inline="always")
def _popcount_parity(v):
    v = np.uint64(v)
    v ^= v >> np.uint64(32)
    v ^= v >> np.uint64(16)
    v ^= v >> np.uint64(8)
    v ^= v >> np.uint64(4)
    v ^= v >> np.uint64(2)
    v ^= v >> np.uint64(1)
    return int(v & _ONE)


def _byte_signs() -> np.ndarray:
    """For each byte value v, eight int8 signs packed little-endian in a uint64: byte b is
    +1 (0x01) when bit b of v is set, else -1 (0xff)."""
    bits = (np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1
    signs = np.where(bits == 1, 1, -1).astype(np.int8)
    return np.ascontiguousarray(signs).view(np.uint64).ravel()


# A constant table (read-only, compiled into the kernel): no run state.
BYTE_SIGNS = _byte_signs()
_EIGHT = np.uint64(8)
_BYTE = np.uint64(255)


@njit(cache=True)
def fill_signs(k, seed, out):
    """cdma's signs of theta~(k) (sparsity 1) as +-1 in ``out``, int8 padded to a multiple of
    64 entries: the same bits as fill_perturbation (bit i mod 64 of hash(seed, k, i div 64)
    set meaning +), written eight at a time from a byte table."""
    fill_signs_range(k, seed, out, 0, out.shape[0])


@njit(cache=True)
def fill_signs_range(k, seed, out, lo, hi):
    """``fill_signs`` for the entries [lo, hi) only: whole words from the byte table, the
    ragged ends bit by bit, nothing outside written (so that the cores can each fill the
    ranges they own of one array)."""
    if hi <= lo:
        return
    key = hash_key(seed, k)
    words = out.view(np.uint64)
    first = (lo + 63) >> 6      # the first whole word
    end = hi >> 6               # one past the last whole word
    if first > end:             # lo and hi inside one word
        _fill_bits(out, hash_word(key, lo >> 6), lo, hi)
        return
    if lo < first * 64:
        _fill_bits(out, hash_word(key, lo >> 6), lo, first * 64)
    for w in range(first, end):
        bits = hash_word(key, w)
        for b in range(8):
            words[w * 8 + b] = BYTE_SIGNS[(bits >> (_EIGHT * np.uint64(b))) & _BYTE]
    if end * 64 < hi:
        _fill_bits(out, hash_word(key, end), end * 64, hi)


@njit(cache=True, inline="always")
def _fill_bits(out, bits, lo, hi):
    """Entries [lo, hi) of one word's signs, bit by bit."""
    base = (lo >> 6) << 6
    for i in range(lo, hi):
        if (bits >> np.uint64(i - base)) & _ONE:
            out[i] = 1
        else:
            out[i] = -1


@njit(cache=True)
def fill_perturbation(scheme, k, seed, entry_amp, sparsity, period, table_i, table_f, table_g, out):
    """Write theta~(k) into ``out`` (length P).

    ``entry_amp`` is the per-entry amplitude of the scheme (tdma: amplitude; cdma/walsh:
    amplitude*sqrt(sparsity/P); fdma: amplitude*sqrt(2/P); gaussian: amplitude/sqrt(P)).
    ``period``: N_H for walsh (unused otherwise); ``table_i``: tdma order or walsh rows;
    ``table_f``/``table_g``: fdma frequencies/phases.
    """
    p = out.shape[0]
    if scheme == TDMA:
        for i in range(p):
            out[i] = 0.0
        out[table_i[k % p]] = entry_amp
    elif scheme == CDMA:
        if sparsity == 1.0:
            # 64 signs from one hash: bit (i mod 64) of hash(seed, k, i div 64).
            nwords = (p + 63) // 64
            key = hash_key(seed, k)
            for w in range(nwords):
                bits = hash_word(key, w)
                base = w * 64
                top = min(64, p - base)
                seg = out[base:base + top]
                for j in range(top):
                    # branch-free: the sign bit as +-1 (a branch mispredicts half the time)
                    seg[j] = entry_amp * (2.0 * float((bits >> np.uint64(j)) & _ONE) - 1.0)
        else:
            keep = 1.0 / sparsity
            for i in range(p):
                u = uniform(seed, k, i)
                if u < 0.5 * keep:
                    out[i] = entry_amp
                elif u < keep:
                    out[i] = -entry_amp
                else:
                    out[i] = 0.0
    elif scheme == WALSH:
        col = k % period
        for i in range(p):
            if _popcount_parity(table_i[i] & col):
                out[i] = -entry_amp
            else:
                out[i] = entry_amp
    elif scheme == FDMA:
        for i in range(p):
            phase = table_f[i] * k
            phase = phase - np.floor(phase)
            out[i] = entry_amp * np.sin(2.0 * np.pi * phase + table_g[i])
    else:  # GAUSSIAN
        for i in range(p):
            out[i] = entry_amp * normal(seed, k, i)


@njit(cache=True)
def perturbation_circuit(pert, gen_gain, mismatch, bits, step, limit, inject_device, dw_ctrl, pulses,
                         count_pulses):
    """What the generators actually inject: per-generator gain error, output resolution, and,
    when theta~ is written into the weight devices, whole device steps (each step written and
    later erased is two pulses of wear)."""
    for i in range(pert.shape[0]):
        v = pert[i]
        if mismatch:
            v *= gen_gain[i]
        if bits:
            v = quantise(v, step, limit)
        if inject_device:
            n_steps = np.floor(abs(v) / dw_ctrl + 0.5)
            v = np.copysign(n_steps * dw_ctrl, v)
            if count_pulses:
                pulses[i] += 2 * int(n_steps)
        pert[i] = v


@njit(cache=True)
def emit(cfg, gens, k, buf, pulses, count_pulses):
    """theta~(k) as the generators emit it into ``buf``: the scheme's code at the scheduled
    amplitude, through the perturbation circuit (``gens``: the generators' tables and gains);
    returns the amplitude's schedule factor."""
    amp_s = 1.0
    if cfg.amp_kind != CONSTANT:
        amp_s = schedule_value(cfg.amp_kind, 1.0, k, cfg.amp_total, cfg.amp_p1, cfg.amp_p2)
    fill_perturbation(cfg.scheme, k, cfg.perturb_seed, cfg.entry_amp * amp_s, cfg.sparsity, cfg.period,
                      gens.tab_i, gens.tab_f, gens.tab_g, buf)
    if cfg.gen_mismatch or cfg.gen_bits or cfg.inject_device:
        perturbation_circuit(buf, gens.gain, cfg.gen_mismatch, cfg.gen_bits, cfg.gen_step, cfg.gen_limit,
                             cfg.inject_device, cfg.dw_ctrl, pulses, count_pulses)
    return amp_s


@njit(cache=True, inline="always")
def perturb(cfg, gens, st, pulses, k):
    """The perturb phase: a new theta~ when the perturbation index k changes (every tau_p
    steps); returns whether one was drawn."""
    if st.pert_k[0] == k:
        return False
    st.pert_scale[0] = emit(cfg, gens, k, st.pert, pulses, True)
    st.pert_k[0] = k
    return True
