"""One rich console for the whole package, and the progress bar used by long work."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# Messages go to stderr so that stdout stays clean for machine-readable output.
console = Console(stderr=True, highlight=False)


def make_progress(transient: bool = False) -> Progress:
    """A progress bar with count, elapsed time and ETA, disabled when stderr is not a terminal
    only if the caller asks (CI logs still get a final line from the summary)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not sys.stderr.isatty(),
    )
