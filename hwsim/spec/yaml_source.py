"""Read YAML while remembering where every key and value stands (for FILE:LINE:COL errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hwsim.spec.errors import Problem, SpecError


@dataclass
class SourceDoc:
    """A parsed YAML mapping plus the 1-based (line, col) of each dotted path in it."""

    path: str
    data: dict
    positions: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: tuple) -> tuple[int, int] | None:
        """Position of ``loc`` or of its nearest ancestor that the file spells out."""
        loc = tuple(loc)
        while loc:
            if loc in self.positions:
                return self.positions[loc]
            loc = loc[:-1]
        return self.positions.get((), None)


def _construct(node, loc: tuple, positions: dict, problems: list, path: str):
    positions.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if not isinstance(key_node, yaml.ScalarNode) else key_node.value
            if not isinstance(key, str):
                problems.append(Problem(path, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                        ".".join(map(str, loc)) or "(top level)",
                                        f"keys must be plain names (got {key!r})"))
                continue
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
    return yaml.safe_load(yaml.serialize(node))


def read_yaml(path: str | Path) -> SourceDoc:
    """Parse ``path`` into a SourceDoc; any problem becomes a SpecError with its position."""
    path = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecError([Problem(path, None, None, "(file)", "file not found; check the path")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(path, None, None, "(file)", "is a directory, expected a YAML file")]) from None
    except OSError as exc:
        raise SpecError([Problem(path, None, None, "(file)", f"cannot read the file ({exc.strerror})")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(path, None, None, "(file)",
                                 f"not UTF-8 text (byte {exc.start}); is this a binary file?")]) from None
    if "\x00" in text:
        raise SpecError([Problem(path, None, None, "(file)", "contains NUL bytes; is this a binary file?")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = exc.problem or "YAML syntax error"
        raise SpecError([Problem(path, line, col, "(syntax)", f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(path, None, None, "(syntax)", f"YAML error: {exc}")]) from None
    if node is None:
        raise SpecError([Problem(path, 1, 1, "(top level)", "the file is empty; expected a mapping of fields")])
    if not isinstance(node, yaml.MappingNode):
        raise SpecError([Problem(path, node.start_mark.line + 1, node.start_mark.column + 1, "(top level)",
                                 "expected a mapping of fields (key: value) at the top level")])
    positions: dict = {}
    problems: list = []
    try:
        data = _construct(node, (), positions, problems, path)
    except yaml.YAMLError as exc:
        raise SpecError([Problem(path, None, None, "(syntax)", f"YAML error: {exc}")]) from None
    if problems:
        raise SpecError(problems)
    return SourceDoc(path, data, positions)
