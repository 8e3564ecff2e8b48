"""Fuzzing the command line: specs and options end in exit 0, 2 or 3, never a traceback.

Two parts (issue 15):

* The corpus of past failures (tests/fuzz_corpus/specs and tests/fuzz_corpus/cli, described in
  tests/fuzz_corpus/README.md) is replayed through ``hwsim`` in a subprocess whose address
  space and time are bounded, so a case that would exhaust the machine fails instead.
* Hypothesis mutates valid specs (values of every YAML type, tags, anchors and aliases,
  control characters, long strings, duplicated or deleted lines, truncation) and CLI options
  (``--set PATH=VALUE``, the numeric options) and calls ``hwsim.cli.main`` in-process.

The hypothesis tests are derandomized and keep no example database, so CI sees the same
examples every time. ``HWSIM_FUZZ_EXAMPLES=N`` runs N examples per test instead of the default
(e.g. ``HWSIM_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz_cli.py`` for a longer hunt). A failure
found that way belongs in the corpus, shrunk, with the exit code it should have.
"""

from __future__ import annotations

import contextlib
import io
import json
import lzma
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"
SPEC_CASES = CORPUS / "specs"
CLI_CASES = CORPUS / "cli"
CLEAN_EXITS = {0, 2, 3}

# Bounds of one replayed invocation: generous, they catch runaway cost, not slowness.
ADDRESS_SPACE = 3 * 2**30
SECONDS = 60
# The memory budget hwsim plans with in the replay, below ADDRESS_SPACE so that a refusal,
# not an allocation failure, is what an over-large input meets (cases may set their own).
REPLAY_MEMORY_LIMIT = "2 GiB"
MAX_LINE = 500

FUZZ_EXAMPLES = int(os.environ.get("HWSIM_FUZZ_EXAMPLES", "0")) or None


def assert_clean(code, err: str, what: str) -> None:
    """The properties every invocation has, whatever it was given."""
    assert code in CLEAN_EXITS, f"{what}: exit {code}\n{err[-3000:]}"
    assert "Traceback" not in err, f"{what}: traceback\n{err[-3000:]}"
    assert "internal error" not in err, f"{what}: {err[-3000:]}"
    long_lines = [line for line in err.splitlines() if len(line) >= MAX_LINE]
    assert not long_lines, f"{what}: a stderr line of {len(long_lines[0]):,} characters: {long_lines[0][:300]}..."


# --------------------------------------------------------------------------- corpus replay


def _load_index(folder: Path) -> dict:
    return yaml.safe_load((folder / "expected.yaml").read_text())


def _replay_params():
    params = []
    for folder, kind in ((SPEC_CASES, "specs"), (CLI_CASES, "cli")):
        for case, invocations in _load_index(folder).items():
            trains = any(inv["argv"][0] in ("run", "sweep", "compare") for inv in invocations)
            slow = [pytest.mark.slow] if trains else []
            params.append(pytest.param(kind, case, invocations, id=f"{kind}/{case}", marks=slow))
    return params


def _limit_resources():   # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _expand(arg: str, names: dict) -> str:
    arg = re.sub(r"\{long:(\d+)\}", lambda m: "x" * int(m.group(1)), arg)
    arg = re.sub(r"\{digits:(\d+)\}", lambda m: "9" * int(m.group(1)), arg)
    for key, value in names.items():
        arg = arg.replace("{" + key + "}", value)
    return arg


def _stage(kind: str, case: str, work: Path) -> tuple[dict, str | None]:
    """Copy (or decompress) the case's input into ``work``, beside the special files a case
    may name (fifo.yaml, a FIFO; directory.yaml, a folder; sparse.yaml, 1 GiB of NUL bytes
    taking no disk): the placeholders of its argv, and the name of the file a problem must be
    reported in (None for CLI cases)."""
    os.mkfifo(work / "fifo.yaml")
    (work / "directory.yaml").mkdir()
    with open(work / "sparse.yaml", "wb") as f:
        f.truncate(2**30)
    names = {"root": str(ROOT), "out": str(work / "out"), "fifo": str(work / "fifo.yaml"),
             "directory": str(work / "directory.yaml"), "sparse": str(work / "sparse.yaml")}
    if kind == "cli":
        base = work / "tiny_scenario.yaml"
        shutil.copyfile(CLI_CASES / "tiny_scenario.yaml", base)
        names["base"] = str(base)
        return names, None
    source = SPEC_CASES / case
    if source.suffix == ".xz":
        target = work / source.stem
        target.write_bytes(lzma.decompress(source.read_bytes()))
    else:
        target = work / source.name
        shutil.copyfile(source, target)
    names["file"] = str(target)
    return names, target.name


