"""`musclekit demo`: the embedded main job on data the project generates itself."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for everything the demo writes."),
    quick: bool = typer.Option(False, "--quick", help="Smallest inputs (used by the test suite)."),
) -> int:
    """Run every stage end to end on generated data, offline, and validate the results."""
    from musclekit.pipelines.demo import run_demo

    return run_demo(out, quick=quick)
