"""Read YAML while remembering where every key and value stands (for FILE:LINE:COL errors)."""

from __future__ import annotations

import copy
import functools
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hwsim.spec.errors import Problem, SpecError


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


MAX_DEPTH = 40
MAX_NODES = 100_000


def _construct(node, loc: tuple, positions: dict, problems: list, path: str):
    if len(loc) > MAX_DEPTH:
        problems.append(Problem(path, node.start_mark.line + 1, node.start_mark.column + 1,
                                ".".join(map(str, loc[:3])) + "...",
                                f"nested too deeply (got more than {MAX_DEPTH} levels; expected a spec)"))
        return None
    positions.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
    if node.tag and not node.tag.startswith("tag:yaml.org,2002:"):
        problems.append(Problem(path, node.start_mark.line + 1, node.start_mark.column + 1,
                                ".".join(map(str, loc)) or "(top level)",
                                f"unsupported YAML tag (got {node.tag!r}; expected a plain value)"))
        return None
    if node.tag and node.tag.startswith("tag:yaml.org,2002:python"):
        problems.append(Problem(path, node.start_mark.line + 1, node.start_mark.column + 1,
                                ".".join(map(str, loc)) or "(top level)",
                                f"unsupported YAML tag (got {node.tag!r}; expected a plain value)"))
        return None
    if len(positions) > MAX_NODES:
        raise yaml.YAMLError(f"more than {MAX_NODES} values (anchors expanding without bound?)")
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                problems.append(Problem(path, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                        ".".join(map(str, loc)) or "(top level)",
                                        "not a field name (got a list, mapping or merge key; "
                                        "expected a plain name such as clock_period)"))
                continue
            key = key_node.value
            if key in out:
                problems.append(Problem(path, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                        ".".join(map(str, loc + (key,))),
                                        "this key appears twice in the same mapping; keep one"))
                continue
            positions[loc + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _construct(value_node, loc + (key,), positions, problems, path)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, loc + (i,), positions, problems, path) for i, v in enumerate(node.value)]
    # Scalars: let PyYAML's safe resolver decide int/float/bool/null/str.
    try:
        return yaml.safe_load(yaml.serialize(node))
    except yaml.YAMLError as exc:
        problems.append(Problem(path, node.start_mark.line + 1, node.start_mark.column + 1,
                                ".".join(map(str, loc)) or "(top level)",
                                f"unreadable value (got {node.value!r}; expected a plain YAML value): "
                                f"{getattr(exc, 'problem', None) or exc}"))
        return None


def _one(path, line, col, where, message) -> SpecError:
    return SpecError([Problem(path, line, col, where, message)])


def read_yaml(path: str | Path) -> SourceDoc:
    """Parse ``path`` into a SourceDoc; any problem becomes a SpecError with its position.

    Parses are memoised by the file's identity (path, size, inode, modification time), so
    resolving the hundreds of points of a sweep reads each preset once; callers get their
    own copy to change.
    """
    path = str(path)
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        return copy.deepcopy(_read_yaml_cached(path, st.st_size, st.st_ino, st.st_mtime_ns))
    return _read_yaml(path)


@functools.lru_cache(maxsize=128)
def _read_yaml_cached(path: str, size: int, inode: int, mtime_ns: int) -> SourceDoc:
    return _read_yaml(path)


def _read_yaml(path: str) -> SourceDoc:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise _one(path, None, None, "(file)", "file not found (got this path; expected an "
                                              "existing YAML file): check the path") from None
    except IsADirectoryError:
        raise _one(path, None, None, "(file)", "is a directory (got a folder; expected a YAML file)") from None
    except OSError as exc:
        raise _one(path, None, None, "(file)", f"cannot read the file ({exc.strerror})") from None
    return parse_yaml(raw, path)


def parse_yaml(raw: bytes | str, path: str) -> SourceDoc:
    """Parse YAML text (bytes or str) that came from ``path``."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _one(path, None, None, "(file)", f"not UTF-8 text (got byte 0x{raw[exc.start]:02x} at "
                                                   f"offset {exc.start}; expected a YAML text file): "
                                                   "is this a binary file?") from None
    else:
        text = raw
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise _one(path, line, None, "(file)", "contains NUL bytes (got binary data; expected a YAML "
                                               "text file): is this a binary file?")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = exc.problem or "YAML syntax error"
        context = f" {exc.context}" if exc.context else ""
        raise _one(path, line, col, "(syntax)", f"YAML syntax error: {what}{context}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise _one(path, line, col, "(syntax)", f"not YAML text (got the control character "
                                                f"{chr(exc.character)!r}; expected printable text)") from None
    except yaml.YAMLError as exc:
        raise _one(path, None, None, "(syntax)", "YAML error: " + " ".join(str(exc).split())) from None
    except RecursionError:
        raise _one(path, None, None, "(syntax)", "nested too deeply to read (expected a spec)") from None
    if node is None:
        raise _one(path, 1, 1, "(top level)",
                   "the file is empty (got no fields; expected a mapping such as 'kind: chip')")
    if not isinstance(node, yaml.MappingNode):
        got = {yaml.SequenceNode: "a list"}.get(type(node), f"the value {_short_scalar(node)}")
        raise _one(path, node.start_mark.line + 1, node.start_mark.column + 1, "(top level)",
                   f"not a mapping of fields (got {got}; expected key: value lines such as 'kind: chip')")
    positions: dict = {}
    problems: list = []
    try:
        data = _construct(node, (), positions, problems, path)
    except yaml.YAMLError as exc:
        raise _one(path, None, None, "(syntax)", "YAML error: " + " ".join(str(exc).split())) from None
    except RecursionError:
        raise _one(path, None, None, "(syntax)", "nested too deeply to read (expected a spec)") from None
    if problems:
        raise SpecError(problems)
    return SourceDoc(path, data, positions)


def _short_scalar(node) -> str:
    text = repr(getattr(node, "value", ""))
    return text if len(text) <= 40 else text[:37] + "..."
