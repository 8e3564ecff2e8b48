"""Building a run's chip from its specs and seed: the builder of the engine.

``build_chip(run_spec, seed)`` returns a ``ChipBuild``: the data set, the network layout, the
perturbation generators, the periphery and the device array (hwsim.chip), the inference timing,
the kernel configuration (each group from the builder of its chip component,
hwsim.kernels.state.make_config), the kernel path (hwsim.engine.paths), the kernel's constant
bundles and its initial run state. ``build_scratch`` makes the scratch bundle a path needs.
hwsim.engine.simulation holds what is built and drives it; hwsim.results writes the record.
The data set, layout and initial weights are also what the backprop baseline trains
(hwsim.api.run_backprop): ``dataset_and_layout`` and ``initial_weights`` are shared.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hwsim.chip.broadcast import broadcast_config, broadcast_ideal
from hwsim.chip.cost_unit import cost_unit_config, cost_unit_ideal
from hwsim.chip.devices import DeviceArray, device_in_weight_units, devices_in_play
from hwsim.chip.input_path import input_path_config
from hwsim.chip.integrators import integrator_config, integrators_ideal
from hwsim.chip.periphery import Periphery
from hwsim.chip.perturbation import PerturbationGenerator, generator_config, generator_gains, generators_ideal
from hwsim.chip.timing import InferenceTiming, inference_config, inference_timing, row_map
from hwsim.chip.update_controller import update_controller_config
from hwsim.data import build_dataset
from hwsim.engine import paths
from hwsim.engine.threads import usable_cpus
from hwsim.firmware.mgd import firmware_config
from hwsim.kernels import state as KS
from hwsim.kernels.codes import COSTS, CONSTANT, SGD
from hwsim.kernels.parallel_rows import row_chunks
from hwsim.network.layout import NetworkLayout, layout_from_spec
from hwsim.run_plan import ResolvedRun
from hwsim.seeds import Stream, stream_key, stream_rng


def dataset_and_layout(plan: ResolvedRun, seed: int, data=None):
    """The run's data set (drawn or read; ``data`` instead when given, as the benchmarks'
    synthetic sets) and its network layout: the resolved run's when the data fit it."""
    sc = plan.spec.scenario
    if data is None:
        data = build_dataset(sc.dataset, seed)
    layout = plan.layout
    if (layout.sizes[0], layout.sizes[-1]) != (data.n_inputs, data.n_outputs):
        layout = layout_from_spec(sc.network, data.n_inputs, data.n_outputs, getattr(data, "image_shape", None))
    return data, layout


def initial_weights(layout: NetworkLayout, run_spec, seed: int) -> np.ndarray:
    init = run_spec.scenario.network.init
    return layout.init(stream_rng(seed, Stream.INIT), init.distribution, init.low, init.high, init.std,
                       init.bias_low, init.bias_high)


@dataclass
class ChipBuild:
    """A run's chip at step 0."""

    plan: ResolvedRun                # the resolved run, with the kernel path chosen
    data: object                     # hwsim.data data set (train and test arrays)
    layout: NetworkLayout
    node: bool                       # node perturbation
    n_perturbed: int                 # generators: one per weight and bias, or per neuron
    generator: PerturbationGenerator
    gen_gain: np.ndarray
    periphery: Periphery
    devices: DeviceArray             # holds the weights (theta is devices.w)
    reads_devices: bool              # inference reads drifting or noisy devices
    timing: InferenceTiming
    n_rows: int                      # crossbar rows (row-serial update timing)
    config: np.recarray              # hwsim.kernels.state.CONFIG
    path: paths.PathChoice
    net: KS.Network
    kernel_data: KS.Data
    gens: KS.Generators
    periphery_k: KS.Periphery
    devices_k: KS.Devices
    state: KS.RunState


