"""Checkpoints: everything that determines the rest of a run, in one file, written atomically.

``RUN_DIR/checkpoint.npz`` is a zip in numpy's ``.npz`` layout (members stored, not
compressed: the state is random-looking floats), holding

* ``NAME.npy``, one member per entry of :meth:`Simulation.run_state` (0-d for a number):
  weights and device states, integrators, optimiser state, counters (step, cycle, data
  position, ...), the data order, the generators' current outputs and the observer's history;
* ``header.json`` (written last): format and version, hwsim version, spec hash, seed, cycle
  budget, step and cycle, sha256 digests of the data set and of the chip's constants
  (device-to-device variation, perturbation tables, configuration, stream seeds), and for
  every member its dtype, shape and sha256.

Nothing is pickled (numpy reads with ``allow_pickle=False``). Random streams are
counter-based (a pure function of (seed, stream, counter)), so the seed and the counters are
the RNG state; the SimPy events (observations, hooks, checkpoints) are derived from the step
counter, so the state at a resumable point (the top of the chip process's loop) restores them.

Writing: a temporary file, fsync, rename over the previous checkpoint, fsync of the folder:
the previous checkpoint stays until the new one is complete. Reading checks the zip's CRCs,
every member's sha256, dtype and shape, and that the checkpoint belongs to this run (spec
hash, seed, budget, hwsim version, data, constants); any failure raises
:class:`CheckpointError` naming the file, the field and what to do.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import math
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwsim.results.rundir import atomic_write_with
from hwsim.spec.errors import Problem, SpecError
from hwsim.spec.limits import NotARegularFile, memory_problem, open_regular, short

CHECKPOINT_FILE = "checkpoint.npz"
FORMAT = "hwsim-checkpoint"
FORMAT_VERSION = 1
HEADER = "header.json"
MAX_HEADER_BYTES = 1 << 20
DEFAULT_EVERY_SECONDS = 60.0
# A boundary (checkpoint and stop-request poll) at least every this many parameter-steps of
# kernel work: ~0.1 s on one core, so a SIGTERM is answered quickly and the Python overhead of
# a boundary (tens of microseconds) stays far below 1 %.
POLL_WORK = 2**24
POLL_MAX_STEPS = 4096


class CheckpointError(SpecError):
    """A checkpoint (or run directory) that cannot be resumed: one problem per line,
    ``FILE: field: what is wrong and what to do``. A SpecError, so the CLI exits 2."""

    def __reduce__(self):
        return (CheckpointError, (self.problems,))


def _error(path, field: str, message: str) -> CheckpointError:
    return CheckpointError([Problem(str(path), None, None, field, message)])


@dataclass(frozen=True)
class CheckpointPolicy:
    """When a run writes its checkpoint (besides when it is stopped by a signal)."""

    every_cycles: int | None = None
    """Chip cycles between checkpoints (None: not by cycles). Written at the first resumable
    point at or after each interval, so the cycle is approximate (within a poll interval)."""

    every_seconds: float | None = DEFAULT_EVERY_SECONDS
    """Wall-clock seconds between checkpoints (None or 0: not by time)."""


# --------------------------------------------------------------------------- digests


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{dtype_text(a.dtype)}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def data_digest(sim) -> str:
    """sha256 of the data set the run trains and tests on (files may change between runs)."""
    d = sim.data
    return _digest([d.x_train, d.y_train, d.x_test, d.y_test])


def constants_digest(sim) -> str:
    """sha256 of what is rebuilt from (specs, seed) rather than stored: the network layout,
    configuration, stream seeds, perturbation tables, generator gains, periphery and the
    devices' per-device constants. A different hwsim or numpy could draw them differently."""
    return _digest([*sim.net, sim.config, *sim.gens, *sim.periphery_k, sim.devices_k.dev, sim.devices_k.stuck,
                    sim.devices_k.config])


# --------------------------------------------------------------------------- writing


class _HashingWriter:
    """A write-only file object that also feeds a sha256."""

    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha256()

    def write(self, data):
        self.sha.update(data)
        return self.f.write(data)

    def flush(self):
        pass


