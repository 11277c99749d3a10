"""The output grid, the nearest video frame per grid time, and sEMG values placed on the grid.

The grid is anchored to the first video frame and stepped on the video clock, so the choice of
frames depends only on the video's own timestamps (exact and repeatable; the keypoint stage
reads the same frames back). The clock mapping (offset, drift) only decides where sEMG samples
land and which grid rows both streams cover. Integer nanoseconds throughout for the frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from musclekit.pipelines.align.emg_csv import EmgRecording


@dataclass(frozen=True)
class ClockMap:
    """Maps video-clock time (s after the first frame) to the sensor clock (epoch ns):
    sensor_ns = video_start_ns + offset_s*1e9 + (1 + drift_s_per_s) * video_s*1e9."""

    video_start_ns: int
    offset_s: float
    drift_s_per_s: float = 0.0

    def to_video_s(self, sensor_ns: np.ndarray) -> np.ndarray:
        """(N,) epoch ns on the sensor clock -> (N,) float64 video-clock seconds."""
        rel = (np.asarray(sensor_ns, dtype=np.int64) - self.video_start_ns).astype(np.float64) / 1e9
        return (rel - self.offset_s) / (1.0 + self.drift_s_per_s)

    def to_sensor_ns(self, video_s: np.ndarray | float) -> np.ndarray:
        rel = self.offset_s + (1.0 + self.drift_s_per_s) * np.asarray(video_s, dtype=np.float64)
        return self.video_start_ns + np.round(rel * 1e9).astype(np.int64)


def grid_times_ns(first_ns: int, last_ns: int, fps: float) -> np.ndarray:
    """(K,) int64 grid times first_ns + k/fps (exactly rounded), k = 0.. up to last_ns."""
    rate = Fraction(fps).limit_denominator(1_000_000)
    if rate <= 0:
        raise ValueError("fps must be positive")
    n = int((last_ns - first_ns) * rate // 10**9) + 1
    k = np.arange(n, dtype=object)
    num, den = 10**9 * rate.denominator, rate.numerator
    steps = [(int(i) * num * 2 + den) // (2 * den) for i in k]
    return first_ns + np.asarray(steps, dtype=np.int64)


def default_frame_tolerance_ns(frame_interval_s: float, fps: float) -> int:
    """1.5 native frame intervals, but below half a grid step so that no frame serves two grid
    times: one dropped frame is bridged, a longer hole becomes a missing grid row."""
    return int(min(1.5 * frame_interval_s, 0.5 / fps) * 1e9) - 1


def nearest_frames(frame_ns: np.ndarray, grid_ns: np.ndarray, tolerance_ns: int) -> np.ndarray:
    """(K,) int64 index of the frame nearest to each grid time, -1 if none is within tolerance.

    `frame_ns` (N,) sorted int64; ties go to the earlier frame.
    """
    pos = np.searchsorted(frame_ns, grid_ns, side="left")
    after = np.clip(pos, 0, frame_ns.size - 1)
    before = np.clip(pos - 1, 0, frame_ns.size - 1)
    d_after = np.abs(frame_ns[after] - grid_ns)
    d_before = np.abs(grid_ns - frame_ns[before])
    pick = np.where(d_before <= d_after, before, after)
    dist = np.minimum(d_before, d_after)
    return np.where(dist <= tolerance_ns, pick, -1).astype(np.int64)


@dataclass
class PlacedEmg:
    """sEMG on the grid: `values` (K, C) float64 NaN where no sample is near enough,
    `sample_dt_s` (K, C) sample time minus grid time on the video clock (NaN where missing)."""

    values: np.ndarray
    sample_dt_s: np.ndarray


def place_emg(emg: EmgRecording, clock: ClockMap, grid_s: np.ndarray, tolerance_s: float) -> PlacedEmg:
    """For each grid time and channel, the nearest real sample within `tolerance_s`; never an
    interpolated or filled value (a dropout stays a gap)."""
    k, c = grid_s.size, len(emg.channels)
    values = np.full((k, c), np.nan)
    dt = np.full((k, c), np.nan)
    for j, ch in enumerate(emg.channels):
        t = clock.to_video_s(ch.time_ns)
        pos = np.searchsorted(t, grid_s)
        after = np.clip(pos, 0, t.size - 1)
        before = np.clip(pos - 1, 0, t.size - 1)
        use_before = np.abs(grid_s - t[before]) <= np.abs(t[after] - grid_s)
        pick = np.where(use_before, before, after)
        d = t[pick] - grid_s
        ok = np.abs(d) <= tolerance_s
        values[ok, j] = ch.values[pick[ok]]
        dt[ok, j] = d[ok]
    return PlacedEmg(values=values, sample_dt_s=dt)


def overlap_rows(grid_s: np.ndarray, emg_start_s: float, emg_end_s: float, tolerance_s: float) -> tuple[int, int]:
    """[first, last) grid rows inside the sEMG recording (widened by the placement tolerance)."""
    inside = np.flatnonzero((grid_s >= emg_start_s - tolerance_s) & (grid_s <= emg_end_s + tolerance_s))
    if inside.size == 0:
        return 0, 0
    return int(inside[0]), int(inside[-1]) + 1
