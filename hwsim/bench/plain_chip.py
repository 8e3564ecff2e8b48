"""The plain numpy loop of benchmark B5: discrete weight-perturbation MGD on a modelled chip.

The yardstick of B5, as ``hwsim.bench.plain.PlainMGD`` is of B1-B4: a Python loop over steps,
numpy inside each step, doing the device maths hwsim's reference path does with
``config.chip = 1`` (hwsim.kernels.paths.reference), written as the equations read:

  per step n:  sample x (new every tau_x steps); theta~ = +-a random signs (every tau_p)
               w = the devices' weights, drifted to the chip time (power law after t0)
               infer(w + theta~, read 2n), C = MSE of the output
               baseline when x or the weights changed: infer(w, read 2n + 1), C0
               infer: per stage, the inputs through the DACs (clip, round); per tile of
               ``rows`` inputs, the partial sum, plus read noise sqrt(sum_j (s_add^2 +
               s_prop^2 w_j^2) h_j^2) xi, through the ADC; the tiles added, the bias, the
               activation (with neuron variation: L act(k (z - x0)) + y0)
               C~ = C - C0 through the broadcast's quantiser
               G = quantise(G + C~ g_scale theta~), the integrators' resolution and saturation
               every tau_theta steps: delta = -eta G written through the device law: n =
               floor(|delta| / dw_ctrl + u) pulses (stochastic rounding), at most max_pulses,
               each w += d s(w) (1 + c2c xi), clipped to the device's bounds; G = 0

It handles what the B5 presets (rram_crossbar, pcm_hermes_like) use with B2's firmware:
discrete mode, SGD, cdma signs, a blocking update, no cost noise, cost ADC, generator
mismatch, resolution or device injection, no delay; anything else is a ValueError.

By default the random values (signs, read noise, rounding draws, write noise) come from a
numpy Generator; ``from_simulation(sim, same_streams=True)`` draws them from hwsim's own
counter-based streams (``hash3`` below is hwsim.kernels.rng's splitmix64 keyed hash,
vectorised), so that the loop must reproduce hwsim's weights and integrators step for step
(tests/test_bench.py; never used for timing).

The chip's clock is kept as inference and baseline cycles only (not the input wait or the
update phase): it feeds only the drift, which is the identity for t0 = 20 s of chip time
after the devices were written, far beyond any benchmark block; the loop computes it all the
same, as hwsim does.
"""

from __future__ import annotations

import numpy as np

from hwsim.bench.plain import PlainMGD, layer_slices

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)

# The device laws this loop implements, by their names in hwsim.kernels.codes.LAWS (the pulsed
# laws; the ideal and quantised laws are refused in from_simulation).
SOFT_BOUNDS, EXP_STEP, CONSTANT_STEP = "soft_bounds", "exp_step", "constant_step"
LINEAR_STEP, POW_STEP = "linear_step", "pow_step"


def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hash3(seed, a, b) -> np.ndarray:
    """hwsim.kernels.rng.hash3 over an array of ``b`` (uint64 arithmetic wraps as in numba)."""
    with np.errstate(over="ignore"):
        h = _mix(np.uint64(seed) + _GOLDEN)
        key = _mix(h ^ (np.uint64(a) * _GOLDEN + _M1))
        b = np.asarray(b, dtype=np.uint64)
        return _mix(key ^ (b * _M2 + _GOLDEN))


