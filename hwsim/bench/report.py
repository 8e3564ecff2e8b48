"""Markdown tables of a ``hwsim bench --json`` file (for docs/performance.md).

    python -m hwsim.bench.report FILE.json                  # print them
    python -m hwsim.bench.report FILE.json --update DOC.md  # replace them in DOC.md

``--update`` replaces what lies between the lines ``<!-- bench-tables:begin -->`` and
``<!-- bench-tables:end -->`` of DOC.md.
"""

from __future__ import annotations

import argparse
import json
import sys


def _yes(ok) -> str:
    return "yes" if ok else "**no**"


def workload_table(results: dict) -> str:
    # (figures written before the FMA peak was measured have no such column)
    peak = "fma_peak" in results
    rows = ["| workload | network | P (perturbed) | hwsim steps/s | hwsim param-steps/s "
            + ("| of the FMA peak " if peak else "") + "| plain steps/s | ratio | target | met |",
            "|---|---|---:|---:|---:|" + ("---:|" if peak else "") + "---:|---:|---:|---|"]
    for key, r in results["workloads"].items():
        perturbed = f"{r['params']:,}" + (f" ({r['perturbed']:,} nodes)" if r["perturbation"] == "node" else "")
        of_peak = f"| {100 * r['hwsim']['of_fma_peak']:.1f} % " if peak else ""
        rows.append(f"| {r['label']} | {r['network']} | {perturbed} | {r['hwsim']['steps_per_s']:,.0f} "
                    f"| {r['hwsim']['param_steps_per_s']:.3g} {of_peak}| {r['plain']['steps_per_s']:,.0f} "
                    f"| {r['ratio']:.1f}x | {r['ratio_target']:g}x | {_yes(r['ratio_met'])} |")
    if peak:
        rows.append(f"\nFMA peak of this core: {results['fma_peak']['fma_per_s']:.3g} multiply-adds/s "
                    f"({results['fma_peak']['method']}; hwsim.bench.fma).")
    return "\n".join(rows)


def memory_table(results: dict) -> str:
    rows = ["| workload | weights + integrators + data (MiB) | bound (MiB) | peak RSS (MiB) "
            "| after `import hwsim` (MiB) | within bound | RSS growth per step (bytes) |",
            "|---|---:|---:|---:|---:|---|---:|"]
    for key, r in results["workloads"].items():
        m = r.get("memory")
        if not m:
            continue
        arrays = m["weights_mib"] + m["integrators_mib"] + m["data_mib"]
        rows.append(f"| {r['label']} | {m['weights_mib']:.1f} + {m['integrators_mib']:.1f} + "
                    f"{m['data_mib']:.1f} = {arrays:.1f} | {m['bound_mib']:.0f} | {m['peak_rss_mib']:.0f} "
                    f"| {m['import_rss_mib']:.0f} | {_yes(m['within_bound'])} | {m['per_step_bytes']:.1f} |")
    return "\n".join(rows)


def suite_table(results: dict) -> str:
    rows = ["| figure | measured | target | met |", "|---|---:|---:|---|"]
    e = results.get("engine_overhead")
    if e:
        rows.append(f"| B2 engine over its kernel time, observing every {e['observe_every']:,} steps "
                    f"({e['steps']:,} steps: {e['engine_s']:.2f} s, of which kernel {e['kernel_in_engine_s']:.2f} s) "
                    f"| {e['overhead_pct']:+.1f} % | at most {e['target_pct']:g} % | {_yes(e['met'])} |")
        rows.append(f"| B2 engine over its kernel time, no observations between the first and the last "
                    f"| {e['overhead_pct_no_obs']:+.1f} % | | |")
        rows.append(f"| cross-check: kernel-only runs of the same {e['steps']:,} steps "
                    f"| {e['kernel_s']:.2f} s | | |")
    c = results.get("cold_start")
    if c:
        rows.append(f"| second process: launch to the end of its first step ({c['workload']}) "
                    f"| {c['seconds']:.2f} s | at most {c['target_s']:g} s | {_yes(c['met'])} |")
        rows.append(f"| of which: python start and `import hwsim` | {c['startup_s']:.2f} s | | |")
    k = results.get("contention")
    if k:
        rows.append(f"| B2 beside a CPU-bound process: default threads over NUMBA_NUM_THREADS=1 "
                    f"({k['default']['steps_per_s']:,.0f} against {k['one_thread']['steps_per_s']:,.0f} steps/s, "
                    f"medians) | {k['ratio']:.2f}x | at least {k['target_min']:g}x | {_yes(k['met'])} |")
    b = results.get("b4_vs_b2")
    if b:
        rows.append(f"| B4 parameter-steps/s over B2's | {b['per_param_throughput_ratio']:.2f} "
                    f"| at least {b['target_min']:g} | {_yes(b['met'])} |")
    rows += beside_b2_rows(results)
    return "\n".join(rows)


