"""The kernel interface: what a kernel call takes, as a few named bundles.

A call of a path driver (hwsim.kernels.paths) is
``driver(config, net, data, gens, periphery, devices, state, scratch, chunks, n_steps, cycle_limit)``:

* ``config``: one numpy record (a structured array of length 1) with a named field per setting,
  ``CONFIG``. Each group of fields is filled by one builder, named beside the group; the
  builders' outputs are joined by ``make_config``, which refuses a field filled twice or not at
  all (so no module overwrites another's settings).
* ``net``, ``data``, ``gens``, ``periphery``, ``devices``: constants of the run (``devices``
  also holds the devices' programming times and pulse counts, which are run state).
* ``state``: ``RunState``, everything that changes while the chip runs and is needed to
  continue it exactly; its counters and float accumulators are records with named fields
  (``COUNTERS``, ``FLOATS``).
* ``scratch``: ``Scratch``, rewritten before it is read, or a cache keyed and rebuilt on a miss.

Why numpy records and namedtuples (not positional arrays indexed by constants, jitclass or
structref): numba compiles ``cfg.tau_p`` on a record to the same load as ``icfg[I_TAU_P]``, a
namedtuple of arrays holds the same pointers as loose arguments, both keep ``cache=True``
working (jitclass cannot be cached and structref needs boilerplate per type), and both are
plain numpy objects in Python: they pickle, print and go into checkpoints (np.save stores a
structured dtype without pickle). What the bundles do cost is reference counting: numba counts
a reference for every array taken out of a bundle and every array argument of a call, which put
the split kernel 10 % behind the single kernel it replaced on B1; the path drivers are
therefore compiled without reference counting (hwsim.kernels.refcount), and are now as fast or
faster (docs/performance.md).

The kinds of the arrays (run state, scratch, constant) are declared here once: the engine's
checkpoint members, pickling and scratch reset are derived from these declarations
(hwsim.engine.simulation.STATE_MEMBERS).
"""

from collections import namedtuple

import numpy as np

I8, F8, U8 = np.int64, np.float64, np.uint64

# Configuration, by the builder that fills each group (hwsim.engine.build joins them).
CONFIG_GROUPS = {
    # firmware (hwsim.firmware.mgd): the MGD algorithm's settings
    "firmware": (("mode", I8), ("tau_p", I8), ("tau_x", I8), ("tau_theta", I8), ("node", I8),
                 ("node_faithful", I8), ("eta", F8), ("cost_change_clip", F8), ("hp_a", F8), ("g_scale", F8),
                 ("leak", F8), ("opt_kind", I8), ("lr_kind", I8), ("amp_kind", I8), ("beta1", F8),
                 ("beta2", F8), ("opt_eps", F8), ("lr_total", F8), ("lr_p1", F8), ("lr_p2", F8),
                 ("amp_total", F8), ("amp_p1", F8), ("amp_p2", F8)),
    # the scenario's data and cost (hwsim.engine.build)
    "scenario": (("cost_code", I8), ("n_samples", I8), ("order_seed", U8)),
    # perturbation generators (hwsim.chip.perturbation)
    "generators": (("scheme", I8), ("period", I8), ("entry_amp", F8), ("sparsity", F8),
                   ("perturb_seed", U8), ("gen_mismatch", I8), ("gen_bits", I8), ("gen_step", F8),
                   ("gen_limit", F8), ("inject_device", I8), ("dw_ctrl", F8)),
    # input path (hwsim.chip.input_path)
    "input_path": (("load_cycles", I8), ("double_buffer", I8)),
    # inference pipeline and clock (hwsim.chip.timing)
    "inference": (("cpi", I8), ("latency", I8), ("baseline_cycles", I8), ("clock", F8)),
    # cost unit (hwsim.chip.cost_unit)
    "cost_unit": (("baseline_noisy", I8), ("noise_sigma", F8), ("noise_seed", U8), ("cost_adc", I8),
                  ("cost_adc_step", F8), ("cost_adc_range", F8)),
    # broadcast network (hwsim.chip.broadcast)
    "broadcast": (("bcast_bits", I8), ("bcast_step", F8), ("bcast_range", F8), ("bcast_noise", F8),
                  ("bcast_latency", I8)),
    # integrators (hwsim.chip.integrators)
    "integrators": (("int_bits", I8), ("int_step", F8), ("int_sat", F8), ("int_leak_rate", F8),
                    ("delay_steps", I8)),
    # update controller (hwsim.chip.update_controller)
    "update_controller": (("parallelism", I8), ("pulse_cycles", I8), ("update_overhead", I8),
                          ("blocking", I8)),
    # devices in play (hwsim.chip.devices): written by updates, drifting when read
    "devices": (("devices", I8), ("drift", I8)),
    # the modelled circuits: 0 on the ideal chip (hwsim.engine.paths)
    "paths": (("chip", I8),),
}
CONFIG = np.dtype([field for group in CONFIG_GROUPS.values() for field in group])

