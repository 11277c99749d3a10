"""One console for the whole package, the verbosity switch, and the progress reporting used
by long work.

- `console`: messages (stderr, so that stdout stays clean for machine-readable output).
  Silent under `--quiet`.
- `warn(...)`: a warning; printed even under `--quiet`.
- `debug(...)`: details printed only under `--verbose`.
- `make_progress()`: a progress bar on a terminal; anywhere else (SLURM logs, nohup, CI,
  pipes) periodic plain lines `description: done/total (pct), rate/s, elapsed, eta`, one
  every `MUSCLEKIT_PROGRESS_INTERVAL` seconds (default 30) and one at the end. Nothing under
  `--quiet`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# Messages go to stderr so that stdout stays clean for machine-readable output.
console = Console(stderr=True, highlight=False, soft_wrap=True)
# Errors and warnings: never silenced by --quiet.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

QUIET, NORMAL, VERBOSE = -1, 0, 1
INTERVAL_ENV = "MUSCLEKIT_PROGRESS_INTERVAL"
_state = {"verbosity": NORMAL}


def set_verbosity(level: int) -> None:
    """QUIET: errors and warnings only; NORMAL; VERBOSE: also debug details."""
    _state["verbosity"] = level
    console.quiet = level <= QUIET


def verbosity() -> int:
    return _state["verbosity"]


def warn(message: str) -> None:
    """A warning the user must see, even under --quiet."""
    err_console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def debug(message: str) -> None:
    if verbosity() >= VERBOSE:
        err_console.print(f"[dim]{escape(message)}[/]", soft_wrap=True)


def _fmt_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _Task:
    def __init__(self, description: str, total: float | None, completed: float) -> None:
        self.description = description
        self.total = total
        self.completed = completed
        self.start_completed = completed
        self.started = time.monotonic()
        self.last_line = self.started
        self.finished_line = False


class PlainProgress:
    """What `make_progress` gives when stderr is not a terminal: the same calls as
    rich's Progress (add_task, update, advance), printing one plain line per interval."""

    def __init__(self, interval_s: float | None = None, stream: Any = None) -> None:
        if interval_s is None:
            try:
                interval_s = float(os.environ.get(INTERVAL_ENV, "30"))
            except ValueError:
                interval_s = 30.0
        self.interval_s = max(0.0, interval_s)
        self.stream = stream
        self.tasks: list[_Task] = []

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        for i, task in enumerate(self.tasks):
            if not task.finished_line and task.completed > task.start_completed:
                self._line(i, final=True)

    def add_task(self, description: str, total: float | None = None, completed: float = 0,
                 **_: Any) -> int:
        self.tasks.append(_Task(description, total, completed))
        task_id = len(self.tasks) - 1
        if verbosity() > QUIET:  # a log shows at once that the work started
            of = f"/{total:g}" if total else ""
            self._print(f"{description}: {completed:g}{of} done, started")
        return task_id

    def update(self, task_id: int, *, completed: float | None = None,
               advance: float | None = None, total: float | None = None,
               description: str | None = None, **_: Any) -> None:
        task = self.tasks[task_id]
        if description is not None:
            task.description = description
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = completed
        if advance is not None:
            task.completed += advance
        self._maybe_print(task_id)

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def _maybe_print(self, task_id: int) -> None:
        task = self.tasks[task_id]
        done = task.total is not None and task.completed >= task.total
        if done and not task.finished_line:
            self._line(task_id, final=True)
        elif time.monotonic() - task.last_line >= self.interval_s and not done:
            self._line(task_id)

    def line(self, task_id: int) -> str:
        task = self.tasks[task_id]
        now = time.monotonic()
        elapsed = now - task.started
        did = task.completed - task.start_completed
        rate = did / elapsed if elapsed > 0 else float("nan")
        parts = [f"{task.description}: {task.completed:g}"]
        if task.total:
            parts[0] += f"/{task.total:g} ({100 * task.completed / task.total:.0f} %)"
        if did > 0 and math.isfinite(rate):
            parts.append(f"{rate:.3g}/s" if rate >= 1 else f"{1 / rate:.3g} s each")
        parts.append(f"elapsed {_fmt_duration(elapsed)}")
        if task.total and did > 0 and rate > 0:
            parts.append(f"eta {_fmt_duration((task.total - task.completed) / rate)}")
        return ", ".join(parts)

    def _line(self, task_id: int, final: bool = False) -> None:
        task = self.tasks[task_id]
        task.last_line = time.monotonic()
        task.finished_line = final
        if verbosity() <= QUIET:
            return
        self._print(self.line(task_id))

    def _print(self, text: str) -> None:
        print(text, file=self.stream if self.stream is not None else sys.stderr, flush=True)


def make_progress(transient: bool = False) -> Progress | PlainProgress:
    """A progress bar with count, elapsed time and ETA on a terminal; periodic plain lines
    elsewhere (see module docstring); nothing under --quiet."""
    if not sys.stderr.isatty():
        return PlainProgress()
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=verbosity() <= QUIET,
    )