def uniform(seed, a, b) -> np.ndarray:
    return (hash3(seed, a, b) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def normal(seed, a, b) -> np.ndarray:
    h = hash3(seed, a, b)
    u1 = ((h >> np.uint64(32)).astype(np.float64) + 0.5) * (1.0 / 4294967296.0)
    u2 = ((h & np.uint64(0xFFFFFFFF)).astype(np.float64) + 0.5) * (1.0 / 4294967296.0)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def quantise(v, step, limit):
    """Clip to [-limit, limit], round to the nearest multiple of ``step`` (hwsim's quantise)."""
    return np.floor(np.clip(v, -limit, limit) / step + 0.5) * step


class PlainChipMGD(PlainMGD):
    """Discrete weight-perturbation MGD, SGD, MSE, dense ReLU network on a modelled chip."""

    def __init__(self, sizes, x, y, theta, *, amplitude, eta, tau_p, tau_x, tau_theta, chip, seed=0,
                 perturbation=None, order=None, streams=None):
        super().__init__(sizes, x, y, theta, amplitude=amplitude, eta=eta, tau_p=tau_p, tau_x=tau_x,
                         tau_theta=tau_theta, seed=seed, perturbation=perturbation, order=order)
        self.chip = chip                       # dict of the chip's constants (from_simulation)
        self.streams = streams                 # hwsim's seeds, or None: numpy's generator
        self.pulses = np.zeros_like(self.theta, dtype=np.int64)
        self.t_prog = np.array(chip["t_prog"], dtype=np.float64)
        self.updates = 0
        self.cycles = 0
        p = self.theta.shape[0]
        self.rows_of = [w.start + np.arange(shape[0]) * shape[1] for w, shape, _ in self.layers]
        self.pulse_base = np.arange(p, dtype=np.int64) * chip["max_pulses"]
        self.index = np.arange(p, dtype=np.int64)

    @classmethod
    def from_simulation(cls, sim, same_streams: bool = False, seed: int = 0) -> "PlainChipMGD":
        from hwsim.kernels import codes
        from hwsim.kernels.rng import permutation_into

        lay, fw, cfg = sim.layout, sim.run_spec.firmware, sim.config[0]
        slices = layer_slices(lay.sizes)
        if (not lay.is_dense or list(lay.w_off) != [w.start for w, _, _ in slices]
                or list(lay.act_codes[:-1]) != [codes.RELU] * (len(slices) - 1) or lay.act_codes[-1] != 0):
            raise ValueError("the plain chip loop handles dense ReLU networks with a linear output only")
        dcfg = sim.devices_k.config[0]
        laws = {v: k for k, v in codes.LAWS.items()}
        unsupported = {
            "analog mode": cfg.mode != codes.DISCRETE, "node perturbation": cfg.node != 0,
            "an optimiser other than plain SGD": cfg.opt_kind != codes.SGD or cfg.lr_kind != codes.CONSTANT,
            "a perturbation scheme other than cdma": cfg.scheme != codes.CDMA or cfg.sparsity != 1.0
                                                      or cfg.amp_kind != codes.CONSTANT,
            "generator mismatch, resolution or device injection": bool(cfg.gen_mismatch or cfg.gen_bits
                                                                       or cfg.inject_device),
            "cost noise or a cost ADC": cfg.noise_sigma > 0.0 or bool(cfg.cost_adc) or cfg.cost_code != codes.MSE,
            "broadcast noise": cfg.bcast_noise > 0.0, "a delayed integrator": cfg.delay_steps > 0,
            "a non-blocking update": not cfg.blocking, "integrator leak": cfg.int_leak_rate > 0.0,
            "the ideal chip (use PlainMGD)": not cfg.chip or not cfg.devices,
            "a device law other than the pulsed step laws": laws.get(int(dcfg.law)) not in (
                SOFT_BOUNDS, EXP_STEP, CONSTANT_STEP, LINEAR_STEP, POW_STEP),
        }
        bad = [what for what, yes in unsupported.items() if yes]
        if bad:
            raise ValueError(f"the plain chip loop does not model {', '.join(bad)}")
        pcfg = sim.periphery_k.config[0]
        dv = sim.devices_k
        from hwsim.kernels.devices import D_DW_DOWN, D_DW_UP, D_NU, D_W_MAX, D_W_MIN
        chip = {
            "law": laws[int(dcfg.law)], "stochastic": int(dcfg.rounding) == codes.ROUND_STOCHASTIC,
            "max_pulses": int(dcfg.max_pulses), "dw_ctrl": float(dcfg.dw_ctrl),
            "gamma_up": float(dcfg.gamma_up), "gamma_down": float(dcfg.gamma_down), "c2c": float(dcfg.c2c),
            "t0": float(dcfg.t0), "drift": bool(cfg.drift), "clock": float(cfg.clock),
            "step_cycles": int(cfg.cpi), "baseline_cycles": int(cfg.baseline_cycles),
            "w_min": dv.dev[D_W_MIN].copy(), "w_max": dv.dev[D_W_MAX].copy(), "dw_up": dv.dev[D_DW_UP].copy(),
            "dw_down": dv.dev[D_DW_DOWN].copy(), "nu": dv.dev[D_NU].copy(), "stuck": dv.stuck != 0,
            "drifts": (dv.dev[D_NU] > 0.0) & (dv.stuck == 0),
            "t_prog": dv.t_prog.copy(),
            "rows": int(pcfg.rows), "dac": bool(pcfg.dac_on), "dac_step": float(pcfg.dac_step),
            "dac_range": float(pcfg.dac_range), "adc": bool(pcfg.adc_on), "adc_step": float(pcfg.adc_step),
            "adc_range": float(pcfg.adc_range), "read_noise": bool(pcfg.read_noise),
            "read_add2": float(pcfg.read_add) ** 2, "read_prop2": float(pcfg.read_prop) ** 2,
            "neuron_par": sim.periphery_k.neuron_par.copy() if pcfg.neuron_var else None,
            "bcast_bits": bool(cfg.bcast_bits), "bcast_step": float(cfg.bcast_step),
            "bcast_range": float(cfg.bcast_range), "clip": float(cfg.cost_change_clip),
            "g_scale": float(cfg.g_scale), "int_bits": bool(cfg.int_bits), "int_step": float(cfg.int_step),
            "int_sat": float(cfg.int_sat),
        }
        perturbation = order = streams = None
        if same_streams:
            perturbation = sim.generator.vector
            order_seed, n = cfg.order_seed, sim.data.x_train.shape[0]

            def order(epoch):
                out = np.empty(n, dtype=np.int64)
                permutation_into(order_seed, epoch, out)
                return out
            streams = {"read": dcfg.seed_read, "round": dcfg.seed_round, "c2c": dcfg.seed_c2c}
        pt = fw.perturbation
        return cls(lay.sizes, sim.data.x_train, sim.data.y_train, sim.theta.copy(), amplitude=pt.amplitude,
                   eta=fw.eta, tau_p=fw.tau_p, tau_x=fw.tau_x, tau_theta=fw.tau_theta, chip=chip, seed=seed,
                   perturbation=perturbation, order=order, streams=streams)

    # ------------------------------------------------------------------ the devices
    def read_weights(self):
        """The weights the devices hold at the chip's time: drifted (power law after t0)."""
        c = self.chip
        if not c["drift"]:
            return self.theta
        el = self.cycles * c["clock"] - self.t_prog
        drifting = np.flatnonzero((el > c["t0"]) & c["drifts"])
        if drifting.size == 0:       # (the power only where it applies: it costs 2 ms at P = 10^5)
            return self.theta
        w = self.theta.copy()
        w[drifting] *= (el[drifting] / c["t0"]) ** -c["nu"][drifting]
        return w

    def step_size(self, d, w, dw_up, dw_down, w_min, w_max):
        """The nominal step of one pulse in direction d (+-1 per device) at state w."""
        c, up = self.chip, d > 0
        base = np.where(up, dw_up, dw_down)
        law = c["law"]
        if law == CONSTANT_STEP:
            return base
        r = np.where(up, w / w_max, w / w_min)
        g = np.where(up, c["gamma_up"], c["gamma_down"])
        if law == LINEAR_STEP:
            f = 1.0 - g * r
        elif law == SOFT_BOUNDS:
            f = 1.0 - r
        elif law == EXP_STEP:
            f = np.expm1(g * (r - 1.0)) / np.expm1(-g)
        else:
            f = np.maximum(1.0 - r, 0.0) ** g
        return base * np.maximum(f, 0.0)

    def update(self):
        """delta = -eta G through the update controller and the device law."""
        c = self.chip
        delta = -self.eta * self.g
        x = np.abs(delta) / c["dw_ctrl"]
        if c["stochastic"]:
            u = (uniform(self.streams["round"], self.updates, self.index) if self.streams
                 else self.rng.random(x.shape[0]))
        else:
            u = 0.5
        n = np.where(x >= c["max_pulses"], c["max_pulses"],
                     np.minimum(np.floor(x + u), c["max_pulses"])).astype(np.int64)
        self.pulses += n
        write = np.flatnonzero((n > 0) & ~c["stuck"])
        if write.size:
            t_now = self.cycles * c["clock"]
            w = self.read_weights()[write]
            d = np.where(delta[write] > 0.0, 1.0, -1.0)
            nw = n[write]
            lo, hi = c["w_min"][write], c["w_max"][write]
            up, down = c["dw_up"][write], c["dw_down"][write]
            for k in range(int(nw.max())):
                live = nw > k
                if self.streams:
                    xi = normal(self.streams["c2c"], self.updates, self.pulse_base[write] + k)
                else:
                    xi = self.rng.standard_normal(write.size)
                s = self.step_size(d, w, up, down, lo, hi)
                w = np.where(live, np.clip(w + d * s * (1.0 + c["c2c"] * xi), lo, hi), w)
            self.theta[write] = w
            self.t_prog[write] = t_now
        self.g[:] = 0.0
        self.updates += 1

    # ------------------------------------------------------------------ the periphery
    def infer(self, w, pert, x, read_index):
        """The output of the network on the chip (pert None: unperturbed)."""
        c = self.chip
        h = x
        last = len(self.layers) - 1
        node = 0
        for l, (ws, shape, bs) in enumerate(self.layers):
            if c["dac"]:
                h = quantise(h, c["dac_step"], c["dac_range"])
            wl = w[ws].reshape(shape)
            wp = wl + pert[ws].reshape(shape) if pert is not None else wl
            z = np.zeros(shape[0])
            for start in range(0, shape[1], c["rows"]):
                stop = min(start + c["rows"], shape[1])
                acc = wp[:, start:stop] @ h[start:stop]
                if c["read_noise"]:
                    h2 = h[start:stop] ** 2
                    var = c["read_add2"] * h2.sum()
                    if c["read_prop2"] > 0.0:
                        var = var + c["read_prop2"] * ((wl[:, start:stop] ** 2) @ h2)
                    if self.streams:
                        xi = normal(self.streams["read"], read_index, self.rows_of[l] + start)
                    else:
                        xi = self.rng.standard_normal(shape[0])
                    acc = acc + np.sqrt(var) * xi
                if c["adc"]:
                    acc = quantise(acc, c["adc_step"], c["adc_range"])
                z += acc
            z += w[bs]
            if pert is not None:
                z += pert[bs]
            if c["neuron_par"] is not None:
                gain, slope, x0, y0 = c["neuron_par"][:, node:node + shape[0]]
                a = slope * (z - x0)
                h = gain * (np.maximum(a, 0.0) if l < last else a) + y0
            else:
                h = np.maximum(z, 0.0) if l < last else z
            node += shape[0]
        return h

    # ------------------------------------------------------------------ the loop
    def run(self, n_steps: int) -> None:
        for _ in range(n_steps):
            self._step_chip()

    def _step_chip(self):
        c = self.chip
        n = self.step
        x, t = self.sample(n)
        pert = self._new_perturbation(n)
        w = self.read_weights()
        y = self.infer(w, pert, x, 2 * n)
        cost = float(np.mean((y - t) ** 2))
        need_c0 = n % self.tau_x == 0 or n % self.tau_theta == 0
        if need_c0:
            y0 = self.infer(w, None, x, 2 * n + 1)
            self.c0 = float(np.mean((y0 - t) ** 2))
        ct = cost - self.c0
        if c["bcast_bits"]:
            ct = float(quantise(ct, c["bcast_step"], c["bcast_range"]))
        ct = min(max(ct, -c["clip"]), c["clip"])
        g = self.g + (ct * c["g_scale"]) * pert
        sat = c["int_sat"]
        self.g = quantise(g, c["int_step"], sat) if c["int_bits"] else np.clip(g, -sat, sat)
        if (n + 1) % self.tau_theta == 0:
            self.update()
        self.cycles += c["step_cycles"] + (c["baseline_cycles"] if need_c0 else 0)
        self.step = n + 1
