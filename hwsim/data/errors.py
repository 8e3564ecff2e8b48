"""The error a data set raises when its files are missing, unreadable or malformed."""

from __future__ import annotations

from pathlib import Path

from hwsim.spec.errors import Problem, SpecError


class DataError(SpecError):
    """A data set could not be built from its files (bad input, not a bug).

    A :class:`~hwsim.spec.errors.SpecError` (so whatever handles bad specs handles it too;
    the CLI exits with code 2 and prints the message, never a traceback). ``file`` is the
    offending file or folder, ``message`` says what is wrong and how to fix it.
    """

    def __init__(self, message: str, file: str | Path | None = None):
        self.message = message
        self.file = None if file is None else str(file)
        super().__init__([Problem(self.file or "(data)", None, None, "dataset", message)])

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" if self.file else self.message

    def __reduce__(self):
        return (DataError, (self.message, self.file))
