"""Errors that end a run, each tied to the exit code users' CI scripts rely on.

The CLI maps these to one line on stderr and the exit code; library callers
can catch them by class. Exit codes are part of the public contract.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FIDELITY = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_OUTPUT = 4


class SkpruneError(Exception):
    """Base class; ``exit_code`` says how the CLI ends."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def one_line(self) -> str:
        """The single stderr line: file first, then the reason, no newlines."""
        text = " ".join(self.message.split())
        return f"{self.path}: {text}" if self.path else text


class UsageError(SkpruneError):
    """Bad option, missing file, data that does not fit the model."""

    exit_code = EXIT_USAGE


class InputRefused(SkpruneError):
    """Untrusted types, malformed or unsafe file, not an estimator."""

    exit_code = EXIT_REFUSED


class OutputError(SkpruneError):
    """The output exists, is the input, or could not be written."""

    exit_code = EXIT_OUTPUT


class FidelityError(SkpruneError):
    """Even the most conservative pruned model fails the check."""

    exit_code = EXIT_FIDELITY


EXIT_GATE = 6


class SavingsGate(SkpruneError):
    """The CI gate: the model could be made smaller than ``fail_above_savings`` allows."""

    exit_code = EXIT_GATE
