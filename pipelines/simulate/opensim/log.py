"""OpenSim's log: one file per unit of work, nothing on the terminal.

OpenSim logs through one process-wide logger (spdlog) with a console sink on stdout and an
optional file sink; its level applies to both, and the console sink cannot be removed
through the API. So:

- `quiet_console()` (called by `load_model`, so by every stage that uses OpenSim) turns
  the level to `off` outside units and drops OpenSim's lazy `./opensim.log` in the working
  directory: nothing of OpenSim's reaches the terminal.
- `opensim_log(path)` wraps one unit of work (a kinematics sequence, a dynamics chunk):
  for its duration OpenSim logs at `level` into `path` (appended to, one header line per
  attempt, one closing line saying how the block ended), while file descriptor 1 points at
  /dev/null so that the console sink prints nothing; afterwards level, file sink and
  stdout are what they were. The user finds the file's path in the unit's metadata, or in
  the failure message of a unit that failed.

The logger is per process: musclekit's workers run one unit at a time (one thread each),
which is what makes a per-unit file possible. Blocks nest (the inner file takes over, the
outer one resumes after it).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("off", "critical", "error", "warn", "info", "debug", "trace")

_lock = threading.RLock()
_quiet = False  # quiet_console() has run in this process


@dataclass
class _Block:
    path: Path
    level_before: str


_blocks: list[_Block] = []


def quiet_console() -> None:
    """Keep OpenSim from printing to the terminal in this process (idempotent).

    Outside any `opensim_log` block OpenSim's level becomes `off`; inside one the block
    keeps its level and sets `off` when it ends. OpenSim's default file log
    (`./opensim.log`, created in whatever the working directory is at the first message)
    is disabled. Errors still reach the caller as exceptions."""
    global _quiet
    import opensim

    with _lock:
        if _blocks:  # the outermost block turns it off when it ends
            if not _quiet:
                _blocks[0].level_before = "off"
        else:
            if not _quiet:
                opensim.Logger.removeFileSink()  # also stops the lazy ./opensim.log
            opensim.Logger.setLevelString("off")
        _quiet = True


@contextlib.contextmanager
def opensim_log(path: Path, level: str = "info") -> Iterator[Path]:
    """Send OpenSim's log to `path` at `level` for the duration of the block, with nothing
    on the terminal; restore OpenSim's previous level and file sink afterwards.

    The file is appended to (a rerun of the unit adds to it) and is there, closed, also
    when the block raises. Yields `path`."""
    import opensim

    level = level.lower()
    if level not in LEVELS:
        raise ValueError(f"OpenSim log level must be one of {LEVELS}, not {level!r}")
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        block = _Block(path, opensim.Logger.getLevelString().lower())
        _append(path, f"--- {_now()} pid {os.getpid()}: OpenSim log, level {level} ---")
        saved_stdout = _stdout_to_devnull()
        opensim.Logger.removeFileSink()  # the outer block's file, or the lazy ./opensim.log
        opensim.Logger.addFileSink(str(path))
        opensim.Logger.setLevelString(level)
        _blocks.append(block)
    ending = "ok"
    try:
        yield path
    except BaseException as err:
        ending = f"{type(err).__name__}: {err}"
        raise
    finally:
        with _lock:
            _blocks.remove(block)
            # the level first, while stdout is muted: setting it logs a line at info
            opensim.Logger.setLevelString(block.level_before)
            opensim.Logger.removeFileSink()
            if _blocks:
                opensim.Logger.addFileSink(str(_blocks[-1].path))
            _restore_stdout(saved_stdout)
            _append(path, f"--- {_now()}: block ended: {ending} ---")


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line.replace("\n", " ") + "\n")


def _flush_native() -> None:
    """Flush C stdio buffers (OpenSim's console sink and std::cout write through them)."""
    sys.stdout.flush()
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


def _stdout_to_devnull() -> int:
    """Point file descriptor 1 at /dev/null; return a duplicate of what it was."""
    _flush_native()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
    finally:
        os.close(devnull)
    return saved


def _restore_stdout(saved: int) -> None:
    _flush_native()  # while fd 1 is still /dev/null
    os.dup2(saved, 1)
    os.close(saved)
