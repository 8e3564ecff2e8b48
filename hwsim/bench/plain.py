"""The loop a researcher writes first: a Python loop over steps, numpy inside each step.

The yardstick of ``hwsim bench``: the same maths as hwsim's kernel on the benchmark
workloads (ideal chip, discrete MGD, MSE), written plainly and vectorised within a step:

  per step n:  sample x (a new shuffle each epoch; a new sample every tau_x steps)
               perturbation theta~ (a new one every tau_p steps; +-a random signs)
               C  = cost of the perturbed network (weights + theta~, or node
                    pre-activations + theta~)
               C0 = cost of the unperturbed network, re-measured when x or theta changed
               G += (C - C0) / amplitude^2 * theta~       (node perturbation: the node
                    signal times the presynaptic activity of the perturbed inference)
               every tau_theta steps: theta -= eta * G; G = 0

The parameters are one flat vector in hwsim's layout (per layer: the weights, output-major,
then the biases), viewed per layer. By default the random signs and the epoch shuffles come
from a numpy Generator (``rng.integers(0, 2, P, dtype=np.uint8) * (2 * a) - a``: of the usual
idioms, the fastest on this machine at 10^5 parameters and more, 2.5x faster than
``np.where(rng.random(P) < 0.5, a, -a)`` and 5x faster than the same with the default int64); ``from_simulation(sim, same_streams=True)`` draws them from the
simulation's own counter-based streams instead, so the loop must then reproduce hwsim's
weights step for step (the test of "the same maths"; never used for timing).

Each phase is a method, so ``cProfile`` shows where the loop's time goes
(hwsim.bench.profile).
"""

from __future__ import annotations

import numpy as np


def layer_slices(sizes) -> list[tuple[slice, tuple[int, int], slice]]:
    """(weights slice, weight shape (out, in), bias slice) of each layer in the flat vector."""
    out, off = [], 0
    for a, b in zip(sizes[:-1], sizes[1:]):
        w = slice(off, off + a * b)
        off += a * b
        out.append((w, (b, a), slice(off, off + b)))
        off += b
    return out


