"""The spec commands: ``hwsim validate``, ``schema``, ``list`` and ``show``, and the resolved
dump ``show`` prints (``dump_resolved``).

Design: the spec library (``hwsim.spec``) reads and checks files; this module only reports
on them, so it may reach up to the sweep and tuning-space readers (``validate`` detects those
kinds too) without the spec library depending on them. The spec modules load pydantic, so
they are imported inside the handlers: ``import hwsim.cli`` stays light (see ``hwsim.cli``).
"""

from __future__ import annotations

import re
import sys

import yaml

from hwsim.cli.common import add_debug_option, add_set_option


def add_commands(subparsers, commands: dict) -> None:
    """Add this module's subcommands to the CLI parser and their handlers to ``commands``."""
    p = subparsers.add_parser("validate", help="check chip, firmware, scenario, sweep and tuning-space files "
                                               "(kind detected)")
    p.add_argument("files", nargs="+", metavar="FILE", help="spec files or preset names to check")
    add_set_option(p)
    add_debug_option(p)
    commands["validate"] = cmd_validate

    p = subparsers.add_parser("schema", help="print the JSON Schema of a spec kind")
    p.add_argument("kind", choices=["chip", "firmware", "scenario"])
    add_debug_option(p)
    commands["schema"] = cmd_schema

    p = subparsers.add_parser("list", help="list the chip, firmware, scenario, sweep and tuning-space presets "
                                           "and where each is found")
    add_debug_option(p)
    commands["list"] = cmd_list

    p = subparsers.add_parser("show", help="print the fully resolved spec, every default filled in")
    p.add_argument("file", metavar="FILE", help="chip, firmware or scenario file or preset name")
    p.add_argument("--chip", help="scenarios: chip preset name or path (replaces the scenario's)")
    p.add_argument("--firmware", help="scenarios: firmware preset name or path (replaces the scenario's)")
    add_set_option(p)
    add_debug_option(p)
    commands["show"] = cmd_show

    p = subparsers.add_parser("device", help="plot a chip's device response to programming pulses (PNG and SVG)",
                              description="Plot the weight of a few devices of a chip against the pulse number: "
                                          "potentiating pulses, then depressing ones, with the chip's variation "
                                          "and write noise.")
    p.add_argument("chip", metavar="CHIP", help="chip preset name or path")
    p.add_argument("--pulses", type=int, default=None, help="pulses each way (default: 1.5x the range over dw_min)")
    p.add_argument("--devices", type=int, default=8, help="devices drawn (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the devices' variation and noise (default 0)")
    p.add_argument("--out", default=None, help="figure file (default: device_CHIP.png, with .svg beside it)")
    add_set_option(p)
    add_debug_option(p)
    commands["device"] = cmd_device


def cmd_device(args) -> int:
    from hwsim.results.device_response import device_response, plot_device_response
    from hwsim.run_plan import load_spec
    from hwsim.spec import parse_set_options
    from hwsim.spec.errors import Problem, SpecError
    from hwsim.spec.loader import locate_spec

    path = locate_spec(args.chip, kinds=("chip",))
    kind, chip = load_spec(path, parse_set_options(args.sets))
    if kind != "chip":
        raise SpecError([Problem(str(path), None, None, "kind", f"not a chip (got {kind}; expected kind: chip)")])
    try:
        response = device_response(chip, args.pulses, args.devices, args.seed)
    except ValueError as exc:
        raise SpecError([Problem(str(path), None, None, "device", str(exc))]) from None
    name = chip.name or path.stem
    figure = plot_device_response(response, name, args.out or f"device_{name}.png")
    spread = response.weights[:, response.pulses]
    print(f"{name}: law {response.law}, {response.weights.shape[0]} devices, {response.pulses:,} pulses each way; "
          f"after the potentiating pulses w = {spread.mean():.3g} (devices {spread.min():.3g} to {spread.max():.3g}), "
          f"95 % of the way up after {response.pulses_to_span():,.0f} pulses (median)")
    rows = response.table()
    width = max(len(q) for q, _ in rows)
    for quantity, value in rows:
        print(f"  {quantity:<{width}}  {value}")
    print(f"figure: {figure} (and {figure.with_suffix('.svg').name})")
    return 0


