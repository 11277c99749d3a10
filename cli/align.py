"""`musclekit align`: sEMG + phone video on one clock, resampled to a common grid."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from musclekit.errors import ExitCode, InputError, PartialFailure
from musclekit.options import given_options
from musclekit.progress import console

from .options import command, group

INPUT_PANEL = "Inputs"
READER_PANEL = "The sEMG file (one capture; with --session these go in the session file)"
GRID_PANEL = "Alignment and output grid (one capture; with --session: the [align] table)"
COMPUTE_PANEL = "Compute (--session)"

_in = group(INPUT_PANEL)
# Stage "capture": options describing one capture, which a --session file states itself
# (given with --session they would be ignored, so they are refused).
_reader = group(READER_PANEL, "capture")
_grid = group(GRID_PANEL, "capture")
_compute = group(COMPUTE_PANEL)

ALIGN_OPTIONS = (
    _in("emg", "--emg", Path, "sEMG recording, raw or envelope: a CSV/text export, Cortex "
        ".anc, or EDF/BDF."),
    _in("video", "--video", Path, "Video of the same bout (.mov/.mp4)."),
    _in("out", "--out", Path, "Dataset folder to create or add to.", default=...),
    _in("session", "--session", Path, "TOML session file listing many captures (instead of "
        "--emg/--video); see docs/align.md."),
    _reader("subject", "--subject", str, "Subject id.", default="S01"),
    _reader("exercise", "--exercise", str, "Exercise label (e.g. Squat).", default="unknown"),
    _reader("sequence_id", "--sequence-id", str, "Sequence id (default "
            "<subject>_<exercise>_<video stem>)."),
    _reader("time_col", "--time-col", str, "Time column name(s), comma-separated (one per "
            "sensor for per-sensor layouts)."),
    _reader("channels", "--channels", str, "Channels to keep, comma-separated; `src=name` "
            "renames (default: all value columns)."),
    _reader("emg_tz", "--emg-tz", str, "Time zone of sEMG times written without one (IANA "
            "name or +HH:MM; default UTC)."),
    _reader("time_unit", "--time-unit", str, "auto, iso, or epoch s, ms, us, ns.",
            default="auto"),
    _reader("emg_start", "--emg-start", str, "Wall-clock ISO time of time zero, for sEMG "
            "times counted from the recording start (without it the first sample is assumed "
            "at the video's first frame, with a warning)."),
    _reader("sensor_config", "--sensor-config", Path, "TOML file with the sEMG reader "
            "options (layout, columns, zone, unit)."),
    _grid("video_start", "--video-start", str, "ISO time of the first video frame; overrides "
          "the file's creation time."),
    _grid("offset", "--offset", float, "Seconds added by hand to the video times (before the "
          "refinement).", default=0.0),
    _grid("fps", "--fps", float, "Output grid rate (Hz).", default=10.0),
    _grid("refine", "--refine/--no-refine", bool, "Refine the offset by cross-correlating "
          "video motion with the sEMG envelope.", default=True),
    _grid("max_lag", "--max-lag", float, "Refinement search window (+- seconds).",
          default=2.0),
    _grid("drift", "--drift/--no-drift", bool, "Estimate clock drift on long recordings.",
          default=True),
    _grid("frame_tolerance_ms", "--frame-tolerance-ms", float, "Max distance of the chosen "
          "frame from a grid time."),
    _grid("emg_tolerance_ms", "--emg-tolerance-ms", float, "Max distance of the placed sEMG "
          "sample from a grid time."),
    _grid("clip_frames", "--clip-frames", int, "Cut windows of this many rows (MIA: 30) with "
          "a seeded 80/20 train/test split."),
    _grid("clip_max_missing", "--clip-max-missing", int, "Incomplete rows a window may hold.",
          default=0),
    _grid("split_seed", "--split-seed", int, "Seed of the train/test split.", default=0),
    _grid("write_video", "--write-video", bool, "Also write the resampled clip to "
          "<out>/videos/ for inspection.", default=False),
    _grid("qc", "--qc/--no-qc", bool, "Write the QC PNG and JSON to <out>/qc/align/.",
          default=True),
    _reader("emg_units", "--emg-units", str, "Units of the sEMG values when the file declares "
            "none (default a.u.)."),
    _reader("emg_kind", "--emg-kind", str, "raw, envelope, or auto (decided from the rate and "
            "content).", default="auto"),
    _reader("emg_band", "--emg-band", str, "Band-pass for raw sEMG, LOW,HIGH in Hz (default "
            "20,450; its upper edge is lowered to 0.95 x Nyquist on slower devices, a band "
            "given here never is)."),
    _reader("emg_notch", "--emg-notch", float, "Mains frequency to notch out of raw sEMG (50 "
            "or 60 Hz; default none)."),
    _reader("emg_envelope_hz", "--emg-envelope-hz", float, "Low-pass cut-off of the raw sEMG "
            "envelope (Hz).", default=6.0),
    _grid("emd_ms", "--emd-ms", float, "Electromechanical delay allowed for in the offset "
          "refinement (default 50 for raw sEMG, 0 for sensor envelopes)."),
    _reader("emg_rate", "--emg-rate", float, "True sample rate (Hz) of the sEMG channels when "
            "the file's header declares a wrong one (other channel groups, e.g. IMU, keep "
            "their own)."),
    _compute("workers", "--workers", int, "Parallel captures for --session (default: one per "
             "core; 0 = in this process)."),
    _compute("scheduler", "--scheduler", str, "Address of a running Dask scheduler."),
)

ALIGN_DOC = "Align sEMG and video by timestamps and write them on a common grid (resumable)."


def register(app: typer.Typer) -> None:
    app.command("align")(command(align, ALIGN_OPTIONS, ALIGN_DOC))


def align(values: dict[str, Any]) -> int:
    v = values
    out: Path = v["out"]
    _check_ids(v)
    if v["session"] is not None:
        if v["emg"] is not None or v["video"] is not None:
            raise InputError("--session lists the captures itself: leave out --emg and --video")
        ignored = given_options(ALIGN_OPTIONS, v, "capture")
        if ignored:
            raise InputError(
                f"with --session, {', '.join(ignored)} would be ignored: set them in the session "
                "file ([align] for alignment options, [emg] or [[capture]] for the sEMG reader and "
                "per-capture values; see docs/align.md)"
            )
        return _run_session(v["session"], out, v["workers"], v["scheduler"])
    if v["emg"] is None or v["video"] is None:
        raise InputError("give --emg and --video (one capture) or --session (many captures)")
    for flag, what in (("--emg", "sEMG"), ("--video", "video")):
        path: Path = v[flag[2:]]
        if not path.exists():
            raise InputError(f"{flag} {path} does not exist; check the path (relative paths "
                             f"start at {Path.cwd()})")
        if path.is_dir():
            raise InputError(f"{flag} {path} is a folder: give the {what} file itself "
                             "(align reads one capture; many go in a --session file)")
    return _align_one(v)


def _check_ids(v: dict[str, Any]) -> None:
    """Refusals before any work (nothing written): ids become file names and metadata keys."""
    from musclekit.cli.simulate import check_name
    from musclekit.config import check_writable
    from musclekit.pipelines.align.emg_csv import split_list

    check_writable(v["out"])
    check_name(v["subject"], "--subject")
    check_name(v["exercise"], "--exercise")
    if v["sequence_id"] is not None:
        check_name(v["sequence_id"], "--sequence-id")
    _check_numbers({f"--{k.replace('_', '-')}": v[k] for k in (
        "emg_rate", "emg_notch", "emg_envelope_hz", "frame_tolerance_ms", "emg_tolerance_ms")})
    channels = v["channels"]
    for item in split_list(channels) or []:
        src, eq, name = item.partition("=")
        if not src.strip() or (eq and not name.strip()):
            raise InputError(f"--channels {channels!r}: {item!r} names no channel; write "
                             "SRC or SRC=NEW_NAME, comma-separated, e.g. --channels "
                             "l_quad=quad_left,l_ham")


def _align_config(v: dict[str, Any]):  # -> AlignConfig
    from musclekit.emg import EmgProcessing
    from musclekit.pipelines.align.config import AlignConfig
    from musclekit.pipelines.align.offset import DriftConfig, RefineConfig

    def seconds(ms: float | None) -> float | None:
        return None if ms is None else ms / 1e3

    return AlignConfig(
        fps=v["fps"],
        refine=RefineConfig(enabled=v["refine"], max_lag_s=v["max_lag"]),
        drift=DriftConfig(enabled=v["drift"]),
        frame_tolerance_s=seconds(v["frame_tolerance_ms"]),
        emg_tolerance_s=seconds(v["emg_tolerance_ms"]),
        clip_frames=v["clip_frames"], clip_max_missing=v["clip_max_missing"],
        split_seed=v["split_seed"], write_video=v["write_video"], qc=v["qc"],
        emg_units=v["emg_units"], emg_kind=v["emg_kind"],
        emg_processing=EmgProcessing(band_hz=_band(v["emg_band"]), notch_hz=v["emg_notch"],
                                     envelope_hz=v["emg_envelope_hz"],
                                     band_auto=v["emg_band"] is None),
        emd_s=seconds(v["emd_ms"]),
    )


def _align_one(v: dict[str, Any]) -> int:
    from musclekit.pipelines.align.config import Capture
    from musclekit.pipelines.align.emg_csv import EmgCsvOptions, split_list
    from musclekit.pipelines.align.run import AlignResult, align_capture, already_aligned

    sensor_config = v["sensor_config"]
    options = EmgCsvOptions.from_toml(sensor_config) if sensor_config else EmgCsvOptions()
    flags = {"time_col": split_list(v["time_col"]), "channels": split_list(v["channels"]),
             "tz": v["emg_tz"], "start": v["emg_start"], "rate_hz": v["emg_rate"]}
    options = replace(options, **{k: x for k, x in flags.items() if x})
    if v["time_unit"] != "auto" or not sensor_config:
        options = replace(options, time_unit=v["time_unit"])
    cfg = _align_config(v)
    capture = Capture(emg_path=v["emg"], video_path=v["video"], subject=v["subject"],
                      exercise=v["exercise"], sequence_id=v["sequence_id"],
                      video_start=v["video_start"], offset_s=v["offset"], emg=options)
    out: Path = v["out"]
    if already_aligned(out, capture.id):
        console.print(f"skipped {capture.id}: already aligned in {out} (delete its unit to redo)")
        return int(ExitCode.OK)
    result: AlignResult = align_capture(capture, cfg, out)
    console.print(result.line(), soft_wrap=True)
    if result.qc_png:
        console.print(f"  QC: {result.qc_png}", soft_wrap=True)
    return int(ExitCode.OK)


def _check_numbers(values: dict[str, float | None]) -> None:
    """Rates, frequencies and tolerances are positive finite numbers (a NaN rate would be
    ignored silently, a negative tolerance would make every row a gap)."""
    import math

    for flag, value in values.items():
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(f"{flag} {value}: give a positive number (see musclekit align "
                             "--help for the unit and default)")


def _band(text: str | None) -> tuple[float, float]:
    """`--emg-band 20,450` -> (20.0, 450.0)."""
    if text is None:
        return (20.0, 450.0)
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"--emg-band {text!r}: give two numbers in Hz, LOW,HIGH, e.g. --emg-band 20,450") from None
    return (low, high)


def _run_session(session: Path, out: Path, workers: int | None, scheduler: str | None) -> int:
    from musclekit.compute import ComputeConfig
    from musclekit.pipelines.align.run import AlignResult, align_session

    def verdict(unit_id: str, status: str, value: object) -> None:
        if status == "ok" and isinstance(value, dict):
            console.print(AlignResult(**value).line(), soft_wrap=True)
        else:
            console.print(f"[red]failed[/] {unit_id}: {value}", soft_wrap=True)

    compute = ComputeConfig(workers=workers, scheduler=scheduler)
    report = align_session(session, out, compute, on_result=verdict)
    for unit_id in report.skipped:
        console.print(f"skipped {unit_id}: already aligned")
    console.print(report.summary())
    if report.failed:
        raise PartialFailure(f"{len(report.failed)} of {len(report.failed) + len(report.done)} "
                             "captures failed (reasons above); fix them and rerun the same "
                             "command: finished captures are skipped")
    return int(ExitCode.OK)
