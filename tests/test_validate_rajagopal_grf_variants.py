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
    from tests.test_simulate_dyn_grf import hand_over_with_heel_rocker

    inputs, both, _, _ = hand_over_with_heel_rocker()
    return inputs, both


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
