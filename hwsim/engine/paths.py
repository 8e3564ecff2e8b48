"""Which kernel path runs a run, chosen once, in Python, with the reason a shortcut does not
apply (hwsim.kernels.paths holds the drivers; the choice is written to manifest.json and
summary.json as ``kernel_path``).

The shortcut paths give the reference path's results; they apply only where their equations
are exactly the reference's: ``sign`` to weight perturbation with random signs on the ideal
chip (discrete mode, cdma at sparsity 1, dense stages, no broadcast delay), ``node_fold`` to
node perturbation on the ideal chip in discrete mode. A run can force the reference path
(``path="reference"``: the tests compare the paths that way), or a shortcut where it applies.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.kernels.codes import CDMA, DENSE, DISCRETE, PATHS
from hwsim.kernels.geometry import G_KIND


@dataclass(frozen=True)
class PathChoice:
    name: str                       # "reference", "sign" or "node_fold"
    not_applicable: dict            # shortcut -> why it does not apply to this run

    def record(self) -> dict:
        return {"kernel_path": self.name}


def _why_not(cfg, layout) -> dict[str, str]:
    why = {}
    node = bool(cfg["node"])
    ideal = not cfg["chip"]
    discrete = cfg["mode"] == DISCRETE
    fold = []
    if not node:
        fold.append("weight perturbation")
    if not discrete:
        fold.append("analog mode")
    if not ideal:
        fold.append("modelled circuits (devices, converters or noise)")
    if fold:
        why["node_fold"] = ", ".join(fold)
    sign = []
    if node:
        sign.append("node perturbation")
    if not ideal:
        sign.append("modelled circuits (devices, converters or noise)")
    if not discrete:
        sign.append("analog mode")
    if cfg["scheme"] != CDMA:
        sign.append("a scheme other than cdma")
    if cfg["sparsity"] != 1.0:
        sign.append("sparsity other than 1")
    if cfg["delay_steps"] != 0:
        sign.append("a broadcast delay without delay compensation")
    if any(int(k) != DENSE for k in layout.geom[:, G_KIND]):
        sign.append("conv or pooling stages")
    if sign:
        why["sign"] = ", ".join(sign)
    return why


def select_path(config, layout, forced: str | None = None) -> PathChoice:
    """The path for a run with kernel configuration ``config`` (a CONFIG record) on
    ``layout``; ``forced`` asks for one (ValueError, with the reason, where it does not apply)."""
    cfg = config[0]
    why = _why_not(cfg, layout)
    if forced is not None:
        if forced not in PATHS:
            raise ValueError(f"unknown kernel path {forced!r} (one of {', '.join(PATHS)})")
        if forced in why:
            raise ValueError(f"the {forced} path does not apply to this run: {why[forced]}")
        return PathChoice(forced, why)
    for name in ("sign", "node_fold"):
        if name not in why:
            return PathChoice(name, why)
    return PathChoice("reference", why)


def driver(name: str):
    """The kernel driver of path ``name`` (imported on demand: only the chosen path compiles)."""
    if name == "sign":
        from hwsim.kernels.paths.sign import run_block
    elif name == "node_fold":
        from hwsim.kernels.paths.node_fold import run_block
    else:
        from hwsim.kernels.paths.reference import run_block
    return run_block
