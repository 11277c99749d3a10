"""Dataset commands: info, validate, inspect."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from musclekit.errors import ExitCode
from musclekit.progress import console, err_console


def register(app: typer.Typer) -> None:
    app.command("info")(info)
    app.command("validate")(validate)
    app.command("inspect")(inspect)
    app.command("card")(card)


def info(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Versions of Python, musclekit and its dependencies, and what is missing (for bug reports)."""
    from musclekit.sysinfo import system_info

    data = system_info()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title="musclekit info", show_header=False)
    for key, value in data.items():
        table.add_row(key, value if value is not None else "[red]missing[/]")
    console.print(table)
    missing = [k for k, v in data.items() if v is None]
    if missing:
        console.print("missing: " + ", ".join(missing)
                      + " (mediapipe is optional: pip install 'musclekit[keypoints]')")


def validate(
    path: Path = typer.Argument(..., help="Dataset folder (or a training run folder)."),
    no_hashes: bool = typer.Option(False, "--no-hashes", help="Skip SHA-256 checks of shards."),
    as_json: bool = typer.Option(False, "--json", help="Print findings as JSON."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too (quality: "
                                "stand-in body, flagged frames, implausible units, missing "
                                "markers, failed chunks, empty splits)."),
) -> int:
    """Check a dataset fully: metadata, version, every shard's bytes, schema, rows, timestamps,
    and its quality (warnings)."""
    from musclekit.dataset.validate import findings_to_json, validate_dataset

    if (path / "run.json").is_file():
        findings = _run_findings(path)
    else:
        findings = validate_dataset(path, check_hashes=not no_hashes)
    errors = [f for f in findings if f.level == "error"]
    warnings = [f for f in findings if f.level != "error"]
    if as_json:
        typer.echo(findings_to_json(findings))
    else:
        for f in findings:
            color = "red" if f.level == "error" else "yellow"
            err_console.print(f"[{color}]{f.level}[/]: {escape(f.where)}: {escape(f.message)}")
        if errors:
            err_console.print(f"[red]{path}: {len(errors)} error(s)[/]")
        elif strict and warnings:
            err_console.print(f"[red]error: {path}: {len(warnings)} warning(s), an error under "
                              "--strict[/] (fix what they name, or leave out --strict to "
                              "accept them)")
        else:
            console.print(f"[green]{path}: valid[/] ({len(warnings)} warning(s))")
    if errors or (strict and warnings):
        raise typer.Exit(int(ExitCode.ERROR))
    return int(ExitCode.OK)


def _run_findings(path: Path) -> list:
    """A training run folder's findings: missing checkpoints (error), its warnings."""
    from musclekit.dataset.validate import Finding
    from musclekit.pipelines.train.run import BEST_CHECKPOINT, LAST_CHECKPOINT, RunFolder

    run = RunFolder.open(path)
    out = []
    if run.meta.get("status") == "done" and not (
            run.file(BEST_CHECKPOINT).is_file() or run.file(LAST_CHECKPOINT).is_file()):
        out.append(Finding("error", str(path), "finished run without a checkpoint; retrain"))
    out += [Finding("warning", f"run {path}", m) for m in run.meta.get("warnings") or []]
    return out


def inspect(path: Path = typer.Argument(None, help="Dataset folder (default: the default "
                                        "dataset folder, ./musclekit-data), or a training "
                                        "run folder.")) -> None:
    """Summary of a dataset: subjects, sequences, hours per stream, channels, gaps, provenance,
    quality warnings. On a run folder: what it was trained on and its warnings."""
    from musclekit.config import dataset_argument
    from musclekit.dataset.summary import render_summary

    path = dataset_argument(path)
    if (path / "run.json").is_file():
        _inspect_run(path)
        return
    render_summary(path, console)


def _inspect_run(path: Path) -> None:
    from musclekit.pipelines.train.run import RunFolder
    from musclekit.progress import warn

    run = RunFolder.open(path)
    meta, cfg = run.meta, run.config
    console.print(f"[bold]run {path}[/]: {cfg.model}, {cfg.task}, "
                  f"{run.data.inputs.stream} -> {run.data.targets.stream} at "
                  f"{run.data.rate_hz:g} Hz, windows of {run.data.window_frames} frames; "
                  f"dataset {cfg.dataset}")
    status = meta.get("status", "?")
    loss = meta.get("best_val_loss")
    which = "training" if meta.get("selected_on") == "training" else "validation"
    line = f"status {status}, {meta.get('steps', 0)} steps ({meta.get('stopped', '-')})"
    if isinstance(loss, float):
        line += f", best {which} loss {loss:.5f} at step {meta.get('best_step')}"
    console.print(line)
    for message in meta.get("warnings") or []:
        warn(message)



def card(path: Path = typer.Argument(None, help="Dataset folder (default: the default dataset "
                                     "folder, ./musclekit-data).")) -> None:
    """Write the dataset card (README.md, one config per stream, for Hugging Face
    `datasets.load_dataset`) and meta/stats.json (per-channel statistics, LeRobot layout).
    Stages do this at the end of each run; a README.md you wrote yourself is kept."""
    from musclekit.config import dataset_argument
    from musclekit.dataset.card import write_card

    path = dataset_argument(path)
    written = write_card(path)
    console.print(f"wrote {written['stats']}" + (
        f" and {written['card']}" if written["card"] else
        f"; kept {path / 'README.md'} (written by you: remove it to get musclekit's card)"))
