"""benchmarks/corpus_grf_variants.py's prefiltered plates: forces and torques low-passed
without lag at their own rate, centres of pressure kept."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tests.helpers.benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
variants = load_benchmark("corpus_grf_variants")


def test_prefiltered_plates_smooth_forces_keep_cops():
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS, MeasuredGrf

    t = np.arange(0, 1.0, 0.001)
    vals = np.zeros((len(t), len(GRF_CHANNELS)))
    fy = GRF_CHANNELS.index("ground_force_right_vy")
    px = GRF_CHANNELS.index("ground_force_right_px")
    vals[t >= 0.5, fy] = 700.0  # a heel impact: a step
    vals[:, px] = 0.3
    plates = MeasuredGrf(t, vals, {})
    out = variants.prefiltered(plates, 6.0)
    assert out.values is not plates.values and (plates.values[:, fy] != out.values[:, fy]).any()
    np.testing.assert_array_equal(out.values[:, px], 0.3)
    # zero lag: the smoothed step crosses half its height at the step
    half = t[np.argmax(out.values[:, fy] > 350.0)]
    assert abs(half - 0.5) < 0.002
    # and starts rising well before it (the smear a lab's filter puts before a heel strike)
    assert t[np.argmax(out.values[:, fy] > 20.0)] < 0.47
