"""Fixed-length windows over frame arrays: resampling onto a common grid, valid start indices
that never cross a missing frame or a sequence boundary, and batch gathering.

Everything here works on plain numpy arrays so it can be tested without a dataset on disk.
Frames of all sequences are stacked into one contiguous array; a window is identified by the
global index of its first frame, and a batch of windows is one fancy-index into that array.
"""

from __future__ import annotations

import numpy as np


def resample_to_grid(
    time_s: np.ndarray,
    values: np.ndarray,
    valid: np.ndarray,
    grid_s: np.ndarray,
    max_step_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate frames onto `grid_s`.

    time_s: (T,) increasing stream times in s; values: (T, F); valid: (T,) bool.
    grid_s: (G,) target times in s; max_step_s: two source frames further apart than this
    are not interpolated between (a hole in the stream, not a slow sample).
    Returns (values (G, F) float32 with NaN where invalid, valid (G,) bool). A grid frame is
    valid only if both source frames around it are valid: gaps are never bridged.
    """
    t = np.asarray(time_s, dtype=np.float64)
    g = np.asarray(grid_s, dtype=np.float64)
    n = t.shape[0]
    out = np.full((g.shape[0], values.shape[1]), np.nan, dtype=np.float32)
    if n == 0 or g.shape[0] == 0:
        return out, np.zeros(g.shape[0], dtype=bool)
    # A grid time that coincides with a source frame (within a tiny tolerance) uses that frame
    # alone, so resampling onto the stream's own grid is the identity.
    tol = 1e-6 * max(max_step_s, 1e-9)
    right = np.clip(np.searchsorted(t, g - tol, side="left"), 0, n - 1)
    exact = np.abs(t[right] - g) <= tol
    left = np.clip(right - 1, 0, n - 1)
    span = t[right] - t[left]
    inside = (g >= t[0] - tol) & (g <= t[-1] + tol)
    ok_pair = valid[left] & valid[right] & (span > 0) & (span <= max_step_s * (1 + 1e-6))
    ok = inside & np.where(exact, valid[right], ok_pair)
    w = np.where(exact | (span <= 0), 1.0, (g - t[left]) / np.where(span > 0, span, 1.0))
    w = np.clip(w, 0.0, 1.0)[:, None]
    vl = values[left].astype(np.float64)
    vr = values[right].astype(np.float64)
    interp = np.where(exact[:, None], vr, (1.0 - w) * vl + w * vr)
    out[ok] = interp[ok].astype(np.float32)
    ok &= np.all(np.isfinite(out), axis=1)
    out[~ok] = np.nan
    return out, ok


def common_grid(starts_s: list[float], ends_s: list[float], rate_hz: float) -> np.ndarray:
    """Regular grid at `rate_hz` over the time range every stream covers (s)."""
    t0 = max(starts_s)
    t1 = min(ends_s)
    if t1 < t0:
        return np.zeros(0, dtype=np.float64)
    n = int(np.floor((t1 - t0) * rate_hz + 1e-6)) + 1
    return t0 + np.arange(n, dtype=np.float64) / rate_hz


def valid_window_starts(
    usable: np.ndarray, sequence_index: np.ndarray, window_frames: int
) -> np.ndarray:
    """Global start indices of every window of `window_frames` frames that lies inside one
    sequence and whose frames are all usable.

    usable: (N,) bool over the stacked frames (valid and in the wanted split);
    sequence_index: (N,) int, non-decreasing, the sequence each frame belongs to.
    Returns (W,) int64 start indices in increasing order.
    """
    n = usable.shape[0]
    if window_frames < 1:
        raise ValueError("window_frames must be >= 1")
    if n < window_frames:
        return np.zeros(0, dtype=np.int64)
    bad = np.concatenate([[0], np.cumsum(~usable, dtype=np.int64)])
    s = np.arange(n - window_frames + 1, dtype=np.int64)
    clean = (bad[s + window_frames] - bad[s]) == 0
    same_sequence = sequence_index[s] == sequence_index[s + window_frames - 1]
    return s[clean & same_sequence]


def non_overlapping(starts: np.ndarray, window_frames: int) -> np.ndarray:
    """Greedy subset of sorted `starts` whose windows do not overlap (evaluation clips)."""
    kept: list[int] = []
    next_free = -1
    for s in starts.tolist():
        if s >= next_free:
            kept.append(s)
            next_free = s + window_frames
    return np.asarray(kept, dtype=np.int64)


def with_stride(starts: np.ndarray, stride_frames: int) -> np.ndarray:
    """Keep every `stride_frames`-th start within each run of consecutive starts."""
    if stride_frames <= 1 or starts.size == 0:
        return starts
    run_break = np.concatenate([[True], np.diff(starts) != 1])
    run_id = np.cumsum(run_break) - 1
    run_first = starts[run_break][run_id]
    return starts[(starts - run_first) % stride_frames == 0]


def gather_windows(frames: np.ndarray, starts: np.ndarray, window_frames: int) -> np.ndarray:
    """(B, L, F) windows from stacked frames (N, F) at global `starts` (B,)."""
    idx = starts[:, None] + np.arange(window_frames)[None, :]
    return frames[idx]


def longest_run(usable: np.ndarray, sequence_index: np.ndarray) -> int:
    """Length in frames of the longest stretch of usable frames within one sequence."""
    if usable.size == 0:
        return 0
    # A new run starts at every unusable frame and at every sequence boundary.
    boundary = np.concatenate([[True], sequence_index[1:] != sequence_index[:-1]])
    run_id = np.cumsum(boundary | ~usable)
    counts = np.bincount(run_id, weights=usable.astype(np.float64))
    return int(counts.max()) if counts.size else 0
