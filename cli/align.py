"""`musclekit align`: sEMG + phone video on one clock, resampled to a common grid."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from musclekit.errors import ExitCode, InputError, PartialFailure
from musclekit.progress import console


def register(app: typer.Typer) -> None:
    app.command("align")(align)


def align(
    emg: Path | None = typer.Option(None, "--emg", help="sEMG recording, raw or envelope: a CSV/text "
                                    "export, Cortex .anc, or EDF/BDF."),
    video: Path | None = typer.Option(None, "--video", help="Video of the same bout (.mov/.mp4)."),
    out: Path = typer.Option(..., "--out", help="Dataset folder to create or add to."),
    session: Path | None = typer.Option(None, "--session", help="TOML session file listing many "
                                        "captures (instead of --emg/--video); see docs/align.md."),
    subject: str = typer.Option("S01", "--subject", help="Subject id."),
    exercise: str = typer.Option("unknown", "--exercise", help="Exercise label (e.g. Squat)."),
    sequence_id: str | None = typer.Option(None, "--sequence-id", help="Sequence id (default "
                                           "<subject>_<exercise>_<video stem>)."),
    time_col: str | None = typer.Option(None, "--time-col", help="Time column name(s), comma-separated "
                                        "(one per sensor for per-sensor layouts)."),
    channels: str | None = typer.Option(None, "--channels", help="Channels to keep, comma-separated; "
                                        "`src=name` renames (default: all value columns)."),
    emg_tz: str | None = typer.Option(None, "--emg-tz", help="Time zone of sEMG times written without "
                                      "one (IANA name or +HH:MM; default UTC)."),
    time_unit: str = typer.Option("auto", "--time-unit", help="auto, iso, or epoch s, ms, us, ns."),
    emg_start: str | None = typer.Option(None, "--emg-start", help="Wall-clock ISO time of time "
                                         "zero, for sEMG times counted from the recording start (without it the "
                                         "first sample is assumed at the video's first frame, with a warning)."),
    sensor_config: Path | None = typer.Option(None, "--sensor-config", help="TOML file with the sEMG "
                                              "reader options (layout, columns, zone, unit)."),
    video_start: str | None = typer.Option(None, "--video-start", help="ISO time of the first video "
                                           "frame; overrides the file's creation time."),
    offset: float = typer.Option(0.0, "--offset", help="Seconds added by hand to the video times "
                                 "(before the refinement)."),
    fps: float = typer.Option(10.0, "--fps", help="Output grid rate (Hz)."),
    refine: bool = typer.Option(True, "--refine/--no-refine", help="Refine the offset by "
                                "cross-correlating video motion with the sEMG envelope."),
    max_lag: float = typer.Option(2.0, "--max-lag", help="Refinement search window (+- seconds)."),
    drift: bool = typer.Option(True, "--drift/--no-drift", help="Estimate clock drift on long recordings."),
    frame_tolerance_ms: float | None = typer.Option(None, "--frame-tolerance-ms", help="Max distance "
                                                    "of the chosen frame from a grid time."),
    emg_tolerance_ms: float | None = typer.Option(None, "--emg-tolerance-ms", help="Max distance of "
                                                  "the placed sEMG sample from a grid time."),
    clip_frames: int | None = typer.Option(None, "--clip-frames", help="Cut windows of this many "
                                           "rows (MIA: 30) with a seeded 80/20 train/test split."),
    clip_max_missing: int = typer.Option(0, "--clip-max-missing", help="Incomplete rows a window may hold."),
    split_seed: int = typer.Option(0, "--split-seed", help="Seed of the train/test split."),
    write_video: bool = typer.Option(False, "--write-video", help="Also write the resampled clip "
                                     "to <out>/videos/ for inspection."),
    qc: bool = typer.Option(True, "--qc/--no-qc", help="Write the QC PNG and JSON to <out>/qc/align/."),
    emg_units: str | None = typer.Option(None, "--emg-units", help="Units of the sEMG values when the "
                                         "file declares none (default a.u.)."),
    emg_kind: str = typer.Option("auto", "--emg-kind", help="raw, envelope, or auto (decided from "
                                 "the rate and content)."),
    emg_band: str | None = typer.Option(None, "--emg-band", help="Band-pass for raw sEMG, LOW,HIGH "
                                        "in Hz (default 20,450; its upper edge is lowered to 0.95 x "
                                        "Nyquist on slower devices, a band given here never is)."),
    emg_notch: float | None = typer.Option(None, "--emg-notch", help="Mains frequency to notch out "
                                           "of raw sEMG (50 or 60 Hz; default none)."),
    emg_envelope_hz: float = typer.Option(6.0, "--emg-envelope-hz", help="Low-pass cut-off of the "
                                          "raw sEMG envelope (Hz)."),
    emd_ms: float | None = typer.Option(None, "--emd-ms", help="Electromechanical delay allowed for "
                                        "in the offset refinement (default 50 for raw sEMG, 0 for "
                                        "sensor envelopes)."),
    emg_rate: float | None = typer.Option(None, "--emg-rate", help="True sample rate (Hz) of the sEMG "
                                          "channels when the file's header declares a wrong one (other "
                                          "channel groups, e.g. IMU, keep their own)."),
    workers: int | None = typer.Option(None, "--workers", help="Parallel captures for --session "
                                       "(default: one per core; 0 = in this process)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler."),
) -> int:
    """Align sEMG and video by timestamps and write them on a common grid (resumable)."""
    from musclekit.cli.simulate import check_name
    from musclekit.config import check_writable
    from musclekit.emg import EmgProcessing
    from musclekit.pipelines.align.config import AlignConfig, Capture
    from musclekit.pipelines.align.emg_csv import EmgCsvOptions, split_list
    from musclekit.pipelines.align.offset import DriftConfig, RefineConfig
    from musclekit.pipelines.align.run import AlignResult, align_capture, already_aligned

    # Ids become file names and metadata keys: refused before any work (nothing written).
    check_writable(out)
    check_name(subject, "--subject")
    check_name(exercise, "--exercise")
    if sequence_id is not None:
        check_name(sequence_id, "--sequence-id")
    _check_numbers({"--emg-rate": emg_rate, "--emg-notch": emg_notch,
                    "--emg-envelope-hz": emg_envelope_hz, "--frame-tolerance-ms":
                    frame_tolerance_ms, "--emg-tolerance-ms": emg_tolerance_ms})
    for item in split_list(channels) or []:
        src, eq, name = item.partition("=")
        if not src.strip() or (eq and not name.strip()):
            raise InputError(f"--channels {channels!r}: {item!r} names no channel; write "
                             "SRC or SRC=NEW_NAME, comma-separated, e.g. --channels "
                             "l_quad=quad_left,l_ham")
    overrides: dict = dict(
        fps=fps,
        refine=RefineConfig(enabled=refine, max_lag_s=max_lag),
        drift=DriftConfig(enabled=drift),
        frame_tolerance_s=None if frame_tolerance_ms is None else frame_tolerance_ms / 1e3,
        emg_tolerance_s=None if emg_tolerance_ms is None else emg_tolerance_ms / 1e3,
        clip_frames=clip_frames, clip_max_missing=clip_max_missing, split_seed=split_seed,
        write_video=write_video, qc=qc, emg_units=emg_units, emg_kind=emg_kind,
        emg_processing=EmgProcessing(band_hz=_band(emg_band), notch_hz=emg_notch,
                                     envelope_hz=emg_envelope_hz, band_auto=emg_band is None),
        emd_s=None if emd_ms is None else emd_ms / 1e3,
    )
    if session is not None:
        if emg is not None or video is not None:
            raise InputError("--session lists the captures itself: leave out --emg and --video")
        given = {
            "--subject": subject != "S01", "--exercise": exercise != "unknown",
            "--sequence-id": sequence_id is not None, "--time-col": time_col is not None,
            "--channels": channels is not None, "--emg-tz": emg_tz is not None,
            "--time-unit": time_unit != "auto", "--emg-start": emg_start is not None,
            "--sensor-config": sensor_config is not None, "--video-start": video_start is not None,
            "--offset": offset != 0.0, "--fps": fps != 10.0, "--no-refine": not refine,
            "--max-lag": max_lag != 2.0, "--no-drift": not drift,
            "--frame-tolerance-ms": frame_tolerance_ms is not None,
            "--emg-tolerance-ms": emg_tolerance_ms is not None,
            "--clip-frames": clip_frames is not None, "--clip-max-missing": clip_max_missing != 0,
            "--split-seed": split_seed != 0, "--write-video": write_video, "--no-qc": not qc,
            "--emg-units": emg_units is not None, "--emg-kind": emg_kind != "auto",
            "--emg-band": emg_band is not None, "--emg-notch": emg_notch is not None,
            "--emg-envelope-hz": emg_envelope_hz != 6.0, "--emd-ms": emd_ms is not None,
            "--emg-rate": emg_rate is not None,
        }
        ignored = [flag for flag, used in given.items() if used]
        if ignored:
            raise InputError(
                f"with --session, {', '.join(ignored)} would be ignored: set them in the session "
                "file ([align] for alignment options, [emg] or [[capture]] for the sEMG reader and "
                "per-capture values; see docs/align.md)"
            )
        return _run_session(session, out, workers, scheduler)
    if emg is None or video is None:
        raise InputError("give --emg and --video (one capture) or --session (many captures)")
    for flag, given in (("--emg", emg), ("--video", video)):
        if given is not None and not given.exists():
            raise InputError(f"{flag} {given} does not exist; check the path (relative paths "
                             f"start at {Path.cwd()})")
        if given is not None and given.is_dir():
            what = "sEMG" if flag == "--emg" else "video"
            raise InputError(f"{flag} {given} is a folder: give the {what} file itself "
                             "(align reads one capture; many go in a --session file)")
    options = EmgCsvOptions.from_toml(sensor_config) if sensor_config else EmgCsvOptions()
    flags = {"time_col": split_list(time_col), "channels": split_list(channels), "tz": emg_tz,
             "start": emg_start, "rate_hz": emg_rate}
    options = replace(options, **{k: v for k, v in flags.items() if v})
    if time_unit != "auto" or not sensor_config:
        options = replace(options, time_unit=time_unit)
    cfg = AlignConfig(**overrides)  # type: ignore[arg-type]
    capture = Capture(emg_path=emg, video_path=video, subject=subject, exercise=exercise,
                      sequence_id=sequence_id, video_start=video_start, offset_s=offset, emg=options)
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
