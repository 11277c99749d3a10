"""The embedded main job: every stage end to end on data the project generates itself.

Each stage contributes a `run_demo` in `pipelines/<stage>/demo.py`; this module chains them,
validates each dataset they write and prints what came out. Everything runs offline.
"""

from __future__ import annotations

import time
from pathlib import Path

from musclekit.dataset.summary import render_summary
from musclekit.dataset.synthetic import make_synthetic_dataset
from musclekit.dataset.validate import validate_dataset
from musclekit.errors import ExitCode, MusclekitError
from musclekit.progress import console


def _check(path: Path) -> None:
    errors = [f for f in validate_dataset(path) if f.level == "error"]
    if errors:
        raise MusclekitError(f"demo dataset {path} failed validation: {errors[0]}")
    console.print(f"[green]valid[/] {path}")


def run_demo(out: Path, quick: bool = False) -> int:
    """Run the demo into `out`; returns the exit code."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    console.rule("[bold]musclekit demo: dataset format")
    synthetic = make_synthetic_dataset(out / "synthetic", duration_s=2.0 if quick else 6.0)
    _check(synthetic)
    render_summary(synthetic, console)
    console.rule(f"[bold green]demo finished in {time.perf_counter() - start:.1f} s: {out}")
    return int(ExitCode.OK)
