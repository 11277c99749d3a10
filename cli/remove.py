"""`musclekit remove`: take a unit of work or a whole stream out of a dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from musclekit.progress import console


def register(app: typer.Typer) -> None:
    app.command("remove")(remove)


def remove(
    dataset: Path = typer.Argument(..., help="Dataset folder."),
    unit: list[str] = typer.Option(None, "--unit", help="Unit id to remove (its completion "
                                   "record and shards; repeatable; `musclekit inspect` and "
                                   "meta/units/ list them)."),
    stream: list[str] = typer.Option(None, "--stream", help="Stream to remove from every unit "
                                     "(repeatable); the stream is undeclared."),
) -> None:
    """Remove units or streams from a dataset, atomically: the dataset stays readable, and
    rerunning the stage that wrote them writes them again."""
    from musclekit.dataset.card import refresh_card
    from musclekit.dataset.remove import remove_from_dataset

    done = remove_from_dataset(dataset, units=unit, streams=stream)
    console.print(f"{dataset}: {done.line()}", soft_wrap=True)
    refresh_card(dataset)
