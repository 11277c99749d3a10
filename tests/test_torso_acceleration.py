"""benchmarks/torso_acceleration.py's pieces: the upright torso keeps only the heading, and
a gappy marker's acceleration is taken over its gap-free runs only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers.benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
torso = load_benchmark("torso_acceleration")


def _rot(axis: int, a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    i, j = [k for k in range(3) if k != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def test_heading_only_drops_tilt_and_list():
    # heading 0.7 rad about the vertical (y), then 0.2 rad pitch (z) and 0.15 rad list (x)
    r = _rot(1, 0.7) @ _rot(2, 0.2) @ _rot(0, 0.15)
    out = torso.heading_only(r[None])[0]
    np.testing.assert_allclose(out, _rot(1, 0.7), atol=1e-12)
    # a rotation that is already a heading is kept
    np.testing.assert_allclose(torso.heading_only(_rot(1, -2.5)[None])[0], _rot(1, -2.5),
                               atol=1e-12)


def test_lowpass_runs_only_inside_long_gap_free_runs():
    t = np.arange(300) / 100.0
    x = 0.5 * 1.3 * t ** 2  # constant acceleration 1.3 m/s^2
    x[100:110] = np.nan  # a gap
    x[200:220] = np.nan  # and a run too short to differentiate (220..300 is long enough)
    x[110:130] = np.nan
    acc = torso.lowpass_runs(t, x, 6.0)
    assert np.isnan(acc[100:130]).all() and np.isnan(acc[200:220]).all()
    assert np.isnan(acc[[0, 1, 98, 99]]).all()  # each run's two ends
    np.testing.assert_allclose(acc[30:70], 1.3, atol=0.05)
    np.testing.assert_allclose(acc[250:270], 1.3, atol=0.05)
