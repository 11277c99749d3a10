"""`musclekit import KIND SRC --out DS`: existing datasets and sessions into the format."""

from __future__ import annotations

from pathlib import Path

import typer

from musclekit.progress import console

KIND_HELP = ("mint (Muscles in Time folder, musint 0.3.0 layout), addbiomechanics (a .b3d "
             "file or a folder of them), opencap (an OpenCap session folder), mia (Muscles in "
             "Action clip folders); docs/import.md")


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)


def import_command(
    kind: str = typer.Argument(..., help=KIND_HELP),
    src: Path = typer.Argument(..., help="The source folder (or .b3d file)."),
    out: Path = typer.Option(..., "--out", help="Dataset folder to write (created or "
                             "extended; rerunning skips what is done)."),
    source: str = typer.Option(None, "--source", help="Source name stored with each sequence "
                               "(default: KIND); `train --split leave-source-out:NAME` uses it."),
    subject: str = typer.Option(None, "--subject", help="Subject id where the source has none "
                                "(OpenCap sessions without sessionMetadata.yaml)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Import at most N sequences."),
) -> None:
    """Import MinT, AddBiomechanics, OpenCap or MIA data into a musclekit dataset (units,
    rates, subjects, splits, gaps, provenance), ready for train, inspect and validate."""
    from musclekit.pipelines.importers import ImportOptions, import_dataset

    result = import_dataset(kind.lower(), src, out,
                            ImportOptions(source=source, subject=subject, limit=limit))
    console.print(f"{result.out}: {len(result.written)} sequence(s) imported from {kind} "
                  f"({result.format_version}); streams {', '.join(result.streams)}"
                  + (f"; {len(result.skipped)} already there" if result.skipped else ""))