def write_checkpoint(path: str | Path, sim, *, spec_hash: str, seed: int, budget: int,
                     digests: dict, wall_seconds: float | None = None) -> dict:
    """Write ``sim``'s run state to ``path`` atomically; return the header written."""
    path = Path(path)
    from hwsim import __version__

    state = sim.run_state()
    if wall_seconds is not None:
        state["wall_seconds"] = float(wall_seconds)
    members, scalars = {}, []
    for name, value in state.items():
        if not isinstance(value, np.ndarray):
            scalars.append(name)
            value = np.asarray(value)
        members[name] = value
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "hwsim_version": __version__,
        "spec_hash": spec_hash, "seed": int(seed), "max_cycles": int(budget),
        "step": sim.step, "cycle": sim.cycles, "observations": len(sim.curve),
        "written_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "data_sha256": digests["data_sha256"], "constants_sha256": digests["constants_sha256"],
        "scalars": scalars, "members": {},
    }

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, value in members.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as m:
                    hw = _HashingWriter(m)
                    np.lib.format.write_array(hw, value if value.flags.c_contiguous else value.copy(),
                                              allow_pickle=False)
                header["members"][name] = {"dtype": dtype_text(value.dtype), "shape": list(value.shape),
                                           "sha256": hw.sha.hexdigest()}
            zf.writestr(HEADER, json.dumps(header, indent=1).encode())

    atomic_write_with(path, write)
    return header


# --------------------------------------------------------------------------- reading


def read_checkpoint(path: str | Path, expect: dict | None = None) -> tuple[dict, dict]:
    """(header, state) from a checkpoint file, every byte verified; raises CheckpointError.

    Checks what the file itself can tell (it is a regular file, complete and undamaged, a
    checkpoint, of this format); :func:`check_belongs` checks that it belongs to a given run.
    ``expect`` (a run's :meth:`Simulation.run_state`) is the state the run holds: every
    member's name, dtype and shape is checked against it before any member is read. What the
    header announces is checked against the file's size and the memory budget before
    anything is allocated, so a damaged or hostile file cannot make the reader inflate or
    allocate more than the file holds."""
    path = Path(path)
    fix = (f"it cannot be resumed; delete it to restart the run from its beginning with "
           f"'hwsim run --resume {path.parent}'")
    try:
        f = open_regular(path)
    except FileNotFoundError:
        raise _error(path, "checkpoint", "no such file") from None
    except NotARegularFile as exc:
        raise _error(path, "checkpoint", f"{exc}; {fix}") from None
    except OSError as exc:
        raise _error(path, "checkpoint", f"cannot read the file ({exc.strerror or exc}); {fix}") from None
    try:
        with f, zipfile.ZipFile(f) as zf:
            size = os.fstat(f.fileno()).st_size
            infos = {i.filename: i for i in zf.infolist()}
            if HEADER not in infos:
                raise _error(path, HEADER, f"missing: not a complete hwsim checkpoint; {fix}")
            for info in infos.values():
                # hwsim stores members uncompressed: anything else (or sizes beyond the file's)
                # is damage, and must not make the reader inflate or allocate what it claims.
                if (info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size
                        or info.compress_size > size):
                    raise _error(path, info.filename, f"not stored as hwsim writes it (compression "
                                                      f"{info.compress_type}, {info.compress_size} of "
                                                      f"{info.file_size} bytes); {fix}")
            stored = sum(i.compress_size for i in infos.values())
            if stored > size:     # members overlap: one stretch of the file read many times
                raise _error(path, "members", f"its members claim {stored:,} bytes, more than the "
                                              f"file's {size:,}; {fix}")
            if infos[HEADER].file_size > MAX_HEADER_BYTES:
                raise _error(path, HEADER, f"implausibly large ({infos[HEADER].file_size} bytes); {fix}")
            header = _parse_header(path, zf.read(HEADER), fix)
            expected = {f"{n}.npy" for n in header["members"]} | {HEADER}
            if set(infos) != expected:
                odd = sorted(set(infos) ^ expected)
                raise _error(path, "members", f"the file's members do not match its header "
                                              f"(got or missing {', '.join(odd)}); {fix}")
            if expect is not None:
                _check_layout(path, header, expect)
            dtypes = {name: _member_dtype(path, name, meta, fix) for name, meta in header["members"].items()}
            largest = max((infos[f"{n}.npy"].file_size for n in dtypes), default=0)
            too_much = memory_problem(stored + largest, f"reading the checkpoint {path}",
                                      "resume on a machine with more memory, or set HWSIM_MEMORY_LIMIT")
            if too_much:
                raise _error(path, "checkpoint", too_much)
            state = {}
            for name, meta in header["members"].items():
                state[name] = _read_member(path, zf, infos[f"{name}.npy"], name, meta, dtypes[name], fix)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, KeyError,
            RuntimeError, NotImplementedError, OverflowError, MemoryError) as exc:
        raise _error(path, "checkpoint", f"damaged or not a checkpoint ({type(exc).__name__}: "
                                         f"{short(str(exc), 200)}); {fix}") from None
    for name in header["scalars"]:
        state[name] = state[name].item()
    return header, state


