"""The one YAML reader of hwsim: every spec, sweep and ``--set`` value goes through it. It
remembers where every key and value stands (for FILE:LINE:COL errors) and bounds what reading
may cost, whatever the file holds.

Limits, sized from the largest legitimate spec (a sweep file whose axes, zip groups and choices
hold up to 100,000 values each; a chip, firmware or scenario file is a few kilobytes):

``MAX_FILE_BYTES`` (32 MiB)
    The file's size, checked with ``fstat`` before anything is read.
``MAX_NODES`` (1,000,000)
    Values, lists and mappings in the document *with every alias expanded*.
``MAX_SCALAR_BYTES`` (32 MiB)
    Characters of keys and values in the document with every alias expanded.
``MAX_DEPTH`` (40)
    Nesting of lists and mappings, aliases expanded.

The expanded document may be no larger than the largest document accepted when written out
in full, so anchors and aliases can abbreviate a spec but never make one bigger than could be
written out: a "billion laughs" file of nested aliases, or thousands of aliases of one long
string, is refused at the alias that crosses a limit, FILE:LINE:COL. The expanded size is
measured without expanding: the parser's events are read once into a tree in which an alias
is its anchored node, whose size (nodes, characters, depth) was counted once when it was read.
Only documents within the limits are turned into Python values.

Only regular files are read: a FIFO, a device (``/dev/zero``), a socket or a directory is
refused before a byte is read (the file is opened without blocking and checked with
``fstat``), so no path a user names can hang hwsim or fill its memory.

Values: plain scalars are typed by YAML 1.1's safe rules (int, float, bool, null, text);
dates and the ``=``/``<<`` symbols stay text. Explicit standard tags (``!!int``, ``!!float``,
``!!bool``, ``!!null``, ``!!str``, ``!!seq``, ``!!map``) are honoured when the value fits them;
other tags (``!!binary``, ``!!timestamp``, ``!!set``, ``!!omap``, ``!!pairs``, ``!!merge``,
``!!value``, ``!!yaml``, ``!!python/...``, local ``!tags``) are refused, FILE:LINE:COL.
A number too large for a float (``1.0e+400``) is refused rather than read as infinity; write
``.inf`` where a field means it.

Cost: the events come from libyaml when PyYAML has it (the pure-Python parser otherwise).
``python -c "from hwsim.spec.yaml_source import bench_reader; bench_reader()"`` prints its cost
against ``yaml.safe_load`` on the shipped presets and on a 100,000-value sweep axis.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import ScalarNode

from hwsim.spec.errors import Problem, SpecError
from hwsim.spec.limits import format_bytes, short

MAX_FILE_BYTES = 32 * 2**20
MAX_NODES = 1_000_000
MAX_SCALAR_BYTES = 32 * 2**20
MAX_DEPTH = 40
#: Parses of files up to this size are memoised (presets read once per sweep point).
CACHE_FILE_BYTES = 2**20

_STD = "tag:yaml.org,2002:"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = yaml.constructor.SafeConstructor
# Explicit tags of plain values and what such a value must look like.
_SCALAR_TAGS = {"str": "text", "null": "null or ~ or nothing", "bool": "true or false",
                "int": "a whole number such as 1000", "float": "a number such as 1.0e3"}
# Implicitly resolved tags that are just text in a spec (dates, '=' and '<<' as values).
_TEXT_TAGS = {_STD + "timestamp", _STD + "value", _STD + "merge"}


@dataclass
class SourceDoc:
    """A parsed YAML mapping plus the 1-based (line, col) of each dotted path in it."""

    path: str
    data: dict
    positions: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    # Where a location comes from when that is not ``path`` (a parent of ``extends:``, a
    # scenario's overrides, --set): loc -> (file, line | None, col | None).
    origins: dict[tuple, tuple[str, int | None, int | None]] = field(default_factory=dict)

    def where(self, loc: tuple) -> tuple[int, int] | None:
        """(line, col) of ``loc`` or of its nearest ancestor that the file spells out."""
        file, line, col = self.locate(loc)
        return (line, col) if line is not None else None

    def locate(self, loc: tuple) -> tuple[str, int | None, int | None]:
        """(file, line, col) of ``loc`` or of its nearest ancestor with a known place."""
        loc = tuple(loc)
        while True:
            if loc in self.origins:
                return self.origins[loc]
            if loc in self.positions:
                line, col = self.positions[loc]
                return self.path, line, col
            if not loc:
                return self.path, None, None
            loc = loc[:-1]

    def set_origin(self, loc: tuple, origin: tuple[str, int | None, int | None]) -> None:
        """Record that ``loc`` and everything below it now come from ``origin``."""
        loc = tuple(loc)
        n = len(loc)
        for table in (self.positions, self.origins):
            for key in [k for k in table if k[:n] == loc]:
                del table[key]
        self.origins[loc] = origin

    def copy(self) -> "SourceDoc":
        """A copy whose data the caller may change (positions and origins hold only tuples)."""
        return SourceDoc(self.path, copy.deepcopy(self.data), dict(self.positions), dict(self.origins))


def _one(path, line, col, where, message) -> SpecError:
    return SpecError([Problem(path, line, col, where, message)])


# --------------------------------------------------------------------------- files


def read_yaml(path: str | Path) -> SourceDoc:
    """Parse ``path`` into a SourceDoc; any problem becomes a SpecError with its position.

    Only regular files are read (checked before reading). Parses are memoised by the
    file's content, failures included, so resolving the hundreds of points of a sweep parses
    each preset once and a file is not parsed twice; callers get their own copy to change.
    """
    path = str(path)
    raw = read_regular_file(path, MAX_FILE_BYTES, "YAML file")
    outcome = (_parse_small if len(raw) <= CACHE_FILE_BYTES else _parse_large)(raw, path)
    if isinstance(outcome, SpecError):
        raise SpecError(outcome.problems)
    return outcome.copy()


def read_regular_file(path: str, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of ``path``; a SpecError (path ``(file)``) when it is missing, not a regular
    file (a FIFO, a device such as /dev/zero, a socket, a directory) or larger than
    ``max_bytes``. A special file is refused before it is opened (opening some devices acts
    on them); the file is then opened without blocking and checked again with fstat, in case
    the path changed in between."""
    try:
        kind = special_file_kind(os.stat(path).st_mode)
    except OSError:
        kind = None                       # missing or unreadable: os.open says which below
    if kind is not None:
        raise _one(path, None, None, "(file)", f"not a regular file (got {kind}; expected a {what}): "
                                              "name the file itself")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise _one(path, None, None, "(file)", f"file not found (got this path; expected an "
                                              f"existing {what}): check the path") from None
    except IsADirectoryError:
        raise _one(path, None, None, "(file)", f"is a directory (got a folder; expected a {what})") from None
    except OSError as exc:
        raise _one(path, None, None, "(file)", f"cannot read the file ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        kind = special_file_kind(st.st_mode)
        if kind is not None:
            raise _one(path, None, None, "(file)", f"not a regular file (got {kind}; expected a {what}): "
                                                  "name the file itself")
        if st.st_size > max_bytes:
            raise _one(path, None, None, "(file)", f"file too large (got {format_bytes(st.st_size)}; "
                                                  f"expected at most {format_bytes(max_bytes)} for a {what})")
        with os.fdopen(os.dup(fd), "rb") as f:
            # The size fstat gave plus one byte (read() allocates what it is asked for); a file
            # that grew since is read on, still at most one byte past the limit.
            raw = f.read(st.st_size + 1)
            if len(raw) > st.st_size:
                raw += f.read(max_bytes + 1 - len(raw))
    except OSError as exc:
        raise _one(path, None, None, "(file)", f"cannot read the file ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(raw) > max_bytes:
        raise _one(path, None, None, "(file)", f"file too large (got more than {format_bytes(max_bytes)}; "
                                              f"expected at most that for a {what})")
    return raw


def special_file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is ('a FIFO (named pipe)', 'a directory', ...)."""
    if stat.S_ISREG(mode):
        return None
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def _parse_outcome(raw: bytes, path: str) -> SourceDoc | SpecError:
    try:
        return parse_yaml(raw, path)
    except SpecError as exc:
        return SpecError(exc.problems)    # without the traceback, whose frames hold the parse


# Memos of parses keyed by the file's content and path, failures included; callers only ever
# get copies. Small files (presets, read once per sweep point): the last 64. Larger ones (big
# sweep files, validated then planned): the last one only, to bound the memory held.
_parse_small = functools.lru_cache(maxsize=64)(_parse_outcome)
_parse_large = functools.lru_cache(maxsize=1)(_parse_outcome)


# --------------------------------------------------------------------------- text


def parse_yaml(raw: bytes | str, path: str) -> SourceDoc:
    """Parse YAML text (bytes or str) that came from ``path`` into a SourceDoc whose top level
    is a mapping."""
    node = _parse_tree(raw, path)
    if node is None:
        raise _one(path, 1, 1, "(top level)",
                   "the file is empty (got no fields; expected a mapping such as 'kind: chip')")
    if node[0] != "m":
        got = "a list" if node[0] == "q" else f"the value {short(node[1], 40)}"
        raise _one(path, node[2], node[3], "(top level)",
                   f"not a mapping of fields (got {got}; expected key: value lines such as 'kind: chip')")
    positions: dict = {}
    data = _build(node, (), positions)
    positions.setdefault((), (node[2], node[3]))
    return SourceDoc(path, data, positions)


def parse_value(text: str, where: str) -> object:
    """One YAML value typed on the command line (``--set PATH=VALUE``), read with the same
    rules and limits as a file; SpecError (path ``(syntax)`` for a syntax error) otherwise."""
    node = _parse_tree(text, where)
    if node is None:
        return None
    return _build(node, (), {})


def _decode(raw: bytes | str, path: str) -> bytes:
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _one(path, None, None, "(file)", f"not UTF-8 text (got byte 0x{raw[exc.start]:02x} at "
                                               f"offset {exc.start}; expected a YAML text file): "
                                               "is this a binary file?") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise _one(path, line, None, "(file)", "contains NUL bytes (got binary data; expected a YAML "
                                               "text file): is this a binary file?")
    return raw


def _parse_tree(raw: bytes | str, path: str):
    """The document's tree (see _Reader), None when it is empty; SpecError on any problem."""
    data = _decode(raw, path)
    if len(data) > MAX_FILE_BYTES:
        raise _one(path, None, None, "(file)", f"text too large (got {format_bytes(len(data))}; "
                                              f"expected at most {format_bytes(MAX_FILE_BYTES)})")
    loader = _LOADER(data)
    reader = _Reader(loader, path, data)
    try:
        node = reader.document()
    except yaml.MarkedYAMLError as exc:
        raise reader.syntax_error(exc) from None
    except yaml.reader.ReaderError as exc:
        line = data.count(b"\n", 0, exc.position) + 1
        raise _one(path, line, None, "(syntax)", f"not YAML text (got the control character "
                                                 f"{chr(exc.character)!r}; expected printable text)") from None
    except yaml.YAMLError as exc:
        raise _one(path, None, None, "(syntax)", "YAML error: " + short(" ".join(str(exc).split()), 200)) from None
    finally:
        loader.dispose()
    if reader.problems:
        raise SpecError(reader.problems)
    return node


class _Limit(Exception):
    """The document crossed a size limit (turned into a SpecError at the node that did)."""


class _Reader:
    """The parser's events -> a tree of tuples, counting the expanded size as it goes.

    Nodes: ("s", value, line, col) for a scalar (already typed), ("q", [child, ...], line,
    col) for a list, ("m", [(key, line, col, child), ...], line, col) for a mapping. An alias
    is its anchored node itself (shared, never copied). ``anchors`` holds, for each anchor,
    (node, expanded nodes, expanded characters, height), counted once when it was read.
    """

    def __init__(self, loader, path: str, data: bytes):
        self.loader = loader
        self.path = path
        self.data = data
        self.problems: list[Problem] = []
        self.anchors: dict[str, tuple] = {}
        self.open_anchors: set[str] = set()
        self.nodes = 0
        self.chars = 0
        self.constructor = _CONSTRUCTOR()
        self.resolve = loader.resolve

    def document(self):
        loader = self.loader
        loader.get_event()                              # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()                              # DocumentStart
        try:
            node, _, _, _ = self.node(())
        except _Limit as exc:
            raise _one(self.path, *exc.args) from None
        loader.get_event()                              # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.peek_event()
            mark = event.start_mark
            raise _one(self.path, mark.line + 1, mark.column + 1, "(syntax)",
                       "more than one YAML document (got a second '---' document; expected one spec "
                       "per file)")
        return node

    def _grow(self, nodes: int, chars: int, depth: int, mark, loc: tuple) -> None:
        self.nodes += nodes
        self.chars += chars
        what = None
        if self.nodes > MAX_NODES:
            what = (f"too many values (got more than {MAX_NODES:,} with every alias expanded; "
                    "expected a spec: sweep axes hold at most 100,000 values)")
        elif self.chars > MAX_SCALAR_BYTES:
            what = (f"too much text (got more than {format_bytes(MAX_SCALAR_BYTES)} of keys and values "
                    "with every alias expanded; expected a spec)")
        elif depth > MAX_DEPTH:
            what = f"nested too deeply (got more than {MAX_DEPTH} levels with every alias expanded; expected a spec)"
        if what is not None:
            if nodes > 1:
                what += ": an alias of a large anchored value (an alias bomb?)"
            raise _Limit(mark.line + 1, mark.column + 1, _dotted(loc), what)

    def node(self, loc: tuple):
        """Read the node at ``loc``: (tree, expanded nodes, expanded characters, height)."""
        loader = self.loader
        depth = len(loc)
        event = loader.get_event()
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        if isinstance(event, yaml.AliasEvent):
            name = event.anchor
            if name in self.open_anchors:
                self.problems.append(Problem(self.path, line, col, _dotted(loc),
                                             f"an alias inside its own anchor (got *{name[:40]} within "
                                             f"&{name[:40]}; expected a value that does not contain itself)"))
                return ("s", None, line, col), 1, 0, 0
            if name not in self.anchors:
                self.problems.append(Problem(self.path, line, col, _dotted(loc),
                                             f"undefined alias (got *{name[:40]}; expected an anchor "
                                             f"&{name[:40]} earlier in the file)"))
                return ("s", None, line, col), 1, 0, 0
            tree, nodes, chars, height = self.anchors[name]
            self._grow(nodes, chars, depth + height, mark, loc)
            return tree, nodes, chars, height
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            if anchor in self.anchors or anchor in self.open_anchors:
                self.problems.append(Problem(self.path, line, col, _dotted(loc),
                                             f"anchor defined twice (got &{anchor[:40]} again; expected "
                                             "each anchor name once)"))
            self.open_anchors.add(anchor)
        if isinstance(event, yaml.ScalarEvent):
            self._grow(1, len(event.value), depth, mark, loc)
            result = ("s", self.scalar(event, loc, line, col), line, col), 1, len(event.value), 0
        elif isinstance(event, yaml.SequenceStartEvent):
            self._grow(1, 0, depth + 1, mark, loc)
            self.check_collection_tag(event, "seq", loc, line, col)
            items, nodes, chars, height = [], 1, 0, 1
            while not loader.check_event(yaml.SequenceEndEvent):
                child, n, c, h = self.node(loc + (len(items),))
                items.append(child)
                nodes, chars, height = nodes + n, chars + c, max(height, h + 1)
            loader.get_event()
            result = ("q", items, line, col), nodes, chars, height
        else:  # MappingStartEvent
            self._grow(1, 0, depth + 1, mark, loc)
            self.check_collection_tag(event, "map", loc, line, col)
            entries, nodes, chars, height = [], 1, 0, 1
            seen = set()
            while not loader.check_event(yaml.MappingEndEvent):
                key_event = loader.peek_event()
                key_mark = key_event.start_mark
                kline, kcol = key_mark.line + 1, key_mark.column + 1
                name = key_event.value if isinstance(key_event, yaml.ScalarEvent) else "?"
                key_tree, n, c, _ = self.node(loc + (name,))
                value_tree, n2, c2, h = self.node(loc + (name,))
                nodes, chars, height = nodes + n + n2, chars + c + c2, max(height, h + 1)
                key = self.key(key_event, key_tree)
                if key is None:
                    self.problems.append(Problem(self.path, kline, kcol, _dotted(loc),
                                                 "not a field name (got a list, mapping or merge key; "
                                                 "expected a plain name such as clock_period)"))
                    continue
                if key in seen:
                    self.problems.append(Problem(self.path, kline, kcol, _dotted(loc + (key,)),
                                                 "this key appears twice in the same mapping; keep one"))
                    continue
                seen.add(key)
                entries.append((key, kline, kcol, value_tree))
            loader.get_event()
            result = ("m", entries, line, col), nodes, chars, height
        if anchor is not None:
            self.open_anchors.discard(anchor)
            self.anchors.setdefault(anchor, result)
        return result

    def key(self, event, tree) -> str | None:
        """The field name of a key: its text as written; None for a collection or merge key."""
        if not isinstance(event, yaml.ScalarEvent) or tree[0] != "s":
            return None
        tag = event.tag
        if tag in (None, "!"):
            tag = self.resolve(ScalarNode, event.value, event.implicit)
        return None if tag == _STD + "merge" else event.value

    def check_collection_tag(self, event, kind: str, loc: tuple, line: int, col: int) -> None:
        tag = event.tag
        if tag in (None, "!", _STD + kind):
            return
        self.problems.append(Problem(self.path, line, col, _dotted(loc),
                                     _tag_message(tag, "a list" if kind == "seq" else "a mapping")))

    def scalar(self, event, loc: tuple, line: int, col: int):
        value = event.value
        tag = event.tag
        explicit = tag not in (None, "!")
        if not explicit:
            tag = self.resolve(ScalarNode, value, event.implicit)
            if tag in _TEXT_TAGS:
                return value
        name = tag[len(_STD):] if tag.startswith(_STD) else None
        if name not in _SCALAR_TAGS:
            self.problems.append(Problem(self.path, line, col, _dotted(loc), _tag_message(tag, short(value, 40))))
            return None
        if name == "str":
            return value
        try:
            result = getattr(self.constructor, f"construct_yaml_{name}")(ScalarNode(tag, value))
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError, yaml.YAMLError):
            self.problems.append(Problem(self.path, line, col, _dotted(loc),
                                         f"not a value of !!{name} (got {short(value, 40)}; expected "
                                         f"{_SCALAR_TAGS[name]}): fix the value or drop the tag"))
            return None
        if name == "float" and math.isinf(result) and "inf" not in value.lower():
            self.problems.append(Problem(self.path, line, col, _dotted(loc),
                                         f"number too large for a float (got {short(value, 40)}; expected "
                                         "at most about 1.8e308, or .inf where a field means infinity)"))
            return None
        return result

    def syntax_error(self, exc) -> SpecError:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = exc.problem or "YAML syntax error"
        if what == "found character that cannot start any token" and mark is not None:
            # libyaml leaves out which character; the pure-Python parser's wording says it.
            char = _char_at(self.data, mark.line, mark.column)
            if char is not None:
                what = f"found character {char!r} that cannot start any token"
        context = f" {exc.context}" if exc.context else ""
        return _one(self.path, line, col, "(syntax)", f"YAML syntax error: {what}{context}")


def _dotted(loc: tuple) -> str:
    if len(loc) > 6:          # a deeply nested place: its start says where it is
        return ".".join(map(str, loc[:3])) + "..."
    return ".".join(map(str, loc)) or "(top level)"


def _char_at(data: bytes, line: int, column: int) -> str | None:
    lines = data.decode("utf-8", "replace").split("\n")
    if line < len(lines) and column < len(lines[line]):
        return lines[line][column]
    return None


def _tag_message(tag: str, got: str) -> str:
    shown = "!!" + tag[len(_STD):] if tag.startswith(_STD) else tag
    return (f"unsupported YAML tag (got {short(shown, 60)} on {got}; expected a plain value: specs "
            "take numbers, text, true/false, null, lists and mappings)")


def _build(node, loc: tuple, positions: dict):
    """Python values of a tree (aliases expanded into copies), recording each location."""
    kind = node[0]
    if kind == "s":
        return node[1]
    if kind == "q":
        out = []
        for i, child in enumerate(node[1]):
            positions[loc + (i,)] = (child[2], child[3])
            out.append(_build(child, loc + (i,), positions))
        return out
    result = {}
    for key, kline, kcol, child in node[1]:
        positions[loc + (key,)] = (kline, kcol)
        result[key] = _build(child, loc + (key,), positions)
    return result


# --------------------------------------------------------------------------- cost figures


def bench_reader() -> None:
    """Print the cost of this reader against yaml.safe_load (presets; a 100,000-value axis)."""
    import tempfile
    import time

    from hwsim.spec.loader import PRESET_DIRS, project_root

    def best(fn, repeat):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    root = project_root()
    presets = sorted(p for d in PRESET_DIRS.values() for p in (root / d).glob("*.yaml"))
    texts = [p.read_bytes() for p in presets]
    ours = best(lambda: [parse_yaml(t, "x") for t in texts], 20)     # parse_yaml has no memo
    theirs = best(lambda: [yaml.safe_load(t) for t in texts], 20)
    print(f"{len(presets)} presets: this reader {ours * 1e3:.1f} ms, yaml.safe_load {theirs * 1e3:.1f} ms, "
          f"ratio {ours / theirs:.2f}")
    values = ", ".join(repr(1e-6 * i) for i in range(100_000))
    text = (f"kind: sweep\nname: big\nscenario: quickstart\nmax_points: 10000000\n"
            f"axes:\n  firmware.eta: [{values}]\n").encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "axis.yaml"
        path.write_bytes(text)
        # A fresh read each time (the memo would otherwise answer): file checks, parse, copy.
        ours = best(lambda: (_parse_large.cache_clear(), read_yaml(path)), 3)
    theirs = best(lambda: yaml.safe_load(text), 3)
    print(f"100,000-value axis ({format_bytes(len(text))}): this reader {ours:.2f} s, "
          f"yaml.safe_load {theirs:.2f} s, ratio {ours / theirs:.2f}")