def beside_b2_rows(results: dict) -> list[str]:
    """B5's per-step time over B2's and B6's multiply-adds per second beside B2's (B2 timed
    in the same turns as the workload)."""
    rows = []
    for key, r in results["workloads"].items():
        if "per_step_vs_b2" in r:
            rows.append(f"| {r['label']} ({r['chip']}): hwsim's time per step over B2's "
                        f"({r['per_step_us']:,.1f} µs against {r['b2_per_step_us']:,.1f} µs) "
                        f"| {r['per_step_vs_b2']:.2f}x | at most {r['vs_b2_target']:g}x "
                        f"| {_yes(r['vs_b2_met'])} |")
        if "macs_per_s" in r:
            rows.append(f"| {r['label']}: hwsim's multiply-adds per second ({r['macs_per_step']:,.0f} a step) "
                        f"| {r['macs_per_s']:.3g} | | |")
            rows.append(f"| B2 beside it: multiply-adds per second ({r['b2_macs_per_step']:,.0f} a step) "
                        f"| {r['b2_macs_per_s']:.3g} | | |")
            rows.append(f"| {r['label']} multiply-adds per second over B2's | {r['macs_vs_b2']:.3f} | | |")
    return rows


def machine_line(results: dict) -> str:
    m = results["machine"]
    load = m.get("load_average")
    load_end = m.get("load_average_end")
    loads = ""
    if load:
        loads = f"; load average {load[0]:.1f}" + (f" at the start, {load_end[0]:.1f} at the end" if load_end else "")
    return (f"{results['date']}, `hwsim bench` mode {results['mode']}, {results['repeats']} repetitions "
            f"(medians); {m['cpu']}, {m['cpus_usable']} of {m['cpu_count']} CPUs usable{loads}; "
            f"Python {m['python']}, numpy {m['numpy']}, numba {m['numba']}, hwsim {m['hwsim']}"
            + (f"; {m['numba_threads']} numba thread{'s' if m['numba_threads'] != 1 else ''}."
               if "numba_threads" in m else "."))


def markdown(results: dict) -> str:
    """Every table of a bench result, with the machine line."""
    parts = [machine_line(results), "", workload_table(results), "", memory_table(results)]
    suite = suite_table(results)
    if suite.count("\n") > 1:
        parts += ["", suite]
    return "\n".join(parts)


BEGIN, END = "<!-- bench-tables:begin -->", "<!-- bench-tables:end -->"


def splice(doc: str, tables: str) -> str:
    """``doc`` with the text between the BEGIN and END marker lines replaced by ``tables``."""
    lines = doc.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError(f"expected one line {BEGIN} and, after it, one line {END}")
    return "".join(lines[:starts[0] + 1]) + tables.rstrip("\n") + "\n" + "".join(lines[ends[0]:])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", help="JSON written by hwsim bench --json FILE")
    ap.add_argument("--update", metavar="DOC.md", help="replace the tables between the bench-tables "
                                                       "markers of DOC.md instead of printing them")
    args = ap.parse_args(argv)
    try:
        with open(args.file) as f:
            tables = markdown(json.load(f))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"hwsim.bench.report: {args.file}: not a readable hwsim bench JSON file ({exc})", file=sys.stderr)
        return 2
    if args.update is None:
        print(tables)
        return 0
    try:
        with open(args.update) as f:
            doc = splice(f.read(), tables)
        with open(args.update, "w") as f:
            f.write(doc)
    except (OSError, ValueError) as exc:
        print(f"hwsim.bench.report: {args.update}: {exc}", file=sys.stderr)
        return 2
    print(f"updated the tables in {args.update}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