def _replay(kind: str, case: str, invocation: dict, names: dict, work: Path, file_name: str | None) -> list[str]:
    """Run one invocation of a case: what is wrong with it (empty when nothing)."""
    argv = [_expand(a, names) for a in invocation["argv"]]
    env = {k: v for k, v in os.environ.items() if k != "HWSIM_MEMORY_LIMIT"}
    # Few malloc arenas: on a machine with many cores, each thread's 64 MiB arena reservation
    # would count against RLIMIT_AS although nothing is allocated.
    env.update({"HWSIM_MEMORY_LIMIT": REPLAY_MEMORY_LIMIT, "PYTHONWARNINGS": "default", "MALLOC_ARENA_MAX": "2",
                **{k: str(v) for k, v in invocation.get("env", {}).items()}})
    what = f"{kind}/{case}: hwsim {' '.join(a if len(a) < 80 else a[:60] + '...' for a in invocation['argv'])}"
    try:
        proc = subprocess.run([sys.executable, "-m", "hwsim.cli", *argv], cwd=work, env=env,
                              preexec_fn=_limit_resources, capture_output=True, text=True,
                              errors="replace", timeout=SECONDS)
    except subprocess.TimeoutExpired:
        return [f"{what}: still running after {SECONDS} s"]
    code, err = proc.returncode, proc.stderr
    try:
        assert_clean(code, err, what)
    except AssertionError as exc:
        return [str(exc)]
    wrong = []
    if code != invocation["exit"]:
        wrong.append(f"exit {code}, expected {invocation['exit']}")
    wrong += [f"stderr lacks {text!r}" for text in invocation.get("stderr_has", []) if text not in err]
    wrong += [f"stderr has {text!r}" for text in invocation.get("stderr_lacks", []) if text in err]
    if code == 2 and invocation.get("at_line", file_name is not None) and \
            not re.search(re.escape(file_name or "") + r":\d+", err):
        wrong.append(f"stderr does not name {file_name}:LINE")
    wrong += [f"{name} is missing afterwards" for name in invocation.get("exists", []) if not (work / name).exists()]
    return [f"{what}: {'; '.join(wrong)}\n{err[-2000:]}"] if wrong else []


@pytest.mark.parametrize("kind, case, invocations", _replay_params())
def test_corpus_case_exits_cleanly(kind, case, invocations, tmp_path):
    # The invocations of a case run in order in one working folder (a second run into the
    # first one's folder, say), which sits two levels down so that writing outside it is seen.
    outside = tmp_path / "outside"
    work = outside / "work"
    work.mkdir(parents=True)
    names, file_name = _stage(kind, case, work)
    failures = []
    for invocation in invocations:
        failures += _replay(kind, case, invocation, names, work, file_name)
        if sorted(p.name for p in tmp_path.iterdir()) != ["outside"] or \
                sorted(p.name for p in outside.iterdir()) != ["work"]:
            failures.append(f"{kind}/{case}: {invocation['argv']} wrote outside its working folder")
            break
    assert not failures, "\n\n".join(failures)


def test_corpus_index_matches_the_files():
    files = {p.name for p in SPEC_CASES.iterdir()} - {"expected.yaml"}
    assert set(_load_index(SPEC_CASES)) == files, "every spec case needs its invocations, and vice versa"
    assert {p.name for p in CLI_CASES.iterdir()} == {"expected.yaml", "tiny_scenario.yaml"}
    for folder in (SPEC_CASES, CLI_CASES):
        for case, invocations in _load_index(folder).items():
            assert invocations, case
            for inv in invocations:
                assert inv["exit"] in CLEAN_EXITS, case
                assert set(inv) <= {"argv", "exit", "env", "stderr_has", "stderr_lacks", "at_line", "exists"}, case
                assert inv["argv"][0] in {"validate", "show", "run", "sweep", "compare"}, case