def build_chip(plan: ResolvedRun, seed: int, force_path: str | None = None, data=None) -> ChipBuild:
    """The chip of the resolved run ``plan`` (hwsim.run_plan: its layout and timing are
    used, not rebuilt) at step 0; ``plan.path`` of the result's ``plan`` names the kernel path.
    ``data`` replaces the scenario's data set (hwsim.bench's synthetic sets)."""
    run_spec = plan.spec
    sc, fw, chip = run_spec.scenario, run_spec.firmware, run_spec.chip
    data, layout = dataset_and_layout(plan, seed, data)
    theta = initial_weights(layout, run_spec, seed)
    p = layout.n_params
    pt = fw.perturbation
    node = pt.target == "nodes"
    n_perturbed = layout.n_neurons if node else p
    generator = PerturbationGenerator(pt.scheme, n_perturbed, pt.amplitude, seed, sparsity=pt.sparsity,
                                      fdma_band=tuple(pt.fdma_band))
    device = device_in_weight_units(chip)
    periphery = Periphery(chip, layout, seed, device.read_noise.additive, device.read_noise.proportional)
    gen_gain = generator_gains(chip, n_perturbed, seed)
    writes, drift, noisy = devices_in_play(chip)
    reads_devices = drift or noisy
    # The device array always exists (its arrays are kernel arguments); it holds theta.
    lean = not (writes or reads_devices) and chip.perturbation.injection == "auxiliary"
    devices = DeviceArray(device, p, seed, controller=chip.update, lean=lean)
    if writes or reads_devices:
        devices.program(theta, t=0.0)
    else:
        devices.w[:] = theta
    timing = plan.timing if layout is plan.layout else inference_timing(chip, layout)
    # The kernel configuration: each group from the builder of its component, once.
    ideal = (not (writes or drift) and generators_ideal(chip) and cost_unit_ideal(chip)
             and broadcast_ideal(chip) and integrators_ideal(chip) and periphery.is_ideal)
    config = KS.make_config({
        "firmware": firmware_config(fw, n_perturbed),
        "scenario": {"cost_code": COSTS[sc.cost], "n_samples": data.x_train.shape[0],
                     "order_seed": stream_key(seed, Stream.ORDER)},
        "generators": generator_config(chip, generator, gen_gain),
        "input_path": input_path_config(chip, layout),
        "inference": inference_config(chip, timing),
        "cost_unit": cost_unit_config(chip, seed),
        "broadcast": broadcast_config(chip),
        "integrators": integrator_config(chip, timing),
        "update_controller": update_controller_config(chip),
        "devices": {"devices": int(writes), "drift": int(drift)},
        "paths": {"chip": int(not ideal)},
    })
    path = paths.select_path(config, layout, force_path)
    plan = dataclasses.replace(plan, path=path.name)
    row_of, n_rows = row_map(layout)
    if chip.update.parallelism != "row_serial":
        row_of = row_of[:1]          # only row-serial updates look rows up
    dv = devices
    return ChipBuild(
        plan=plan, data=data, layout=layout, node=node, n_perturbed=n_perturbed, generator=generator, gen_gain=gen_gain,
        periphery=periphery, devices=devices, reads_devices=reads_devices, timing=timing, n_rows=n_rows,
        config=config, path=path,
        net=KS.network_of(layout, periphery.n_off, row_of),
        kernel_data=KS.Data(data.x_train, data.y_train),
        gens=KS.Generators(generator.table_i, generator.table_f, generator.table_g, gen_gain),
        periphery_k=KS.Periphery(periphery.config, periphery.neuron_par),
        devices_k=KS.Devices(dv.dev, dv.stuck, dv.t_prog, dv.pulses, dv.config),
        state=initial_state(run_spec, layout, config, path, devices.w, n_perturbed, node))


def initial_state(run_spec, layout: NetworkLayout, config, path: paths.PathChoice, theta: np.ndarray,
                  n_perturbed: int, node: bool) -> KS.RunState:
    """The kernel's run state at step 0 (each path gets the arrays it uses; others hold one
    element)."""
    fw, chip = run_spec.firmware, run_spec.chip
    p = layout.n_params
    cfg = config[0]
    # Optimiser state only for an optimiser that keeps one (plain SGD at a constant rate
    # does not): large networks keep no P-sized array they do not use.
    plain_sgd = cfg["opt_kind"] == SGD and cfg["lr_kind"] == CONSTANT
    width = int(layout.sizes_arr.max())
    # The node-fold path's first-layer products queued until the update (a row per sample).
    rows = min(64, fw.tau_theta // fw.tau_x + 2) if path.name == "node_fold" else 0
    return KS.RunState(
        theta=theta, g_int=np.zeros(p), opt_state=np.zeros((2, 1 if plain_sgd else p)),
        nacc=np.zeros(n_perturbed if node else 1),
        window=np.zeros((rows, layout.sizes[1] + layout.sizes[0])),
        z1=np.zeros(layout.sizes[1]),
        h_base=np.zeros((layout.n_layers + 1, width)),
        theta_old=np.zeros(1 if chip.update.blocking else p),     # non-blocking updates only
        # the generators' outputs, for no perturbation index yet (pert_k = -1)
        pert=np.zeros(n_perturbed), pert_k=np.full(1, -1, dtype=np.int64),
        # the sign path's signs, padded to whole hash words of 64
        psign=np.zeros(-(-n_perturbed // 64) * 64 if path.name == "sign" else 64, dtype=np.int8),
        pert2=np.zeros(n_perturbed), pert2_k=np.full(1, -1, dtype=np.int64),
        pert_scale=np.ones(2), order=np.zeros(config[0]["n_samples"], dtype=np.int64),
        counters=KS.new_counters(), floats=KS.new_floats())


def build_scratch(run_spec, layout: NetworkLayout, config, path: paths.PathChoice, node: bool,
                  n_rows: int) -> tuple[KS.Scratch, int]:
    """The scratch bundle a path reads, and the number of row chunks its kernels split into."""
    fw = run_spec.firmware
    width = int(layout.sizes_arr.max())
    k1 = int(layout.sizes[1])
    # The first stage's products of the samples due before theta changes: a sample per row,
    # at most about 4 MB.
    rows = max(1, min(64, -(-fw.tau_theta // fw.tau_x) + 1, (4 << 20) // (8 * k1)))
    shortcut = path.name != "reference"
    h = np.zeros((layout.n_layers + 1, width))
    scratch = KS.Scratch(
        h=h,
        h_unpert=np.zeros_like(h) if path.name == "sign" else np.zeros((1, 1)),
        wbuf=np.zeros(layout.n_params if config[0]["drift"] else 1),
        wpert=np.zeros(layout.n_params if node and not shortcut else 1),
        h_pert=np.zeros_like(h) if node and not shortcut else np.zeros((1, 1)),
        rowmax=np.zeros(n_rows, dtype=np.int64),
        zbatch=np.zeros((rows, k1) if shortcut else (1, k1)),
        zmeta=np.full(3, -1, dtype=np.int64),
        zidx=np.zeros(rows if shortcut else 1, dtype=np.int64))
    # At most the usable CPUs (a region with more threads than cores only waits); whether the
    # run uses them is measured as it goes (hwsim.engine.threads).
    cpus = usable_cpus()
    return scratch, min(row_chunks(layout.sizes_arr), cpus) if shortcut and cpus > 1 else 1
