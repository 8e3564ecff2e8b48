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


@dataclass
class DeviceResponse:
    """Weights of ``devices`` devices after each pulse: ``weights[d, n]`` after n pulses
    (n <= pulses: potentiating; beyond: depressing), in weight units."""
    law: str
    pulses: int
    weights: np.ndarray
    w_min: float
    w_max: float
    dw_min: float

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
    return DeviceResponse(device.law, pulses, weights, device.w_min, device.w_max, device.dw_min)


def plot_device_response(response: DeviceResponse, name: str, path: str | Path) -> Path:
    """The response as a figure (PNG and SVG beside it, hwsim.results.plots.save)."""
    from matplotlib.ticker import EngFormatter

    from hwsim.results.plots import new_figure, save

    fig = new_figure()
    ax = fig.axes[0]
    n = np.arange(response.weights.shape[1])
    for d in range(response.weights.shape[0]):
        ax.plot(n, response.weights[d], lw=0.7, alpha=0.55, color="tab:blue",
                label="single devices" if d == 0 else None)
    ax.plot(n, response.weights.mean(axis=0), lw=2.0, color="black", label="mean")
    ax.axvline(response.pulses, color="0.5", lw=0.8, ls="--")
    ax.text(response.pulses / 2, 1.01, "potentiating", transform=ax.get_xaxis_transform(), ha="center",
            fontsize=8, color="0.3")
    ax.text(1.5 * response.pulses, 1.01, "depressing", transform=ax.get_xaxis_transform(), ha="center",
            fontsize=8, color="0.3")
    ax.set_xlabel("pulse number")
    ax.set_ylabel("weight (weight units)")
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower center")
    fig.suptitle(f"Device response to single pulses: chip {name}, law {response.law}\n"
                 f"{response.weights.shape[0]} devices, dw_min {response.dw_min:.3g}, "
                 f"bounds [{response.w_min:.3g}, {response.w_max:.3g}]", fontsize=11)
    return save(fig, path)
