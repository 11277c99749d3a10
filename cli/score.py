"""`musclekit score`: physical-plausibility scores per sequence (pipelines/score)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from musclekit.errors import ExitCode
from musclekit.progress import console, err_console

# Column headers of the table (narrow enough for 80 columns).
SHORT = {"foot_sliding": "slide", "penetration": "sink", "floating": "float",
         "com_outside_bos": "CoM out", "asymmetry": "asym", "saturation": "sat",
         "coactivation": "coact", "residual_force": "resid"}


def register(app: typer.Typer) -> None:
    app.command("score")(score)


def score(
    path: Path = typer.Argument(None, help="Dataset folder (default: the default dataset "
                                "folder, ./musclekit-data)."),
    sequence: list[str] = typer.Option(None, "--sequence", "-s", help="Score only this "
                                       "sequence (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any score is flagged."),
) -> int:
    """Physical-plausibility scores of each sequence: foot sliding, floor penetration,
    floating, centre of mass outside the base of support when static, left/right asymmetry,
    activation saturation and co-activation, residual forces (% body weight). Limits and
    their sources: docs/score.md; `inspect` and `validate` report the flagged ones."""
    from musclekit.config import dataset_argument
    from musclekit.dataset.reader import open_dataset
    from musclekit.errors import InputError
    from musclekit.pipelines.score import score_dataset
    from musclekit.pipelines.score.run import MEASURES

    path = dataset_argument(path)
    if not path.exists():
        raise InputError(f"dataset {path} does not exist; give a dataset folder (one with "
                         "meta/info.json)")
    ds = open_dataset(path)
    if not ds.sequences:
        raise InputError(f"dataset {path} has no finished sequence to score")
    results = score_dataset(ds, sequence or None)
    flagged = sum(len(r.flagged()) for r in results)
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in results], indent=2))
    else:
        table = Table("sequence", *SHORT.values(), title=f"scores of {path}")
        for r in results:
            cells = []
            for name in MEASURES:
                s = r.scores[name]
                cells.append(f"[red]{s.shown()}[/]" if s.flagged else s.shown())
            table.add_row(escape(r.sequence_id), *cells)
        console.print(table)
        for r in results:
            for s in r.flagged():
                err_console.print(f"[yellow]flagged[/]: {escape(r.sequence_id)}: "
                                  f"{escape(s.note)}")
        console.print("limits: " + ", ".join(f"{SHORT[n]} <= {lim:g} {u}" for n, (u, lim, _)
                                             in MEASURES.items()) + " (docs/score.md)")
        console.print(f"{len(results)} sequence(s), {flagged} flagged score(s); "
                      "- = not applicable (--json says why)")
    if strict and flagged:
        raise typer.Exit(int(ExitCode.ERROR))
    return int(ExitCode.OK)
