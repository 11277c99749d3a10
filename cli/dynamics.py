"""`musclekit status` and `musclekit plot`: inspect a dynamics run (simulate part 2).

The `simulate` command itself (cli/simulate.py) runs the stage through
`musclekit.pipelines.simulate.dynamics.run_dynamics`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from musclekit.progress import console


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("plot")(plot)


def status(
    dataset: Path = typer.Argument(None, help="Dataset folder of a running or finished "
                                   "`musclekit simulate` run (default: the default dataset "
                                   "folder, ./musclekit-data)."),
    logs: bool = typer.Option(False, "--logs", help="Print the last lines of each failed "
                              "chunk's solver log and OpenSim log."),
) -> int:
    """Chunks converged / failed / running per sequence, solve times, failures with reasons."""
    from musclekit.config import default_dataset
    from musclekit.pipelines.simulate.dynamics.kernel.status import run_status

    dataset = dataset if dataset is not None else default_dataset()
    rows = run_status(dataset)
    if not rows:
        console.print(f"{dataset}: no dynamics chunks yet (nothing started)")
        return 0
    table = Table(title=f"dynamics: {dataset}")
    for col in ("sequence", "method", "converged", "failed", "running", "median s", "p90 s",
                "written", "analysed s", "gap s"):
        table.add_column(col)
    for r in rows:
        t = r.solve_times_s
        med, p90 = (f"{v:.1f}" for v in np.percentile(t, [50, 90])) if t else ("-", "-")
        table.add_row(r.sequence_id, r.method, str(r.converged), str(r.failed), str(r.running),
                      med, p90, "yes" if r.written else "no",
                      "-" if r.analysed_s is None else f"{r.analysed_s:.2f}",
                      "-" if r.gap_s is None else f"{r.gap_s:.2f}")
    console.print(table)
    for r in rows:
        for f in r.failures:
            console.print(f"[yellow]failed[/] {r.sequence_id}/{f['chunk']}: "
                          f"{f['reason'].splitlines()[0] if f['reason'] else ''} (log: {f['log']}; "
                          f"OpenSim's log: {f['opensim_log']})", soft_wrap=True)
            for key in ("log", "opensim_log") if logs else ():
                if Path(f[key]).is_file():
                    tail = Path(f[key]).read_text(errors="replace").splitlines()[-15:]
                    console.print(f"  {Path(f[key]).name}:", soft_wrap=True)
                    console.print("\n".join("    " + line for line in tail), soft_wrap=True)
    return 0


def plot(
    dataset: Path = typer.Argument(..., help="Dataset folder with simulated activations."),
    sequence: str = typer.Argument(..., help="Sequence id."),
    out: Path = typer.Option(None, "--out", help="PNG to write (default <sequence>.png)."),
) -> int:
    """Activation curves per muscle group (seams dotted, gaps grey) and ground forces."""
    from musclekit.pipelines.simulate.dynamics.plot import plot_sequence

    path = plot_sequence(dataset, sequence, out or Path(f"{sequence}.png"))
    console.print(f"wrote {path}")
    return 0