def peek_header(path: str | Path) -> dict | None:
    """The header of a checkpoint, unverified (for a message before resuming); None when it
    cannot be read, the file is not a regular file included (resuming then says why)."""
    try:
        with open_regular(path) as f, zipfile.ZipFile(f) as zf:
            if zf.getinfo(HEADER).file_size > MAX_HEADER_BYTES:
                return None
            header = json.loads(zf.read(HEADER).decode("utf-8"))
        return header if isinstance(header, dict) else None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, KeyError, ValueError, EOFError,
            RuntimeError, NotImplementedError, OverflowError, MemoryError):
        return None


def _check_layout(path: Path, header: dict, expect: dict) -> None:
    """CheckpointError unless the header's members are the run's state, each of the run's
    dtype and shape (the curve's rows may differ: it grows during a run)."""
    members = header["members"]
    missing, extra = sorted(set(expect) - set(members)), sorted(set(members) - set(expect))
    if missing or extra:
        odd = "; ".join(t for t in (f"missing {', '.join(missing)}" if missing else "",
                                    f"unknown {', '.join(extra)}" if extra else "") if t)
        odd = odd if len(odd) <= 200 else odd[:197] + "..."
        raise _error(path, "members", f"does not fit this run's state ({odd}): written by a "
                                      "different build of hwsim; delete it to rerun from the beginning")
    for name, current in expect.items():
        meta = members[name]
        if isinstance(current, np.ndarray):
            want_dtype, want = dtype_text(current.dtype), list(current.shape)
            if name.startswith("curve_"):      # the observer's history: one row per observation
                ok = len(meta["shape"]) == 2 and meta["shape"][1] == want[1]
                want_text = f"{want_dtype}[n, {want[1]}]"
            else:
                ok = meta["shape"] == want
                want_text = f"{want_dtype}{want}"
            ok = ok and meta["dtype"] == want_dtype
        else:
            ok, want_text = meta["shape"] == [], "a number"
        if not ok:
            held = f"{meta['dtype']}{meta['shape']}"
            held = held if len(held) <= 60 else held[:57] + "..."
            raise _error(path, name, f"holds {held} but this run's "
                                     f"state is {want_text}: written by a different build of hwsim or "
                                     "for other specs; delete it to rerun from the beginning")


def _parse_header(path: Path, raw: bytes, fix: str) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _error(path, HEADER, f"not valid JSON ({exc}); {fix}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _error(path, "format", f"not an hwsim checkpoint (got format "
                                     f"{header.get('format') if isinstance(header, dict) else header!r:.40}; "
                                     f"expected {FORMAT!r})")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise _error(path, "format_version", f"written in checkpoint format {version!r}; this hwsim "
                                             f"reads format {FORMAT_VERSION}: resume with the hwsim "
                                             f"version that wrote it ({header.get('hwsim_version')!r})")
    types = {"hwsim_version": str, "spec_hash": str, "seed": int, "max_cycles": int, "step": int,
             "cycle": int, "data_sha256": str, "constants_sha256": str, "scalars": list, "members": dict}
    for key, kind in types.items():
        value = header.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _error(path, key, f"missing or of the wrong type in the header (got {value!r:.60}; "
                                    f"expected {kind.__name__}); {fix}")
    for name, meta in header["members"].items():
        ok = (isinstance(meta, dict) and isinstance(meta.get("dtype"), str)
              and isinstance(meta.get("sha256"), str) and isinstance(meta.get("shape"), list)
              and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in meta["shape"]))
        if not ok or not isinstance(name, str) or not name or "/" in name:
            raise _error(path, f"members.{name}", f"malformed entry in the header; {fix}")
    if not set(header["scalars"]) <= set(header["members"]):
        raise _error(path, "scalars", f"names entries that are not members; {fix}")
    return header


