"""Contact phases and the per-foot split of the ground force, on synthetic gait whose
answer is known (pure numpy: no OpenSim)."""

from __future__ import annotations

import numpy as np
import pytest

from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import (
    ContactRule,
    detect_contact,
    ground_velocity,
    phases,
    place_cops,
    transition_share,
)
from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import split_wrench
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

RATE = 100.0
BW = 70.0 * 9.81


def _gait(belt_m_s: float = 0.0, flight: bool = False):
    """Two feet, one point each, alternating stances of 0.7 s with 0.1 s double supports
    (walking) or 0.1 s flights (running), 1.6 s; returns time, contact truth (T, 2),
    heights and positions per side. A planted foot moves with the belt."""
    t = np.arange(0, 1.6, 1 / RATE)
    period = 1.6
    truth = np.zeros((len(t), 2), dtype=bool)
    for j, phase in enumerate((0.0, 0.8)):
        x = (t - phase) % period
        truth[:, j] = x < (0.6 if flight else 0.9)
    heights, pos = {}, {}
    for j, side in enumerate(("right", "left")):
        h = np.where(truth[:, j], 0.0, 0.08 * np.sin(np.pi * ((t * 1.25) % 1.0)) + 0.06)
        x = np.cumsum(np.where(truth[:, j], -belt_m_s, 2.5)) / RATE
        z = 0.1 if side == "right" else -0.1
        heights[side] = h[:, None]
        pos[side] = np.stack([x, h, np.full_like(x, z)], axis=1)[:, None, :]
    return t, truth, heights, pos


def test_hysteresis_keeps_a_rolling_foot_in_contact() -> None:
    rule = ContactRule(height_on_m=0.02, height_off_m=0.05, speed_on_m_s=0.5, speed_off_m_s=1.0)
    above = np.array([[0.10], [0.01], [0.03], [0.04], [0.06], [0.03]])
    speed = np.array([[0.2], [0.2], [0.8], [0.2], [0.2], [0.2]])
    # touches at 1; 0.03 m and 0.8 m/s stay within the release thresholds; lifts at 4 (0.06 m);
    # 0.03 m at 5 is above the touch-down height: still off.
    assert detect_contact(above, speed, rule).tolist() == [False, True, True, True, False, False]


def test_treadmill_belt_speed_is_the_grounds_velocity() -> None:
    t, truth, heights, pos = _gait(belt_m_s=1.4)
    v = {s: np.gradient(pos[s], t, axis=0) for s in pos}
    gv = ground_velocity([v[s] for s in v], [heights[s] for s in heights], ContactRule())
    assert gv[0] == pytest.approx(-1.4, abs=0.05) and gv[1] == 0.0


def test_transition_share_is_smooth_from_one_to_zero() -> None:
    x = np.linspace(0, 1, 11)
    s = transition_share(x)
    assert s[0] == 1.0 and s[-1] == 0.0 and np.all(np.diff(s) <= 0)
    assert transition_share(np.array([0.5]))[0] == pytest.approx(0.5)


def test_double_support_hands_the_load_over_from_trailing_to_leading_foot() -> None:
    t, truth, _, _ = _gait()
    ph = phases(t, truth)
    both = truth.all(axis=1)
    # The double support at the start (0-0.1 s) is cut by the sequence: no hand-over there.
    assert ph.transition[both & (t > 0.15) & (t < 1.55)].all()
    assert not ph.transition[t < 0.1].any()
    # In the double support at 0.8-0.9 s the left foot leads: its share rises.
    ds = (t >= 0.8) & (t <= 0.9)
    left = ph.share[ds, 1]
    assert np.all(np.diff(left) >= 0) and left[0] < 0.1 and left[-1] > 0.9
    decided = truth.any(axis=1) & ~(both & (t < 0.1))
    assert np.allclose(ph.share[decided].sum(axis=1), 1.0)
    assert np.isnan(ph.share[both & (t < 0.1)]).all()


