"""The MGD inner loop: advance the chip by a block of steps in one call.

One step is one perturbed inference (DESIGN section 1), in this fixed order of phases:
  load input (every tau_x) -> perturb (new theta~ every tau_p) -> infer -> digitise cost
  (+ noise) -> AC-couple (discrete: C - C0 with C0 re-measured when x or theta changed;
  analog: first-order high-pass) -> integrate C~ theta~ -> update (discrete: every tau_theta,
  analog: every step).
Everything a step needs is a pure function of the step index and the run state, so a block
of n steps equals n blocks of one step, bit for bit.

Time (hwsim.chip.timing): a step occupies the chip for the initiation interval II, plus the
baseline inference when one is measured, plus any wait for the input (every new sample:
the load time, or with double buffering what is left of it). A discrete update waits for the
window's last cost (drain = L - II + B) and writes the devices (overhead + pulses x pulse
cycles by parallelism): blocking, the chip stalls for it; non-blocking, inference carries on
with a snapshot of the old weights until the new ones are in place (and a second update
that comes before that waits, stalled). The cycles of each kind are counted in istate.
"""

import numpy as np
from numba import njit

from hwsim.kernels import devices as DK
from hwsim.kernels.devices import F_T0, S_READ, drift_weights, update_one
from hwsim.kernels.forward import (NODE_PERT, NO_PERT, WEIGHT_PERT, axpy, cost, forward, forward_chip,
                                   forward_node_cached, node_outer, quantise)
from hwsim.kernels.geometry import DENSE, G_KIND
from hwsim.kernels.optim import CONSTANT, SGD, bias_corrections, optimizer_core, schedule_value
from hwsim.kernels.perturb import CDMA, fill_perturbation
from hwsim.kernels.parallel_rows import descend_range, first_product, flush_rows, integrate, sign_forward
from hwsim.kernels.rng import normal, permutation_into

# icfg: integer configuration
I_MODE, I_SCHEME, I_TAU_P, I_TAU_X, I_TAU_THETA, I_COST, I_CPI, I_BASELINE_CYCLES, \
    I_BASELINE_NOISY, I_PERIOD, I_N_SAMPLES, \
    I_CHIP, I_DEVICES, I_DRIFT, I_INJECT_DEVICE, I_GEN_MISMATCH, I_GEN_BITS, I_COST_ADC, \
    I_BCAST_BITS, I_INT_BITS, \
    I_LATENCY, I_BCAST_LATENCY, I_LOAD_CYCLES, I_DOUBLE_BUFFER, I_DELAY_STEPS, I_PARALLELISM, \
    I_PULSE_CYCLES, I_UPDATE_OVERHEAD, I_BLOCKING, I_NODE, I_NODE_FAITHFUL, I_SHORTCUTS = range(32)
N_ICFG = 32
PARALLEL, ROW_SERIAL, SERIAL = 0, 1, 2
# fcfg: float configuration
F_ENTRY_AMP, F_SPARSITY, F_ETA, F_CLIP, F_HP_A, F_NOISE_SIGMA, F_G_SCALE, F_LEAK, \
    F_CLOCK, F_GEN_STEP, F_GEN_LIMIT, F_DW_CTRL, F_COST_ADC_STEP, F_COST_ADC_RANGE, \
    F_BCAST_STEP, F_BCAST_RANGE, F_BCAST_NOISE, F_INT_STEP, F_INT_SAT, F_INT_LEAK_RATE = range(20)
N_FCFG = 20
# seeds: counter-based streams
S_PERTURB, S_NOISE, S_ORDER = range(3)
# istate: integer run state (checkpointed)
S_STEP, S_CYCLES, S_ORDER_EPOCH, S_SAMPLE, S_BASELINES, S_UPDATES, S_DIVERGED, \
    S_INFER_CYCLES, S_BASELINE_CYCLES, S_WAIT_CYCLES, S_UPDATE_CYCLES, S_STALL_CYCLES, \
    S_PERT_UPDATES, S_INPUT_READY, S_APPLY_AT, S_C0_ON_APPLY, S_WRITES, S_SAMPLES, S_WINDOW = range(19)
N_ISTATE = 19
# fstate: float run state (checkpointed)
S_C0, S_C_PREV, S_CT_PREV, S_COST_SUM, S_COST_COUNT = range(5)
N_FSTATE = 5