def dtype_text(dtype: np.dtype) -> str:
    """A dtype as the header writes it: numpy's type string, or for a record (the kernel's
    counters, hwsim.kernels.state) its field list, which the type string ("|V152") loses."""
    if dtype.fields is None:
        return dtype.str
    return repr(np.lib.format.dtype_to_descr(dtype))


def parse_dtype(text: str) -> np.dtype:
    """The dtype of ``dtype_text`` (a field list is read as a Python literal, never evaluated)."""
    if text.startswith("["):
        import ast

        return np.lib.format.descr_to_dtype(ast.literal_eval(text))
    return np.dtype(text)


def _member_dtype(path: Path, name: str, meta: dict, fix: str) -> np.dtype:
    try:
        dtype = parse_dtype(meta["dtype"])
    except (TypeError, ValueError, SyntaxError, KeyError, IndexError, RecursionError, MemoryError):
        raise _error(path, name, f"unknown dtype {short(meta['dtype'])} in the header; {fix}") from None
    if dtype.hasobject:
        raise _error(path, name, f"holds Python objects (dtype {short(meta['dtype'])}); refused; {fix}")
    return dtype


def _read_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, meta: dict,
                 dtype: np.dtype, fix: str) -> np.ndarray:
    nbytes = math.prod(meta["shape"]) * dtype.itemsize
    # A .npy member is a short header (at most a few hundred bytes here) and the data.
    if not nbytes <= info.file_size <= nbytes + 4096:
        raise _error(path, name, f"{info.file_size} bytes stored for {nbytes} bytes of data; {fix}")
    raw = zf.read(info)                       # the zip checks its CRC
    if hashlib.sha256(raw).hexdigest() != meta["sha256"]:
        raise _error(path, name, f"checksum mismatch (the data changed after it was written); {fix}")
    value = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    if value.dtype != dtype or list(value.shape) != meta["shape"]:
        raise _error(path, name, f"holds {dtype_text(value.dtype)}{list(value.shape)}, its header says "
                                 f"{meta['dtype']}{meta['shape']}; {fix}")
    return value


def check_belongs(path: str | Path, header: dict, *, spec_hash: str, seed: int, budget: int,
                  digests: dict | None = None) -> None:
    """Raise CheckpointError unless the checkpoint was written by this hwsim for the run
    (spec hash, seed, cycle budget; data and constants when ``digests`` is given)."""
    from hwsim import __version__

    path = Path(path)
    if header["hwsim_version"] != __version__:
        raise _error(path, "hwsim_version", f"written by hwsim {header['hwsim_version']}; this is hwsim "
                                            f"{__version__}, whose results may differ: resume with hwsim "
                                            f"{header['hwsim_version']}, or delete the checkpoint to rerun "
                                            "from the beginning")
    if header["spec_hash"] != spec_hash:
        raise _error(path, "spec_hash", f"belongs to other specs (got spec hash {header['spec_hash']}; "
                                        f"this run's specs hash to {spec_hash}): resume with the "
                                        "scenario, --chip, --firmware and --set options the run "
                                        "started with, or with no scenario (the run directory's "
                                        "manifest.json has them)")
    if header["seed"] != seed:
        raise _error(path, "seed", f"belongs to seed {header['seed']} (got --seed {seed}): drop --seed "
                                   "or give the run's own")
    if header["max_cycles"] != budget:
        raise _error(path, "max_cycles", f"belongs to a run with a budget of {header['max_cycles']:,} "
                                         f"cycles (got {budget:,}): drop --max-cycles or give the run's own")
    if digests is not None:
        if header["data_sha256"] != digests["data_sha256"]:
            raise _error(path, "data_sha256", "the data set differs from the one the run started with "
                                              "(its files changed?): restore them, or delete the "
                                              "checkpoint to rerun from the beginning")
        if header["constants_sha256"] != digests["constants_sha256"]:
            raise _error(path, "constants_sha256", "the chip's constants rebuilt from the specs and "
                                                   "seed (device variation, perturbation tables) differ "
                                                   "from the run's (a different numpy?): resume where "
                                                   "the run started, or delete the checkpoint to rerun")


