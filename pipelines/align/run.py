"""Align one capture end to end, or a session of captures in parallel (resumable).

Order of work, so that bad input fails before anything expensive or anything is written:
read the sEMG file, probe the video (demux only), check the start time and the overlap; then
decode the video once, refine the offset, estimate drift, build the grid, place the sEMG,
cut clips, and finally write the QC report and the dataset unit (atomically).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import av
import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.align.clips import cut_clips
from musclekit.pipelines.align.config import AlignConfig, Capture, load_session
from musclekit.pipelines.align.emg_csv import EmgRecording
from musclekit.pipelines.align.emg_files import read_recording
from musclekit.pipelines.align.grid import (
    ClockMap,
    PlacedEmg,
    default_frame_tolerance_ns,
    grid_times_ns,
    nearest_frames,
    overlap_rows,
    place_emg,
)
from musclekit.pipelines.align.offset import (
    ANALYSIS_DT_S,
    Drift,
    Refinement,
    analysis_grid,
    emg_signal,
    estimate_drift,
    motion_signal,
    refine_offset,
)
from musclekit.pipelines.align.rawemg import (
    KindChoice,
    RawEnvelopes,
    check_raw,
    choose_kind,
    native_table,
    raw_envelopes,
)
from musclekit.pipelines.align.timeparse import format_ns, parse_iso_ns, resolve_tz
from musclekit.pipelines.align.video import VideoInfo, decode_pass, probe_video

EMG_STREAM = "emg"
FRAMES_STREAM = "frames"
RAW_STREAM = "emg_raw"
IMU_STREAM = "imu"
ANALOG_STREAM = "analog"
STAGE = "align"
# Assumed electromechanical delay for envelopes computed here from raw sEMG (zero-lag filters):
# the middle of the 10-100 ms the literature reports between sEMG onset and force.
DEFAULT_RAW_EMD_S = 0.05


def unit_id_for(sequence_id: str) -> str:
    return f"align.{sequence_id}"


def _units(channels: list, fallback: str | None) -> str | list[str] | None:
    """Per-channel SI units when the file declared every one, else the --emg-units fallback."""
    if channels and all(ch.unit is not None for ch in channels):
        return [ch.unit for ch in channels]
    return fallback


def _apply_emg_units(emg: EmgRecording, units: str | None) -> None:
    """Raw sEMG whose file names no unit, in the unit `--emg-units` names: to SI like a
    declared unit, so `emg` and `emg_raw` agree. (For sensor envelopes --emg-units stays a
    label, as it always was.)"""
    from musclekit.pipelines.align.channels import parse_unit

    info = parse_unit(units) if units else None
    if info is None:
        return
    for ch in emg.channels:
        if ch.unit is None:
            ch.values = ch.values * info.factor
            ch.unit, ch.unit_declared = info.si, f"{info.declared} (--emg-units)"


def _native_rate(channels: list) -> float:
    """The rate a native-rate stream declares: the header's, else the measured one to four
    significant digits (timestamps of two captures of one device differ in the last digits)."""
    declared = channels[0].declared_rate_hz
    if declared:
        return float(declared)
    measured = float(np.median([1.0 / ch.sample_period_s for ch in channels]))
    return float(f"{measured:.4g}")


def stream_specs(channels: list[str] | EmgRecording, cfg: AlignConfig, kind: str = "envelope") -> list:
    """The streams align writes for a recording (all on the sensor clock): `emg` and `frames`
    at `cfg.fps`; for raw sEMG also `emg_raw`; `imu` and `analog` when the file has them.
    `channels` may be a plain list of sEMG names (envelope input, the streams of old)."""
    from musclekit.dataset import StreamSpec

    rec = channels if isinstance(channels, EmgRecording) else None
    names = rec.channel_names if rec is not None else list(channels)
    units = _units(rec.channels, cfg.emg_units) if rec is not None else cfg.emg_units
    if kind == "raw":
        description = ("linear envelope of raw sEMG (offset removed, band-pass, rectified, zero-lag "
                       "low-pass; parameters in the sequence's extra.emg.processing), resampled "
                       "anti-aliased onto the grid; sample_dt_s = 0 (values are computed at the "
                       "grid time); FLAGGED within one envelope cut-off period of a recording end")
    else:
        description = ("sEMG envelope on the aligned grid: the nearest real sample per grid "
                       "time (never interpolated); sample_dt_s = its time minus the grid time "
                       "(median over channels)")
    specs = [
        StreamSpec(
            name=EMG_STREAM, family="semg", rate_hz=cfg.fps, channels=names,
            units=units, clock="emg", aux={"sample_dt_s": "float64"},
            description=description,
        ),
        StreamSpec(
            name=FRAMES_STREAM, family="frames", rate_hz=cfg.fps, clock="emg",
            aux={"source_frame": "int64", "source_pts_s": "float64"},
            description="nearest video frame per grid time: index in decode order (-1 when "
            "none is near enough) and its presentation time in seconds",
        ),
    ]
    if rec is None:
        return specs
    if kind == "raw" and cfg.write_raw:
        raw_units = _units(rec.channels, None)
        specs.append(StreamSpec(
            name=RAW_STREAM, family="semg_raw", rate_hz=_native_rate(rec.channels), channels=names,
            units=raw_units if raw_units is not None else "a.u.", clock="emg",
            description="raw sEMG at the recording's own rate, unfiltered, the whole recording; "
            "time_s on the emg stream's axis (negative before its first row); a sample missing "
            "from a channel is NaN + MISSING, never interpolated"))
    for stream, kinds, family, what in ((IMU_STREAM, ("acc", "gyro", "mag"), "imu", "inertial sensors"),
                                        (ANALOG_STREAM, ("other",), "analog", "other channels")):
        chans = rec.of_kind(*kinds)
        if chans:
            specs.append(StreamSpec(
                name=stream, family=family, rate_hz=_native_rate(chans),
                channels=[ch.name for ch in chans],
                units=[ch.unit or "a.u." for ch in chans], clock="emg",
                description=f"{what} recorded with the sEMG, at their own rate, the whole "
                "recording; time_s on the emg stream's axis"))
    return specs


@dataclass
class AlignResult:
    """What aligning one capture produced (also the per-clip line of the CLI)."""

    sequence_id: str
    rows: int
    frame_missing_rows: int
    emg_gap_rows: int
    offset_s: float
    offset_source: str
    score: float | None
    z: float | None
    drift_s_per_s: float | None
    drift_applied: bool
    clips: int
    verdict: str
    qc_png: str | None
    qc_json: str | None
    video_clip: str | None
    skipped: bool = False
    warnings: list[str] | None = None  # about the sEMG file (each makes the verdict `check`)

    def line(self) -> str:
        score = f"r={self.score:.2f}" if self.score is not None else "r=n/a"
        text = (f"{self.verdict} {self.sequence_id}: {self.rows} rows, {self.frame_missing_rows} "
                f"without frame, {self.emg_gap_rows} sEMG gap rows, offset {self.offset_s:+.3f} s "
                f"({self.offset_source}, {score}), {self.clips} clips")
        return "".join([text, *(f"\n  warning: {w}" for w in self.warnings or [])])


def video_start_ns(info: VideoInfo, capture: Capture) -> tuple[int, str]:
    """Epoch ns of the first frame and where it came from (--video-start wins)."""
    if capture.video_start:
        parsed = parse_iso_ns(capture.video_start, resolve_tz(capture.emg.tz))
        if parsed is None:
            raise InputError(
                f"--video-start {capture.video_start!r} is not an ISO 8601 time; write e.g. "
                "2026-11-22T10:00:00.250+01:00 (without a zone it is read in --emg-tz, else UTC)"
            )
        return parsed[0], "--video-start"
    if info.creation_ns is None:
        raise InputError(
            f"video {info.path} has no creation time (looked for "
            "com.apple.quicktime.creationdate and creation_time); pass --video-start with the "
            "wall-clock time of its first frame, e.g. --video-start 2026-11-22T10:00:00.250+01:00"
        )
    return info.creation_ns, str(info.creation_source)


def check_rates(emg: EmgRecording, info: VideoInfo, fps: float) -> None:
    """Refuse a video of fewer than two frames and a grid rate neither source can fill: above
    the video's frame rate every grid row would repeat a frame, above the sEMG's rate it would
    repeat samples (and --fps 1e6 would build millions of rows)."""
    if info.n_frames < 2:
        raise InputError(
            f"video {info.path} has {info.n_frames} frame(s): align needs a video of at least "
            "two frames (the motion between frames refines the offset); check that the file "
            "is the whole recording, or export it again")
    video_hz = info.avg_fps if info.avg_fps > 0 else info.nominal_fps
    emg_period = emg.sample_period_s
    emg_hz = 1.0 / emg_period if np.isfinite(emg_period) and emg_period > 0 else float("inf")
    # sEMG timestamps jitter (Bluetooth): half again its median rate is still its rate.
    for name, rate, slack in (("video", video_hz, 1.05), ("sEMG", emg_hz, 1.5)):
        if np.isfinite(rate) and fps > rate * slack:
            raise InputError(
                f"--fps {fps:g}: above the {name}'s rate ({rate:.3g} Hz; video {info.path.name} "
                f"{video_hz:.3g} fps, sEMG {emg.path.name} {emg_hz:.3g} Hz): the grid would "
                f"repeat {'frames' if name == 'video' else 'samples'} instead of measuring; give "
                f"--fps {min(video_hz, emg_hz * 1.5, 10.0):.3g} or less (MIA: 10)")


def _range_text(start_ns: int, end_ns: int) -> str:
    return f"{format_ns(start_ns)} .. {format_ns(end_ns)}"


def check_overlap(
    emg: EmgRecording, info: VideoInfo, clock: ClockMap, min_overlap_s: float, min_what: str, slack_s: float
) -> None:
    """Fail early with both ranges when the streams do not overlap enough.

    slack_s: how much the refinement may still move the offset (only for the no-overlap test).
    """
    video_start = int(clock.to_sensor_ns(0.0))
    video_end = int(clock.to_sensor_ns(info.duration_s))
    start, end = max(emg.start_ns, video_start), min(emg.end_ns, video_end)
    overlap_s = (end - start) / 1e9
    ranges = (f"sEMG covers {_range_text(emg.start_ns, emg.end_ns)} ({emg.path.name}), video covers "
              f"{_range_text(video_start, video_end)} ({info.path.name}, on the sEMG clock)")
    if overlap_s + slack_s <= 0:
        shift_s = ((emg.start_ns + emg.end_ns) / 2 - (video_start + video_end) / 2) / 1e9
        hours = round(shift_s / 3600)
        longest = max((emg.end_ns - emg.start_ns) / 1e9, info.duration_s)
        hint = ("check the sEMG file and the video belong together, or give --video-start / "
                "--offset")
        if abs(hours) >= 24 and abs(shift_s - 3600 * hours) <= longest / 2 + 60:
            hint = (f"the gap is {abs(hours)} h: the two clocks are a whole day (or more) "
                    "apart, which no time zone explains; check the recording dates, or add "
                    f"the difference by hand with --offset {3600 * hours:+.0f}")
        elif hours != 0 and abs(shift_s - 3600 * hours) <= longest / 2 + 60:
            later = "later" if hours > 0 else "earlier"
            hint = (f"the gap is a whole number of hours ({abs(hours)} h; the sEMG clock reads "
                    f"{later}): probably a time-zone mismatch. If the sEMG times carry no zone, "
                    f"pass --emg-tz with the zone they were recorded in (e.g. --emg-tz "
                    f"{hours:+03d}:00 or an IANA name such as Europe/Berlin)")
        raise InputError(f"no time overlap between sEMG and video: {ranges}; {hint}")
    if overlap_s < min_overlap_s:
        raise InputError(
            f"sEMG and video overlap for only {max(overlap_s, 0):.2f} s "
            f"({_range_text(start, max(start, end))}), shorter than {min_what}: {ranges}; "
            + ("give a smaller --clip-frames, or " if "clip" in min_what else "")
            + "check the two files belong to the same bout (or shift them with --offset)"
        )


class _ClipWriter:
    """Writes the resampled clip: grid slot k of the video = clip frame k (black where no frame).

    Frames arrive in decode order from the single decode pass; slots are known beforehand.
    """

    def __init__(self, path: Path, info: VideoInfo, fps: float, slots_of: dict[int, list[int]], n_slots: int):
        import tempfile

        self.path = path
        # Written outside the dataset until the unit commits: bad input leaves nothing there.
        handle, name = tempfile.mkstemp(suffix=path.suffix, prefix="musclekit-align-")
        os.close(handle)
        self.tmp = Path(name)
        self.container: Any = av.open(str(self.tmp), "w")
        quarter = int(round(info.rotation_deg / 90.0)) % 4
        self.quarter = quarter
        width, height = (info.height, info.width) if quarter % 2 else (info.width, info.height)
        from fractions import Fraction

        rate = Fraction(fps).limit_denominator(1000)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
        self.stream.options = {"preset": "veryfast", "crf": "23"}
        self.slots_of, self.n_slots, self.next_slot = slots_of, n_slots, 0
        self.size = (self.stream.height, self.stream.width)

    def _emit(self, frame: av.VideoFrame) -> None:
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def _rgb(self, frame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        if self.quarter:
            rgb = np.rot90(rgb, k=self.quarter)
        h, w = self.size
        return np.ascontiguousarray(rgb[:h, :w])

    def _black_until(self, slot: int) -> None:
        while self.next_slot < slot:
            black = av.VideoFrame.from_ndarray(np.zeros((*self.size, 3), np.uint8), format="rgb24")
            black.pts = self.next_slot
            self._emit(black)
            self.next_slot += 1

    def __call__(self, index: int, frame: av.VideoFrame) -> None:
        rgb = self._rgb(frame)
        for slot in self.slots_of.get(index, []):
            self._black_until(slot)
            out = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            out.pts = slot
            self._emit(out)
            self.next_slot = slot + 1

    def finish(self) -> None:
        """Flush the encoder; the clip stays in its temporary file until `commit`."""
        self._black_until(self.n_slots)
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()

    def commit(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.tmp, 0o644)  # mkstemp made it private
        shutil.move(self.tmp, self.path)

    def abort(self) -> None:
        try:
            if self.container is not None:
                self.container.close()
        except av.error.FFmpegError:
            pass  # closing a half-written file may fail; it is deleted anyway
        finally:
            self.tmp.unlink(missing_ok=True)


def align_capture(capture: Capture, cfg: AlignConfig, out: Path) -> AlignResult:
    """Align one capture and write it as one unit (`align.<sequence id>`) into dataset `out`.

    Raises:
        InputError: any bad input (see docs/align.md for the list); nothing is written then.
    """

    out = Path(out)
    seq_id = capture.id
    emg = read_recording(capture.emg_path, capture.emg)
    choice = choose_kind(emg, cfg.emg_kind)
    if choice.kind == "raw":
        _apply_emg_units(emg, cfg.emg_units)
        check_raw(emg, cfg.emg_processing)
    info = probe_video(capture.video_path)
    check_rates(emg, info, cfg.fps)
    start_ns, start_source = video_start_ns(info, capture)
    # Times since an unknown time zero (no wall clock in the file, no --emg-start): the first
    # sample is placed at the video's first frame, with a warning; refinement may move it.
    emg.anchor(start_ns, f"the video's first frame ({start_source})")
    clock0 = ClockMap(start_ns, capture.offset_s)
    clip_s = cfg.clip_frames / cfg.fps if cfg.clip_frames else 2.0 / cfg.fps
    min_what = (f"one clip of {cfg.clip_frames} frames ({clip_s:.1f} s at {cfg.fps:g} fps)"
                if cfg.clip_frames else "two grid steps")
    slack = cfg.refine.max_lag_s if cfg.refine.enabled else 0.0
    check_overlap(emg, info, clock0, 0.0, min_what, slack)
    raw_env = raw_envelopes(emg, cfg.emg_processing) if choice.kind == "raw" else None

    # The grid lives on the video clock, so the frame choice is known before decoding.
    first_ns, last_ns = int(info.frame_time_ns[0]), int(info.frame_time_ns[-1])
    grid_ns = grid_times_ns(first_ns, last_ns, cfg.fps)
    tol_frame_ns = (int(cfg.frame_tolerance_s * 1e9) if cfg.frame_tolerance_s is not None
                    else default_frame_tolerance_ns(info.median_frame_interval_s, cfg.fps))
    frame_of_slot = nearest_frames(info.frame_time_ns, grid_ns, tol_frame_ns)

    writer = None
    wanted = None
    clip_path = out / "videos" / f"{seq_id}_{cfg.fps:g}fps.mp4"
    if cfg.write_video:
        slots_of: dict[int, list[int]] = {}
        for slot, idx in enumerate(frame_of_slot):
            if idx >= 0:
                slots_of.setdefault(int(idx), []).append(slot)
        wanted = np.zeros(info.n_frames, bool)
        wanted[list(slots_of)] = True
        writer = _ClipWriter(clip_path, info, cfg.fps, slots_of, grid_ns.size)
    try:
        motion = decode_pass(info, motion_width=cfg.motion_width, sink=writer, wanted=wanted,
                             threads=cfg.threads)
        if writer is not None:
            writer.finish()
            writer.container = None
        return _finish_capture(capture, cfg, out, emg, info, start_ns, start_source, clock0,
                               grid_ns, frame_of_slot, tol_frame_ns, motion, writer, clip_path,
                               clip_s, min_what, choice, raw_env)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


@dataclass
class _Clock:
    """The solved clock mapping and how it was found."""

    clock: ClockMap
    refinement: Refinement
    drift: Drift
    source: str
    emd: dict[str, Any]


def emd_for(cfg: AlignConfig, kind: str) -> tuple[float, str]:
    """The electromechanical delay allowed for, and why that value."""
    if cfg.emd_s is not None:
        return float(cfg.emd_s), "--emd-ms"
    if kind == "raw":
        return DEFAULT_RAW_EMD_S, ("default for envelopes computed here from raw sEMG with zero-lag "
                                   "filters: sEMG leads the motion it causes by ~10-100 ms")
    return 0.0, ("sensor envelopes: their on-sensor smoothing delays them by an amount comparable "
                 "to the electromechanical delay, so none is added (set --emd-ms to change)")


def _solve_clock(capture: Capture, cfg: AlignConfig, emg: EmgRecording, info: VideoInfo,
                 motion: Any, clock0: ClockMap, start_source: str, kind: str = "envelope") -> _Clock:
    """Offset from the timestamps (+ hand offset), then the refinement, then drift.

    The correlation peaks where the sEMG matches the motion it causes, i.e. early by the
    electromechanical delay (EMD): the delay is added back to the measured lag, so the
    offset puts each sEMG sample at its own time, not at the time of the movement.
    """
    t_an = analysis_grid(info.duration_s)
    m_sig = motion_signal(motion, t_an)
    e_sig = emg_signal(emg, clock0, t_an)
    refinement = refine_offset(m_sig, e_sig, cfg.refine)
    emd_s, emd_why = emd_for(cfg, kind)
    lag = refinement.lag_s + emd_s if refinement.applied else 0.0
    drift = estimate_drift(m_sig, e_sig, refinement.lag_s if refinement.applied else 0.0, cfg.drift)
    offset_s, drift_rate = capture.offset_s + lag, 0.0
    if drift.applied:
        offset_s, drift_rate = capture.offset_s + drift.intercept_s + emd_s, drift.drift_s_per_s
    if refinement.applied:
        said = (f"correlation peak at {refinement.lag_s:+.3f} s; {emd_s * 1e3:.0f} ms electromechanical "
                f"delay added back ({emd_why}): lag applied {lag:+.3f} s")
    else:
        said = f"no lag applied (refinement not applied); {emd_s * 1e3:.0f} ms EMD would be added ({emd_why})"
    emd = {"emd_s": emd_s, "why": emd_why, "peak_lag_s": _finite(refinement.lag_s),
           "applied_lag_s": lag if refinement.applied else None, "summary": said}
    return _Clock(clock=ClockMap(clock0.video_start_ns, offset_s, drift_rate), refinement=refinement,
                  drift=drift, source=_offset_source(start_source, capture, refinement, drift), emd=emd)


@dataclass
class _Rows:
    """The output rows: grid slots `first_slot` .. of the video grid covered by both streams."""

    first_slot: int
    grid_s: np.ndarray  # (T,) video-clock seconds
    time_s: np.ndarray  # (T,) seconds from the first row
    row_ns: np.ndarray  # (T,) sensor-clock epoch ns
    source_frame: np.ndarray  # (T,) int64, -1 where no frame
    source_pts_s: np.ndarray  # (T,) float64, NaN where no frame
    emg: Any  # PlacedEmg
    emg_tolerance_s: float
    emg_edge: np.ndarray  # (T,) bool: within a filter start-up span of a raw recording end

    @property
    def frame_missing(self) -> np.ndarray:
        return self.source_frame < 0

    @property
    def emg_gap(self) -> np.ndarray:
        return np.isnan(self.emg.values).all(axis=1)

    @property
    def complete(self) -> np.ndarray:
        return ~self.frame_missing & ~np.isnan(self.emg.values).any(axis=1)


def _build_rows(cfg: AlignConfig, emg: EmgRecording, info: VideoInfo, clock: ClockMap,
                grid_ns: np.ndarray, frame_of_slot: np.ndarray, clip_s: float, min_what: str,
                raw_env: RawEnvelopes | None = None) -> _Rows:
    grid_s = grid_ns / 1e9  # video-clock seconds after the first frame
    emg_start_s = float(clock.to_video_s(np.array([emg.start_ns]))[0])
    emg_end_s = float(clock.to_video_s(np.array([emg.end_ns]))[0])
    period = emg.sample_period_s if np.isfinite(emg.sample_period_s) else 0.0
    tol_emg_s = (cfg.emg_tolerance_s if cfg.emg_tolerance_s is not None
                 else 0.75 * max(1.0 / cfg.fps, period))
    if raw_env is not None:
        tol_emg_s = 0.0  # envelope values exist only inside the recording, computed at grid times
    lo, hi = overlap_rows(grid_s, emg_start_s, emg_end_s, tol_emg_s)
    if (hi - lo) / cfg.fps < clip_s - 1e-9:
        check_overlap(emg, info, clock, clip_s, min_what, 0.0)
        raise InputError(f"sEMG and video overlap for only {hi - lo} grid rows, fewer than {min_what}"
                         + (f"; give --clip-frames {hi - lo} or fewer" if cfg.clip_frames else
                            "; check the two files belong to the same bout"))
    g_s = grid_s[lo:hi]
    frames_idx = frame_of_slot[lo:hi].astype(np.int64)
    pts_s = np.where(frames_idx < 0, np.nan,
                     info.frame_pts[np.maximum(frames_idx, 0)] * float(info.time_base))
    if raw_env is not None:
        values, edge = raw_env.on_grid(clock.to_video_s, g_s)
        placed = PlacedEmg(values=values, sample_dt_s=np.where(np.isfinite(values), 0.0, np.nan))
    else:
        placed, edge = place_emg(emg, clock, g_s, tol_emg_s), np.zeros(g_s.size, bool)
    return _Rows(first_slot=int(lo), grid_s=g_s, time_s=np.round((g_s - g_s[0]) * 1e9) / 1e9,
                 row_ns=clock.to_sensor_ns(g_s), source_frame=frames_idx, source_pts_s=pts_s,
                 emg=placed, emg_tolerance_s=tol_emg_s, emg_edge=edge)


def _finish_capture(capture: Capture, cfg: AlignConfig, out: Path, emg: EmgRecording,
                    info: VideoInfo, start_ns: int, start_source: str, clock0: ClockMap,
                    grid_ns: np.ndarray, frame_of_slot: np.ndarray, tol_frame_ns: int,
                    motion: Any, writer: _ClipWriter | None, clip_path: Path, clip_s: float,
                    min_what: str, choice: KindChoice | None = None,
                    raw_env: RawEnvelopes | None = None) -> AlignResult:
    from musclekit.dataset import DatasetWriter, Flag, Provenance, SequenceInfo, SubjectInfo

    seq_id = capture.id
    choice = choice or KindChoice("envelope", "data", "")
    timing = raw_env.analysis_recording(emg) if raw_env is not None else emg
    solved = _solve_clock(capture, cfg, timing, info, motion, clock0, start_source, choice.kind)
    refinement, drift = solved.refinement, solved.drift
    rows = _build_rows(cfg, emg, info, solved.clock, grid_ns, frame_of_slot, clip_s, min_what, raw_env)
    frame_missing, emg_gap = rows.frame_missing, rows.emg_gap

    clips: list[dict] = []
    clips_left_out = 0
    if cfg.clip_frames:
        clips, clips_left_out = cut_clips(
            rows.complete, cfg.clip_frames, subject=capture.subject, exercise=capture.exercise,
            sequence_id=seq_id, seed=cfg.split_seed, test_fraction=cfg.test_fraction,
            max_missing=cfg.clip_max_missing,
        )

    offset_s = solved.clock.offset_s
    alignment = {
        "offset_s": float(offset_s),
        "offset_source": solved.source,
        "score": _finite(refinement.score),
        "drift_s_per_s": _finite(drift.drift_s_per_s) if drift.estimated else None,
        "drift_applied": drift.applied,
        "refinement": {"applied": refinement.applied, "reason": refinement.reason,
                       "lag_s": _finite(refinement.lag_s), "z": _finite(refinement.z),
                       "chance_mean": _finite(refinement.chance_mean),
                       "chance_std": _finite(refinement.chance_std),
                       "chance_max": _finite(refinement.chance_max)},
        "drift": {"estimated": drift.estimated, "applied": drift.applied, "reason": drift.reason,
                  "stderr": _finite(drift.stderr)},
        "video_start_ns": int(start_ns),
        "video_start_source": start_source,
        "video_start_whole_seconds": bool(start_ns % 10**9 == 0),
        "manual_offset_s": capture.offset_s,
        "frame_tolerance_s": tol_frame_ns / 1e9,
        "emg_tolerance_s": rows.emg_tolerance_s,
        "first_grid_slot": rows.first_slot,
        "electromechanical_delay": solved.emd,
    }
    verdict = _verdict(refinement, frame_missing, emg_gap, start_ns)
    if emg.warnings and verdict == "ok":
        verdict = "check"  # something about the sEMG file needs a look (the warnings say what)
    abs_dt = np.abs(rows.emg.sample_dt_s)
    quality = {
        "rows": int(rows.time_s.size),
        "frame_missing_rows": int(frame_missing.sum()),
        "emg_gap_rows": int(emg_gap.sum()),
        "emg_partial_rows": int((np.isnan(rows.emg.values).any(axis=1) & ~emg_gap).sum()),
        "emg_abs_dt_median_s": _finite(np.nanmedian(abs_dt)) if np.isfinite(abs_dt).any() else None,
        "emg_notes": emg.notes,
        "emg_sample_period_s": _finite(emg.sample_period_s),
        "video_vfr_gaps": int((np.diff(info.frame_time_ns) > 1.5e9 / info.nominal_fps).sum()),
        "clips_left_out": clips_left_out,
        "emg_warnings": list(emg.warnings),
        "verdict": verdict,
    }
    extra: dict[str, Any] = {
        # Relative to the dataset, so a dataset moved together with its videos still finds
        # them (the keypoint stage resolves it against the dataset folder).
        "video": {"path": os.path.relpath(Path(info.path).resolve(), Path(out).resolve()), "sha256": None, "width": info.width, "height": info.height,
                  "rotation_deg": info.rotation_deg, "avg_fps": info.avg_fps, "n_frames": info.n_frames,
                  "codec": info.codec, "creation_time": info.creation_text},
        "emg": _emg_extra(emg, cfg, choice, raw_env),
        "alignment": alignment,
        "align_quality": quality,
    }
    if cfg.clip_frames:
        extra["clips"] = clips
    if cfg.write_video:
        extra["video_clip"] = {"path": str(clip_path.resolve()), "first_row_clip_frame": rows.first_slot}

    # Every check passed: from here on the dataset is written.
    if raw_env is not None:
        quality["emg_edge_rows_flagged"] = int((rows.emg_edge & ~emg_gap).sum())
        quality["raw_segments_too_short"] = raw_env.short_segments_dropped
    writer_ds = DatasetWriter.create_or_open(out, streams=stream_specs(emg, cfg, choice.kind))
    qc_png = qc_json = None
    if cfg.qc:
        qc_png, qc_json = _write_qc(out / "qc" / "align", seq_id, verdict, solved, capture, emg,
                                    motion, rows, {"sequence_id": seq_id, "alignment": alignment,
                                                   "quality": quality, "video": extra["video"],
                                                   "emg": extra["emg"], "clips": clips,
                                                   "analysis_dt_s": ANALYSIS_DT_S})

    # Write the unit last: on any failure above nothing of this capture is visible.
    config_record = {"align": cfg.to_dict(), "capture": _capture_record(capture), "alignment": alignment}
    provenance = Provenance.for_stage(STAGE, config=config_record,
                                      inputs=[capture.emg_path, capture.video_path])
    extra["video"]["sha256"] = next((i.sha256 for i in provenance.inputs if i.name == info.path.name), None)
    sequence = SequenceInfo(id=seq_id, subject_id=capture.subject, source="align",
                            label=capture.exercise, start_time_ns=int(rows.row_ns[0]), extra=extra)
    frame_flags = np.where(frame_missing, np.uint8(Flag.MISSING), np.uint8(0))
    dt_med = np.full(rows.time_s.size, np.nan)
    has_dt = np.isfinite(rows.emg.sample_dt_s).any(axis=1)
    dt_med[has_dt] = np.nanmedian(rows.emg.sample_dt_s[has_dt], axis=1)
    if writer is not None:
        writer.commit()  # before the unit: a finished unit always has its clip
    with writer_ds.unit(unit_id_for(seq_id), provenance=provenance) as unit:
        if capture.subject not in _known_subjects(out):
            # Only a bare record: never overwrite what another stage knows (mass, height).
            unit.add_subject(SubjectInfo(id=capture.subject))
        unit.write_sequence(EMG_STREAM, sequence, time_s=rows.time_s, values=rows.emg.values,
                            flags=np.where(rows.emg_edge, np.uint8(Flag.FLAGGED), np.uint8(0)),
                            timestamp_ns=rows.row_ns, aux={"sample_dt_s": dt_med})
        unit.write_sequence(FRAMES_STREAM, sequence, time_s=rows.time_s, flags=frame_flags,
                            timestamp_ns=rows.row_ns,
                            aux={"source_frame": rows.source_frame, "source_pts_s": rows.source_pts_s})
        origin_ns = int(rows.row_ns[0])
        native = []
        if raw_env is not None and cfg.write_raw:
            native.append((RAW_STREAM, emg.channels))
        native += [(IMU_STREAM, emg.of_kind("acc", "gyro", "mag")), (ANALOG_STREAM, emg.of_kind("other"))]
        for stream, chans in native:
            if chans:
                t_ns, values, _ = native_table(chans)
                unit.write_sequence(stream, sequence, time_s=(t_ns - origin_ns) / 1e9, values=values,
                                    timestamp_ns=t_ns)
    return AlignResult(
        sequence_id=seq_id, rows=int(rows.time_s.size), frame_missing_rows=int(frame_missing.sum()),
        emg_gap_rows=int(emg_gap.sum()), offset_s=float(offset_s), offset_source=solved.source,
        score=_finite(refinement.score), z=_finite(refinement.z),
        drift_s_per_s=_finite(drift.drift_s_per_s) if drift.estimated else None,
        drift_applied=drift.applied, clips=len(clips), verdict=verdict, qc_png=qc_png,
        qc_json=qc_json, video_clip=str(clip_path) if cfg.write_video else None,
        warnings=list(emg.warnings),
    )


def _emg_extra(emg: EmgRecording, cfg: AlignConfig, choice: KindChoice,
               raw_env: RawEnvelopes | None) -> dict[str, Any]:
    """What the sEMG file held and how it was processed (the sequence's `extra.emg`)."""
    import scipy

    def describe(ch: Any) -> dict[str, Any]:
        return {"name": ch.name, "column": ch.source_column, "kind": ch.kind, "unit": ch.unit,
                "unit_in_file": ch.unit_declared, "declared_rate_hz": ch.declared_rate_hz,
                "measured_rate_hz": _finite(1.0 / ch.sample_period_s) if ch.sample_period_s else None}

    out: dict[str, Any] = {
        "path": str(emg.path), "layout": emg.layout, "device": emg.device, "time_unit": emg.time_unit,
        "assumed_tz": emg.assumed_tz, "channels": emg.channel_names,
        "kind": choice.kind, "kind_source": choice.source, "kind_reason": choice.reason,
        "kind_per_channel": choice.per_channel,
        "channel_details": [describe(ch) for ch in emg.channels],
        "other_channels": [describe(ch) for ch in emg.others],
    }
    if raw_env is not None:
        out["processing"] = {
            # the band actually run: the default one is lowered on a slow device
            **cfg.emg_processing.for_rate(raw_env.native_rate_hz)[0].to_dict(),
            "chain": "offset removal (mean), band-pass, notch (if set), full-wave rectification, "
                     "decimation (scipy resample_poly), zero-lag low-pass, anti-aliased resampling "
                     "onto the grid (resample_poly)",
            "native_rate_hz": raw_env.native_rate_hz,
            "intermediate_rate_hz": raw_env.intermediate_rate_hz,
            "code": "musclekit.emg", "scipy": scipy.__version__,
        }
    return out


def _known_subjects(out: Path) -> set[str]:
    from musclekit.dataset import open_dataset

    return set(open_dataset(out).subjects)


def _write_qc(qc_dir: Path, seq_id: str, verdict: str, solved: _Clock, capture: Capture,
              emg: EmgRecording, motion: Any, rows: _Rows, report: dict[str, Any]) -> tuple[str, str]:
    from musclekit.pipelines.align import qc

    png, json_path = qc_dir / f"{seq_id}.png", qc_dir / f"{seq_id}.json"
    drift, refinement = solved.drift, solved.refinement
    qc.write_png(
        png, title=f"{seq_id}: {verdict}; offset {solved.clock.offset_s:+.3f} s ({solved.source})",
        grid_s=rows.time_s, emg=rows.emg.values, channels=emg.channel_names,
        frame_missing=rows.frame_missing, motion_t_s=motion.time_ns / 1e9 - rows.grid_s[0],
        motion=motion.energy, lags_s=refinement.lags_s, corr=refinement.corr,
        offset_ts_s=capture.offset_s, chosen_lag_s=refinement.lag_s, applied=refinement.applied,
        intervals_s=_intervals_s(emg),
        drift_t_s=drift.window_centres_s, drift_lag_s=drift.window_lags_s,
        drift_line=(drift.intercept_s, drift.drift_s_per_s) if drift.estimated else None,
        refine_reason=refinement.reason, drift_reason=drift.reason,
        emd_s=float(solved.emd["emd_s"]), emg_label=_emg_label(report),
    )
    qc.write_json(json_path, report)
    return str(png), str(json_path)


def _intervals_s(emg: EmgRecording, most: int = 200_000) -> np.ndarray:
    """Timestamp intervals for the jitter histogram; of a kHz recording an even sample, not
    all 10^8 of an hour on 16 channels."""
    per_channel = max(1, most // max(len(emg.channels), 1))
    out = []
    for ch in emg.channels:
        d = np.diff(ch.time_ns)
        out.append(d[:: max(1, d.size // per_channel)] / 1e9)
    return np.concatenate(out) if out else np.empty(0)


def _emg_label(report: dict[str, Any]) -> str:
    emg = report.get("emg", {})
    units = {d.get("unit") for d in emg.get("channel_details", [])}
    unit = f" ({units.pop()})" if len(units) == 1 and None not in units else ""
    return f"sEMG envelope{unit}" if emg.get("kind") == "raw" else f"sEMG{unit}"


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _offset_source(start_source: str, capture: Capture, refinement: Refinement, drift: Drift) -> str:
    parts = [f"timestamps ({start_source})"]
    if capture.offset_s:
        parts.append("manual --offset")
    if refinement.applied:
        parts.append("cross-correlation")
    if drift.applied:
        parts.append("drift-corrected")
    return " + ".join(parts)


def _verdict(refinement: Refinement, frame_missing: np.ndarray, emg_gap: np.ndarray, start_ns: int) -> str:
    """ok: refined, few gaps. check: timestamps only while the start time is whole seconds
    (up to 1 s off), or many gaps. Never silent: the reasons are in the QC JSON."""
    gap_fraction = float((frame_missing | emg_gap).mean()) if frame_missing.size else 1.0
    if gap_fraction > 0.25:
        return "check"
    if not refinement.applied and start_ns % 10**9 == 0:
        return "check"
    return "ok"


def _capture_record(capture: Capture) -> dict[str, Any]:
    record = asdict(capture)
    record["emg_path"] = str(capture.emg_path)
    record["video_path"] = str(capture.video_path)
    return record


def already_aligned(out: Path, sequence_id: str) -> bool:
    """True when `out` holds a finished align unit for this sequence (resume skips it)."""
    from musclekit.dataset import DatasetWriter
    from musclekit.dataset.layout import INFO_PATH

    if not (Path(out) / INFO_PATH).is_file():
        return False
    return DatasetWriter.create_or_open(out).is_done(unit_id_for(sequence_id))


# -- sessions -----------------------------------------------------------------------------

def _session_unit(payload: dict[str, Any]) -> dict[str, Any]:
    """Runs on a Dask worker: align one capture; returns the result as a plain dict."""
    result = align_capture(payload["capture"], payload["config"], Path(payload["out"]))
    return asdict(result)


def align_session(session_path: Path, out: Path, compute_cfg: Any = None,
                  overrides: dict[str, Any] | None = None, on_result: Any = None) -> Any:
    """Align every capture of a session file into `out`; finished captures are skipped.

    The dataset and its streams are created here, before the workers start, from the first
    capture's sEMG channels (every capture must have the same channel names).
    """
    from musclekit.compute import Unit, run_units
    from musclekit.dataset import DatasetWriter

    session = load_session(session_path)
    cfg = replace(session.config, **(overrides or {}))
    first = read_recording(session.captures[0].emg_path, session.captures[0].emg)
    kind = choose_kind(first, cfg.emg_kind).kind
    writer = DatasetWriter.create_or_open(out, streams=stream_specs(first, cfg, kind))
    units = [Unit(id=c.id, payload={"capture": c, "config": cfg, "out": str(out)}) for c in session.captures]
    return run_units(units, _session_unit, compute_cfg, description="aligning captures",
                     skip=lambda u: writer.is_done(unit_id_for(u.id)), on_result=on_result)
