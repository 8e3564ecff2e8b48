"""The plain numpy loop of benchmark B6: discrete weight-perturbation MGD on a CNN.

The yardstick of B6, as ``hwsim.bench.plain.PlainMGD`` is of B1-B4 (whose loop, sampling,
signs, integration and update it inherits): a Python loop over steps, numpy inside each step,
with the network's inference written as a researcher writes a CNN in numpy:

  conv (k x k, stride 1, no padding): im2col, the input's k x k patches gathered into a
          (positions x C_in k k) matrix by one fancy index, then one matmul with the
          (C_out x C_in k k) kernel array, plus the biases, then the activation;
  maxpool: the elementwise maximum of the size x size strided views of the (C, H, W) image
          (floor mode); ten times faster here than a reshape to (C, H_out, size, W_out, size)
          windows and ``max(axis=(2, 4))``, which copies a non-contiguous slice;
  dense:  one matrix-vector product.

Activities are flat and channel-major, and the parameters are hwsim's flat vector (per
parametric stage the C_out x fan-in array, fan-in index (c_in k + ky) k + kx, then the
biases: hwsim.network.layout), so ``from_simulation(sim, same_streams=True)`` can take
hwsim's initial weights and random streams and must then reproduce its weights step for step
(tests/test_bench.py). The cost is hwsim's: MSE, or cross entropy -sum t log softmax(y).
"""

from __future__ import annotations

import numpy as np

from hwsim.bench.plain import PlainMGD


class PlainCNN(PlainMGD):
    """Discrete weight-perturbation MGD, SGD, on a network of conv, maxpool and dense stages."""

    def __init__(self, layout, x, y, theta, *, amplitude, eta, tau_p, tau_x, tau_theta, cost="mse", seed=0,
                 perturbation=None, order=None):
        if cost not in ("mse", "cross_entropy"):
            raise ValueError(f"the plain CNN loop computes mse or cross_entropy (got {cost!r})")
        if theta.shape != (layout.n_params,):
            raise ValueError(f"theta has shape {theta.shape}; the network has {layout.n_params} parameters")
        # PlainMGD's loop state (weight perturbation); only the stage list differs.
        self.sizes = tuple(int(s) for s in layout.sizes)
        self.nodes = False
        self.node_slices = []
        self._start(x, y, theta, layout.n_params, amplitude=amplitude, eta=eta, tau_p=tau_p, tau_x=tau_x,
                    tau_theta=tau_theta, seed=seed, perturbation=perturbation, order=order)
        self.cross_entropy = cost == "cross_entropy"
        self.stages = []
        for l, s in enumerate(layout.stages):
            act = {"relu": True, "linear": False}.get(s.activation)
            if act is None:
                raise ValueError(f"the plain CNN loop has ReLU and linear stages (stage {l}: {s.activation})")
            if s.kind == "maxpool":
                self.stages.append(("pool", s.in_shape, s.out_shape, s.size))
                continue
            w = slice(int(layout.w_off[l]), int(layout.w_off[l]) + s.n_weights)
            b = slice(int(layout.b_off[l]), int(layout.b_off[l]) + s.channels_out)
            gather = layout.gather[l] if s.kind == "conv" else None
            self.stages.append((s.kind, (s.channels_out, s.fan_in), (w, b, gather), act))

    @classmethod
    def from_simulation(cls, sim, same_streams: bool = False, seed: int = 0) -> "PlainCNN":
        from hwsim.kernels.rng import permutation_into

        fw, sc = sim.run_spec.firmware, sim.run_spec.scenario
        if (fw.mode != "discrete" or fw.normalisation != "vector_norm" or fw.optimizer.kind != "sgd"
                or fw.perturbation.target != "weights" or sim.config[0]["chip"]):
            raise ValueError("the plain CNN loop is discrete weight-perturbation MGD with SGD and "
                             "vector_norm on the ideal chip")
        perturbation = order = None
        if same_streams:
            perturbation = sim.generator.vector
            order_seed, n = sim.config[0]["order_seed"], sim.data.x_train.shape[0]

            def order(epoch):
                out = np.empty(n, dtype=np.int64)
                permutation_into(order_seed, epoch, out)
                return out
        return cls(sim.layout, sim.data.x_train, sim.data.y_train, sim.theta.copy(),
                   amplitude=fw.perturbation.amplitude, eta=fw.eta, tau_p=fw.tau_p, tau_x=fw.tau_x,
                   tau_theta=fw.tau_theta, cost=sc.cost, seed=seed, perturbation=perturbation, order=order)

    def output(self, theta, x):
        """The network's output with parameters ``theta`` on one sample."""
        h = x
        for kind, shape, where, act in self.stages:
            if kind == "pool":
                (c, hi, wi), (_, ho, wo), k = shape, where, act
                v = h.reshape(c, hi, wi)
                m = v[:, 0:ho * k:k, 0:wo * k:k]
                for dy in range(k):
                    for dx in range(k):
                        if dy or dx:
                            m = np.maximum(m, v[:, dy:ho * k:k, dx:wo * k:k])
                h = m.ravel()
                continue
            w, b, gather = where
            wl = theta[w].reshape(shape)
            if kind == "conv":
                z = wl @ h[gather].T + theta[b][:, None]      # im2col: (positions, fan-in) patches
                z = z.ravel()                                 # channel-major, as hwsim's activity
            else:
                z = wl @ h + theta[b]
            h = np.maximum(z, 0.0) if act else z
        return h

    def cost_weights(self, theta, x, t):
        y = self.output(theta, x)
        if not self.cross_entropy:
            return float(np.mean((y - t) ** 2))
        m = y.max()
        lse = m + np.log(np.sum(np.exp(y - m)))
        return float(np.sum(t * (lse - y)))