class PlainMGD:
    """Discrete MGD, weight or node perturbation, ReLU hidden layers, linear output, MSE."""

    def __init__(self, sizes, x, y, theta, *, amplitude, eta, tau_p, tau_x, tau_theta,
                 nodes=False, seed=0, perturbation=None, order=None):
        self.sizes = tuple(int(s) for s in sizes)
        self.layers = layer_slices(self.sizes)
        n_params = self.layers[-1][2].stop
        if theta.shape != (n_params,):
            raise ValueError(f"theta has shape {theta.shape}; the network {self.sizes} has {n_params} parameters")
        self.nodes = nodes
        self.node_slices = []
        off = 0
        for b in self.sizes[1:]:
            self.node_slices.append(slice(off, off + b))
            off += b
        self._start(x, y, theta, off if nodes else n_params, amplitude=amplitude, eta=eta, tau_p=tau_p,
                    tau_x=tau_x, tau_theta=tau_theta, seed=seed, perturbation=perturbation, order=order)

    def _start(self, x, y, theta, n_perturbed, *, amplitude, eta, tau_p, tau_x, tau_theta, seed, perturbation,
               order):
        """The loop's state at step 0 (shared by the CNN loop, hwsim.bench.plain_cnn)."""
        self.theta = np.array(theta, dtype=np.float64)
        self.g = np.zeros(theta.shape[0])
        self.x, self.y = x, y
        self.n_perturbed = n_perturbed
        self.a = amplitude / np.sqrt(n_perturbed)     # +-a per entry: |theta~| = amplitude
        self.amp2 = amplitude ** 2
        self.eta, self.tau_p, self.tau_x, self.tau_theta = eta, tau_p, tau_x, tau_theta
        self.rng = np.random.default_rng(seed)
        self._perturbation_fn = perturbation
        self._order_fn = order
        self.step = 0
        self.c0 = 0.0
        self.pert = None
        self._k = -1
        self._epoch = -1
        self._order = None

    @classmethod
    def from_simulation(cls, sim, same_streams: bool = False, seed: int = 0) -> "PlainMGD":
        """The plain loop of a hwsim Simulation's workload: its network, data, initial weights
        and firmware constants; with ``same_streams``, its perturbation and data-order streams."""
        from hwsim.kernels.rng import permutation_into

        lay, fw = sim.layout, sim.run_spec.firmware
        slices = layer_slices(lay.sizes)
        if (list(lay.w_off) != [w.start for w, _, _ in slices]
                or list(lay.b_off) != [b.start for _, _, b in slices]
                or list(lay.act_codes[:-1]) != [3] * (len(slices) - 1) or lay.act_codes[-1] != 0):
            raise ValueError("the plain loop handles dense ReLU networks with a linear output in "
                             "hwsim's flat layout only")
        if (fw.mode != "discrete" or fw.normalisation != "vector_norm" or fw.optimizer.kind != "sgd"
                or sim.run_spec.scenario.cost != "mse" or sim.config[0]["chip"]):
            raise ValueError("the plain loop is discrete MGD with SGD, vector_norm and MSE on the ideal chip")
        perturbation = order = None
        if same_streams:
            gen = sim.generator
            perturbation = gen.vector
            order_seed, n = sim.config[0]["order_seed"], sim.data.x_train.shape[0]

            def order(epoch):
                out = np.empty(n, dtype=np.int64)
                permutation_into(order_seed, epoch, out)
                return out
        pt = fw.perturbation
        return cls(lay.sizes, sim.data.x_train, sim.data.y_train, sim.theta.copy(), amplitude=pt.amplitude,
                   eta=fw.eta, tau_p=fw.tau_p, tau_x=fw.tau_x, tau_theta=fw.tau_theta,
                   nodes=pt.target == "nodes", seed=seed, perturbation=perturbation, order=order)

    # ------------------------------------------------------------------ phases
    def sample(self, n):
        """The sample of step n: a new shuffle each epoch, a new sample every tau_x steps."""
        s = n // self.tau_x
        epoch = s // len(self.x)
        if epoch != self._epoch:
            self._order = (self._order_fn(epoch) if self._order_fn is not None
                           else self.rng.permutation(len(self.x)))
            self._epoch = epoch
        i = self._order[s % len(self.x)]
        return self.x[i], self.y[i]

    def perturbation(self, k):
        """theta~(k): random +-a signs, one per perturbed parameter or node."""
        if self._perturbation_fn is not None:
            return self._perturbation_fn(k)
        return self.rng.integers(0, 2, self.n_perturbed, dtype=np.uint8) * (2.0 * self.a) - self.a

    def cost_weights(self, theta, x, t):
        """MSE of the network with parameters ``theta`` on one sample."""
        h = x
        last = len(self.layers) - 1
        for l, (ws, shape, bs) in enumerate(self.layers):
            h = theta[ws].reshape(shape) @ h + theta[bs]
            if l < last:
                h = np.maximum(h, 0.0)
        return float(np.mean((h - t) ** 2))

    def forward_nodes(self, x, dz):
        """Layer inputs [x, h1, ...] and output, each pre-activation plus its node
        perturbation ``dz`` (None: unperturbed)."""
        hs = [x]
        h = x
        last = len(self.layers) - 1
        for l, (ws, shape, bs) in enumerate(self.layers):
            z = self.theta[ws].reshape(shape) @ h + self.theta[bs]
            if dz is not None:
                z += dz[self.node_slices[l]]
            h = np.maximum(z, 0.0) if l < last else z
            hs.append(h)
        return hs

    def integrate_weights(self, coef, pert):
        self.g += coef * pert

    def integrate_nodes(self, coef, dz, hs):
        """G += node signal x presynaptic activity (of the perturbed inference), and the
        node signal into the biases."""
        for l, (ws, shape, bs) in enumerate(self.layers):
            d = coef * dz[self.node_slices[l]]
            g_w = self.g[ws].reshape(shape)     # a view into G
            g_w += np.outer(d, hs[l])
            self.g[bs] += d

    def update(self):
        self.theta -= self.eta * self.g
        self.g[:] = 0.0

    # ------------------------------------------------------------------ the loop
    def run(self, n_steps: int) -> None:
        """Advance ``n_steps`` steps."""
        step = self._step_nodes if self.nodes else self._step_weights
        for _ in range(n_steps):
            step()

    def _new_perturbation(self, n):
        k = n // self.tau_p
        if k != self._k:
            self.pert = self.perturbation(k)
            self._k = k
        return self.pert

    def _step_weights(self):
        n = self.step
        x, t = self.sample(n)
        pert = self._new_perturbation(n)
        c = self.cost_weights(self.theta + pert, x, t)
        if n % self.tau_x == 0 or n % self.tau_theta == 0:
            self.c0 = self.cost_weights(self.theta, x, t)
        self.integrate_weights((c - self.c0) / self.amp2, pert)
        if (n + 1) % self.tau_theta == 0:
            self.update()
        self.step = n + 1

    def _step_nodes(self):
        n = self.step
        x, t = self.sample(n)
        dz = self._new_perturbation(n)
        hs = self.forward_nodes(x, dz)
        c = float(np.mean((hs[-1] - t) ** 2))
        if n % self.tau_x == 0 or n % self.tau_theta == 0:
            self.c0 = float(np.mean((self.forward_nodes(x, None)[-1] - t) ** 2))
        self.integrate_nodes((c - self.c0) / self.amp2, dz, hs)
        if (n + 1) % self.tau_theta == 0:
            self.update()
        self.step = n + 1
