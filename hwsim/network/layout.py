"""The network as the chip holds it: a stack of stages and one flat parameter vector theta.

A stage maps the activity h[l] (a flat vector, a C x H x W image flattened channel-major) to
h[l + 1]. Three kinds:

* dense: h[l+1] = act(W h[l] + b), W an n_out x n_in array (one MVM per inference);
* conv: a k x k convolution, stride 1, no padding. The kernel is a C_out x (C_in k k) array
  and each of the H_out W_out output positions is one MVM of it on the k x k patch of the
  input (so the latency of a conv layer scales with its positions);
* maxpool: the maximum over non-overlapping size x size windows (floor mode), no parameters,
  in the digital periphery.

Flattening is implicit (activities are always flat). Parameters, per parametric stage in
order: the array row-major (row = output channel, column = fan-in index), then the biases.
Conv fan-in index f = (c_in k + ky) k + kx; dense fan-in index = input index.

The kernels read the geometry from ``geom`` (one row per stage, columns G_*) and, for conv
and pool stages, a gather table ``gidx``: the input index of fan-in f at output position
pos is ``(o // P) * geom[IN_STRIDE] + gidx[geom[GOFF] + pos * F + f]`` for output
o = channel * P + pos. A node is one output of a parametric stage (its pre-activation can be
perturbed); ``n_off[l]`` is the first node of stage l.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwsim.kernels.codes import ACTIVATIONS, STAGE_KINDS
from hwsim.kernels.geometry import G_CH_OUT, G_FAN, G_GOFF, G_IN_STRIDE, G_KIND, G_POS, N_GEOM



@dataclass(frozen=True)
class Stage:
    kind: str                          # "dense" | "conv" | "maxpool"
    in_shape: tuple[int, int, int]     # (C, H, W); a dense stage's input is (n, 1, 1)
    out_shape: tuple[int, int, int]
    size: int = 0                      # conv kernel k, pool window; 0 for dense
    activation: str = "linear"

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def has_params(self) -> bool:
        return self.kind != "maxpool"

    @property
    def fan_in(self) -> int:
        """Inputs of one MVM (rows of the stage's array); the window size for a pool."""
        if self.kind == "dense":
            return self.n_in
        if self.kind == "conv":
            return self.in_shape[0] * self.size * self.size
        return self.size * self.size

    @property
    def channels_out(self) -> int:
        """Columns of the stage's array (outputs of one MVM)."""
        return self.n_out if self.kind == "dense" else self.out_shape[0]

    @property
    def positions(self) -> int:
        """MVMs per inference: 1 for dense, H_out x W_out for conv."""
        return 1 if self.kind == "dense" else self.out_shape[1] * self.out_shape[2]

    @property
    def n_weights(self) -> int:
        return self.channels_out * self.fan_in if self.has_params else 0

    @property
    def n_params(self) -> int:
        return self.n_weights + self.channels_out if self.has_params else 0


def dense(n_in: int, n_out: int, activation: str) -> Stage:
    return Stage("dense", (n_in, 1, 1), (n_out, 1, 1), 0, activation)


def conv(in_shape, channels: int, kernel: int, activation: str) -> Stage:
    c, h, w = in_shape
    if kernel > h or kernel > w:
        raise ValueError(f"a {kernel}x{kernel} convolution does not fit a {h}x{w} input")
    return Stage("conv", tuple(in_shape), (channels, h - kernel + 1, w - kernel + 1), kernel, activation)


def maxpool(in_shape, size: int) -> Stage:
    c, h, w = in_shape
    if size > h or size > w:
        raise ValueError(f"a {size}x{size} max-pool does not fit a {h}x{w} input")
    return Stage("maxpool", tuple(in_shape), (c, h // size, w // size), size, "linear")


def _gather(stage: Stage) -> np.ndarray:
    """Input index of fan-in f at output position pos, as a (P, F) table (pool: channel 0)."""
    c, h, w = stage.in_shape
    _, ho, wo = stage.out_shape
    k = stage.size
    oy, ox = np.divmod(np.arange(ho * wo), wo)
    if stage.kind == "conv":
        ci, r = np.divmod(np.arange(c * k * k), k * k)
    else:
        ci, r = np.zeros(k * k, dtype=np.int64), np.arange(k * k)
        oy, ox = oy * k, ox * k
    ky, kx = np.divmod(r, k)
    return (ci[None, :] * h * w + (oy[:, None] + ky[None, :]) * w + ox[:, None] + kx[None, :]).astype(np.int64)


@dataclass
class NetworkLayout:
    stages: tuple[Stage, ...]
    gather: list = field(init=False, repr=False)

    def __post_init__(self):
        self.stages = tuple(self.stages)
        for a, b in zip(self.stages[:-1], self.stages[1:]):
            if a.n_out != b.n_in:
                raise ValueError(f"stage sizes do not chain: {a.n_out} outputs into {b.n_in} inputs")
        w_off, b_off, n_off, off, nodes = [], [], [], 0, 0
        geom = np.zeros((len(self.stages), N_GEOM), dtype=np.int64)
        tables, goff = [], 0
        self.gather = []
        for l, s in enumerate(self.stages):
            n_off.append(nodes)
            if s.has_params:
                w_off.append(off)
                off += s.n_weights
                b_off.append(off)
                off += s.channels_out
                nodes += s.n_out
            else:
                w_off.append(-1)
                b_off.append(-1)
            geom[l, G_KIND] = STAGE_KINDS[s.kind]
            geom[l, G_FAN] = s.fan_in
            geom[l, G_POS] = s.out_shape[1] * s.out_shape[2]
            geom[l, G_CH_OUT] = s.out_shape[0]
            table = None
            if s.kind != "dense":
                table = _gather(s)
                geom[l, G_GOFF] = goff
                goff += table.size
                tables.append(table.ravel())
                if s.kind == "maxpool":
                    geom[l, G_IN_STRIDE] = s.in_shape[1] * s.in_shape[2]
            self.gather.append(table)
        self.w_off = np.array(w_off, dtype=np.int64)
        self.b_off = np.array(b_off, dtype=np.int64)
        self.n_off = np.array(n_off, dtype=np.int64)
        self.n_params = off
        self.n_neurons = nodes
        self.geom = geom
        self.gidx = np.concatenate(tables) if tables else np.zeros(1, dtype=np.int64)
        self.sizes = (self.stages[0].n_in, *(s.n_out for s in self.stages))
        self.sizes_arr = np.array(self.sizes, dtype=np.int64)
        self.activations = tuple(s.activation for s in self.stages)
        self.act_codes = np.array([ACTIVATIONS[a] for a in self.activations], dtype=np.int64)

    @property
    def n_layers(self) -> int:
        """Stages (dense, conv and pool)."""
        return len(self.stages)

    @property
    def is_dense(self) -> bool:
        return all(s.kind == "dense" for s in self.stages)

    @property
    def n_weights(self) -> int:
        return sum(s.n_weights for s in self.stages)

    def weights(self, theta: np.ndarray, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """Views of stage ``layer``'s array (channels_out x fan_in) and biases in ``theta``."""
        s = self.stages[layer]
        if not s.has_params:
            raise ValueError(f"stage {layer} ({s.kind}) has no parameters")
        wo, bo = self.w_off[layer], self.b_off[layer]
        w = theta[wo: wo + s.n_weights].reshape(s.channels_out, s.fan_in)
        return w, theta[bo: bo + s.channels_out]

    def init(self, rng: np.random.Generator, distribution: str, low: float, high: float,
             std: float, bias_low: float | None = None, bias_high: float | None = None) -> np.ndarray:
        theta = np.empty(self.n_params)
        bias_low = low if bias_low is None else bias_low
        bias_high = high if bias_high is None else bias_high
        for l, s in enumerate(self.stages):
            if not s.has_params:
                continue
            w, b = self.weights(theta, l)
            if distribution == "uniform":
                w[...] = rng.uniform(low, high, size=w.shape)
                b[...] = rng.uniform(bias_low, bias_high, size=b.shape)
            elif distribution == "normal":
                w[...] = rng.normal(0.0, std, size=w.shape)
                b[...] = rng.normal(0.0, std, size=b.shape)
            else:  # glorot_uniform (fans of a conv kernel count its k x k taps), zero biases
                fan_out = s.channels_out * (s.size * s.size if s.kind == "conv" else 1)
                limit = np.sqrt(6.0 / (s.fan_in + fan_out))
                w[...] = rng.uniform(-limit, limit, size=w.shape)
                b[...] = 0.0
        return theta

    def describe(self) -> list[dict]:
        """One row per stage: kind, shapes, parameters, nodes, MVMs per inference."""
        return [{"kind": s.kind, "in": s.in_shape, "out": s.out_shape, "params": s.n_params,
                 "nodes": s.n_out if s.has_params else 0,
                 "mvms": s.positions if s.has_params else 0} for s in self.stages]


def dense_layout(sizes, activations) -> NetworkLayout:
    """A multilayer perceptron of layer ``sizes`` (n_in, hidden..., n_out)."""
    return NetworkLayout(tuple(dense(a, b, act) for a, b, act in zip(sizes[:-1], sizes[1:], activations)))


def layout_from_spec(network, n_inputs: int, n_outputs: int, image_shape=None) -> NetworkLayout:
    """The layout of a scenario's ``network`` on a data set of ``n_inputs`` inputs (an image
    of ``image_shape`` = (C, H, W) when it is one) and ``n_outputs`` outputs."""
    if network.layers is None:
        acts = [network.activation] * len(network.hidden) + [network.output_activation]
        return dense_layout((n_inputs, *network.hidden, n_outputs), acts)
    shape = tuple(image_shape) if image_shape is not None else (n_inputs, 1, 1)
    stages, flat = [], image_shape is None
    last = len(network.layers) - 1
    for i, layer in enumerate(network.layers):
        default_act = network.output_activation if i == last else network.activation
        act = getattr(layer, "activation", None) or default_act
        if layer.type == "flatten":
            flat = True
            continue
        if layer.type == "dense":
            units = n_outputs if (i == last and layer.units is None) else layer.units
            s = dense(int(np.prod(shape)), units, act)
            flat = True
        elif flat:
            raise ValueError(f"layer {i + 1} ({layer.type}) needs an image input, but its input is "
                             f"flat (after a dense layer or a data set without image shape)")
        elif layer.type == "conv":
            s = conv(shape, layer.channels, layer.kernel, act)
        else:
            s = maxpool(shape, layer.size)
        stages.append(s)
        shape = s.out_shape
    return NetworkLayout(tuple(stages))


def scenario_layout(scenario) -> NetworkLayout:
    """The layout of a ``ScenarioSpec``'s network on its data set (ValueError when the layers
    do not fit the data). A function here, not a method of the spec, so that the spec layer
    stays schema only; ``.n_params`` and ``.n_neurons`` of the result are P and K."""
    n_in, n_out = scenario.dataset.shape
    return layout_from_spec(scenario.network, n_in, n_out, getattr(scenario.dataset, "image_shape", None))