def cmd_validate(args) -> int:
    from hwsim.spec.errors import Problem, SpecError
    from hwsim.run_plan import load_spec
    from hwsim.spec import parse_set_options
    from hwsim.spec.loader import SHIPPED_DIRS, locate_spec
    from hwsim.spec.yaml_source import read_yaml

    overrides = parse_set_options(args.sets)
    problems: list[Problem] = []
    for path in args.files:
        try:
            # a preset name: its file (scenarios first, as for hwsim show and hwsim run)
            path = str(locate_spec(path, ("scenario", *(k for k in SHIPPED_DIRS if k != "scenario"))))
            # Read (and refuse) each file once: load_spec and plan_sweep reuse this parse.
            data = read_yaml(path).data
            if data.get("kind") == "sweep":
                from hwsim.sweep.plan import plan_sweep

                plan = plan_sweep(path)
                print(f"ok: {path} (sweep {plan.spec.name!r}, {len(plan.points)} points)")
                continue
            if data.get("kind") == "tune_space":
                from hwsim.tune.space import read_space

                space, _ = read_space(path)
                print(f"ok: {path} (tune_space {space.name!r}, {len(space.params)} knobs)")
                continue
            kind, spec = load_spec(path, overrides)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        name = spec.scenario.name if kind in ("scenario", "run") else spec.name
        print(f"ok: {path} ({kind} {name!r})")
        if kind in ("scenario", "run"):
            from hwsim.advice import spec_warnings

            for line in spec_warnings(spec):
                print(f"warning: {path}: {line}", file=sys.stderr)
    if problems:
        raise SpecError(problems)
    return 0


def cmd_schema(args) -> int:
    from hwsim.spec.schema import schema_text

    sys.stdout.write(schema_text(args.kind))
    return 0


def cmd_list(args) -> int:
    """Each kind's presets as a name finds them from here: the user's ./FOLDER first, then the
    installation's (packaged with hwsim, or its source checkout); each line says which."""
    import os

    from hwsim.spec.loader import SHIPPED_DIRS, installation_label, presets, project_root

    own_label = "packaged" if installation_label().startswith("packaged") else "hwsim"
    print(f"presets found by name: ./FOLDER/NAME.yaml first, then {installation_label()} in {project_root()}")
    for kind, folder in SHIPPED_DIRS.items():
        found = presets(kind)
        mine = sum(not own for _, _, own in found)
        print(f"{folder}/ ({kind}, {len(found)}{f'; {mine} in ./{folder}' if mine else ''})")
        width = max((len(name) for name, _, _ in found), default=0)
        for name, path, own in found:
            where = own_label
            if not own:
                rel = os.path.relpath(path.parent)
                where = rel if rel.startswith("..") or os.path.isabs(rel) else f"./{rel}".rstrip("/.") or "."
                if (project_root() / folder / path.name).is_file():
                    where += f", hides {own_label}'s"
            print(f"  {name:<{width}}  [{where}]  {_description(path)}")
    return 0


def _description(path) -> str:
    from hwsim.spec.errors import SpecError
    from hwsim.spec.yaml_source import read_yaml

    try:
        data = read_yaml(path).data
    except SpecError:
        return "(unreadable: run hwsim validate on it)"
    text = data.get("description")
    return " ".join(str(text).split()) if text else "(no description)"


def cmd_show(args) -> int:
    from hwsim.run_plan import load_scenario, load_spec
    from hwsim.spec import parse_set_options

    overrides = parse_set_options(args.sets)
    if args.chip is not None or args.firmware is not None:
        spec = load_scenario(args.file, overrides, chip=args.chip, firmware=args.firmware)
        kind = "run"
    else:
        kind, spec = load_spec(args.file, overrides)
    sys.stdout.write(dump_resolved(spec, source=args.file))
    return 0


