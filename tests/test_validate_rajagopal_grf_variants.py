"""benchmarks/validate_rajagopal_grf_variants.py's heel-hold variants: "line" is the rule
before the hold (the leading foot's COP on its line extended backwards), "held" the
default, "held share" also moves the hand-over's share; the rule is restored afterwards."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
variants = load_benchmark("validate_rajagopal_grf_variants")


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


def test_gait_phases_name_each_leg_s_loading_single_support_pre_swing_and_swing() -> None:
    # Right stance frames 0-5, left 4-9: at 4-5 the left foot is loading, the right in
    # pre-swing.
    on = np.zeros((10, 2), bool)
    on[0:6, 0] = True
    on[4:10, 1] = True
    ph = variants.gait_phases(on)
    assert list(ph["right"]) == ["single"] * 4 + ["pre-swing"] * 2 + ["swing"] * 4
    assert list(ph["left"]) == ["swing"] * 4 + ["loading"] * 2 + ["single"] * 4


def test_substituted_takes_the_plates_component_only_where_both_carry_load() -> None:
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    col = {c: i for i, c in enumerate(GRF_CHANNELS)}
    est, plates = np.zeros((3, 18)), np.ones((3, 18))
    est[:, col["ground_force_right_vy"]] = [0.0, 500.0, 500.0]
    plates[:, col["ground_force_right_vy"]] = [500.0, 500.0, 10.0]
    cop = variants.substituted(est, plates, "p", "xz", 700.0)
    assert list(cop[:, col["ground_force_right_px"]]) == [0.0, 1.0, 0.0]
    horizontal = variants.substituted(est, plates, "v", "xz", 700.0)
    assert (horizontal[:, col["ground_force_left_vz"]] == 1.0).all()
    assert (horizontal[:, col["ground_force_left_vy"]] == 0.0).all()


def test_plate_aim_is_1_for_forces_aimed_at_the_centre_of_mass_and_0_for_upright_ones() -> None:
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    col = {c: i for i, c in enumerate(GRF_CHANNELS)}
    T = 30
    com = np.column_stack([np.linspace(0.0, 0.6, T), np.full(T, 1.0), np.zeros(T)])
    plates = np.zeros((T, 18))
    plates[:, col["ground_force_right_vy"]] = 700.0
    plates[:, col["ground_force_right_px"]] = 0.3
    plates[:, col["ground_force_right_vx"]] = 700.0 * (com[:, 0] - 0.3) / 1.0  # at the COM
    plates[:, col["ground_force_right_vz"]] = 20.0
    w = np.ones(T, bool)
    aim = variants.plate_aim(com, 0.0, plates, plates, w, 700.0)
    assert aim["right"]["single"]["all"] == pytest.approx(1.0)
    plates[:, col["ground_force_right_vx"]] = 0.0  # upright
    plates[:, col["ground_force_right_vz"]] = 0.0
    assert variants.plate_aim(com, 0.0, plates, plates, w, 700.0)["right"]["single"]["all"] == \
        pytest.approx(0.0, abs=0.05)
