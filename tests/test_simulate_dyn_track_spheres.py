"""Foot spheres of `track`: the per-sphere sole levelling rule and the depth/force table of
benchmarks/track_spheres.py (pure numpy: no OpenSim)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.contact_law import ContactSphere
from musclekit.pipelines.simulate.dynamics.methods.track.foot_spheres import (
    PARAMETERS,
    RADIUS_M,
    sole_lifts,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _rolling_foot(pitch_deg: float, sole_x: np.ndarray, frames: int = 40) -> np.ndarray:
    """Heights of sphere bottoms (frames, spheres) of a rigid foot laid on a plane pitched
    `pitch_deg` toes down against its sole, rolling heel to toe over a stance: at each
    frame the foot pivots about a point moving from heel to toe, which stays on the floor."""
    pivot = np.linspace(sole_x.min(), sole_x.max(), frames)
    roll = np.linspace(-0.15, 0.35, frames)  # the sole's angle to the floor, rad
    # a sphere at x on the pitched plane sits tan(pitch) x below the sole's line
    offset = -np.tan(np.radians(pitch_deg)) * sole_x
    return np.array([-(sole_x - p) * np.sin(r) + offset for p, r in zip(pivot, roll,
                                                                        strict=True)])


def test_sole_lifts_bring_every_sphere_to_the_same_lowest_height() -> None:
    x = np.array([0.0, 0.07, 0.16, 0.15, 0.24, 0.23])
    right = _rolling_foot(10.0, x)
    left = _rolling_foot(4.0, x) + 0.01  # the other foot 1 cm higher, pitched less
    lifts = sole_lifts({"right": right, "left": left})
    lows = [np.quantile(h + lifts[s][None, :], 0.05, axis=0)
            for s, h in (("right", right), ("left", left))]
    assert np.allclose(np.concatenate(lows), lows[0][0], atol=1e-12)
    # pitched toes down: the toe spheres are raised against the heel's
    assert lifts["right"][4] - lifts["right"][0] > 0.03
    # the mean height is kept (the floor is set after the lifts)
    assert abs(np.mean(np.concatenate(list(lifts.values())))) < 1e-12


def test_a_level_sole_gets_no_relative_lift() -> None:
    h = np.tile(np.array([0.002, 0.002, 0.002]), (10, 1))
    h[3] -= 0.001  # one loaded frame deeper for all: still level
    lifts = sole_lifts({"right": h, "left": h})
    assert np.allclose(lifts["right"], lifts["right"][0])


@pytest.mark.parametrize("bottoms, words", [
    ({}, "at least one foot"),
    ({"right": np.zeros((2, 6))}, "at least 3 loaded frames"),
    ({"right": np.zeros(6)}, "shape (frames, spheres)"),
    ({"right": np.full((5, 6), np.nan)}, "finite"),
])
def test_bad_heights_are_refused(bottoms, words) -> None:
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        sole_lifts(bottoms)


def test_sphere_table_reports_depth_and_force(capsys) -> None:
    import track_spheres

    sphere = ContactSphere(name="s1_r", body="calcn_r", location_m=(0.0, -0.01, 0.0),
                           radius_m=RADIUS_M, constant_contact_force=1e-5,
                           hertz_smoothing=300.0, hunt_crossley_smoothing=50.0,
                           plane_normal=(0.0, 1.0, 0.0), plane_point=(0.0, 0.0, 0.0),
                           force_name="f", **PARAMETERS)
    tm = SimpleNamespace(spheres=[sphere])
    heights = np.array([0.05, RADIUS_M - 0.004, RADIUS_M - 0.010, 0.05])
    posed = {"centre": np.stack([np.zeros(4), heights, np.zeros(4)], axis=1)[:, None, :],
             "velocity": np.zeros((4, 1, 3)), "omega": np.zeros((4, 1, 3)),
             "x_axis": np.tile([1.0, 0.0, 0.0], (4, 1, 1))}
    row = track_spheres.sphere_table(tm, posed, 0.01, 700.0)[0]
    assert row["max_depth_mm"] == pytest.approx(10.0)
    assert row["contact_s"] == pytest.approx(0.02)
    assert row["force_n"][0] < 0.01 and row["force_n"][2] > row["force_n"][1] > 10.0
    assert row["peak_bw"] == pytest.approx(row["force_n"][2] / 700.0, abs=0.01)
    # at rest the dissipation changes nothing: the elastic force is the force
    assert np.allclose(row["elastic_n"], row["force_n"])
    feet = track_spheres.foot_summary(tm, posed, [row], 0.01, 700.0)
    assert feet["r"]["calcn_pitch_deg_at_peak"] == 0.0
    assert feet["r"]["impulse_over_elastic"] == pytest.approx(1.0)
    # rising at 0.5 m/s (faster than 2 / (3 d) = 0.33): the dissipation removes the force
    posed["velocity"][:, 0, 1] = 0.5
    rising = track_spheres.sphere_table(tm, posed, 0.01, 700.0)[0]
    assert rising["force_n"][2] < 0.01 * rising["elastic_n"][2]
    # the timeline prints the plates low-passed and as recorded beside the spheres' force
    track_spheres.timeline(tm, posed, [row], np.arange(4) * 0.01, 700.0, "r",
                           np.full(4, 140.0), np.full(4, 70.0))
    out = capsys.readouterr().out
    assert "plates 6 Hz, as recorded (BW)" in out
    assert out.splitlines()[1].endswith(" 0.20  0.10")
