"""The loop a researcher writes first: a Python loop over steps, numpy inside each step.

Discrete MGD with random +-a codes, weight perturbation, ReLU hidden layers, linear output,
MSE, the DESIGN section 5 time constants. Used only as the yardstick for hwsim's kernels
(benchmarks/throughput.py measures both in the same process).
"""

from __future__ import annotations

import numpy as np


class PlainMGD:
    def __init__(self, sizes, x, y, amplitude=0.01, eta=0.01, tau_x=10, tau_theta=100, seed=0,
                 nodes=False):
        self.nodes = nodes
        self.n_nodes = sum(sizes[1:])
        self.rng = np.random.default_rng(seed)
        self.ws = [self.rng.uniform(-np.sqrt(6 / (a + b)), np.sqrt(6 / (a + b)), size=(b, a))
                   for a, b in zip(sizes[:-1], sizes[1:])]
        self.bs = [np.zeros(b) for b in sizes[1:]]
        self.gw = [np.zeros_like(w) for w in self.ws]
        self.gb = [np.zeros_like(b) for b in self.bs]
        self.n_params = sum(w.size + b.size for w, b in zip(self.ws, self.bs))
        self.a = amplitude / np.sqrt(self.n_nodes if nodes else self.n_params)
        self.amp2 = amplitude ** 2
        self.x, self.y = x, y
        self.eta, self.tau_x, self.tau_theta = eta, tau_x, tau_theta
        self.step = 0
        self.c0 = 0.0
        self.order = self.rng.permutation(len(x))

    def cost(self, ws, bs, x, t):
        h = x
        for l, (w, b) in enumerate(zip(ws, bs)):
            h = w @ h + b
            if l < len(ws) - 1:
                h = np.maximum(h, 0.0)
        return float(np.mean((h - t) ** 2))

    def _sample(self, n):
        """The sample of step n: a new shuffle each epoch."""
        s = n // self.tau_x
        if s % len(self.x) == 0 and n % self.tau_x == 0:
            self.order = self.rng.permutation(len(self.x))
        i = self.order[s % len(self.x)]
        return self.x[i], self.y[i]

    def _end_step(self, n):
        """Update every tau_theta steps, then move on."""
        if (n + 1) % self.tau_theta == 0:
            for p, g in zip(self.ws + self.bs, self.gw + self.gb):
                p -= self.eta * g
                g[...] = 0.0
        self.step += 1

    def run(self, n_steps):
        if self.nodes:
            return self._run_nodes(n_steps)
        for _ in range(n_steps):
            n = self.step
            x, t = self._sample(n)
            dws = [self.a * (2.0 * self.rng.integers(0, 2, size=w.shape) - 1.0) for w in self.ws]
            dbs = [self.a * (2.0 * self.rng.integers(0, 2, size=b.shape) - 1.0) for b in self.bs]
            c = self.cost([w + d for w, d in zip(self.ws, dws)], [b + d for b, d in zip(self.bs, dbs)], x, t)
            if n % self.tau_x == 0 or n % self.tau_theta == 0:
                self.c0 = self.cost(self.ws, self.bs, x, t)
            k = (c - self.c0) / self.amp2
            for g, d in zip(self.gw + self.gb, dws + dbs):
                g += k * d
            self._end_step(n)

    def _forward_nodes(self, x, node_pert):
        hs = [x]
        h = x
        for l, (w, b) in enumerate(zip(self.ws, self.bs)):
            z = w @ h + b
            if node_pert is not None:
                z = z + node_pert[l]
            h = np.maximum(z, 0.0) if l < len(self.ws) - 1 else z
            hs.append(h)
        return hs

    def _run_nodes(self, n_steps):
        """Node perturbation, written plainly: per step, outer products node x activity."""
        for _ in range(n_steps):
            n = self.step
            x, t = self._sample(n)
            dz = [self.a * (2.0 * self.rng.integers(0, 2, size=b.shape) - 1.0) for b in self.bs]
            hs = self._forward_nodes(x, dz)
            c = float(np.mean((hs[-1] - t) ** 2))
            if n % self.tau_x == 0 or n % self.tau_theta == 0:
                self.c0 = float(np.mean((self._forward_nodes(x, None)[-1] - t) ** 2))
            k = (c - self.c0) / self.amp2
            for l, d in enumerate(dz):
                self.gw[l] += k * np.outer(d, hs[l])
                self.gb[l] += k * d
            self._end_step(n)