def test_cli_base_is_valid(capsys):
    assert main(["validate", str(CLI_CASES / "tiny_scenario.yaml")]) == 0


# --------------------------------------------------------------------------- in-process fuzzing

PRESETS = sorted(p for d in ("chips", "firmware_models", "scenarios") for p in (ROOT / d).glob("*.yaml"))
SWEEPS = sorted((ROOT / "sweeps").glob("*.yaml"))
BASES = [CLI_CASES / "tiny_scenario.yaml", *PRESETS, *SWEEPS]
BASE_TEXT = {p: p.read_text() for p in BASES}

STANDARD_TAGS = ["null", "bool", "int", "float", "str", "binary", "timestamp", "seq", "map", "omap",
                 "pairs", "set", "merge", "value", "yaml"]
UNITS = ["s", "ns", "us", "cycles", "steps", "GHz", "pJ", "%", "uS", "Gbit/s", "blips", "", "ns ns"]

extreme_numbers = st.sampled_from([
    "0", "-0", "1", "-1", "2", "0.5", "1e-162", "1e-170", "5e-324", "1e-400", "1e300", "1e308", "1.8e308",
    "1e400", "-1e300", ".inf", "-.inf", ".nan", "nan", "9223372036854775807", "9223372036854775808",
    "18446744073709551616", "-9223372036854775809", "100000000000000000000", "1_000_000", "0x7fffffffffffffff",
    "0o777", "0b101", "1e3", "9" * 5000, "1" + "0" * 400, "0." + "0" * 400 + "1"])
