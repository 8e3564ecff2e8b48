"""Plain numpy twins of the numba kernels (as stumpy's tests/naive.py): obviously correct,
slow, written from the equations in DESIGN section 1 rather than from the kernels' code.

They share only the per-run tables (tdma order, walsh rows, fdma frequencies/phases) and the
stream keys with the fast path; every value is recomputed here with vectorised numpy.
Tolerance: both paths run in float64 but sum in different orders (matmul vs loops), so they
agree to a relative 1e-9 after hundreds of steps, not bit for bit.
"""

from __future__ import annotations

import numpy as np

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB


def mix64(z):
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(M1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(M2)
    return z ^ (z >> np.uint64(31))


def hash3(seed, a, b):
    with np.errstate(over="ignore"):
        h = mix64(np.uint64(seed) + np.uint64(GOLDEN))
        h = mix64(h ^ (np.asarray(a, dtype=np.uint64) * np.uint64(GOLDEN) + np.uint64(M1)))
        return mix64(h ^ (np.asarray(b, dtype=np.uint64) * np.uint64(M2) + np.uint64(GOLDEN)))


def uniform(seed, a, b):
    return (hash3(seed, a, b) >> np.uint64(11)).astype(np.float64) / 2.0**53


def normal(seed, a, b):
    h = hash3(seed, a, b)
    u1 = ((h >> np.uint64(32)).astype(np.float64) + 0.5) / 2.0**32
    u2 = ((h & np.uint64(0xFFFFFFFF)).astype(np.float64) + 0.5) / 2.0**32
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def permutation(seed, key, n):
    out = np.arange(n)
    for j in range(n - 1, 0, -1):
        r = min(int(uniform(seed, key, j) * (j + 1)), j)
        out[j], out[r] = out[r], out[j]
    return out


def perturbation(gen, k):
    """theta~(k) for a hwsim.chip.perturbation.PerturbationGenerator, from the definitions."""
    p = gen.n_params
    i = np.arange(p)
    if gen.scheme == "tdma":
        v = np.zeros(p)
        v[gen.table_i[k % p]] = gen.amplitude
        return v
    if gen.scheme == "cdma":
        a = gen.amplitude * np.sqrt(gen.sparsity / p)
        if gen.sparsity == 1.0:
            bits = (hash3(gen.stream, k, i // 64) >> (i % 64).astype(np.uint64)) & np.uint64(1)
            return np.where(bits == 1, a, -a)
        u = uniform(gen.stream, k, i)
        keep = 1.0 / gen.sparsity
        return np.where(u < 0.5 * keep, a, np.where(u < keep, -a, 0.0))
    if gen.scheme == "walsh":
        col = k % gen.period
        bits = np.array([bin(int(r) & col).count("1") % 2 for r in gen.table_i])
        return gen.amplitude / np.sqrt(p) * (1.0 - 2.0 * bits)
    if gen.scheme == "fdma":
        return gen.amplitude * np.sqrt(2.0 / p) * np.sin(2 * np.pi * ((gen.table_f * k) % 1.0) + gen.table_g)
    return gen.amplitude / np.sqrt(p) * normal(gen.stream, k, i)


def act(z, code):
    return [lambda v: v, lambda v: 1 / (1 + np.exp(-v)), np.tanh, lambda v: np.maximum(v, 0)][code](z)


def patches(stage, h):
    """The (positions x fan-in) input matrix of a stage, by slicing the C x H x W image: a conv
    stage's k x k patches in (c_in, ky, kx) order; a dense stage's input as one row."""
    if stage.kind == "dense":
        return np.asarray(h)[None, :]
    c, hh, ww = stage.in_shape
    k = stage.size
    img = np.asarray(h).reshape(c, hh, ww)
    _, ho, wo = stage.out_shape
    cols = [img[ci, ky:ky + ho, kx:kx + wo].reshape(-1) for ci in range(c) for ky in range(k) for kx in range(k)]
    return np.stack(cols, axis=1)


def max_pool(stage, h):
    c, hh, ww = stage.in_shape
    k = stage.size
    _, ho, wo = stage.out_shape
    img = np.asarray(h).reshape(c, hh, ww)[:, :ho * k, :wo * k]
    return img.reshape(c, ho, k, wo, k).max(axis=(2, 4)).reshape(-1)


def stage_product(stage, w, h):
    """W applied at every position: outputs in (channel, position) order."""
    return (patches(stage, h) @ w.T).T.reshape(-1)


def forward(layout, theta, x):
    h = x
    for l, st in enumerate(layout.stages):
        if st.kind == "maxpool":
            h = max_pool(st, h)
            continue
        w, b = layout.weights(theta, l)
        h = act(stage_product(st, w, h) + np.repeat(b, st.positions), layout.act_codes[l])
    return h


def cost(y, t, code):
    if code == 0:
        return float(np.mean((y - t) ** 2))
    m = y.max()
    return float(m + np.log(np.sum(np.exp(y - m))) - t @ y)


def lsb(bits, full_range):
    return 2.0 * full_range / (2**bits - 1)


def q(v, bits, full_range):
    """Signed converter: clip to +-range, round to the nearest of 2^bits levels."""
    step = lsb(bits, full_range)
    return np.floor(np.clip(v, -full_range, full_range) / step + 0.5) * step


def forward_chip(sim, theta, x, pert=None, mvm_index=None, node_pert=None, acts=None):
    """One sample through DACs, row tiles (read noise per partial sum, per-tile ADCs), bias,
    neuron variation. ``theta`` are the device weights; ``pert`` the auxiliary perturbation;
    ``node_pert`` one value per neuron added to its pre-activation. Each layer's input as the
    crossbar sees it (after the DACs) is appended to ``acts`` when given."""
    arr, layout = sim.run_spec.chip.array, sim.layout
    par, n0 = sim.periphery.neuron_par, 0
    noise = sim.devices.device.read_noise
    noisy = mvm_index is not None and (noise.additive > 0 or noise.proportional > 0)
    read_seed = int(sim.devices.config[0].seed_read)
    pert = np.zeros_like(theta) if pert is None else pert
    h = np.asarray(x, dtype=np.float64)
    for l, st in enumerate(layout.stages):
        if st.kind == "maxpool":
            if acts is not None:
                acts.append(h.copy())
            h = max_pool(st, h)
            continue
        w, b = layout.weights(theta, l)
        pw, pb = layout.weights(pert, l)
        if arr.dac_bits:
            h = q(h, arr.dac_bits, arr.dac_range)
        if acts is not None:
            acts.append(h.copy())
        pat = patches(st, h)                                   # positions x fan-in
        z = np.zeros((w.shape[0], st.positions))
        for start in range(0, w.shape[1], arr.rows):
            ws = w[:, start:start + arr.rows]
            hs = pat[:, start:start + arr.rows]
            part = (ws + pw[:, start:start + arr.rows]) @ hs.T   # channels x positions
            if noisy:
                var = (noise.additive**2 + noise.proportional**2 * ws**2) @ (hs**2).T
                first = (layout.w_off[l] + np.arange(w.shape[0])[:, None] * w.shape[1] + start
                         + np.arange(st.positions)[None, :] * layout.n_params)
                part = part + np.sqrt(var) * normal(read_seed, mvm_index, first)
            z += q(part, arr.adc_bits, arr.adc_range) if arr.adc_bits else part
        z = (z + (b + pb)[:, None]).reshape(-1)
        n = st.n_out
        if node_pert is not None:
            z = z + node_pert[n0:n0 + n]
        if sim.run_spec.chip.neurons.activation_variation > 0:
            gain, slope, x0, y0 = (par[r, n0:n0 + n] for r in range(4))
            h = gain * act(slope * (z - x0), layout.act_codes[l]) + y0
        else:
            h = act(z, layout.act_codes[l])
        n0 += n
    return h


def chip_perturbation(sim, pert, pulses):
    """Generator gain error, output resolution, and whole device steps on the weight path."""
    pc, dev = sim.run_spec.chip.perturbation, sim.run_spec.chip.device
    v = pert * sim.gen_gain
    if pc.amplitude_bits:
        peak = sim.generator.entry_amp * np.max(np.abs(sim.gen_gain)) * (4.0 if sim.generator.scheme == "gaussian" else 1.0)
        step = peak / (2 ** (pc.amplitude_bits - 1) - 1) if pc.amplitude_bits > 1 else peak
        v = np.floor(np.clip(v, -peak, peak) / step + 0.5) * step
    if pc.injection == "weight_device":
        n = np.floor(np.abs(v) / dev.dw_min + 0.5)
        v = np.sign(v) * n * dev.dw_min
        pulses += 2 * n.astype(np.int64)
    return v


def mgd_steps_chip(sim, n_steps):
    """The chip path of the MGD loop: devices, periphery and circuits (twins of the kernels)."""
    import copy

    import naive_devices

    from hwsim.spec.chip import ReadNoise

    fw, chip, sc = sim.run_spec.firmware, sim.run_spec.chip, sim.run_spec.scenario
    from hwsim.firmware.mgd import gradient_scale

    arr = copy.deepcopy(sim.devices)
    g = sim.g_int.copy()
    gen = sim.generator
    cost_code = 0 if sc.cost == "mse" else 1
    scale = gradient_scale(fw, sim.n_perturbed)
    a_hp = fw.tau_hp / (fw.tau_hp + 1.0)
    leak = fw.tau_theta / (fw.tau_theta + 1.0)
    cfg = sim.config[0]
    noise_seed, order_seed = int(cfg["noise_seed"]), int(cfg["order_seed"])
    n_train = sim.data.x_train.shape[0]
    cu, bc, it = chip.cost_unit, chip.broadcast, chip.integrator
    drifts = bool(cfg["drift"])

    def quiet(a):
        """The device array read without noise (drift only): noise is added per partial sum."""
        a2 = copy.copy(a)
        a2.device = a.device.model_copy(update={"read_noise": ReadNoise()})
        return a2
    writes = bool(cfg["devices"])
    pulsed = writes and sim.devices.device.law != "ideal"
    c0 = c_prev = ct_prev = 0.0
    cycles, updates = sim.counts()["cycles"], sim.counts()["updates"]
    pert, last_k = None, None
    # Timing (hwsim/chip/timing.py), from the chip spec rather than the kernel's config.
    ii, lat = sim.timing.interval, sim.timing.latency
    bl = chip.broadcast.latency
    load = chip.input.load_cycles(sim.layout.sizes[0])
    d = 0 if chip.integrator.delay_compensation else max(0, -(-(lat + bl) // ii) - 1)
    up = chip.update
    pulse = int(np.ceil(up.pulse_duration / chip.clock_period - 1e-9)) if up.pulse_duration > 0 else 0
    ready, apply_at, c0_on_apply = 0, 0, False
    import naive_optim

    o = fw.optimizer
    opt = naive_optim.NaiveOptimizer(o.kind, sim.layout.n_params, o.beta, o.beta2, o.eps)
    opt_plain = o.kind == "sgd" and fw.learning_rate_schedule.kind == "constant"

    def sched(spec, base, clock):
        return naive_optim.schedule(spec.kind, base, clock, spec.horizon or 0.0, spec.step_size,
                                    spec.gamma, spec.decay, spec.min_fraction)

    def scaled_perturbation(k, pulses):
        s = sched(fw.amplitude_schedule, 1.0, k)
        return chip_perturbation(sim, perturbation(gen, k) * s, pulses), s
    theta_old = arr.w.copy()

    node = fw.perturbation.target == "nodes"
    faithful = fw.perturbation.node_activity == "faithful"
    h_base = None

    def measure(theta_read, pert, x, t, mvm_index, acts=None):
        wp, npert = (None, pert) if node else (pert, None)
        c = cost(forward_chip(sim, theta_read, x, wp, mvm_index, npert, acts), t, cost_code)
        if cu.adc_bits:
            step = cu.adc_range / (2**cu.adc_bits - 1)
            c = np.floor(np.clip(c, 0.0, cu.adc_range) / step + 0.5) * step
        return c

    def expand(node_values, acts):
        """Node perturbation: node value x presynaptic activity for each weight, the value for each bias."""
        out = np.zeros(sim.layout.n_params)
        n0 = 0
        for l, st in enumerate(sim.layout.stages):
            if st.kind == "maxpool":
                continue
            w, b = sim.layout.weights(out, l)
            v = node_values[n0:n0 + st.n_out].reshape(w.shape[0], st.positions)
            w[...] = v @ patches(st, acts[l])
            b[...] = v.sum(axis=1)
            n0 += st.n_out
        return out

    for n in range(sim.step, sim.step + n_steps):
        x_changed = n % fw.tau_x == 0
        old = cycles < apply_at
        theta_changed = (n % fw.tau_theta == 0) if up.blocking else (c0_on_apply and not old)
        need_c0 = fw.mode == "discrete" and (x_changed or theta_changed)
        wait = 0
        if x_changed and load > 0:
            if chip.input.double_buffering:
                r = ready if n > 0 else load
                wait = max(0, r - cycles)
            else:
                wait = load
        if need_c0 and theta_changed and not up.blocking:
            c0_on_apply = False
        if x_changed and chip.input.double_buffering and load > 0:
            ready = cycles + wait + load
        step_cycles = wait + ii + (chip.inference.baseline_cycles if need_c0 else 0)
        t_now = cycles * chip.clock_period
        s = n // fw.tau_x
        idx = permutation(order_seed, s // n_train, n_train)[s % n_train]
        x, t = sim.data.x_train[idx], sim.data.y_train[idx]
        k = n // fw.tau_p
        if k != last_k:
            pert, pert_s = scaled_perturbation(k, arr.pulses)
            last_k = k
        if old:
            w_read = theta_old
        else:
            w_read = naive_devices.read(quiet(arr), t_now, 0) if drifts else arr.w
        acts_p = []
        c = measure(w_read, pert, x, t, 2 * n, acts_p)
        if cu.noise_sigma > 0:
            c += cu.noise_sigma * float(normal(noise_seed, n, 0))
        decay = np.exp(-step_cycles * chip.clock_period / it.leak_tau)
        if fw.mode == "discrete":
            if need_c0:
                h_base = []
                c0 = measure(w_read, None, x, t, 2 * n + 1, h_base)
                if cu.baseline_noisy and cu.noise_sigma > 0:
                    c0 += cu.noise_sigma * float(normal(noise_seed, n, 1))
            ct = c - c0
        else:
            if x_changed:
                c_prev = c
            ct_prev = a_hp * ct_prev + a_hp * (c - c_prev)
            c_prev = c
            ct = ct_prev
        if bc.noise_sigma > 0:
            ct += bc.noise_sigma * float(normal(noise_seed, n, 2))
        if bc.bits:
            ct = float(q(ct, bc.bits, bc.range))
        ct = np.clip(ct, -fw.cost_change_clip, fw.cost_change_clip)
        # Without delay compensation C~ meets the perturbation of step n + d.
        ipert, i_s = pert, pert_s
        if d:
            ipert, i_s = scaled_perturbation((n + d) // fw.tau_p, np.zeros_like(arr.pulses))
        if node:
            if fw.mode == "analog" and not faithful:
                h_base = []
                measure(w_read, None, x, t, 2 * n + 1, h_base)
            ipert = expand(ipert, acts_p if faithful else h_base)
        coef = ct * scale / (i_s * i_s)
        if fw.mode == "discrete":
            g = decay * g + coef * ipert
        else:
            g = decay * leak * g + (1 - leak) * coef * ipert
        g = q(g, it.bits, it.saturation) if it.bits else np.clip(g, -it.saturation, it.saturation)
        after = cycles + step_cycles
        window_end = fw.mode == "discrete" and (n + 1) % fw.tau_theta == 0
        if window_end and not up.blocking:
            after = max(after, apply_at)   # the previous update must land first
            theta_old = arr.w.copy()
        if fw.mode == "analog" or window_end:
            if opt_plain:
                delta = -fw.eta * g
            else:
                delta = opt.step(g, sched(fw.learning_rate_schedule, fw.eta, updates))
            before_pulses = arr.pulses.copy()
            if writes:
                arr.w, arr.t_prog, arr.pulses, _ = naive_devices.update(arr, delta, updates, t_now)
            else:
                arr.w = arr.w + delta
            n_writes = (arr.pulses - before_pulses) if pulsed else (delta != 0).astype(np.int64)
            if fw.mode == "discrete":
                g = np.zeros_like(g)
            updates += 1
        if window_end:
            writes_cycles = 0
            if pulse > 0:
                if up.parallelism == "parallel":
                    writes_cycles = int(n_writes.max(initial=0)) * pulse
                elif up.parallelism == "serial":
                    writes_cycles = int(n_writes.sum()) * pulse
                else:
                    rows = np.zeros(sim.n_rows, dtype=np.int64)
                    np.maximum.at(rows, sim.net.row_of, n_writes)
                    writes_cycles = int(rows.sum()) * pulse
            phase = lat - ii + bl + up.overhead_cycles + writes_cycles
            if up.blocking:
                after += phase
            else:
                apply_at = after + phase if phase > 0 else apply_at
                c0_on_apply = True
        cycles = after
    return arr.w, g, cycles, arr.pulses


def mgd_steps(sim, n_steps):
    """Advance a copy of ``sim``'s state by n_steps; return (theta, g_int, cycles). On the ideal
    chip the general twin reduces to the plain MGD equations of DESIGN section 1."""
    theta, g, cycles, _ = mgd_steps_chip(sim, n_steps)
    return theta, g, cycles
