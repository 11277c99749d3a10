"""Errors a user reads, and the exit codes the command line maps them to.

Every message says what is wrong, where (file, line, column, value) and what to do next.
Library code raises these; only `musclekit.cli.main` turns them into exit codes.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the `musclekit` command (documented in docs/cli.md)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3  # finished, but some units of work failed


class MusclekitError(Exception):
    """Base class of every error meant for the user; the CLI prints the message and exits 1."""

    exit_code: ExitCode = ExitCode.ERROR


class InputError(MusclekitError):
    """A user-given file, flag or config is unusable."""


class FormatError(MusclekitError):
    """A dataset folder does not follow the musclekit dataset format."""


class FormatVersionError(FormatError):
    """A dataset was written in a format version this musclekit cannot read."""


class MissingDependencyError(MusclekitError):
    """An optional package or a licensed download the user must provide is missing."""


class UnitFailedError(MusclekitError):
    """One unit of work (a clip, a sequence, a chunk) failed; the run goes on without it."""


class PartialFailure(MusclekitError):
    """A run finished, but some of its units failed (exit code 3)."""

    exit_code = ExitCode.PARTIAL
