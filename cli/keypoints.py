"""`musclekit keypoints`: BODY_25 keypoints on the aligned frames of a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from musclekit.errors import ExitCode, InputError, PartialFailure
from musclekit.progress import console


def register(app: typer.Typer) -> None:
    app.command("keypoints")(keypoints)


def keypoints(
    dataset: Path = typer.Argument(None, help="Dataset written by `musclekit align` (needs "
                                   "its `frames` stream; default: the default dataset folder, "
                                   "./musclekit-data)."),
    backend: str = typer.Option("mediapipe", "--backend",
                                help="mediapipe (offline default) or vibe (your own VIBE install)."),
    vibe_output: Path | None = typer.Option(
        None, "--vibe-output", help="Import this VIBE result (vibe_output.pkl) instead of "
        "running a backend. It is a pickle: loading it runs code, so only pass files you trust."),
    track: str | None = typer.Option(None, "--track", help="VIBE track id to use (default: the "
                                     "longest track)."),
    vibe_root: Path | None = typer.Option(None, "--vibe-root", help="Your VIBE checkout (or "
                                          "MUSCLEKIT_VIBE_ROOT, or once: `musclekit config "
                                          "set vibe-root DIR`)."),
    vibe_python: Path | None = typer.Option(None, "--vibe-python", help="Python of VIBE's "
                                            "environment (default <vibe-root>/vibe-env/bin/python)."),
    sequence: list[str] = typer.Option([], "--sequence", help="Only this sequence id "
                                       "(repeatable; default all)."),
    video_root: Path | None = typer.Option(None, "--video-root", help="Folder to find videos "
                                           "in by file name when they moved since align ran."),
    min_detection_confidence: float = typer.Option(
        0.5, "--min-detection-confidence", help="MediaPipe person-detection threshold (0..1)."),
    workers: int = typer.Option(0, "--workers", help="Sequences in parallel (0 = in this "
                                "process)."),
) -> int:
    """Extract BODY_25 2D/3D keypoints on the aligned 10 fps frames (resumable)."""
    from musclekit.config import dataset_argument, resolve_path
    from musclekit.pipelines.keypoints.config import KeypointsConfig
    from musclekit.pipelines.keypoints.stage import run_keypoints

    dataset = dataset_argument(dataset)
    vibe_root = resolve_path("vibe-root", vibe_root)
    vibe_python = resolve_path("vibe-python", vibe_python)

    if backend not in ("mediapipe", "vibe"):
        raise InputError(f"--backend {backend!r}: choose mediapipe or vibe")
    if vibe_output is not None and backend == "vibe":
        raise InputError("--vibe-output imports an existing VIBE result; do not combine it "
                         "with --backend vibe, which runs VIBE")
    if not 0.0 <= min_detection_confidence <= 1.0:
        raise InputError(f"--min-detection-confidence {min_detection_confidence}: must be in [0, 1]")
    if track is not None and vibe_output is None and backend != "vibe":
        raise InputError("--track selects a VIBE track: use it with --vibe-output or --backend vibe")
    config = KeypointsConfig(
        backend=backend, vibe_output=vibe_output, track=track, vibe_root=vibe_root,  # type: ignore[arg-type]
        vibe_python=vibe_python, sequences=list(sequence), video_root=video_root,
        min_detection_confidence=min_detection_confidence, workers=workers,
    )

    def verdict(unit_id: str, status: str, value: Any) -> None:
        if status == "ok":
            console.print(
                f"[green]ok[/] {value['sequence_id']}: {value['detected']}/{value['rows']} frames "
                f"with a person, {value['no_person']} without, {value['no_video_frame']} without "
                f"video frame; {value['backend']}, {value['fps']} frames/s", soft_wrap=True)
        else:
            console.print(f"[red]failed[/] {unit_id}: {value}", soft_wrap=True)

    report = run_keypoints(dataset, config, on_result=verdict)
    table = Table(title=f"keypoints: {dataset}")
    for col in ("sequence", "rows", "person found", "no person", "no video frame", "frames/s"):
        table.add_column(col)
    for value in report.done.values():
        table.add_row(value["sequence_id"], str(value["rows"]), str(value["detected"]),
                      str(value["no_person"]), str(value["no_video_frame"]), str(value["fps"]))
    if report.done:
        console.print(table)
    console.print(report.summary())
    from musclekit.dataset.card import refresh_card

    refresh_card(dataset)
    console.print(f"dataset: {dataset}")
    if report.failed:
        if not report.done and not report.skipped:
            first = next(iter(report.failed.values()))
            raise InputError(f"keypoints failed for every sequence; first: {first}")
        raise PartialFailure(f"{len(report.failed)} sequence(s) failed: "
                             + ", ".join(report.failed))
    return int(ExitCode.OK)