plain_scalars = st.one_of(
    extreme_numbers,
    st.integers(-10**30, 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.tuples(extreme_numbers, st.sampled_from(UNITS)).map(lambda t: f"{t[0]} {t[1]}".strip()),
    st.sampled_from(["null", "~", "true", "false", "yes", "no", "on", "off", "maybe", "''", '""', "[]", "{}",
                     "2001-12-14", "2001-13-45", "12:30:00", "full_period", "cdma", "digits", "ideal_digital",
                     "../../x", "/dev/zero", "/etc/passwd", "-", "?", ":", "<<", "=", "*"]),
)
# JSON strings are YAML double-quoted scalars: every code point, control characters escaped,
# the rest raw or escaped.
quoted_text = st.tuples(st.text(st.characters(codec="utf-8"), max_size=30), st.booleans()).map(
    lambda t: json.dumps(t[0], ensure_ascii=t[1]))
long_text = st.sampled_from([1000, 20_000, 200_000]).flatmap(
    lambda n: st.sampled_from(["x" * n, '"' + "é" * n + '"', "9" * n, "[" + ", ".join(["1"] * (n // 3)) + "]"]))
tagged = st.tuples(st.sampled_from(STANDARD_TAGS), st.one_of(plain_scalars, quoted_text)).map(
    lambda t: f"!!{t[0]} {t[1]}")
odd_tags = st.sampled_from(["!!python/object:os.system x", "!!python/name:os.system", "!custom 1",
                            "!<tag:yaml.org,2002:int> zz", "!<!> x", "!!int", "!!float", "!!bool",
                            "&anchor 1", "*anchor", "*undefined", "&a [*a]", "<<: *x"])
flow = st.recursive(st.one_of(plain_scalars, quoted_text), lambda inner: st.one_of(
    st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.lists(st.tuples(st.sampled_from(["a", "eta", "name", "1", "?"]), inner), max_size=3)
    .map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}")), max_leaves=6)
# Values a field may well accept, so that a good share of the examples gets past validation.
plausible = st.one_of(st.integers(0, 64).map(str), st.floats(0.001, 1.0).map(lambda x: f"{x:.3g}"),
                      st.sampled_from(["[4]", "[8, 4]", "[]", "relu", "tanh", "cdma", "walsh", "tdma", "fdma",
                                       "gaussian", "analog", "discrete", "true", "false", "10 ns", "200 cycles",
                                       "2 us", "90 %", "full_period", "nodes", "weights", "mse", "parity"]))
yaml_values = st.one_of(plausible, plain_scalars, quoted_text, tagged, odd_tags, flow, long_text)

_KEY_LINE = re.compile(r"^(\s*(?:- )?)([A-Za-z_][\w.]*)(:\s*)(.*?)(\s+#.*)?$")


_NUMBER_WITH_UNIT = re.compile(r"^([-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(\s*[A-Za-z%/]*)$")
# Edge values for numbers: bounds at 0, tiny and huge magnitudes, the ends of the ranges.
edge_numbers = st.one_of(st.sampled_from(
    ["0", "0.0", "1e-100", "1e-300", "1e-9", "0.999999", "1", "-1", "2", "255", "1e6", "1e12", "-1e12", "1e15",
     "1e300", "5e-324"]), st.floats(0.0, 10.0).map(lambda x: f"{x:.3g}"), st.integers(0, 300).map(str))
_CHOICE_KEYS = {"law", "rounding", "mapping", "scheme", "mode", "normalisation", "stuck_value_mode", "injection",
                "target", "node_activity", "distribution"}


@st.composite
def mutated_spec_texts(draw, bases=tuple(BASES), values=yaml_values, most=3, typed=False):
    """(base path, text): a preset, sweep or the tiny scenario with a few line-level mutations.
    ``typed``: a number is replaced by an edge number in the same unit (so that more of the
    examples validate and reach the physics)."""
    path = draw(st.sampled_from(bases))
    lines = BASE_TEXT[path].splitlines()
    for _ in range(draw(st.integers(1, most))):
        keyed = [i for i, line in enumerate(lines) if _KEY_LINE.match(line)]
        if typed:   # only numbers and the words that choose a law or scheme
            keyed = [i for i in keyed if _NUMBER_WITH_UNIT.match(_KEY_LINE.match(lines[i]).group(4))
                     or _KEY_LINE.match(lines[i]).group(2) in _CHOICE_KEYS]
        if not keyed:
            break
        i = draw(st.sampled_from(keyed))
        indent, key, colon, value, _comment = _KEY_LINE.match(lines[i]).groups()
        action = draw(st.sampled_from(["value", "value", "value", "tag", "anchor", "duplicate", "delete",
                                       "key", "control", "truncate"]))
        number = _NUMBER_WITH_UNIT.match(value)
        if typed and number:
            lines[i] = f"{indent}{key}{colon}{draw(edge_numbers)}{number.group(2)}"
        elif typed:
            lines[i] = f"{indent}{key}{colon}{draw(values)}"
        elif action == "value":
            lines[i] = f"{indent}{key}{colon}{draw(values)}"
        elif action == "tag" and value:
            lines[i] = f"{indent}{key}{colon}!!{draw(st.sampled_from(STANDARD_TAGS))} {value}"
        elif action == "anchor" and value:
            lines[i] = f"{indent}{key}{colon}&v {value}"
            j = draw(st.sampled_from(keyed))
            other = _KEY_LINE.match(lines[j]).groups()
            lines[j] = f"{other[0]}{other[1]}{other[2]}*v"
        elif action == "duplicate":
            lines.insert(i + 1, lines[i])
        elif action == "delete":
            del lines[i]
        elif action == "key":
            new = draw(st.one_of(st.sampled_from([key + "s", key.upper(), "x" + key, key + ".x", "<<", "? x",
                                                  "test_fraction", "dataset.test_fraction", "'" + key]),
                                 st.text(min_size=1, max_size=12).map(lambda s: '"' + s.encode(
                                     "unicode_escape").decode("ascii").replace('"', "") + '"')))
            lines[i] = f"{indent}{new}{colon}{value}"
        elif action == "control":
            char = draw(st.sampled_from(["\x00", "\x07", "\x1b", "\t", "\r", "\ufeff", "\u2028", "\x85", "\ud800"]))
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + char + lines[i][at:]
        elif action == "truncate":
            lines = lines[:i] + [lines[i][:draw(st.integers(0, len(lines[i])))]]
    return path, "\n".join(lines) + "\n"


def _call(argv: list[str]) -> tuple[int, str, str]:
    """hwsim.cli.main in this process: (exit code, stdout, stderr); argparse's exit counts."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _bounded_memory():
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    event(f"{argv[0]}: exit {code}")   # seen with --hypothesis-show-statistics
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _bounded_memory(extra: int = 2 * 2**30):
    """Cap this process's address space at its current size plus ``extra`` while hwsim runs
    in it (and HWSIM_MEMORY_LIMIT below that), so that an input that would allocate without
    bound fails the test instead of the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = _address_space()
    cap = size + extra if hard == resource.RLIM_INFINITY else min(hard, size + extra)
    saved_env = os.environ.get("HWSIM_MEMORY_LIMIT")
    os.environ["HWSIM_MEMORY_LIMIT"] = str(extra // 2)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        if saved_env is None:
            os.environ.pop("HWSIM_MEMORY_LIMIT", None)
        else:
            os.environ["HWSIM_MEMORY_LIMIT"] = saved_env


def _address_space() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _write(base: Path, text: str, folder: Path) -> Path:
    # Keep the preset's folder name: kind detection by folder works as in the real tree.
    target = folder / base.parent.name / base.name
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(text.encode("utf-8", "surrogatepass"))
    return target


def _fuzz_settings(default: int):
    return settings(max_examples=FUZZ_EXAMPLES or default, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much], print_blob=True)


@_fuzz_settings(150)
@given(mutated_spec_texts())
def test_mutated_specs_validate_and_show_cleanly(case):
    base, text = case
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(base, text, Path(tmp))
        for command in ("validate", "show"):
            code, _out, err = _call([command, str(path)])
            assert_clean(code, err, f"hwsim {command} on a mutation of {base.name}")
            if code == 2:
                # Every problem is reported at a place: FILE:LINE (or the option that caused it).
                assert re.search(r"\.yaml:\d+|\.yaml: ", err), f"{base.name}: no file named\n{err[-2000:]}"


# Paths of the tiny scenario's resolved specs that --set may change, plus some that do not exist.
SET_PATHS = ["seed", "max_cycles", "max_steps", "target_accuracy", "name", "description", "network.hidden",
             "network.activation", "dataset.name", "dataset.test_fraction", "dataset.n_samples", "cost",
             "firmware.eta", "firmware.tau_p", "firmware.tau_x", "firmware.tau_theta", "firmware.mode",
             "firmware.perturbation.amplitude", "firmware.perturbation.scheme", "firmware.perturbation.sparsity",
             "firmware.evaluation.every_steps", "chip.clock_period", "chip.inference.cycles_per_inference",
             "chip.cost_unit.noise_sigma", "chip.cost_unit.baseline_noisy", "chip.device.law",
             "chip.device.w_min", "chip.device.w_max", "chip.device.dw_min", "observation", "overrides",
             "kind", "chip", "firmware", "scenario.seed", "firmware.etaa", "test_fraction", "", ".", "a..b",
             "network.hidden.0", "chip.device"]
option_numbers = st.one_of(
    st.integers(1, 5000).map(str), extreme_numbers, st.integers(-10**25, 10**25).map(str), st.floats().map(repr),
    st.sampled_from(["", " ", "1e20", "10 ns", "1,000", "0x10", "-0", "nan", "inf", "1_000", "٣"]))
set_items = st.one_of(
    st.tuples(st.sampled_from(SET_PATHS), st.one_of(plausible, plausible, yaml_values))
    .map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.sampled_from(["=", "x", "=1", "seed", "seed==1", "seed= ", "x" * 100_000]))


@st.composite
def option_lists(draw):
    """(command, options): random --set items, preset choices and numeric options."""
    command = draw(st.sampled_from(["validate", "show", "run"]))
    options: list[str] = []
    for item in draw(st.lists(set_items, max_size=3)):
        options += ["--set", item]
    if command in ("show", "run"):
        for flag in ("--chip", "--firmware"):
            if draw(st.booleans()) and draw(st.booleans()):
                options += [flag, draw(st.sampled_from(
                    [p.stem for p in PRESETS if p.parent.name == ("chips" if flag == "--chip" else "firmware_models")]
                    + ["nope", "", "../../etc/passwd", "/dev/zero", "scenarios/quickstart.yaml"]))]
    if command == "run":
        for flag in ("--max-cycles", "--seed", "--checkpoint-every", "--checkpoint-seconds"):
            if draw(st.booleans()):
                options += [flag, draw(option_numbers)]
    return command, options


@_fuzz_settings(60)
@given(option_lists(), st.booleans())
def test_random_options_exit_cleanly(case, default_out):
    """``default_out``: a run writes where the scenario's (perhaps random) name puts it, under
    runs/ of the current directory, which must be where it stays."""
    command, options = case
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        base = work / "tiny_scenario.yaml"
        shutil.copyfile(CLI_CASES / "tiny_scenario.yaml", base)
        argv = [command, str(base), *options]
        if command == "run":
            # Whatever the options say, no example trains for more than a moment; the step
            # budget comes last so that it wins over a random one.
            argv += ["--quiet", "--set", "max_steps=200"] + ([] if default_out else ["--out", str(work / "run")])
        with contextlib.chdir(work):
            code, _out, err = _call(argv)
        assert_clean(code, err, f"hwsim {command} with {[o[:60] for o in options]}")
        assert [p.name for p in Path(tmp).iterdir()] == ["work"], f"{options}: wrote outside runs/"


SCENARIO_BASES = tuple(p for p in BASES if p.parent.name not in ("chips", "firmware_models", "sweeps"))


@pytest.mark.slow
@_fuzz_settings(40)
@given(mutated_spec_texts(SCENARIO_BASES, st.one_of(plausible, plausible, plausible, yaml_values), most=2))
def test_mutated_scenarios_that_validate_also_run_cleanly(case):
    base, text = case
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(base, text, Path(tmp))
        code, _out, err = _call(["validate", str(path)])
        assert_clean(code, err, f"hwsim validate on a mutation of {base.name}")
        if code != 0 or "kind: scenario" not in text:
            return
        code, _out, err = _call(["run", str(path), "--quiet", "--out", str(Path(tmp) / "run"),
                                 "--max-cycles", "20000", "--set", "max_steps=100",
                                 "--data-dir", str(Path(tmp) / "no_data")])
        assert_clean(code, err, f"hwsim run on a mutation of {base.name}")


CHIP_AND_FIRMWARE_BASES = tuple(p for p in PRESETS if p.parent.name in ("chips", "firmware_models"))
# The words that choose a device law, rounding, mapping, code, target or mode.
physical = st.sampled_from(
    ["constant_step", "linear_step", "soft_bounds", "exp_step", "pow_step", "quantised", "ideal", "deterministic",
     "stochastic", "reference", "differential", "cdma", "walsh", "tdma", "fdma", "gaussian", "analog", "discrete",
     "nodes", "weights", "idealised", "faithful", "min", "max", "bounds", "uniform", "value", "auxiliary",
     "weight_device", "null"])


@pytest.mark.slow
@_fuzz_settings(30)
@given(mutated_spec_texts(CHIP_AND_FIRMWARE_BASES, st.one_of(physical, physical, physical, yaml_values), most=3,
                          typed=True))
def test_mutated_chips_and_firmware_that_validate_also_run_cleanly(case):
    """The device laws, converters and firmware on edge values: a chip or firmware that
    validates trains the tiny scenario for a few steps and ends in exit 0, 2 or 3."""
    base, text = case
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(base, text, Path(tmp))
        code, _out, err = _call(["validate", str(path)])
        assert_clean(code, err, f"hwsim validate on a mutation of {base.name}")
        if code != 0:
            return
        flag = "--chip" if base.parent.name == "chips" else "--firmware"
        code, _out, err = _call(["run", str(CLI_CASES / "tiny_scenario.yaml"), flag, str(path), "--quiet",
                                 "--out", str(Path(tmp) / "run"), "--set", "max_steps=100"])
        assert_clean(code, err, f"hwsim run {flag} a mutation of {base.name}")
