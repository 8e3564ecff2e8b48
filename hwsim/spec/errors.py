"""Spec problems, reported all at once as ``FILE:LINE:COL: dotted.path: message``."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

#: A dotted path longer than this is cut in messages (a key may be as long as a user typed).
MAX_PATH_CHARS = 120


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    col: int | None
    path: str
    message: str

    def __str__(self) -> str:
        from hwsim.spec.limits import short_path

        where = short_path(self.file)
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        path = self.path
        if len(path) > MAX_PATH_CHARS:
            path = f"{path[:MAX_PATH_CHARS - 3]}..."
        return f"{where}: {path}: {self.message}"


class SpecError(Exception):
    """One or more problems in the specs; ``str()`` gives one line per problem.

    Problems are kept in reading order: grouped by file (in the order the files first appear),
    then by line and column; problems without a line come first in their file.
    """

    def __init__(self, problems: list[Problem]):
        order: dict[str, int] = {}
        for p in problems:
            order.setdefault(p.file, len(order))
        self.problems = sorted(problems, key=lambda p: (order[p.file], p.line or 0, p.col or 0))
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):
        return (SpecError, (self.problems,))


def did_you_mean(word: str, choices) -> str:
    """'; did you mean 'x'?' when a close match other than ``word`` itself exists, else ''."""
    word = str(word)
    others = [str(c) for c in choices if str(c) != word]
    match = difflib.get_close_matches(word, others, n=1, cutoff=0.6)
    if not match and len(word) >= 3:
        # A prefix or part of a longer name ('rram' for 'rram_crossbar'): the only one that has it.
        containing = [c for c in others if word.lower() in c.lower()]
        match = containing if len(containing) == 1 else []
    return f"; did you mean {match[0]!r}?" if match else ""
