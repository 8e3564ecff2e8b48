"""The update controller's configuration (hwsim.kernels.update_controller runs it): how the
devices are written (all at once, row by row, one by one), how long a pulse slot takes in
cycles, the fixed overhead of an update phase, and whether inference stalls for it."""

from hwsim.chip.timing import pulse_cycles
from hwsim.kernels.codes import PARALLELISM


def update_controller_config(chip) -> dict:
    up = chip.update
    return {"parallelism": PARALLELISM[up.parallelism], "pulse_cycles": pulse_cycles(chip),
            "update_overhead": up.overhead_cycles, "blocking": int(up.blocking)}
