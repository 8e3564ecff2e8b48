"""Event traces of short runs: what each component did, cycle by cycle.

A traced run advances one step per kernel call and reads the step's cycle counters
(load wait, inference, baseline, stall, update) to lay its events end to end; the observer
adds an instant event at each observation. Written as Chrome trace-event JSON (open it in
Perfetto or chrome://tracing) or as CSV, by the file's extension. The CSV counts clock cycles;
the JSON's times are the chip's time (its ``ts`` and ``dur`` fields are microseconds by the
format's definition: cycles x the clock period, so a 1 ns clock shows 40 cycles as 40 ns),
with each event's start cycle and cycles in its ``args``.
The observer lane also shows the step during which test accuracy crossed the target, once
located (a replay that is not itself traced: hwsim.engine.observer).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

# (event name, component lane, counter) in the order a step's phases take the chip
# (hwsim.kernels.state.COUNTERS; a step's counters come from Simulation.counts()).
PHASES = (("load input", "input loader", "wait_cycles"),
          ("infer", "inference pipeline", "infer_cycles"),
          ("baseline", "inference pipeline", "baseline_cycles"),
          ("stall", "update controller", "stall_cycles"),
          ("update", "update controller", "update_cycles"))
LANES = ("input loader", "inference pipeline", "update controller", "observer")
MAX_EVENTS = 2_000_000


@dataclass
class Trace:
    clock_period: float = 1e-6                   # seconds per cycle (the default shows cycles as us)
    events: list = field(default_factory=list)   # (name, lane, start_cycle, duration, step)

    def record_step(self, step: int, before, after) -> None:
        t = int(before["cycles"])
        for name, lane, counter in PHASES:
            dur = int(after[counter] - before[counter])
            if dur > 0:
                self.events.append((name, lane, t, dur, step))
                t += dur
        if after["updates"] > before["updates"] and after["update_cycles"] == before["update_cycles"]:
            if after["apply_at"] > t:
                # Non-blocking: the controller writes while inference carries on.
                self.events.append(("update (background)", "update controller", t,
                                    int(after["apply_at"]) - t, step))
            else:
                self.events.append(("update", "update controller", t, 0, step))

    def record_observation(self, cycle: int, step: int) -> None:
        self.events.append(("observe", "observer", int(cycle), 0, step))

    def record_target_crossing(self, cycle: int, step: int, resolution_cycles: int) -> None:
        """The located target crossing: the step during which test accuracy reached the
        target, laid over its cycles (hwsim.engine.observer)."""
        self.events.append(("target crossed", "observer", int(cycle) - int(resolution_cycles),
                            int(resolution_cycles), int(step)))

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["event", "component", "start_cycle", "duration_cycles", "step"])
        w.writerows(self.events)
        return buf.getvalue()

    def chrome_json(self) -> str:
        meta = [{"name": "thread_name", "ph": "M", "pid": 0, "tid": i, "args": {"name": lane}}
                for i, lane in enumerate(LANES)]
        out = []
        us = self.clock_period * 1e6        # microseconds per cycle: the format's time unit
        for name, lane, start, dur, step in self.events:
            ev = {"name": name, "cat": lane, "pid": 0, "tid": LANES.index(lane), "ts": start * us,
                  "args": {"step": step, "start_cycle": start, "cycles": dur}}
            if dur > 0:
                ev.update(ph="X", dur=dur * us)
            else:
                ev.update(ph="i", s="t")
            out.append(ev)
        return json.dumps({"traceEvents": meta + out, "displayTimeUnit": "ns",
                           "otherData": {"clock_period_s": self.clock_period,
                                         "time_unit": "chip time (cycles x clock period); "
                                                      "args carry the cycles"}},
                          indent=1) + "\n"

    def write(self, path: Path) -> None:
        from hwsim.results.rundir import atomic_write

        path = Path(path)
        text = self.csv_text() if path.suffix.lower() == ".csv" else self.chrome_json()
        atomic_write(path, text.encode())
