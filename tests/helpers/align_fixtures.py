"""Shared helpers for the align tests: tiny synthetic captures and CSV writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musclekit.pipelines.align.synthetic import SyntheticCapture, make_capture

# Nominal 29.97 fps frames left out of the VFR test video: a single drop (bridged by the
# nearest-frame rule) and a run of six (one grid time then has no frame near enough).
DROPPED = [10, 11, 40, 41, 42, 43, 44, 45, 100, 200, 201]


def capture(workdir: Path, **kwargs) -> SyntheticCapture:
    """A 12 s, 160x120 capture (about 0.3 s to generate) with everything that goes wrong."""
    kwargs.setdefault("dropped_frames", DROPPED)
    return make_capture(workdir, **kwargs)


def expected_source_frames(pts: np.ndarray, time_base: float, grid_hz: float,
                           tolerance_s: float) -> np.ndarray:
    """Brute-force nearest written frame per grid time (ties to the earlier), -1 if too far."""
    t = (pts - pts[0]) * time_base
    n = int(np.floor(t[-1] * grid_hz + 1e-9)) + 1
    out = np.full(n, -1, np.int64)
    for k in range(n):
        g = k / grid_hz
        d = np.abs(t - g)
        best = int(np.argmin(d))  # argmin returns the first, i.e. the earlier frame on ties
        if d[best] <= tolerance_s:
            out[k] = best
    return out


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