# The kernel's counters (run state): steps, cycles by kind, actions; the results read them by
# name (hwsim.engine.simulation.Simulation.counts).
COUNTERS = np.dtype([(name, I8) for name in (
    "step",             # steps done
    "cycles",           # chip cycles elapsed
    "order_epoch",      # epoch whose permutation is in state.order (-1: none yet)
    "sample",           # data index presented at the last step
    "baselines",        # baseline (unperturbed) inferences measured
    "updates",          # weight updates applied
    "diverged",         # step whose cost was not finite (-1: none)
    "infer_cycles",     # cycles inferring
    "baseline_cycles",  # cycles measuring baselines
    "wait_cycles",      # cycles waiting for inputs
    "update_cycles",    # cycles in blocking update phases
    "stall_cycles",     # cycles stalled behind a non-blocking update
    "pert_updates",     # new perturbations drawn by the generators
    "input_ready",      # cycle at which the next sample is loaded (double buffering)
    "apply_at",         # cycle at which a non-blocking update is in place
    "c0_on_apply",      # 1: the baseline is re-measured when that update is in place
    "writes",           # device writes that are not pulse-counted
    "samples",          # samples presented
    "window",           # node sums queued in state.window
)])
# Float run state: the baseline cost, the analog high-pass, the cost sums of the observer.
FLOATS = np.dtype([(name, F8) for name in ("c0", "c_prev", "ct_prev", "cost_sum", "cost_count")])

# Constants of the run.
Network = namedtuple("Network", "sizes w_off b_off n_off acts geom gidx row_of")
Data = namedtuple("Data", "X Y")
Generators = namedtuple("Generators", "tab_i tab_f tab_g gain")
# The periphery (hwsim.chip.periphery): its PERIPHERY_CONFIG record (hwsim.kernels.forward) and
# the per-neuron variation.
Periphery = namedtuple("Periphery", "config neuron_par")
# The device array (hwsim.chip.devices.DeviceArray): per-device constants, its DEVICE_CONFIG
# record (hwsim.kernels.devices), and two run-state arrays, the programming times and the
# pulse counts.
Devices = namedtuple("Devices", "dev stuck t_prog pulses config")
DEVICE_RUN_FIELDS = ("t_prog", "pulses")

# Run state.
RunState = namedtuple("RunState", (
    "theta",        # the weights: the devices' stored states (the same array as DeviceArray.w)
    "g_int",        # the integrators, one per weight and bias
    "opt_state",    # optimiser state, float64[2, P] (one column for plain SGD)
    "nacc",         # node sums not yet folded (node perturbation)
    "window",       # node perturbation's first-stage products queued until the update
    "z1",           # the first stage's unperturbed product W_1 x + b_1, reused per sample
    "h_base",       # the unperturbed activity at the last baseline (node perturbation)
    "theta_old",    # the weights inference uses while a non-blocking update is written
    "pert",         # theta~ as the generators emit it, for index pert_k[0]
    "pert_k",
    "psign",        # the sign path's int8 signs of theta~(pert_k[0])
    "pert2",        # the generators' output an integrator without delay compensation uses
    "pert2_k",
    "pert_scale",   # amplitude schedule factors of pert and pert2
    "order",        # the permutation of the current epoch (cached, with counters.order_epoch)
    "counters",     # COUNTERS record
    "floats",       # FLOATS record
))
Scratch = namedtuple("Scratch", (
    "h",            # layer activities of the last pass
    "h_unpert",     # the sign path's unperturbed activities
    "wbuf",         # the weights as last read from drifting devices
    "wpert",        # node perturbation's per-weight products
    "h_pert",       # the perturbed pass's activity (faithful node perturbation)
    "rowmax",       # pulses per crossbar row in an update (row-serial timing)
    "zbatch",       # first-stage products of the samples due before theta changes
    "zmeta",        # their key: (theta version, first sample, count)
    "zidx",         # their data indices (so that the step allocates nothing)
))


def network_of(layout, n_off=None, row_of=None) -> Network:
    """The ``Network`` bundle of a NetworkLayout (hwsim.network.layout), for calling the kernels
    outside a Simulation (tests, profiling). ``n_off`` defaults to the layout's node offsets;
    ``row_of`` (each parameter's crossbar row, hwsim.chip.timing.row_map) to a one-entry array,
    as a run that does not time row-serial updates holds it."""
    if n_off is None:
        n_off = layout.n_off
    if row_of is None:
        row_of = np.zeros(1, dtype=np.int64)
    return Network(layout.sizes_arr, layout.w_off, layout.b_off, np.asarray(n_off, dtype=np.int64),
                   layout.act_codes, layout.geom, layout.gidx, np.asarray(row_of, dtype=np.int64))


def make_config(parts: dict) -> np.ndarray:
    """The config record from each builder's fields: ``parts`` maps a group of CONFIG_GROUPS to
    a {field: value} dict holding exactly that group's fields."""
    if set(parts) != set(CONFIG_GROUPS):
        raise ValueError(f"config groups: missing {sorted(set(CONFIG_GROUPS) - set(parts))}, "
                         f"unknown {sorted(set(parts) - set(CONFIG_GROUPS))}")
    config = record(CONFIG)
    for group, fields in CONFIG_GROUPS.items():
        values = parts[group]
        names = {name for name, _ in fields}
        if set(values) != names:
            raise ValueError(f"config group {group}: missing {sorted(names - set(values))}, "
                             f"unknown {sorted(set(values) - names)}")
        for name, value in values.items():
            config[0][name] = value
    return config


def record(dtype: np.dtype) -> np.recarray:
    """A zeroed record of ``dtype`` (a structured array of length 1, viewed as a recarray so
    that ``r[0].field`` reads and writes the field in Python too: the kernels run unchanged
    under NUMBA_DISABLE_JIT=1, as the coverage job of .ci/run does)."""
    return np.zeros(1, dtype=dtype).view(np.recarray)


def new_counters() -> np.ndarray:
    counters = record(COUNTERS)
    counters[0]["order_epoch"] = -1
    counters[0]["diverged"] = -1
    return counters


def new_floats() -> np.ndarray:
    return record(FLOATS)
