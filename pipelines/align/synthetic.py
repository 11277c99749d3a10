"""Synthetic captures with a known truth: a phone-like video and an sEMG CSV that follows it.

The video shows a bright square whose speed follows an aperiodic sequence of bursts (so the
cross-correlation has one clear peak); the sEMG envelope of every channel follows that speed.
Everything a real capture does wrong is added with known values: a clock offset between the
sensors and the phone, a creation time that may be truncated to whole seconds, Bluetooth
jitter, packets batched under one stamp, dropped samples, a multi-second dropout, rows slightly
out of order, and dropped video frames (variable frame rate). The truth is returned in
`SyntheticCapture`, so tests can measure the alignment error.

Clocks: true time tau. Video frame k shows tau = video_start_true + pts_k. The file's creation
time is `creation_ns` (= video_start_true + creation error). Sensor sample j is taken at tau_j
and stamped tau_j + sensor_clock_ns + jitter. The offset that align must recover (added to
video wall times to put them on the sensor clock) is sensor_clock - creation error.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

MIA_CHANNELS: tuple[str, ...] = (
    "l_quad", "l_ham", "l_lat", "l_bicep", "r_quad", "r_ham", "r_lat", "r_bicep",
)
NTSC_FPS = Fraction(30000, 1001)


@dataclass
class SyntheticCapture:
    """Paths and ground truth of a generated capture (times in ns unless named otherwise)."""

    video_path: Path
    emg_path: Path
    true_offset_s: float
    video_start_true_ns: int
    creation_ns: int | None
    frame_pts: np.ndarray  # (N,) pts of the frames actually written (time base 1/30000)
    time_base: Fraction
    dropped_frames: list[int]  # nominal frame indices left out
    emg_dropout_true_s: tuple[float, float] | None  # on the true clock, from video start
    sensor_clock_ns: int
    channels: list[str]
    emg_rate_hz: float
    extra: dict = field(default_factory=dict)

    def true_speed(self, t_s: np.ndarray) -> np.ndarray:
        return _speed(t_s, self.extra["bursts"])


def _bursts(duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """(B, 3) burst centre s, width s, height: irregular spacing avoids periodic ambiguity."""
    centres, t = [], 0.4 + rng.uniform(0, 0.4)
    while t < duration_s:
        centres.append(t)
        t += rng.uniform(0.5, 1.6)
    widths = rng.uniform(0.12, 0.35, len(centres))
    heights = rng.uniform(0.4, 1.0, len(centres))
    return np.column_stack([centres, widths, heights])


def _speed(t_s: np.ndarray, bursts: np.ndarray) -> np.ndarray:
    """Normalised speed (0..~1) at true times after the video start."""
    t = np.asarray(t_s, dtype=np.float64)[..., None]
    return (bursts[:, 2] * np.exp(-0.5 * ((t - bursts[:, 0]) / bursts[:, 1]) ** 2)).sum(-1)


def _positions(times_s: np.ndarray, bursts: np.ndarray, span_px: float) -> np.ndarray:
    """Square position: integral of speed, folded back and forth across the frame."""
    fine = np.arange(0.0, float(times_s.max()) + 0.01, 0.001)
    dist = np.cumsum(_speed(fine, bursts)) * 0.001 * span_px * 1.5
    travelled = np.interp(times_s, fine, dist)
    period = 2.0 * span_px
    phase = np.mod(travelled, period)
    return np.where(phase < span_px, phase, period - phase)


def write_video(
    path: Path,
    *,
    duration_s: float,
    bursts: np.ndarray,
    width: int = 160,
    height: int = 120,
    fps: Fraction = NTSC_FPS,
    dropped: list[int] | None = None,
    creation_ns: int | None = None,
    creation_tz_hours: int = 1,
    rotation_deg: int = 0,
    codec: str = "libx264",
    texture: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Write the moving-square video; returns the pts (time base 1/30000) of written frames.

    `creation_ns` goes into `creation_time` (UTC) and `com.apple.quicktime.creationdate`
    (local time with zone, like an iPhone) with sub-second digits: the mov muxer keeps them only
    with `movflags=use_metadata_tags`. `rotation_deg` goes into the display matrix (PyAV's
    convention, counter-clockwise: -90 for an iPhone portrait clip).
    """
    path = Path(path)
    fmt = "mp4" if path.suffix.lower() == ".mp4" else "mov"
    time_base = Fraction(1, 30000)
    n_nominal = int(duration_s * float(fps))
    dropped_set = set(dropped or [])
    rng = np.random.default_rng(seed)
    background = np.full((height, width), 40, np.uint8)
    if texture:
        # Static detail costs the decoder about what a real scene does.
        background = rng.integers(20, 90, size=(height, width), dtype=np.uint8)
    side = max(8, height // 5)
    container = av.open(str(path), "w", format=fmt, options={"movflags": "use_metadata_tags"})
    written = []
    try:
        if creation_ns is not None:
            container.metadata["creation_time"] = _iso_utc(creation_ns)
            container.metadata["com.apple.quicktime.creationdate"] = _iso_local(creation_ns, creation_tz_hours)
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = time_base
        if codec == "libx264":
            # Both keep what phone clips have and ultrafast drops (CABAC, deblocking).
            stream.options = {"preset": "superfast" if texture else "veryfast"}
        if rotation_deg:
            stream.set_display_rotation(rotation_deg)
        ticks = int(time_base.denominator / fps)  # 1001 for 29.97 fps
        t_all = np.arange(n_nominal) * ticks * float(time_base)
        xs = _positions(t_all, bursts, width - side)
        chroma = np.full((height // 2, width), 128, np.uint8)
        for k in range(n_nominal):
            if k in dropped_set:
                continue
            # Textured clips pan slowly: every block changes, as in a hand-held phone video.
            luma = np.roll(background, k, axis=1) if texture else background.copy()
            if texture:  # sensor noise: real clips never repeat a block exactly
                luma += rng.integers(0, 16, size=luma.shape, dtype=np.uint8)
            x0 = int(round(xs[k]))
            y0 = (height - side) // 2
            luma[y0 : y0 + side, x0 : x0 + side] = 230
            frame = av.VideoFrame.from_ndarray(np.vstack([luma, chroma]), format="yuv420p")
            frame.pts = k * ticks
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
            written.append(k * ticks)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()
    return np.asarray(written, dtype=np.int64)


def _iso_utc(ns: int) -> str:
    sec, rem = divmod(ns, 10**9)
    return datetime.fromtimestamp(sec, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rem // 1000:06d}Z"


def _iso_local(ns: int, tz_hours: int) -> str:
    sec, rem = divmod(ns, 10**9)
    zone = timezone(timedelta(hours=tz_hours))
    local = datetime.fromtimestamp(sec, tz=zone)
    sign = "+" if tz_hours >= 0 else "-"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f".{rem // 10**6:03d}{sign}{abs(tz_hours):02d}00"


def make_capture(
    workdir: Path,
    *,
    name: str = "capture",
    duration_s: float = 12.0,
    width: int = 160,
    height: int = 120,
    video_start: str = "2026-11-22T10:00:00.250",
    sensor_clock_s: float = 0.37,
    sensor_drift_ppm: float = 0.0,
    creation: str = "subsecond",
    dropped_frames: list[int] | None = None,
    emg_rate_hz: float = 10.0,
    jitter_s: float = 0.02,
    batch_prob: float = 0.1,
    drop_prob: float = 0.03,
    dropout_s: tuple[float, float] | None = (5.0, 6.6),
    emg_lead_s: float = 1.0,
    emg_tail_s: float = 0.5,
    channels: tuple[str, ...] = MIA_CHANNELS[:4],
    layout: str = "wide",
    emg_time_format: str = "iso",
    emg_tz_hours: int = 0,
    shuffle_rows: bool = True,
    rotation_deg: int = 0,
    codec: str = "libx264",
    suffix: str = ".mov",
    texture: bool = False,
    seed: int = 0,
) -> SyntheticCapture:
    """Generate a capture in `workdir`: `<name>.mov` and `<name>_emg.csv`.

    Args:
        duration_s: video length.
        video_start: true start of the video (UTC, ISO without zone).
        sensor_clock_s: how far the sensor clock runs ahead of true time at the video start.
        sensor_drift_ppm: how fast the sensor clock gains on true time (parts per million).
        creation: "subsecond" (exact creation time), "whole" (truncated to whole seconds, as
            many phones write it) or "none" (no creation time at all).
        dropped_frames: nominal 29.97 fps frame indices to leave out (variable frame rate).
        jitter_s: standard deviation of the zero-mean stamp jitter (clipped at 3 sigma).
        batch_prob: probability that a packet carries 2-3 samples under one stamp.
        drop_prob: probability that a sample is lost.
        dropout_s: (start, end) of a dropout of every channel, true seconds after video start.
        emg_lead_s, emg_tail_s: sEMG recording starts before / ends after the video by this.
        layout: "wide" (one time column, shared packets), "per_sensor" or "long".
        emg_time_format: "iso" (with zone), "iso_naive" (local time without zone, in
            `emg_tz_hours`), "epoch_s" or "epoch_ms".
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    bursts = _bursts(duration_s, rng)
    from musclekit.pipelines.align.timeparse import parse_iso_ns

    start_true = parse_iso_ns(video_start)
    assert start_true is not None
    start_true_ns = start_true[0]
    if creation == "subsecond":
        creation_ns: int | None = start_true_ns
    elif creation == "whole":
        creation_ns = start_true_ns - start_true_ns % 10**9
    elif creation == "none":
        creation_ns = None
    else:
        raise ValueError(f"creation must be subsecond, whole or none, not {creation!r}")
    video_path = workdir / f"{name}{suffix}"
    pts = write_video(
        video_path, duration_s=duration_s, bursts=bursts, width=width, height=height,
        dropped=dropped_frames, creation_ns=creation_ns, rotation_deg=rotation_deg,
        codec=codec, texture=texture, seed=seed,
    )
    sensor_clock_ns = int(round(sensor_clock_s * 1e9))
    creation_error_ns = 0 if creation_ns is None else creation_ns - start_true_ns
    true_offset_s = (sensor_clock_ns - creation_error_ns) / 1e9

    # Sample times on the true clock, relative to the video start.
    period = 1.0 / emg_rate_hz
    n_samples = int((duration_s + emg_lead_s + emg_tail_s) / period)
    n_series = 1 if layout == "wide" else len(channels)
    gains = rng.uniform(0.5, 2.0, len(channels))
    bases = rng.uniform(0.02, 0.08, len(channels))
    series = []
    for _ in range(n_series):
        phase = rng.uniform(0, period)
        tau = -emg_lead_s + phase + np.arange(n_samples) * period
        keep = rng.random(n_samples) >= drop_prob
        if dropout_s is not None:
            keep &= ~((tau >= dropout_s[0]) & (tau < dropout_s[1]))
        tau = tau[keep]
        jitter = np.clip(rng.normal(0.0, jitter_s, tau.size), -3 * jitter_s, 3 * jitter_s)
        sensor_s = tau * (1.0 + sensor_drift_ppm * 1e-6) + jitter
        stamp_ns = start_true_ns + sensor_clock_ns + np.round(sensor_s * 1e9).astype(np.int64)
        # Batched packet: the earlier samples of the packet carry the stamp of its last one.
        i = 0
        while i < tau.size:
            if rng.random() < batch_prob and i + 2 < tau.size:
                size = int(rng.integers(2, 4))
                last = min(i + size - 1, tau.size - 1)
                stamp_ns[i:last] = stamp_ns[last]
                i = last + 1
            else:
                i += 1
        series.append((tau, stamp_ns))
    speed_lo = 0.0
    rows: list[tuple[int, int, str, float]] = []  # (stamp, sample index, channel, value)
    for s_idx, (tau, stamp_ns) in enumerate(series):
        act = _speed(tau, bursts) + speed_lo
        for c_idx, ch in enumerate(channels):
            if layout != "wide" and c_idx != s_idx:
                continue
            noise = rng.normal(0.0, 0.03, tau.size)
            values = bases[c_idx] + gains[c_idx] * act + noise
            for j, (stamp, val) in enumerate(zip(stamp_ns, values, strict=True)):
                rows.append((int(stamp), j, ch, float(val)))
    emg_path = workdir / f"{name}_emg.csv"
    _write_emg_csv(emg_path, rows, list(channels), layout, emg_time_format, emg_tz_hours,
                   shuffle_rows, rng)
    dropout_true = None if dropout_s is None else (float(dropout_s[0]), float(dropout_s[1]))
    n_nominal = int(duration_s * float(NTSC_FPS))
    return SyntheticCapture(
        video_path=video_path.resolve(),
        emg_path=emg_path.resolve(),
        true_offset_s=true_offset_s,
        video_start_true_ns=start_true_ns,
        creation_ns=creation_ns,
        frame_pts=pts,
        time_base=Fraction(1, 30000),
        dropped_frames=sorted(k for k in (dropped_frames or []) if k < n_nominal),
        emg_dropout_true_s=dropout_true,
        sensor_clock_ns=sensor_clock_ns,
        channels=list(channels),
        emg_rate_hz=emg_rate_hz,
        extra={"bursts": bursts},
    )


def _fmt_time(ns: int, fmt: str, tz_hours: int) -> str:
    if fmt == "iso":
        return _iso_utc(ns).replace("Z", "+00:00")
    if fmt == "iso_naive":
        sec, rem = divmod(ns, 10**9)
        local = datetime.fromtimestamp(sec, tz=timezone(timedelta(hours=tz_hours)))
        return local.strftime("%Y-%m-%d %H:%M:%S") + f".{rem // 1000:06d}"
    if fmt == "epoch_s":
        sec, rem = divmod(ns, 10**9)
        return f"{sec}.{rem:09d}"
    if fmt == "epoch_ms":
        ms, rem = divmod(ns, 10**6)
        return f"{ms}.{rem // 1000:03d}"
    raise ValueError(f"unknown time format {fmt!r}")


def _write_emg_csv(
    path: Path,
    rows: list[tuple[int, int, str, float]],
    channels: list[str],
    layout: str,
    time_format: str,
    tz_hours: int,
    shuffle_rows: bool,
    rng: np.random.Generator,
) -> None:
    def maybe_shuffle(items: list) -> list:
        # Swap a few neighbours: rows arrive slightly out of order over Bluetooth.
        if shuffle_rows:
            for i in range(1, len(items) - 1, 17):
                if rng.random() < 0.5:
                    items[i], items[i + 1] = items[i + 1], items[i]
        return items

    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write("# Synthetic capture written by musclekit\n# Device: synthetic wireless sEMG\n\n")
        out = csv.writer(fh)
        if layout == "wide":
            by_stamp: dict[tuple[int, int], dict[str, float]] = {}
            order: list[tuple[int, int]] = []
            for stamp, sample, ch, val in rows:
                key = (stamp, sample)  # batched samples share a stamp but are separate rows
                if key not in by_stamp:
                    order.append(key)
                    by_stamp[key] = {}
                by_stamp[key][ch] = val
            out.writerow(["time", *channels])
            lines = [
                [_fmt_time(key[0], time_format, tz_hours), *(f"{by_stamp[key][c]:.5f}" for c in channels)]
                for key in sorted(order)
            ]
            out.writerows(maybe_shuffle(lines))
        elif layout == "long":
            out.writerow(["timestamp", "sensor", "value"])
            lines = [[_fmt_time(s, time_format, tz_hours), ch, f"{v:.5f}"] for s, _, ch, v in sorted(rows)]
            out.writerows(maybe_shuffle(lines))
        elif layout == "per_sensor":
            per = {ch: sorted((s, v) for s, _, c, v in rows if c == ch) for ch in channels}
            out.writerow([h for ch in channels for h in (f"{ch}_time", ch)])
            n = max(len(p) for p in per.values())
            for i in range(n):
                line = []
                for ch in channels:
                    if i < len(per[ch]):
                        s, v = per[ch][i]
                        line += [_fmt_time(s, time_format, tz_hours), f"{v:.5f}"]
                    else:
                        line += ["", ""]
                out.writerow(line)
        else:
            raise ValueError(f"unknown layout {layout!r}")



RAW_LAYOUTS = ("delsys", "openbci", "myo", "anc")
# Native rates of each layout's sEMG and inertial channels (Hz), as the devices record them.
_RAW_RATES = {"delsys": (1259.259, 148.148), "openbci": (250.0, 25.0), "myo": (200.0, None),
              "anc": (2000.0, None)}


def write_raw_emg(
    capture: SyntheticCapture,
    path: Path,
    *,
    layout: str = "delsys",
    emd_s: float = 0.05,
    sensors: tuple[str, ...] = ("L_TA", "R_VL"),
    lead_s: float = 1.0,
    tail_s: float = 0.5,
    seed: int = 1,
    packet: int = 0,
) -> str:
    """Write a raw sEMG recording of `capture` in a real export layout and return the
    wall-clock time of its first sample (for --emg-start where the layout counts time from
    the start).

    The sEMG is band-limited noise (30 Hz up to 0.4x the rate) whose amplitude follows the
    video's motion `emd_s` later (muscles fire before the movement they cause), on a 0.2 mV
    electrode offset. Sample times are on the sensor clock without jitter (raw systems
    sample on a hardware clock), from `lead_s` before the video to `tail_s` after it.
    Layouts (see docs/align.md): `delsys` (EMGworks CSV: per-sensor `X[s]` columns, EMG in mV at
    1259.259 Hz, ACC in g and GYRO in deg/s at 148.148 Hz in columns that end early), `openbci`
    (GUI text export: `%` preamble with the rate, EXG in uV and Accel in g at 250 Hz, the epoch
    timestamp after the channels), `myo` (epoch-microsecond timestamps, signed int8 at 200 Hz),
    `anc` (Cortex analog ASCII: 16-bit counts with a Range row, 2000 Hz).
    `packet` (openbci only): stamp samples per USB/Bluetooth packet of this many, as a host
    does: every sample of a packet gets the arrival time of its last one plus 0-15 ms.
    """
    from scipy import signal

    if layout not in RAW_LAYOUTS:
        raise ValueError(f"layout must be one of {RAW_LAYOUTS}, not {layout!r}")
    rate, imu_rate = _RAW_RATES[layout]
    rng = np.random.default_rng(seed)
    duration = float(capture.frame_pts[-1] * capture.time_base) + lead_s + tail_s
    t_emg = -lead_s + np.arange(int(duration * rate)) / rate  # true s from the video start
    band = signal.butter(4, [30.0, 0.4 * rate], btype="bandpass", fs=rate, output="sos")
    peak = max(float(capture.extra["bursts"][:, 2].max()), 1e-9)
    emg_mv = []
    for k in range(len(sensors)):
        activity = 0.05 + capture.true_speed(t_emg + emd_s) / peak
        carrier = signal.sosfilt(band, rng.standard_normal(t_emg.size))
        emg_mv.append(0.2 + 0.4 * (1 + k) * activity * carrier / carrier.std())
    t_imu = -lead_s + np.arange(int(duration * imu_rate)) / imu_rate if imu_rate else np.empty(0)
    motion = capture.true_speed(t_imu) / peak
    zero_ns = capture.video_start_true_ns + capture.sensor_clock_ns - int(round(lead_s * 1e9))
    rel = t_emg + lead_s  # seconds since the first sample
    path = Path(path)
    if layout == "delsys":
        _write_delsys(path, sensors, rel, emg_mv, t_imu + lead_s, motion, rng, duration, zero_ns)
    elif layout == "openbci":
        _write_openbci(path, rel, emg_mv, t_imu + lead_s, motion, zero_ns, packet, rng)
    elif layout == "myo":
        with path.open("w", encoding="utf-8") as fh:
            fh.write("timestamp," + ",".join(f"emg{k + 1}" for k in range(len(sensors))) + "\n")
            counts = [np.clip(np.round((v - 0.2) * 60), -128, 127).astype(int) for v in emg_mv]
            for i, t in enumerate(rel):
                stamp_us = (zero_ns + int(round(t * 1e9))) // 1000
                fh.write(f"{stamp_us}," + ",".join(str(c[i]) for c in counts) + "\n")
    else:
        _write_anc(path, sensors, rel, emg_mv, duration)
    return _iso_utc(zero_ns)


def _write_delsys(path: Path, sensors: tuple[str, ...], rel: np.ndarray, emg_mv: list[np.ndarray],
                  rel_imu: np.ndarray, motion: np.ndarray, rng: np.random.Generator,
                  duration: float, zero_ns: int) -> None:
    columns: list[tuple[str, list[str]]] = []
    for k, sensor in enumerate(sensors, start=1):
        columns.append(("X[s]", [f"{t:.6f}" for t in rel]))
        columns.append((f"{sensor}: EMG {k} (mV)", [f"{v:.6f}" for v in emg_mv[k - 1]]))
        for axis, base in (("X", 0.0), ("Y", -1.0), ("Z", 0.0)):
            acc = base + 0.1 * motion + rng.normal(0, 0.005, rel_imu.size)
            columns.append(("X[s]", [f"{t:.6f}" for t in rel_imu]))
            columns.append((f"{sensor}: ACC {axis} {k} (g)", [f"{v:.5f}" for v in acc]))
        for axis in ("X", "Y", "Z"):
            gyro = 20.0 * motion + rng.normal(0, 0.5, rel_imu.size)
            columns.append(("X[s]", [f"{t:.6f}" for t in rel_imu]))
            columns.append((f"{sensor}: GYRO {axis} {k} (deg/s)", [f"{v:.4f}" for v in gyro]))
    n = max(len(vals) for _, vals in columns)
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write("Application: EMGworks Acquisition (synthetic, written by musclekit)\n")
        fh.write(f"Date/Time: {_iso_utc(zero_ns)}\nCollection Length (seconds): {duration:.3f}\n\n")
        out = csv.writer(fh)
        out.writerow([name for name, _ in columns])
        for i in range(n):
            out.writerow([vals[i] if i < len(vals) else "" for _, vals in columns])


def _write_openbci(path: Path, rel: np.ndarray, emg_mv: list[np.ndarray], rel_imu: np.ndarray,
                   motion: np.ndarray, zero_ns: int, packet: int, rng: np.random.Generator) -> None:
    n_ch = len(emg_mv)
    stamps = zero_ns + np.round(rel * 1e9).astype(np.int64)
    if packet > 1:
        for start in range(0, stamps.size, packet):
            last = stamps[min(start + packet, stamps.size) - 1]
            stamps[start:start + packet] = last + int(rng.uniform(0, 15e6))
    acc = np.interp(rel, rel_imu, 0.1 * motion) if rel_imu.size else np.zeros(rel.size)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(f"%OpenBCI Raw EXG Data\n%Number of channels = {n_ch}\n%Sample Rate = 250 Hz\n"
                 "%Board = OpenBCI_GUI$BoardCytonSerial\n")
        fh.write("Sample Index, " + ", ".join(f"EXG Channel {k}" for k in range(n_ch))
                 + ", Accel Channel 0, Accel Channel 1, Accel Channel 2, Other, Timestamp, "
                 "Timestamp (Formatted)\n")
        for i in range(rel.size):
            ns = int(stamps[i])
            stamp = f"{ns // 10**9}.{(ns % 10**9) // 1000:06d}"
            uv = ", ".join(f"{v[i] * 1e3:.2f}" for v in emg_mv)
            fh.write(f"{i % 256}.0, {uv}, {acc[i]:.3f}, {-1 + acc[i]:.3f}, 0.000, 0.0, {stamp}, "
                     f"{_iso_utc(ns)[:23].replace('T', ' ')}\n")


def _write_anc(path: Path, sensors: tuple[str, ...], rel: np.ndarray, emg_mv: list[np.ndarray],
               duration: float) -> None:
    names = ["F1X", "F1Y", *sensors]
    ranges_mv = [5000, 5000, *([2500] * len(sensors))]
    counts = [np.zeros(rel.size), np.zeros(rel.size)]
    # An amplifier gain of 500 in front of the ADC, as lab EMG systems have (not in the file).
    counts += [np.round(v * 500 / 2500 * 32768).astype(int) for v in emg_mv]
    with path.open("w", encoding="utf-8") as fh:
        fh.write("File_Type:\tAnalog R/C ASCII\tGeneration#:\t2\n")
        fh.write(f"Trial_Name:\tsynthetic\tTrial#:\t1\tDuration(Sec.):\t{duration:.6f}\t"
                 f"#Channels:\t{len(names)}\n")
        fh.write("BitDepth:\t16\tPreciseRate:\t2000.000000\n\n\n")
        fh.write("Name\t" + "\t".join(names) + "\t\n")
        fh.write("Rate\t" + "\t".join(["2000"] * len(names)) + "\t\n")
        fh.write("Range\t" + "\t".join(str(r) for r in ranges_mv) + "\t\n")
        for i, t in enumerate(rel):
            fh.write(f"{t:.6f}\t" + "\t".join(str(int(c[i])) for c in counts) + "\t\n")
