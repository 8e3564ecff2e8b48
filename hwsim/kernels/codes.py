"""Every integer code the kernels branch on, with the spec name it stands for.

The kernels take plain integers (numba compiles an integer comparison; a string would not do
in a hot loop); the specs use names. Each table below maps spec names to codes, and each code
is a module constant the kernels import by name, so no kernel compares against a bare number.
This module imports neither numba nor numpy: the spec layer reads it without compiling
anything (the role stumpy's ``config.py`` plays for its tunables).
"""

# Firmware mode (firmware.mode): a discrete update every tau_theta steps, or analog
# integration and update at every step.
DISCRETE, ANALOG = 0, 1
MODES = {"discrete": DISCRETE, "analog": ANALOG}

# Perturbation schemes (firmware.perturbation.scheme; hwsim.kernels.perturb).
TDMA, CDMA, WALSH, FDMA, GAUSSIAN = 0, 1, 2, 3, 4
SCHEMES = {"tdma": TDMA, "cdma": CDMA, "walsh": WALSH, "fdma": FDMA, "gaussian": GAUSSIAN}

# What a forward pass adds the perturbation to: nothing, the weights and biases, or the
# neurons' pre-activations (firmware.perturbation.target).
NO_PERT, WEIGHT_PERT, NODE_PERT = 0, 1, 2
TARGETS = {"parameters": WEIGHT_PERT, "nodes": NODE_PERT}

# Neuron activations (network.activation / network.output_activation).
LINEAR, SIGMOID, TANH, RELU = 0, 1, 2, 3
ACTIVATIONS = {"linear": LINEAR, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU}

# Costs (scenario.cost).
MSE, CROSS_ENTROPY = 0, 1
COSTS = {"mse": MSE, "cross_entropy": CROSS_ENTROPY}

# Network stage kinds (network.layers[].kind; hwsim.kernels.geometry holds the geometry table).
DENSE, CONV, POOL = 0, 1, 2
STAGE_KINDS = {"dense": DENSE, "conv": CONV, "maxpool": POOL}

# Optimisers turning G_int into a change of the weights (firmware.optimizer.kind).
SGD, MOMENTUM, NESTEROV, ADAM = 0, 1, 2, 3
OPTIMIZERS = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adam": ADAM}

# Schedules of the learning rate and of the perturbation amplitude.
CONSTANT, STEP, COSINE, INVERSE_TIME = 0, 1, 2, 3
SCHEDULES = {"constant": CONSTANT, "step": STEP, "cosine": COSINE, "inverse_time": INVERSE_TIME}

# Device laws (chip.device.law; hwsim.kernels.devices) and their rounding of pulse counts.
IDEAL, QUANTISED, CONSTANT_STEP, LINEAR_STEP, SOFT_BOUNDS, EXP_STEP, POW_STEP = range(7)
LAWS = {"ideal": IDEAL, "quantised": QUANTISED, "constant_step": CONSTANT_STEP,
        "linear_step": LINEAR_STEP, "soft_bounds": SOFT_BOUNDS, "exp_step": EXP_STEP,
        "pow_step": POW_STEP}
PULSED_LAWS = (CONSTANT_STEP, LINEAR_STEP, SOFT_BOUNDS, EXP_STEP, POW_STEP)
ROUND_DETERMINISTIC, ROUND_STOCHASTIC = 0, 1
ROUNDINGS = {"deterministic": ROUND_DETERMINISTIC, "stochastic": ROUND_STOCHASTIC}

# How the update controller writes the devices (chip.update.parallelism): all at once, one
# crossbar row after another, one device after another.
PARALLEL, ROW_SERIAL, SERIAL = 0, 1, 2
PARALLELISM = {"parallel": PARALLEL, "row_serial": ROW_SERIAL, "serial": SERIAL}

# Kernel paths (hwsim.engine.paths chooses one per run, hwsim.kernels.paths holds them).
REFERENCE, SIGN, NODE_FOLD = 0, 1, 2
PATHS = {"reference": REFERENCE, "sign": SIGN, "node_fold": NODE_FOLD}


def name_of(table: dict, code: int) -> str:
    """The spec name of ``code`` in ``table`` (for messages and records)."""
    for name, value in table.items():
        if value == code:
            return name
    raise KeyError(code)