# --------------------------------------------------------------------------- the resolved dump


def dump_resolved(spec, source: str | None = None) -> str:
    """YAML of a resolved spec (ChipSpec, FirmwareSpec or RunSpec), every default filled in.

    A RunSpec is written as ``kind: run`` with its scenario, chip and firmware: the content of
    a run's manifest, which loads back to the same RunSpec and spec hash. Time constants carry
    a comment with their value in steps, cycles and seconds.
    """
    from hwsim.run_plan import RunSpec, resolve

    head = [f"# Resolved from {source}: every default filled in." if source else
            "# Resolved spec: every default filled in."]
    if isinstance(spec, RunSpec):
        data = {"kind": "run", **spec.resolved()}
        head.append(f"# spec hash {spec.spec_hash} (seed {spec.scenario.seed} recorded beside it)")
        # A step lasts the chip's inference interval on this network (tiles included).
        step = (resolve(spec).interval, spec.chip.clock_period)
    else:
        data = spec.model_dump(mode="json")
        step = None
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    if data.get("kind") in ("run", "firmware"):
        text = _annotate_taus(text, step)
    chip = spec.chip if isinstance(spec, RunSpec) else spec if data.get("kind") == "chip" else None
    if chip is not None and chip.device.conductance is not None and chip.array.gain is not None:
        text = _annotate_conductance(text, chip)
    return "\n".join(head) + "\n" + text


def _annotate_conductance(text: str, chip) -> str:
    """Mark the device figures a ``conductance`` block replaces with the weight-unit values
    the run uses (hwsim.chip.devices.device_in_weight_units)."""
    from hwsim.chip.devices import device_in_weight_units

    used = device_in_weight_units(chip)
    values = {"dw_min": used.dw_min, "w_min": used.w_min, "w_max": used.w_max,
              "programming_error": used.programming_error, "additive": used.read_noise.additive}
    out, device_indent, in_read_noise = [], None, False
    for line in text.split("\n"):
        indent = len(line) - len(line.lstrip())
        name = line.strip().split(":")[0]
        if device_indent is not None and line.strip() and indent <= device_indent:
            device_indent = None
        if name == "device" and line.rstrip().endswith("device:"):
            device_indent = indent
        elif device_indent is not None:
            if indent == device_indent + 2:
                in_read_noise = name == "read_noise"
            depth_ok = indent == device_indent + 2 or (in_read_noise and indent == device_indent + 4)
            if depth_ok and name in values and (name != "additive" or in_read_noise) \
                    and (name == "additive") == (indent == device_indent + 4):
                line += f"  # replaced by the conductance block: {values[name]:.4g} in weight units"
        out.append(line)
    return "\n".join(out)


_TAU_LINE = re.compile(r"^(?P<indent>\s*)(?P<name>tau_p|tau_x|tau_theta|tau_hp): (?P<value>.+)$")


def _annotate_taus(text: str, step: tuple[int, float] | None) -> str:
    """Each time constant's value in steps, cycles and seconds; ``step`` is (cycles per step,
    clock period), None when no chip is known."""
    out = []
    for line in text.splitlines():
        m = _TAU_LINE.match(line)
        if m:
            value = m.group("value")
            try:
                steps = float(value)
            except ValueError:
                steps = None
            if steps is None:
                line += "  # resolved to whole steps against the chip when a scenario is loaded"
            elif step is None:
                line += "  # steps (one perturbed inference each; cycles and seconds depend on the chip)"
            else:
                # pandas and matplotlib come with it: only a dump with a chip needs it
                from hwsim.results.report import format_si

                cycles = steps * step[0]
                line += (f"  # steps = {cycles:g} cycles = {format_si(cycles * step[1], 's')}")
        out.append(line)
    return "\n".join(out) + "\n"

