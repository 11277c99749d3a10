"""benchmarks/validate_rajagopal_grf_variants.py's heel-hold variants: "line" is the rule
before the hold (the leading foot's COP on its line extended backwards), "held" the
default, "held share" also moves the hand-over's share; the rule is restored afterwards."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
spec = importlib.util.spec_from_file_location(
    "validate_rajagopal_grf_variants", ROOT / "benchmarks" / "validate_rajagopal_grf_variants.py")
variants = importlib.util.module_from_spec(spec)
spec.loader.exec_module(variants)


def _hand_over_with_heel_rocker():
    """Right stance frames 10-59, left 50-89; the left foot's COP stays at its heel (x 0.6)
    through the loading double support, then rolls to 0.8; in the double support the
    whole-body COP lies at x 0.4. Returns split_wrench's inputs and the double support."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import split_wrench

    T = 100
    t = np.arange(T) * 0.01
    on = {"right": (np.arange(T) >= 10) & (np.arange(T) < 60),
          "left": (np.arange(T) >= 50) & (np.arange(T) < 90)}
    base = {"right": np.array([[0.0, 0.0, 0.1], [0.2, 0.0, 0.1]]),
            "left": np.array([[0.6, 0.0, -0.1], [0.8, 0.0, -0.1]])}
    heights = {s: np.column_stack([np.where(on[s], 0.0, 0.2)] * 2) for s in base}
    pts = {s: np.tile(base[s], (T, 1, 1)) + heights[s][:, :1, None] * [0, 1, 0] for s in base}
    force = np.where((on["right"] | on["left"])[:, None], [0.0, 700.0, 0.0], 0.0)
    both = split_wrench(t, force, np.zeros((T, 3)), heights, pts, 72.0).contact.all(axis=1)
    first = int(np.flatnonzero(both).max()) + 1
    seen = np.zeros((T, 3))
    x = np.clip((t - t[10]) / (t[59] - t[10]), 0, 1)
    seen[10:first] = (base["right"][0] + x[:, None] * (base["right"][1] - base["right"][0]))[10:first]
    x = np.clip((t - t[first]) / (t[89] - t[first]), 0, 1)
    seen[first:90] = (base["left"][0] + x[:, None] * (base["left"][1] - base["left"][0]))[first:90]
    seen[both] = [0.4, 0.0, 0.0]
    return (t, force, np.cross(seen, force), heights, pts), both


def test_heel_hold_variants_place_the_loading_cop_and_restore_the_rule() -> None:
    from musclekit.pipelines.simulate.dynamics.methods.inverse import grf

    (t, force, moment, heights, pts), both = _hand_over_with_heel_rocker()
    rule = grf._rolling_lines
    est = {}
    for v in variants.HEEL_HOLDS:
        with variants.heel_hold(v):
            est[v] = grf.split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05,
                                      sole_line=pts)
        assert grf._rolling_lines is rule
    left_x = {v: e.side("left")[1][both, 0] for v, e in est.items()}
    assert np.allclose(left_x["held"], 0.6, atol=1e-6)
    assert (left_x["line"] < 0.5999).all() and left_x["line"].min() < 0.56  # behind the heel
    assert np.allclose(left_x["held share"], 0.6, atol=1e-6)
    # "line" and "held" share the forces; "held share" moves the hand-over's share
    for side in ("right", "left"):
        assert np.allclose(est["line"].side(side)[0], est["held"].side(side)[0])
    assert not np.allclose(est["held share"].side("left")[0], est["held"].side("left")[0])
    with pytest.raises(ValueError, match="heel hold 'toe': choose one of line, held, held share"):
        with variants.heel_hold("toe"):
            pass
