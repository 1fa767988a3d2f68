"""Errors that reach the user as one clean line instead of a traceback."""

from __future__ import annotations


class TuneuiError(Exception):
    """Bad input or usage: the CLI prints the message and exits with code 2."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        self.source = source
        self.line = line
        super().__init__(message)

    def __str__(self) -> str:
        msg = super().__str__()
        if self.source and self.line is not None:
            return f"{self.source}:{self.line}: {msg}"
        if self.source:
            return f"{self.source}: {msg}"
        return msg


class ConfigError(TuneuiError):
    """A RunConfig (or --set override) that does not validate; one line per bad field."""


class DataError(TuneuiError):
    """A dataset that cannot be read or yields nothing to train on."""


class ModelError(TuneuiError):
    """A model that cannot be resolved or loaded safely."""
