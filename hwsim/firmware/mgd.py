"""Turn the firmware and chip specs into the MGD kernel's configuration arrays."""

from __future__ import annotations

import numpy as np

from hwsim.kernels import mgd_block as K
from hwsim.network.batch import COSTS


def gradient_scale(firmware, n_params: int) -> float:
    """The factor that turns C~ * theta~ into G (DESIGN section 1, both conventions).

    vector_norm: 1/amplitude^2, so E[G_int after T steps] = (T/P) grad C.
    per_parameter_variance: 1/sigma^2 with sigma^2 = amplitude^2/P, divided by tau_theta in
    discrete mode (G = (1/tau_theta) sum C~ theta~ / sigma^2, unbiased at each update); the
    analog low-pass already averages, so no 1/tau_theta there.
    """
    amp2 = firmware.perturbation.amplitude ** 2
    if firmware.normalisation == "vector_norm":
        return 1.0 / amp2
    scale = n_params / amp2
    if firmware.mode == "discrete":
        scale /= firmware.tau_theta
    return scale


def kernel_config(run_spec, generator, n_params: int, n_samples: int):
    """(icfg, fcfg) arrays for hwsim.kernels.mgd_block.mgd_block."""
    fw, chip, sc = run_spec.firmware, run_spec.chip, run_spec.scenario
    icfg = np.zeros(K.N_ICFG, dtype=np.int64)
    icfg[K.I_MODE] = 0 if fw.mode == "discrete" else 1
    icfg[K.I_SCHEME] = generator.code
    icfg[K.I_TAU_P] = fw.tau_p
    icfg[K.I_TAU_X] = fw.tau_x
    icfg[K.I_TAU_THETA] = fw.tau_theta
    icfg[K.I_COST] = COSTS[sc.cost]
    icfg[K.I_CPI] = chip.inference.step_cycles  # overwritten with the derived II by the engine
    icfg[K.I_BASELINE_CYCLES] = chip.inference.baseline_cycles
    icfg[K.I_BASELINE_NOISY] = int(chip.cost_unit.baseline_noisy)
    icfg[K.I_PERIOD] = generator.period
    icfg[K.I_N_SAMPLES] = n_samples
    fcfg = np.zeros(K.N_FCFG, dtype=np.float64)
    fcfg[K.F_ENTRY_AMP] = generator.entry_amp
    fcfg[K.F_SPARSITY] = generator.sparsity
    fcfg[K.F_ETA] = fw.eta
    fcfg[K.F_CLIP] = fw.cost_change_clip
    fcfg[K.F_HP_A] = fw.tau_hp / (fw.tau_hp + 1.0)
    fcfg[K.F_NOISE_SIGMA] = chip.cost_unit.noise_sigma
    fcfg[K.F_G_SCALE] = gradient_scale(fw, n_params)
    fcfg[K.F_LEAK] = fw.tau_theta / (fw.tau_theta + 1.0)
    fcfg[K.F_CLOCK] = chip.clock_period
    # Circuits off unless the chip says otherwise (the chip path sets them, see chip_circuits).
    fcfg[K.F_INT_SAT] = float("inf")
    return icfg, fcfg


def optimizer_config(firmware):
    """(ocfg_i, ocfg_f) for the kernel: optimiser and the two schedules (hwsim.kernels.optim)."""
    from hwsim.kernels.optim import OPTIMIZERS

    opt = firmware.optimizer
    lr_code, lr_total, lr_p1, lr_p2 = firmware.learning_rate_schedule.kernel_params()
    amp_code, amp_total, amp_p1, amp_p2 = firmware.amplitude_schedule.kernel_params()
    ocfg_i = np.array([OPTIMIZERS[opt.kind], lr_code, amp_code], dtype=np.int64)
    ocfg_f = np.array([opt.beta, opt.beta2, opt.eps, lr_total, lr_p1, lr_p2,
                       amp_total, amp_p1, amp_p2], dtype=np.float64)
    return ocfg_i, ocfg_f


def analog_signal_warnings(firmware) -> list[str]:
    """Analog MGD that can never learn, one line per problem (for hwsim.spec.advice).

    The analog high-pass is reset whenever a new sample is presented (the input switching is
    not a cost change), so a perturbation-driven cost change passes only when the
    perturbation changes while the same sample is presented: some multiple of tau_p must fall
    inside a sample's tau_x steps. When tau_p is a multiple of tau_x (tau_x = 1 above all),
    C~ carries no gradient (exactly 0 on an ideal chip) and the weights never learn, whatever
    eta. Time constants not yet resolved to steps are not checked."""
    if firmware.algorithm != "mgd" or firmware.mode != "analog":
        return []
    tau_p, tau_x = firmware.tau_p, firmware.tau_x
    if not (isinstance(tau_p, int) and isinstance(tau_x, int)) or tau_p % tau_x:
        return []
    return [f"firmware.tau_x: analog MGD resets its cost high-pass at every new sample, and the "
            f"perturbation changes only when the sample does (tau_p = {tau_p} is a multiple of "
            f"tau_x = {tau_x}), so C~ never holds a perturbation-driven cost change and the weights "
            f"never learn, whatever eta; present each sample for several perturbations (e.g. "
            f"tau_x: {10 * tau_p} with tau_p: {tau_p}) or use mode: discrete"]