def restore(path: str | Path, sim, *, spec_hash: str, seed: int, budget: int) -> dict:
    """Read, verify and load a checkpoint into ``sim`` (freshly built for the same run);
    return its header. Raises CheckpointError."""
    header, state = read_checkpoint(path, expect=sim.run_state())
    check_belongs(path, header, spec_hash=spec_hash, seed=seed, budget=budget,
                  digests={"data_sha256": data_digest(sim), "constants_sha256": constants_digest(sim)})
    try:
        sim.restore_run_state(state)
    except (KeyError, ValueError) as exc:
        raise _error(path, "members", f"does not fit this run's state ({str(exc).strip(chr(34))}): "
                                      "written by a different build of hwsim; delete it to rerun "
                                      "from the beginning") from None
    if sim.step != header["step"] or sim.cycles != header["cycle"]:
        raise _error(path, "step", f"the header says step {header['step']}, cycle {header['cycle']}; "
                                   f"the state holds step {sim.step}, cycle {sim.cycles}")
    return header


# --------------------------------------------------------------------------- during a run


def poll_steps(sim, every_cycles: int | None = None) -> int:
    """Steps between two resumable points at which checkpoints and stop requests are
    handled: about POLL_WORK parameter-steps, fewer when checkpoints are due by cycles.
    Block boundaries never change results, so this only trades latency for overhead."""
    steps = max(1, min(POLL_MAX_STEPS, POLL_WORK // max(1, sim.layout.n_params)))
    if every_cycles:
        steps = max(1, min(steps, int(every_cycles) // max(1, int(sim.config[0]["cpi"]))))
    return steps


class Checkpointer:
    """Writes ``run_dir/checkpoint.npz`` at resumable points when the policy says so (or when
    forced: a stop request). Keeps count of what it wrote and how long that took."""

    def __init__(self, run_dir: str | Path, sim, *, spec_hash: str, seed: int, budget: int,
                 policy: CheckpointPolicy | None = None):
        self.path = Path(run_dir) / CHECKPOINT_FILE
        self.policy = policy or CheckpointPolicy()
        self.spec_hash, self.seed, self.budget = spec_hash, int(seed), int(budget)
        self.digests = {"data_sha256": data_digest(sim), "constants_sha256": constants_digest(sim)}
        self.wall_base = sim.wall_seconds
        self.started = time.perf_counter()
        self.last_time = time.monotonic()
        self.last_cycle = sim.cycles
        self.last_step: int | None = None
        self.written = 0
        self.write_seconds = 0.0
        self.last_bytes = 0

    def due(self, sim) -> bool:
        p = self.policy
        if p.every_cycles and sim.cycles - self.last_cycle >= p.every_cycles:
            return True
        return bool(p.every_seconds) and time.monotonic() - self.last_time >= p.every_seconds

    def at_boundary(self, sim, force: bool = False) -> bool:
        """Write a checkpoint if one is due (or ``force``) and the state moved since the last."""
        if not (force or self.due(sim)) or self.last_step == sim.step:
            return False
        self.write(sim)
        return True

    def write(self, sim) -> dict:
        t0 = time.perf_counter()
        header = write_checkpoint(self.path, sim, spec_hash=self.spec_hash, seed=self.seed,
                                  budget=self.budget, digests=self.digests,
                                  wall_seconds=self.wall_base + (t0 - self.started))
        self.write_seconds += time.perf_counter() - t0
        self.written += 1
        self.last_time, self.last_cycle, self.last_step = time.monotonic(), sim.cycles, sim.step
        self.last_bytes = self.path.stat().st_size
        return header


@contextlib.contextmanager
def run_dir_lock(run_dir: str | Path):
    """One process at a time runs in a run directory (an advisory lock on the folder itself,
    released when the process ends, even killed)."""
    try:
        import fcntl
    except ImportError:   # not POSIX: no lock
        yield
        return
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _error(run_dir, "run directory", "another hwsim process is running in it; wait for "
                                                   "it to finish (or stop it), or choose another --out") from None
        yield
    finally:
        os.close(fd)