@njit(cache=True)
def sample_for_step(n, tau_x, n_samples, order_seed, order, istate):
    """Data index presented at step n: per-epoch seeded permutation, regenerated on demand."""
    s = n // tau_x
    epoch = s // n_samples
    if epoch != istate[S_ORDER_EPOCH]:
        permutation_into(order_seed, epoch, order)
        istate[S_ORDER_EPOCH] = epoch
    return order[s % n_samples]


@njit(cache=True, inline="always")
def _measure_cost(y, t, n_out, cost_code, cost_adc, adc_step, adc_range):
    """The cost unit: the cost of the output, through the cost ADC when it has one."""
    c = cost(y, t, n_out, cost_code)
    if cost_adc:
        if c < 0.0:
            c = 0.0
        elif c > adc_range:
            c = adc_range
        c = np.floor(c / adc_step + 0.5) * adc_step
    return c


@njit(cache=True)
def mgd_block(theta, g_int, pert, pert_k, h, order, X, Y, sizes, w_off, b_off, n_off, acts, geom, gidx,
              icfg, fcfg, seeds, tab_i, tab_f, tab_g, gen_gain,
              pcfg_i, pcfg_f, neuron_par, wbuf, dev, stuck, t_prog, pulses, dicfg, dfcfg, dseeds,
              theta_old, pert2, pert2_k, row_of, rowmax, wpert, h_pert, h_base,
              opt_state, ocfg_i, ocfg_f, pert_scale, nacc, z1, psign, window, chunks, zbatch, zmeta,
              istate, fstate, n_steps, cycle_limit):
    """Advance at most ``n_steps`` steps without passing ``cycle_limit``; return steps done.

    ``icfg[I_CHIP] == 0`` is the ideal chip (exact weights, ideal converters and circuits);
    otherwise every inference reads the devices (drifted weights into ``wbuf``), runs
    ``forward_chip`` (DACs, read noise, tiles, ADCs, neuron variation), the cost unit
    digitises, the broadcast quantises and adds noise, the integrators leak, saturate and
    quantise, and updates go through the update controller and the device law.
    Run state between blocks (hwsim.engine.simulation.STATE_MEMBERS): ``pert`` holds
    theta~(pert_k[0]) and ``pert2`` the perturbation an integrator without delay compensation
    multiplies by (regenerating them would count their device pulses twice). Scratch: ``h``
    the layer activities; ``wbuf`` the weights as last read; ``rowmax`` pulses per crossbar
    row (``row_of`` maps parameters to rows) for row-serial update latency. ``theta_old`` is run state while a non-blocking
    update is being written (the weights inference still uses).
    Node perturbation (``icfg[I_NODE]``): ``pert`` holds one value per neuron, added to its
    pre-activation; each step the per-weight product node value x presynaptic activity is
    formed in ``wpert`` (the activity of the perturbed inference, ``h_pert``, or the
    unperturbed one, ``h_base``, run state kept from the last baseline) and integrated
    exactly like a weight perturbation.
    Optimiser and schedules (``ocfg_i``: optimiser, learning-rate and amplitude schedule
    kinds; ``ocfg_f``: beta1, beta2, eps and the two schedules' (total, p1, p2)): each update
    turns G_int into a change with hwsim.kernels.optim (state ``opt_state``, float64[2, P],
    run state); the amplitude schedule scales theta~(k) and G's 1/amplitude^2 together
    (``pert_scale`` holds the scale of ``pert`` and ``pert2``).
    Node perturbation in discrete mode on the ideal chip (any optimiser) folds instead of
    expanding: the node
    signals C~ theta~_n are summed in ``nacc`` (run state) while the presynaptic activity is
    constant (same sample, same weights) and multiplied out into G_int when it changes or at
    an update (per step O(neurons), plus, for the faithful form, the layers after the first,
    whose input activity changes every step); the sums equal the per-step products. There the
    first layer's unperturbed product ``z1`` (run state) is also reused until x or theta change,
    and the first layer's products wait in ``window`` (run state: one row per sample, its node
    sums then its input; istate[S_WINDOW] rows used) until the update, which adds them row of
    G_int by row of G_int, in the same order, so the sums are the same to the last bit.
    Weight perturbation with random signs (cdma, sparsity 1) on the ideal chip, discrete mode,
    dense network, any optimiser and schedule (the sign path): the generators' signs are kept
    as int8 in
    ``psign`` (run state, as ``pert``) instead of floats in ``pert``, and the first layer's unperturbed
    product ``z1`` (run state, as for node perturbation) is reused until x or theta change, so
    a step reads the signs, not the first layer's weights; the same equations. Its rows are
    split into ``chunks`` over the cores (hwsim.kernels.parallel_rows), and each step's
    integration rides with the next step's pass over the signs (flushed at the update and at
    the end of the block, so G_int is whole between blocks).
    A non-finite cost stops the block and records its step in istate[S_DIVERGED].
    """
    mode = icfg[I_MODE]
    scheme = icfg[I_SCHEME]
    tau_p = icfg[I_TAU_P]
    tau_x = icfg[I_TAU_X]
    tau_theta = icfg[I_TAU_THETA]
    cost_code = icfg[I_COST]
    cpi = icfg[I_CPI]
    baseline_cycles = icfg[I_BASELINE_CYCLES]
    baseline_noisy = icfg[I_BASELINE_NOISY]
    period = icfg[I_PERIOD]
    n_samples = icfg[I_N_SAMPLES]
    entry_amp = fcfg[F_ENTRY_AMP]
    sparsity = fcfg[F_SPARSITY]
    eta = fcfg[F_ETA]
    clip = fcfg[F_CLIP]
    hp_a = fcfg[F_HP_A]
    noise_sigma = fcfg[F_NOISE_SIGMA]
    g_scale = fcfg[F_G_SCALE]
    leak = fcfg[F_LEAK]
    chip = icfg[I_CHIP] != 0
    devices = icfg[I_DEVICES] != 0
    drift = icfg[I_DRIFT] != 0
    inject_device = icfg[I_INJECT_DEVICE] != 0
    gen_mismatch = icfg[I_GEN_MISMATCH] != 0
    gen_bits = icfg[I_GEN_BITS] != 0
    cost_adc = icfg[I_COST_ADC] != 0
    bcast_bits = icfg[I_BCAST_BITS] != 0
    int_bits = icfg[I_INT_BITS] != 0
    clock = fcfg[F_CLOCK]
    gen_step = fcfg[F_GEN_STEP]
    gen_limit = fcfg[F_GEN_LIMIT]
    dw_ctrl = fcfg[F_DW_CTRL]
    cost_adc_step = fcfg[F_COST_ADC_STEP]
    cost_adc_range = fcfg[F_COST_ADC_RANGE]
    bcast_step = fcfg[F_BCAST_STEP]
    bcast_range = fcfg[F_BCAST_RANGE]
    bcast_noise = fcfg[F_BCAST_NOISE]
    int_step = fcfg[F_INT_STEP]
    int_sat = fcfg[F_INT_SAT]
    int_leak_rate = fcfg[F_INT_LEAK_RATE]
    latency = icfg[I_LATENCY]
    bcast_latency = icfg[I_BCAST_LATENCY]
    load_cycles = icfg[I_LOAD_CYCLES]
    double_buffer = icfg[I_DOUBLE_BUFFER] != 0
    delay_steps = icfg[I_DELAY_STEPS]
    parallelism = icfg[I_PARALLELISM]
    pulse_cycles = icfg[I_PULSE_CYCLES]
    update_overhead = icfg[I_UPDATE_OVERHEAD]
    blocking = icfg[I_BLOCKING] != 0
    drain = latency - cpi + bcast_latency
    node = icfg[I_NODE] != 0
    faithful = icfg[I_NODE_FAITHFUL] != 0
    pmode = NODE_PERT if node else WEIGHT_PERT
    opt_kind, lr_kind, amp_kind = ocfg_i[0], ocfg_i[1], ocfg_i[2]
    beta1, beta2, opt_eps = ocfg_f[0], ocfg_f[1], ocfg_f[2]
    opt_plain = opt_kind == SGD and lr_kind == CONSTANT
    # Exact shortcuts (same equations, less work); icfg[I_SHORTCUTS] = 0 runs the reference
    # path instead, which the tests compare them with.
    shortcuts = icfg[I_SHORTCUTS] != 0
    fold_nodes = shortcuts and node and mode == 0 and not chip
    all_dense = True
    for l in range(geom.shape[0]):
        if geom[l, G_KIND] != DENSE:
            all_dense = False
    sign_path = (shortcuts and not node and not chip and mode == 0 and scheme == CDMA and sparsity == 1.0
                 and delay_steps == 0 and all_dense)
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    p = theta.shape[0]
    # The sign path: the unperturbed pass's activity, and the step whose C~ a still waits
    # to be integrated with the signs in psign.
    h_unpert = np.empty_like(h) if sign_path else h
    pending = False
    pend = 0.0

    done = 0
    while done < n_steps:
        n = istate[S_STEP]
        now = istate[S_CYCLES]
        x_changed = n % tau_x == 0
        old_weights = now < istate[S_APPLY_AT]   # a non-blocking update is still being written
        if blocking:
            theta_changed = n % tau_theta == 0
        else:
            theta_changed = istate[S_C0_ON_APPLY] != 0 and not old_weights
        need_c0 = mode == 0 and (x_changed or theta_changed)
        wait = 0
        if x_changed and load_cycles > 0:
            if double_buffer:
                ready = istate[S_INPUT_READY] if n > 0 else load_cycles
                wait = ready - now if ready > now else 0
            else:
                wait = load_cycles
        base_cyc = baseline_cycles if need_c0 else 0
        step_cycles = wait + cpi + base_cyc
        if now + step_cycles > cycle_limit:
            break
        if need_c0 and theta_changed and not blocking:
            istate[S_C0_ON_APPLY] = 0
        if x_changed:
            istate[S_SAMPLES] += 1
            if double_buffer and load_cycles > 0:
                # The next sample starts loading as this one is presented.
                istate[S_INPUT_READY] = now + wait + load_cycles
        sample = sample_for_step(n, tau_x, n_samples, seeds[S_ORDER], order, istate)
        istate[S_SAMPLE] = sample
        k = n // tau_p
        refill = False
        if sign_path and pert_k[0] != k:
            refill = True     # sign_forward draws them
            pert_scale[0] = 1.0
            if amp_kind != CONSTANT:
                pert_scale[0] = schedule_value(amp_kind, 1.0, k, ocfg_f[6], ocfg_f[7], ocfg_f[8])
            pert_k[0] = k
            istate[S_PERT_UPDATES] += 1
        elif pert_k[0] != k:
            pert_scale[0] = _generate(k, pert, scheme, seeds[S_PERTURB], entry_amp, sparsity, period,
                                      tab_i, tab_f, tab_g, amp_kind, ocfg_f, gen_gain, gen_mismatch,
                                      gen_bits, gen_step, gen_limit, inject_device, dw_ctrl, pulses, True)
            pert_k[0] = k
            istate[S_PERT_UPDATES] += 1
        x = X[sample]
        t = Y[sample]
        sign_amp = entry_amp * pert_scale[0]     # the sign path's entry amplitude, as scheduled
        t_now = now * clock
        if fold_nodes and need_c0:
            # The activity the pending node sums belong to is about to change.
            _fold_nodes(g_int, nacc, h_base, sizes, w_off, b_off, n_off, geom, gidx, not faithful, window,
                        istate, chunks)
        # The weights inference sees: a snapshot while a non-blocking update is being written,
        # else the devices (drifted when they drift).
        wsrc = theta
        if old_weights:
            wsrc = theta_old
        elif drift:
            drift_weights(theta, dev, stuck, t_prog, dfcfg[F_T0], t_now, wbuf)
            wsrc = wbuf
        c0_new = 0.0
        if (sign_path or fold_nodes) and need_c0:
            # The first stage's unperturbed product for this sample, from the products of the
            # samples due before theta next changes (formed together: one pass over W_1).
            s = n // tau_x
            s_end = s + 1
            version = -1                    # theta may change between updates: no reuse
            if blocking and not old_weights and not drift:
                version = istate[S_UPDATES]
                s_end = min((((n // tau_theta) + 1) * tau_theta + tau_x - 1) // tau_x,
                            (s // n_samples + 1) * n_samples)
            first_product(chunks, wsrc, X, order, s, s_end, version, zbatch, zmeta, z1, w_off, b_off, geom,
                          gidx)
        if sign_path:
            sign_forward(chunks, wsrc, g_int, psign, pending, pend, refill, k, seeds[S_PERTURB], sign_amp,
                         x, h, h_unpert, z1, need_c0, sizes, w_off, b_off, acts)
            pending = False
            if need_c0:
                c0_new = cost(h_unpert[n_layers], t, n_out, cost_code)
            c = cost(h[n_layers], t, n_out, cost_code)
        elif fold_nodes:
            if need_c0:
                # Unperturbed pass first.
                forward_node_cached(wsrc, pert, False, sizes, w_off, b_off, n_off, acts, geom, gidx, h,
                                    z1)
                c0_new = cost(h[n_layers], t, n_out, cost_code)
                for j in range(sizes[0]):
                    h_base[0, j] = x[j]
                for l in range(1, n_layers):
                    for j in range(sizes[l]):
                        h_base[l, j] = h[l, j]
            forward_node_cached(wsrc, pert, True, sizes, w_off, b_off, n_off, acts, geom, gidx, h, z1)
            c = cost(h[n_layers], t, n_out, cost_code)
        elif chip:
            forward_chip(wsrc, pert, pmode, x, sizes, w_off, b_off, n_off, acts, geom, gidx, h, pcfg_i,
                         pcfg_f, neuron_par, dseeds[S_READ], 2 * n)
            c = _measure_cost(h[n_layers], t, n_out, cost_code, cost_adc, cost_adc_step, cost_adc_range)
        else:
            forward(wsrc, pert, pmode, x, sizes, w_off, b_off, n_off, acts, geom, gidx, h)
            c = cost(h[n_layers], t, n_out, cost_code)
        if node and faithful and not fold_nodes:
            for l in range(n_layers):
                for j in range(sizes[l]):
                    h_pert[l, j] = h[l, j]
        if noise_sigma > 0.0:
            c += noise_sigma * normal(seeds[S_NOISE], n, 0)
        if not np.isfinite(c):
            istate[S_DIVERGED] = n
            break
        if mode == 0:
            if need_c0:
                if fold_nodes or sign_path:
                    c0 = c0_new
                elif chip:
                    forward_chip(wsrc, pert, NO_PERT, x, sizes, w_off, b_off, n_off, acts, geom, gidx, h,
                                 pcfg_i, pcfg_f, neuron_par, dseeds[S_READ], 2 * n + 1)
                    c0 = _measure_cost(h[n_layers], t, n_out, cost_code, cost_adc, cost_adc_step,
                                       cost_adc_range)
                else:
                    forward(wsrc, pert, NO_PERT, x, sizes, w_off, b_off, n_off, acts, geom, gidx, h)
                    c0 = cost(h[n_layers], t, n_out, cost_code)
                if node and not fold_nodes:
                    # The unperturbed activity until x or theta change again.
                    for l in range(n_layers):
                        for j in range(sizes[l]):
                            h_base[l, j] = h[l, j]
                if baseline_noisy and noise_sigma > 0.0:
                    c0 += noise_sigma * normal(seeds[S_NOISE], n, 1)
                fstate[S_C0] = c0
                istate[S_BASELINES] += 1
            ct = c - fstate[S_C0]
        else:
            if x_changed:
                fstate[S_C_PREV] = c
            ct = hp_a * fstate[S_CT_PREV] + hp_a * (c - fstate[S_C_PREV])
            fstate[S_CT_PREV] = ct
            fstate[S_C_PREV] = c
        if chip:
            # The broadcast network: noise, then the digitised scalar.
            if bcast_noise > 0.0:
                ct += bcast_noise * normal(seeds[S_NOISE], n, 2)
            if bcast_bits:
                ct = quantise(ct, bcast_step, bcast_range)
        if ct > clip:
            ct = clip
        elif ct < -clip:
            ct = -clip
        # The perturbation an integrator multiplies C~ by: the one that produced it (delay
        # compensation, or no delay), or the generators' output when C~ arrives.
        ipert = pert
        i_scale = pert_scale[0]
        if delay_steps > 0:
            k2 = (n + delay_steps) // tau_p
            if pert2_k[0] != k2:
                # The integrators' copy of the generators: no second write into the devices.
                pert_scale[1] = _generate(k2, pert2, scheme, seeds[S_PERTURB], entry_amp, sparsity,
                                          period, tab_i, tab_f, tab_g, amp_kind, ocfg_f, gen_gain,
                                          gen_mismatch, gen_bits, gen_step, gen_limit, inject_device,
                                          dw_ctrl, pulses, False)
                pert2_k[0] = k2
            ipert = pert2
            i_scale = pert_scale[1]
        # G = C~ theta~ / amplitude^2, with the amplitude of the perturbation integrated.
        coef = ct * g_scale / (i_scale * i_scale)
        if fold_nodes:
            for m in range(nacc.shape[0]):
                nacc[m] += coef * ipert[m]
            if faithful:
                # Stages after the first see this step's perturbed activity: multiply now.
                # (h still holds the perturbed pass: nothing ran since.)
                node_outer(g_int, ipert, coef, h, 1, n_layers, sizes, w_off, b_off, n_off, geom,
                           gidx, True, False)
        elif node:
            if mode == 1 and not faithful:
                # Analog mode has no baseline pass: the unperturbed activity of this step.
                if chip:
                    forward_chip(wsrc, pert, NO_PERT, x, sizes, w_off, b_off, n_off, acts, geom, gidx,
                                 h_base, pcfg_i, pcfg_f, neuron_par, dseeds[S_READ], 2 * n + 1)
                else:
                    forward(wsrc, pert, NO_PERT, x, sizes, w_off, b_off, n_off, acts, geom, gidx, h_base)
            act = h_pert if faithful else h_base
            for i in range(p):
                wpert[i] = 0.0
            node_outer(wpert, ipert, 1.0, act, 0, n_layers, sizes, w_off, b_off, n_off, geom, gidx,
                       True, True)
            ipert = wpert
        update_now = mode == 1 or (n + 1) % tau_theta == 0
        timed_update = mode == 0 and update_now
        after = now + step_cycles      # the cycle at which this step's inference ends
        if timed_update and not blocking and after < istate[S_APPLY_AT]:
            # The controller is still writing the previous update: the chip waits for it.
            istate[S_STALL_CYCLES] += istate[S_APPLY_AT] - after
            after = istate[S_APPLY_AT]
        if timed_update and not blocking and drain + update_overhead + pulse_cycles > 0:
            for i in range(p):
                theta_old[i] = theta[i]
        plain_integrators = not int_bits and int_sat == np.inf and int_leak_rate == 0.0
        count_writes = timed_update and pulse_cycles > 0
        most = 0
        total_writes = 0
        if count_writes and parallelism == ROW_SERIAL:
            for r in range(rowmax.shape[0]):
                rowmax[r] = 0
        # The shortcuts' integration (discrete mode, ideal integrators: G += C~ theta~). Under
        # plain SGD without writes to count, the update's descent rides with the last pass
        # over G: the whole of it on the sign path, W_1's queued rows under node perturbation.
        fused = update_now and opt_plain and not count_writes
        w1_end = 0
        if fold_nodes:
            if update_now:
                _fold_nodes(g_int, nacc, h_base, sizes, w_off, b_off, n_off, geom, gidx, not faithful, window,
                            istate, chunks)
                if fused and window.shape[0] > 0 and geom[0, G_KIND] == DENSE:
                    w1_end = w_off[0] + sizes[0] * sizes[1]
                flush_window(g_int, window, istate, w_off[0], sizes[0], sizes[1], chunks, theta, eta, w1_end > 0)
        elif sign_path:
            # coef x theta~_i = +-(coef x amplitude), exactly; the next step's pass over the
            # signs adds it, unless the update needs it now.
            pending = True
            pend = coef * sign_amp
            if update_now:
                integrate(chunks, g_int, psign, pend, sizes, w_off, b_off, theta, eta, fused)
                pending = False
        if opt_plain and (not chip or (plain_integrators and not devices)):
            if mode == 0:
                if not (fold_nodes or sign_path):
                    axpy(g_int, coef, ipert)
                if update_now:
                    if count_writes:
                        for i in range(p):
                            if g_int[i] != 0.0:
                                most = 1
                                total_writes += 1
                                if parallelism == ROW_SERIAL:
                                    rowmax[row_of[i]] = 1
                    if not (fused and sign_path):
                        # (W_1 = theta[w_off[0]:w1_end] is done when its rows were.)
                        descend_range(theta[:w_off[0]], g_int[:w_off[0]], eta)
                        descend_range(theta[max(w1_end, w_off[0]):], g_int[max(w1_end, w_off[0]):], eta)
                    istate[S_WRITES] += p
            else:
                _leaky_descend(theta, g_int, leak, (1.0 - leak) * coef, ipert, eta)
        else:
            u_index = istate[S_UPDATES]
            # Leak of an analog integrator over this step's duration (per cycle rate x cycles).
            int_decay = np.exp(-int_leak_rate * step_cycles) if int_leak_rate > 0.0 else 1.0
            keep = int_decay if mode == 0 else int_decay * leak
            gain = coef if mode == 0 else (1.0 - leak) * coef
            if fold_nodes or sign_path:
                pass                            # integrated above
            elif plain_integrators:
                for i in range(p):
                    g_int[i] = keep * g_int[i] + gain * ipert[i]
            else:
                for i in range(p):
                    g = keep * g_int[i] + gain * ipert[i]
                    if int_bits:
                        g = quantise(g, int_step, int_sat)
                    elif g > int_sat:
                        g = int_sat
                    elif g < -int_sat:
                        g = -int_sat
                    g_int[i] = g
            if update_now:
                lr, bc1, bc2 = eta, 1.0, 1.0
                if not opt_plain:
                    lr = schedule_value(lr_kind, eta, u_index, ocfg_f[3], ocfg_f[4], ocfg_f[5])
                    bc1, bc2 = bias_corrections(opt_kind, u_index + 1, beta1, beta2)
                # The update controller and the device law, device by device (scalar core).
                law, max_pulses = dicfg[DK.I_LAW], dicfg[DK.I_MAX_PULSES]
                levels, rounding = dicfg[DK.I_LEVELS], dicfg[DK.I_ROUNDING]
                d_ctrl, g_up, g_down = dfcfg[DK.F_DW_CTRL], dfcfg[DK.F_GAMMA_UP], dfcfg[DK.F_GAMMA_DOWN]
                c2c, t0 = dfcfg[DK.F_C2C], dfcfg[DK.F_T0]
                s_round, s_c2c = dseeds[DK.S_ROUND], dseeds[DK.S_C2C]
                pulsed = devices and law != DK.IDEAL
                for i in range(p):
                    if opt_plain:
                        delta = -eta * g_int[i]
                    else:
                        delta, opt_state[0, i], opt_state[1, i] = optimizer_core(
                            opt_kind, g_int[i], opt_state[0, i], opt_state[1, i], lr, beta1,
                            beta2, opt_eps, bc1, bc2)
                    n_writes = 1 if delta != 0.0 else 0
                    if devices:
                        w_new, tp_new, n_pulses = update_one(
                            law, max_pulses, levels, rounding, d_ctrl, g_up, g_down, c2c, t0,
                            s_round, s_c2c, i, theta[i], delta, dev[DK.D_W_MIN, i],
                            dev[DK.D_W_MAX, i], dev[DK.D_DW_UP, i], dev[DK.D_DW_DOWN, i],
                            dev[DK.D_NU, i], t_prog[i], stuck[i] != 0, u_index, t_now)
                        theta[i] = w_new
                        t_prog[i] = tp_new
                        pulses[i] += n_pulses
                        if pulsed:
                            n_writes = n_pulses
                    elif opt_plain:
                        theta[i] -= eta * g_int[i]
                    else:
                        theta[i] += delta
                    if not pulsed and n_writes:
                        istate[S_WRITES] += 1
                    if count_writes and n_writes:
                        total_writes += n_writes
                        if n_writes > most:
                            most = n_writes
                        if parallelism == ROW_SERIAL and n_writes > rowmax[row_of[i]]:
                            rowmax[row_of[i]] = n_writes
                    if mode == 0:
                        g_int[i] = 0.0
        if update_now:
            istate[S_UPDATES] += 1
        fstate[S_COST_SUM] += c
        fstate[S_COST_COUNT] += 1.0
        istate[S_WAIT_CYCLES] += wait
        istate[S_INFER_CYCLES] += cpi
        istate[S_BASELINE_CYCLES] += base_cyc
        if timed_update:
            # Update phase: wait for the window's last cost, then write (by parallelism).
            write_cycles = 0
            if count_writes:
                if parallelism == PARALLEL:
                    write_cycles = most * pulse_cycles
                elif parallelism == SERIAL:
                    write_cycles = total_writes * pulse_cycles
                else:
                    for r in range(rowmax.shape[0]):
                        write_cycles += rowmax[r] * pulse_cycles
            phase = drain + update_overhead + write_cycles
            if blocking:
                istate[S_UPDATE_CYCLES] += phase
                after += phase
            elif phase > 0:
                istate[S_APPLY_AT] = after + phase
                istate[S_C0_ON_APPLY] = 1
            else:
                istate[S_C0_ON_APPLY] = 1
        istate[S_CYCLES] = after
        istate[S_STEP] = n + 1
        done += 1
    if pending:
        integrate(chunks, g_int, psign, pend, sizes, w_off, b_off, theta, 0.0, False)
    return done


@njit(cache=True)
def _leaky_descend(theta, g, leak, gain, v, eta):
    """The analog integrator's step: g = leak g + gain v, theta -= eta g."""
    for i in range(g.shape[0]):
        g[i] = leak * g[i] + gain * v[i]
        theta[i] -= eta * g[i]


@njit(cache=True)
def _generate(k, buf, scheme, seed, entry_amp, sparsity, period, tab_i, tab_f, tab_g, amp_kind,
              ocfg_f, gen_gain, mismatch, bits, step, limit, inject_device, dw_ctrl, pulses,
              count_pulses):
    """theta~(k) as the generators emit it into ``buf``: the scheme's code at the scheduled
    amplitude, through the perturbation circuit; returns the amplitude's schedule factor."""
    amp_s = 1.0
    if amp_kind != CONSTANT:
        amp_s = schedule_value(amp_kind, 1.0, k, ocfg_f[6], ocfg_f[7], ocfg_f[8])
    fill_perturbation(scheme, k, seed, entry_amp * amp_s, sparsity, period, tab_i, tab_f, tab_g, buf)
    if mismatch or bits or inject_device:
        _perturbation_circuit(buf, gen_gain, mismatch, bits, step, limit, inject_device, dw_ctrl,
                              pulses, count_pulses)
    return amp_s


@njit(cache=True)
def _perturbation_circuit(pert, gen_gain, mismatch, bits, step, limit, inject_device, dw_ctrl, pulses,
                          count_pulses=True):
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
def _fold_nodes(g_int, nacc, act, sizes, w_off, b_off, n_off, geom, gidx, all_layers, window, istate, chunks):
    """G_int += node sums x presynaptic activity (every stage, or the first only) and the node
    sums into the biases; the sums are then cleared. With a ``window`` (rows > 0, dense first
    stage), the first stage's products are queued there instead (flush_window adds them)."""
    n_layers = sizes.shape[0] - 1
    queue = window.shape[0] > 0 and geom[0, G_KIND] == DENSE
    if queue:
        m = istate[S_WINDOW]
        if m == window.shape[0]:
            flush_window(g_int, window, istate, w_off[0], sizes[0], sizes[1], chunks, g_int, 0.0, False)
            m = 0
        k1 = sizes[1]
        for i in range(k1):
            window[m, i] = nacc[n_off[0] + i]
        for j in range(sizes[0]):
            window[m, k1 + j] = act[0, j]
        istate[S_WINDOW] = m + 1
    node_outer(g_int, nacc, 1.0, act, 0, 1, sizes, w_off, b_off, n_off, geom, gidx, not queue, True)
    node_outer(g_int, nacc, 1.0, act, 1, n_layers, sizes, w_off, b_off, n_off, geom, gidx, all_layers,
               True)
    for m in range(nacc.shape[0]):
        nacc[m] = 0.0


@njit(cache=True)
def flush_window(g_int, window, istate, w0, n0, k1, chunks, theta, eta, descend):
    """Add the queued first-stage products (hwsim.kernels.parallel_rows.flush_rows; with
    ``descend``, W_1's rows descend in the same pass) and empty the queue."""
    flush_rows(chunks, g_int, window, istate[S_WINDOW], w0, n0, k1, theta, eta, descend)
    istate[S_WINDOW] = 0
