"""A device's response to programming pulses, the picture aihwkit users know from
``plot_device``: the weight of a few devices of a chip against the pulse number, potentiating
pulses up to the upper bound and then depressing ones back, with the chip's device-to-device
variation and cycle-to-cycle write noise (the same device law and random streams the kernels
use: hwsim.chip.devices.DeviceArray).

    hwsim device rram_crossbar            # device_rram_crossbar.png and .svg, and a summary
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_PULSES = 20_000     # per direction: a figure, not a simulation


READS = 2000            # reads of each device for the read-noise distribution
DRIFT_DECADES = 6       # drift shown from t0 to t0 x 10^6


@dataclass
class DeviceResponse:
    """Weights of ``devices`` devices after each pulse: ``weights[d, n]`` after n pulses
    (n <= pulses: potentiating; beyond: depressing), in weight units; the same devices
    programmed to half their upper bound and read at ``drift_times`` (s after the write,
    ``drift[d, k]``, mean over reads), and read ``READS`` times at t0 (``read_errors``: read
    minus stored weight, every device and read)."""
    law: str
    pulses: int
    weights: np.ndarray
    w_min: float
    w_max: float
    dw_min: float
    drift_times: np.ndarray | None = None
    drift: np.ndarray | None = None
    read_errors: np.ndarray | None = None
    read_noise: tuple = (0.0, 0.0)      # the spec's (additive, proportional) read noise

    def table(self) -> list[tuple[str, str]]:
        """The figures an engineer checks against a datasheet, as (quantity, value) rows."""
        up = np.diff(self.weights[:, :2], axis=1)[:, 0]
        down = np.diff(self.weights[:, self.pulses:self.pulses + 2], axis=1)[:, 0]
        rows = [("law", self.law), ("nominal step dw_min", f"{self.dw_min:.4g}"),
                ("first up step (mean, sd over devices)", f"{up.mean():.4g}, {up.std():.2g}"),
                ("first down step at the top (mean, sd)", f"{down.mean():.4g}, {down.std():.2g}"),
                ("weight after the up pulses (min, mean, max)",
                 ", ".join(f"{v:.3g}" for v in (self.weights[:, self.pulses].min(),
                                                 self.weights[:, self.pulses].mean(),
                                                 self.weights[:, self.pulses].max()))),
                ("up pulses to 95 % of the way (median)", f"{self.pulses_to_span():,.0f}")]
        if self.read_errors is not None:
            rows.append(("read noise sd (measured; spec additive, proportional)",
                         f"{self.read_errors.std():.3g}; {self.read_noise[0]:.3g}, {self.read_noise[1]:.3g}"))
        if self.drift is not None:
            start, end = self.drift[:, 0].mean(), self.drift[:, -1].mean()
            rows.append((f"drift: mean weight at t0 and at t0 x 10^{DRIFT_DECADES}",
                         f"{start:.3g} -> {end:.3g} ({100 * (end / start - 1):+.1f} %)" if start else f"{end:.3g}"))
        return rows

    def pulses_to_span(self) -> float:
        """Median over devices of the potentiating pulses that take a device from its start
        to 95 % of the way to its highest weight (inf when none gets there)."""
        up = self.weights[:, :self.pulses + 1]
        start, top = up[:, :1], up.max(axis=1, keepdims=True)
        reached = up >= start + 0.95 * (top - start)
        first = np.where(reached.any(axis=1), reached.argmax(axis=1), np.iinfo(np.int64).max)
        return float(np.median(first)) if np.isfinite(np.median(first)) else math.inf


def device_response(chip, pulses: int | None = None, devices: int = 8, seed: int = 0) -> DeviceResponse:
    """``devices`` devices of ``chip`` (a ChipSpec) reset, then sent ``pulses`` potentiating and
    ``pulses`` depressing single pulses (default: 1.5 x the nominal pulses across the range)."""
    from hwsim.chip.devices import DeviceArray, device_in_weight_units

    device = device_in_weight_units(chip)
    if device.law == "ideal":
        raise ValueError(f"the {chip.name or 'chip'} device is ideal (law: ideal): it takes any change "
                         "in one write, there are no pulses to show; choose a pulsed law")
    if pulses is None:
        pulses = int(min(MAX_PULSES, math.ceil(1.5 * (device.w_max - device.w_min) / device.dw_min)))
    if not 1 <= pulses <= MAX_PULSES or not 1 <= devices <= 1000:
        raise ValueError(f"pulses must be in 1..{MAX_PULSES:,} and devices in 1..1000 (got {pulses}, {devices})")
    array = DeviceArray(device, devices, seed, controller=chip.update)
    step = float(array.config[0]["dw_ctrl"])      # one pulse per update, whatever the rounding
    weights = np.empty((devices, 2 * pulses + 1))
    weights[:, 0] = array.w
    for n in range(2 * pulses):
        sign = 1.0 if n < pulses else -1.0
        array.update(np.full(devices, sign * step), update_index=n)
        weights[:, n + 1] = array.w
    # Drift and read noise: the devices programmed to half their upper bound at t = 0.
    fresh = DeviceArray(device, devices, seed, controller=chip.update)
    fresh.program(np.full(devices, 0.5 * device.w_max), t=0.0)
    t0 = device.drift.t0
    times = t0 * np.logspace(0, DRIFT_DECADES, 25)
    drift = np.empty((devices, times.size))
    reads = np.empty((READS, devices))
    for r in range(READS):
        reads[r] = fresh.read(t0, r)
    for k, t in enumerate(times):
        drift[:, k] = np.mean([fresh.read(float(t), READS + 16 * k + r) for r in range(16)], axis=0)
    stored = fresh.read(t0, 0) if fresh.read_is_identity else fresh.w
    return DeviceResponse(device.law, pulses, weights, device.w_min, device.w_max, device.dw_min,
                          times, drift, (reads - stored).ravel(),
                          (device.read_noise.additive, device.read_noise.proportional))


def plot_device_response(response: DeviceResponse, name: str, path: str | Path) -> Path:
    """The response as a figure (PNG and SVG beside it, hwsim.results.plots.save)."""
    from matplotlib.ticker import EngFormatter

    from hwsim.results.plots import new_figure, save

    fig = new_figure(ncols=3)
    ax, ax_drift, ax_read = fig.axes
    for a in fig.axes:
        a.spines[["top", "right"]].set_visible(False)
        a.grid(alpha=0.3)
        a.tick_params(labelsize=8)
    if response.drift is not None:
        for d in range(response.drift.shape[0]):
            ax_drift.plot(response.drift_times, response.drift[d], lw=0.7, alpha=0.55, color="tab:blue")
        ax_drift.plot(response.drift_times, response.drift.mean(axis=0), lw=2.0, color="black")
        ax_drift.set_xscale("log")
        ax_drift.xaxis.set_major_formatter(EngFormatter(unit="s", sep=""))
        ax_drift.set_xlabel("time after the write", fontsize=9)
        ax_drift.set_title("drift (programmed to w_max / 2)", fontsize=9)
    if response.read_errors is not None:
        if response.read_errors.std() > 0:
            ax_read.hist(response.read_errors, bins=50, color="tab:blue", alpha=0.8)
        else:
            ax_read.text(0.5, 0.5, "no read noise", ha="center", va="center", transform=ax_read.transAxes)
        ax_read.set_xlabel("read minus stored weight", fontsize=9)
        ax_read.set_ylabel("reads", fontsize=9)
        ax_read.set_title(f"read noise ({READS:,} reads each)", fontsize=9)
    n = np.arange(response.weights.shape[1])
    for d in range(response.weights.shape[0]):
        ax.plot(n, response.weights[d], lw=0.7, alpha=0.55, color="tab:blue",
                label="single devices" if d == 0 else None)
    ax.plot(n, response.weights.mean(axis=0), lw=2.0, color="black", label="mean")
    ax.axvline(response.pulses, color="0.5", lw=0.8, ls="--")
    ax.text(response.pulses / 2, 0.02, "up", transform=ax.get_xaxis_transform(), ha="center",
            fontsize=8, color="0.3")
    ax.text(1.5 * response.pulses, 0.02, "down", transform=ax.get_xaxis_transform(), ha="center",
            fontsize=8, color="0.3")
    ax.set_xlabel("pulse number", fontsize=9)
    ax.set_ylabel("weight (weight units)", fontsize=9)
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_title("single pulses, up then down", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"Device response to single pulses: chip {name}, law {response.law}\n"
                 f"{response.weights.shape[0]} devices, dw_min {response.dw_min:.3g}, "
                 f"bounds [{response.w_min:.3g}, {response.w_max:.3g}]", fontsize=11)
    return save(fig, path)
