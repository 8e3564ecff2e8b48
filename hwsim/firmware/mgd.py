"""The MGD firmware's settings as the kernel's configuration (hwsim.kernels.state), and the
firmware-level checks of hwsim.advice. The algorithm itself runs in hwsim.kernels.paths."""

from __future__ import annotations

from hwsim.firmware.optimizers import schedule_params
from hwsim.kernels.codes import MODES, OPTIMIZERS


def gradient_scale(firmware, n_params: int) -> float:
    """The factor that turns C~ * theta~ into G (docs/firmware.md, both conventions).

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


def firmware_config(firmware, n_perturbed: int) -> dict:
    """The firmware's configuration of the kernel (hwsim.kernels.state, group "firmware"):
    mode, time constants, perturbation target, learning rate, AC coupling, normalisation, and
    the optimiser with its learning-rate and amplitude schedules (hwsim.kernels.optim)."""
    fw = firmware
    pt, opt = fw.perturbation, fw.optimizer
    lr_code, lr_total, lr_p1, lr_p2 = schedule_params(fw.learning_rate_schedule)
    amp_code, amp_total, amp_p1, amp_p2 = schedule_params(fw.amplitude_schedule)
    return {"mode": MODES[fw.mode], "tau_p": fw.tau_p, "tau_x": fw.tau_x, "tau_theta": fw.tau_theta,
            "node": int(pt.target == "nodes"), "node_faithful": int(pt.node_activity == "faithful"),
            "eta": fw.eta, "cost_change_clip": fw.cost_change_clip,
            "hp_a": fw.tau_hp / (fw.tau_hp + 1.0),            # analog high-pass coefficient
            "g_scale": gradient_scale(fw, n_perturbed),
            "leak": fw.tau_theta / (fw.tau_theta + 1.0),      # analog integrator low-pass
            "opt_kind": OPTIMIZERS[opt.kind], "lr_kind": lr_code, "amp_kind": amp_code,
            "beta1": opt.beta, "beta2": opt.beta2, "opt_eps": opt.eps,
            "lr_total": lr_total, "lr_p1": lr_p1, "lr_p2": lr_p2,
            "amp_total": amp_total, "amp_p1": amp_p1, "amp_p2": amp_p2}


def analog_signal_warnings(firmware) -> list[str]:
    """Analog MGD that can never learn, one line per problem (for hwsim.advice).

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