@pytest.mark.parametrize("belt", [0.0, 1.4])
@pytest.mark.parametrize("flight", [False, True])
def test_split_follows_the_feet_overground_and_on_a_treadmill(belt: float, flight: bool) -> None:
    t, truth, heights, pos = _gait(belt_m_s=belt, flight=flight)
    T = len(t)
    any_on = truth.any(axis=1)
    force = np.where(any_on[:, None], [0.0, BW, 0.0], [0.0, 0.0, 0.0])
    # Moment of a load centred under the feet in contact (so the COPs lie under them).
    cop = np.array([(pos["right"][k, 0] * truth[k, 0] + pos["left"][k, 0] * truth[k, 1])
                    / max(truth[k].sum(), 1) for k in range(T)])
    cop[:, 1] = 0.0
    moment = np.cross(cop, force)
    est = split_wrench(t, force, moment, heights, pos, 70.0, cop_margin_m=0.05)
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    fr = est.values[:, idx["ground_force_right_vy"]]
    fl = est.values[:, idx["ground_force_left_vy"]]
    # Contact detected where it is (within one frame at the edges); the swing foot carries
    # nothing; flight carries nothing; the two feet carry the whole load.
    assert (est.contact != truth).sum(axis=0).max() <= 4
    swing_r, swing_l = ~truth[:, 0] & ~est.contact[:, 0], ~truth[:, 1] & ~est.contact[:, 1]
    assert np.abs(fr[swing_r]).max(initial=0.0) == 0.0 and np.abs(fl[swing_l]).max(initial=0.0) == 0.0
    assert np.allclose(fr + fl, force[:, 1])
    if flight:
        assert np.all(fr[~any_on] == 0) and np.all(fl[~any_on] == 0)
    # A foot that lands at full swing speed (this synthetic gait) is claimed a frame late;
    # the load of that frame goes to the lowest foot, which is the landing one.
    assert est.orphan.sum() <= (4 if flight else 0)
    # Centres of pressure of a loaded foot lie under it (its one point here).
    loaded = fr > 1.0
    assert np.allclose(est.values[loaded, idx["ground_force_right_px"]],
                       pos["right"][loaded, 0, 0], atol=0.051)


def test_place_cops_reproduces_the_moment_with_the_least_change() -> None:
    F = np.array([30.0, 700.0, -10.0])
    fr, fl = 0.3 * F, 0.7 * F
    target = [np.array([0.25, 0.0, 0.12]), np.array([-0.05, 0.0, -0.08])]
    moment = np.cross(target[0], fr) + np.cross(target[1], fl)
    priors = [np.array([0.2, 0.0, 0.1]), np.array([0.0, 0.0, -0.1])]
    cops = place_cops(F, moment, 0.0, [fr, fl], priors)
    got = np.cross(cops[0], fr) + np.cross(cops[1], fl)
    assert np.allclose(got[[0, 2]], moment[[0, 2]])
    assert all(c[1] == 0.0 for c in cops)


def test_a_trial_whose_feet_never_touch_the_floor_is_refused() -> None:
    """Feet that slide apart at 2 m/s the whole time (no belt moves them both) never settle:
    the estimate refuses the trial with a message instead of guessing which foot carries
    the body."""
    from musclekit.errors import InputError

    t = np.arange(0, 1.0, 0.01)
    T = len(t)
    heights = {"right": np.zeros((T, 1)), "left": np.zeros((T, 1))}
    pos = {s: np.stack([v * t, 0 * t, 0 * t + z], axis=1)[:, None, :]
           for s, z, v in (("right", 0.1, 2.0), ("left", -0.1, -2.0))}
    force = np.tile([0.0, BW, 0.0], (T, 1))
    with pytest.raises(InputError, match=r"the feet never settle on a floor: in 100 % of the "
                                         r"frames that carry the body"):
        split_wrench(t, force, np.zeros((T, 3)), heights, pos, 70.0)


def test_a_point_that_stands_above_its_standing_level_is_counted_from_its_own_level() -> None:
    # The Vicon walk's automatically scaled feet stood toes-up: each toe point 6 cm above the
    # floor through every stance. Counted from the standing pose, the foot left the floor as
    # soon as the heel rose (heel-off), long before toe-off; counted from the toe's own level
    # while its foot stands, it stays down until the toe lifts.
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import (
        contact_levels,
    )

    rule = ContactRule()
    T = 100
    k = np.arange(T)
    stance = (k >= 10) & (k < 70)
    heel = np.where(stance, 0.0, 0.2)
    heel[40:70] = np.linspace(0.0, 0.15, 30)  # heel-off at 40, the toe still down
    toe = np.where(stance, 0.06, 0.2)
    above = np.column_stack([heel, toe])
    speeds = np.where(stance[:, None], 0.1, 2.0) * np.ones((T, 2))
    speeds[40:70, 0] = 0.8  # the rising heel moves
    levels = contact_levels(above, speeds, rule)
    assert levels[0] == pytest.approx(0.0) and levels[1] == pytest.approx(0.06)
    plain = detect_contact(above, speeds, rule)
    own = detect_contact(above - levels, speeds, rule)
    assert np.flatnonzero(plain)[-1] < 50 and np.flatnonzero(own)[-1] == 69
    # A foot held still in the air is not standing: its points keep their standing level.
    raised = np.full((T, 2), 0.2)
    assert np.all(contact_levels(raised, np.zeros((T, 2)), rule) == 0.0)
