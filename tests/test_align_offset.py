"""Offset refinement and drift on signals with a known lag (no video needed)."""

from __future__ import annotations

import numpy as np
import pytest

from musclekit.pipelines.align.offset import (
    ANALYSIS_DT_S,
    DriftConfig,
    RefineConfig,
    estimate_drift,
    refine_offset,
)
from musclekit.pipelines.align.synthetic import _bursts, _speed


def _signals(duration_s: float, lag_of_t, seed: int = 0, noise: float = 0.05):
    rng = np.random.default_rng(seed)
    bursts = _bursts(duration_s + 5, rng)
    t = np.arange(0.0, duration_s, ANALYSIS_DT_S)
    motion = _speed(t, bursts) + noise * rng.standard_normal(t.size)
    emg = _speed(t - lag_of_t(t), bursts) + noise * rng.standard_normal(t.size)
    return motion, emg


@pytest.mark.parametrize("lag", [-1.234, 0.0, 0.37, 1.5])
def test_refinement_recovers_known_lag(lag):
    motion, emg = _signals(20.0, lambda t: lag)
    result = refine_offset(motion, emg, RefineConfig())
    assert result.applied, result.reason
    assert abs(result.lag_s - lag) < 0.02
    assert result.z >= 4 and result.score > 0.8


def test_refinement_refuses_unrelated_signals():
    motion, _ = _signals(20.0, lambda t: 0.0, seed=1)
    _, emg = _signals(20.0, lambda t: 0.0, seed=2)
    result = refine_offset(motion, emg, RefineConfig())
    assert not result.applied
    assert result.reason.startswith("not applied")


def test_refinement_refuses_too_short_and_disabled():
    motion, emg = _signals(5.0, lambda t: 0.2)
    assert "only 5.0 s of overlapping signal" in refine_offset(motion, emg, RefineConfig()).reason
    assert "disabled" in refine_offset(motion, emg, RefineConfig(enabled=False)).reason


def test_refinement_lag_beyond_window_is_not_applied():
    motion, emg = _signals(30.0, lambda t: 3.0)
    result = refine_offset(motion, emg, RefineConfig(max_lag_s=1.0))
    assert not result.applied


def test_drift_is_measured_and_applied_when_clear():
    drift = 200e-6  # 200 ppm: 60 ms over 300 s
    motion, emg = _signals(300.0, lambda t: 0.1 + drift * t)
    result = estimate_drift(motion, emg, 0.1, DriftConfig())
    assert result.estimated and result.applied, result.reason
    assert result.drift_s_per_s == pytest.approx(drift, abs=40e-6)
    assert result.intercept_s == pytest.approx(0.1, abs=0.02)


def test_no_drift_is_reported_but_not_applied():
    motion, emg = _signals(300.0, lambda t: 0.1 + 0 * t, seed=4)
    result = estimate_drift(motion, emg, 0.1, DriftConfig())
    assert result.estimated and not result.applied
    assert "not applied" in result.reason


def test_drift_needs_a_long_recording():
    motion, emg = _signals(60.0, lambda t: 0.1)
    result = estimate_drift(motion, emg, 0.1, DriftConfig())
    assert not result.estimated and "needs 120 s" in result.reason
