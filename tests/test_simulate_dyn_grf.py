"""Ground reaction forces from kinematics: checked against forces known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opensim  # noqa: E402,F401  (a required dependency: missing fails the suite)
import pytest

from musclekit.errors import InputError  # noqa: E402
from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import estimate_grf, split_wrench  # noqa: E402
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS  # noqa: E402
from musclekit.pipelines.simulate.opensim.files import read_mot, write_mot  # noqa: E402
from musclekit.pipelines.simulate.opensim.test_model import (  # noqa: E402
    build_test_model,
    squat_motion,
)

FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}
G = 9.80665


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return build_test_model(tmp_path_factory.mktemp("model") / "twoleg.osim")


def com_force(model_path: Path, motion) -> np.ndarray:
    """Total external force m (a_com - g), from OpenSim's centre of mass (independent path)."""
    import opensim as osim

    m = osim.Model(str(model_path))
    s = m.initSystem()
    cs = m.getCoordinateSet()
    com = []
    for k in range(len(motion.time_s)):
        for j, n in enumerate(motion.names):
            cs.get(n).setValue(s, motion.values[k, j], False)
        m.realizePosition(s)
        c = m.calcMassCenterPosition(s)
        com.append([c.get(0), c.get(1), c.get(2)])
    a = np.gradient(np.gradient(np.array(com), motion.time_s, axis=0), motion.time_s, axis=0)
    return m.getTotalMass(s) * (a - np.array([0.0, -G, 0.0]))


def test_squat_ground_forces_match_centre_of_mass_dynamics(model_path: Path) -> None:
    motion = squat_motion(2.0)
    est = estimate_grf(str(model_path), motion, feet=FEET)
    expected = com_force(model_path, motion)
    inner = slice(2, -2)  # finite differences are one-sided at the ends
    assert np.abs(est.total_force_n[inner] - expected[inner]).max() < 0.05
    # The squat really accelerates the body: vertical force varies by > 10 % of weight.
    assert np.ptp(expected[:, 1]) > 0.1 * 32 * G
    fr, pr, _ = est.side("right")
    fl, pl, _ = est.side("left")
    assert est.contact.all()
    # Symmetric motion: each foot carries half; COPs lie under the feet (z = +-0.1 m, on
    # the floor y = 0, between heel -0.05 and toe 0.15 m).
    assert np.allclose(fr, fl, atol=1e-6)
    assert np.allclose(fr + fl, est.total_force_n)
    assert np.allclose(pr[:, 2], 0.1, atol=1e-6) and np.allclose(pl[:, 2], -0.1, atol=1e-6)
    assert np.allclose(pr[:, 1], 0.0, atol=1e-6)
    assert (pr[:, 0] > -0.05).all() and (pr[:, 0] < 0.15).all()


def test_split_reproduces_the_total_moment() -> None:
    rng = np.random.default_rng(0)
    T = 20
    force = np.column_stack([rng.normal(0, 20, T), rng.uniform(200, 400, T), rng.normal(0, 20, T)])
    moment = rng.normal(0, 30, (T, 3))
    heights = {"right": np.zeros((T, 2)), "left": np.zeros((T, 2))}
    pts = {
        "right": np.tile(np.array([[0.0, 0, 0.1], [0.2, 0, 0.1]]), (T, 1, 1)),
        "left": np.tile(np.array([[0.0, 0, -0.1], [0.2, 0, -0.1]]), (T, 1, 1)),
    }
    est = split_wrench(np.arange(T) * 0.01, force, moment, heights, pts, 32.0)
    total_m = np.zeros((T, 3))
    total_f = np.zeros((T, 3))
    for side in ("right", "left"):
        f, p, tq = est.side(side)
        total_f += f
        total_m += np.cross(p, f) + tq
    assert np.allclose(total_f, force)
    assert np.allclose(total_m, moment, atol=1e-9)


def test_a_centre_of_pressure_outside_the_feet_is_clamped_and_the_rest_reported() -> None:
    # The total moment puts the COP 0.4 m in front of the toes (kinematics inconsistent with
    # the model): each COP must end within the margin of its foot, and the moment the feet no
    # longer reproduce is returned, so that reproduced + unexplained = total exactly.
    T = 4
    force = np.tile([0.0, 700.0, 0.0], (T, 1))
    cop = np.array([0.6, 0.0, 0.0])
    moment = np.cross(cop, force)
    heights = {"right": np.zeros((T, 2)), "left": np.zeros((T, 2))}
    pts = {
        "right": np.tile(np.array([[0.0, 0, 0.1], [0.2, 0, 0.1]]), (T, 1, 1)),
        "left": np.tile(np.array([[0.0, 0, -0.1], [0.2, 0, -0.1]]), (T, 1, 1)),
    }
    est = split_wrench(np.arange(T) * 0.01, force, moment, heights, pts, 70.0,
                       cop_margin_m=0.05)
    reproduced = np.zeros((T, 3))
    for side in ("right", "left"):
        f, p, tq = est.side(side)
        assert np.allclose(p[:, 0], 0.25)  # toe point 0.2 + margin 0.05
        reproduced += np.cross(p, f) + tq
    assert np.allclose(reproduced + est.unexplained_moment_nm, moment)
    # 700 N moved back by 0.35 m: 245 N m about z that the pelvis residuals must carry.
    assert np.allclose(np.abs(est.unexplained_moment_nm[:, 2]), 245.0)
    # A COP inside the foot is left where it is.
    inside = split_wrench(np.arange(T) * 0.01, force, np.cross([0.1, 0, 0], force), heights,
                          pts, 70.0, cop_margin_m=0.05)
    assert np.allclose(inside.unexplained_moment_nm, 0.0)
    assert np.allclose(inside.side("right")[1][:, 0], 0.1)
    # Three collinear contact points per foot (heel, mid, toe) clamp the same way.
    line = {side: np.concatenate([v[:, :1], (v[:, :1] + v[:, 1:]) / 2, v[:, 1:]], axis=1)
            for side, v in pts.items()}
    three = split_wrench(np.arange(T) * 0.01, force, moment,
                         {side: np.zeros((T, 3)) for side in pts}, line, 70.0,
                         cop_margin_m=0.05)
    assert np.allclose(three.side("right")[1][:, 0], 0.25)


def test_a_raised_foot_carries_nothing() -> None:
    T = 5
    force = np.tile([0.0, 300.0, 0.0], (T, 1))
    p = np.array([0.1, 0.0, 0.1])
    moment = np.cross(p, force)
    heights = {"right": np.zeros((T, 1)), "left": np.full((T, 1), 0.2)}
    pts = {"right": np.tile([[0.1, 0.0, 0.1]], (T, 1, 1)), "left": np.tile([[0.1, 0.2, -0.1]], (T, 1, 1))}
    est = split_wrench(np.arange(T) * 0.01, force, moment, heights, pts, 32.0)
    fr, pr, _ = est.side("right")
    fl, _, _ = est.side("left")
    assert np.allclose(fr, force) and np.allclose(fl, 0.0)
    assert np.allclose(pr, p)
    assert est.contact[:, 0].all() and not est.contact[:, 1].any()
    assert len(GRF_CHANNELS) == 18 and GRF_CHANNELS[0] == "ground_force_right_vx"


def test_missing_foot_bodies_are_named(model_path: Path) -> None:
    with pytest.raises(InputError, match=r"none of the right foot bodies \['foot_r'\]"):
        estimate_grf(str(model_path), squat_motion(0.5), feet={"right": ("foot_r",), "left": ("calcn_l",)})


def test_mot_round_trip_and_beta_columns_stay_radians(tmp_path: Path) -> None:
    f = tmp_path / "deg.mot"
    f.write_text("Coordinates\nversion=1\nnRows=2\nnColumns=4\ninDegrees=yes\nendheader\n"
                 "time\tknee_angle_r\tknee_angle_r_beta\tpelvis_ty\n"
                 "0.0\t90\t0.5\t1.0\n0.01\t45\t0.25\t1.1\n")
    m = read_mot(f)
    assert m.column("knee_angle_r") == pytest.approx([np.pi / 2, np.pi / 4])
    assert m.column("knee_angle_r_beta") == pytest.approx([0.5, 0.25])  # radians already
    assert m.column("pelvis_ty") == pytest.approx([1.0, 1.1])
    back = read_mot(write_mot(tmp_path / "rad.mot", m))
    assert np.allclose(back.values, m.values)


def test_bad_mot_rows_are_located(tmp_path: Path) -> None:
    f = tmp_path / "bad.mot"
    f.write_text("x\nendheader\ntime\ta\tb\n0.0\t1\t2\n0.01\t1\n")
    with pytest.raises(InputError, match=r"bad.mot, line 5: 2 values but the header names 3"):
        read_mot(f)


def _one_stance(noise_m: float, T: int = 60):
    """A right-foot stance between two flights (left foot raised throughout): the true
    centre of pressure rolls from the heel (x 0) to past the toe joint (x 0.24), 2 cm beside
    the heel-toe line; the whole-body moment puts it there plus seeded noise."""
    rng = np.random.default_rng(3)
    t = np.arange(T) * 0.01
    stance = (np.arange(T) >= 10) & (np.arange(T) < T - 10)
    x = np.clip((t - t[10]) / (t[T - 11] - t[10]), 0, 1)
    true = np.column_stack([0.24 * x, np.zeros(T), np.full(T, 0.12)])
    force = np.where(stance[:, None], [0.0, 700.0, 0.0], 0.0)
    seen = true + np.column_stack([rng.normal(0, noise_m, T), np.zeros(T), rng.normal(0, noise_m, T)])
    moment = np.cross(seen, force)
    up = np.where(stance, 0.0, 0.2)
    heights = {"right": np.column_stack([up, up]), "left": np.full((T, 2), 0.2)}
    foot = np.array([[0.0, 0.0, 0.1], [0.2, 0.0, 0.1]])
    pts = {"right": np.tile(foot, (T, 1, 1)) + up[:, None, None] * [0, 1, 0],
           "left": np.tile(foot * [1, 1, -1], (T, 1, 1)) + [0, 0.2, 0]}
    sole = {"right": pts["right"].copy(), "left": pts["left"].copy()}
    return t, force, moment, heights, pts, sole, true, stance


def test_the_rolling_centre_of_pressure_follows_the_heel_to_toe_path_through_noise() -> None:
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule

    t, force, moment, heights, pts, sole, true, stance = _one_stance(noise_m=0.03)
    rolling = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05, sole_line=sole)
    frame_by_frame = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05,
                                  sole_line=sole, rule=ContactRule(cop_path="moment"))
    on = rolling.contact[:, 0] & stance
    assert on.sum() > 30 and not rolling.contact[:, 1].any()

    def error(est) -> float:
        return float(np.sqrt(np.mean(np.sum((est.side("right")[1] - true)[on] ** 2, axis=1))))

    # The per-stance line averages the moment's noise away; frame by frame keeps it.
    assert error(rolling) < 0.008 < 0.02 < error(frame_by_frame)
    # What the line does not reproduce of the whole-body moment is reported, not lost.
    f, p, tq = rolling.side("right")
    assert np.allclose(np.cross(p, f) + tq + rolling.unexplained_moment_nm, moment, atol=1e-6)
    # Without noise the line is the true path and leaves nothing unexplained.
    t, force, moment, heights, pts, sole, true, stance = _one_stance(noise_m=0.0)
    exact = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05, sole_line=sole)
    assert np.allclose(exact.side("right")[1][on], true[on], atol=1e-6)
    assert np.abs(exact.unexplained_moment_nm).max() < 1e-6


def test_an_unknown_centre_of_pressure_path_is_refused() -> None:
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule

    with pytest.raises(InputError, match="centre-of-pressure path 'zmp'"):
        ContactRule(cop_path="zmp")
    with pytest.raises(InputError, match="hand-over share 'smooth': choose one of combined, "
                                         "statics, ramp"):
        ContactRule(handover="smooth")


def two_stances():
    """Right stance frames 10-59, left 50-89 (a hand-over at 50-59) at 100 Hz, 700 N
    vertical: frame count, time, stance masks, each foot's heel and toe points, the points
    (T, 2, 3) and their heights above the floor, and the force."""
    T = 100
    t = np.arange(T) * 0.01
    on = {"right": (np.arange(T) >= 10) & (np.arange(T) < 60),
          "left": (np.arange(T) >= 50) & (np.arange(T) < 90)}
    base = {"right": np.array([[0.0, 0.0, 0.1], [0.2, 0.0, 0.1]]),
            "left": np.array([[0.6, 0.0, -0.1], [0.8, 0.0, -0.1]])}
    heights = {s: np.column_stack([np.where(on[s], 0.0, 0.2)] * 2) for s in base}
    pts = {s: np.tile(base[s], (T, 1, 1)) + heights[s][:, :1, None] * [0, 1, 0] for s in base}
    force = np.where((on["right"] | on["left"])[:, None], [0.0, 700.0, 0.0], 0.0)
    return T, t, on, base, heights, pts, force


def hand_over_with_heel_rocker():
    """two_stances() with the left foot's COP at its heel (x 0.6) through the loading double
    support, then rolling to its toe (0.8) by frame 89; in the double support the whole-body
    COP lies at x 0.4. Returns split_wrench's inputs, the double support, the left foot's
    first single-support frame and the whole-body COP."""
    T, t, on, base, heights, pts, force = two_stances()
    # Contact comes from the feet's heights alone: the double support as the rule finds it.
    both = split_wrench(t, force, np.zeros((T, 3)), heights, pts, 72.0).contact.all(axis=1)
    first = int(np.flatnonzero(both).max()) + 1  # the left foot's first single-support frame
    seen = np.zeros((T, 3))
    x = np.clip((t - t[10]) / (t[59] - t[10]), 0, 1)
    seen[10:first] = (base["right"][0] + x[:, None] * (base["right"][1] - base["right"][0]))[10:first]
    x = np.clip((t - t[first]) / (t[89] - t[first]), 0, 1)
    seen[first:90] = (base["left"][0] + x[:, None] * (base["left"][1] - base["left"][0]))[first:90]
    seen[both] = [0.4, 0.0, 0.0]
    return (t, force, np.cross(seen, force), heights, pts), both, first, seen


def test_in_a_hand_over_both_centres_of_pressure_stay_on_their_rolling_lines() -> None:
    # Right stance frames 10-59, left 50-89 (a hand-over at 50-59); each foot's true COP
    # rolls heel -> toe along its own line, and the whole-body moment carries a seeded
    # 2 cm noise. In the hand-over the COPs must stay on their feet's lines (no common shift
    # towards the noisy whole-body COP), and what they leave is reported.
    rng = np.random.default_rng(5)
    T, t, on, base, heights, pts, force = two_stances()
    seen = np.zeros((T, 3))
    for s, (a, b) in (("right", (10, 59)), ("left", (50, 89))):
        x = np.clip((t - t[a]) / (t[b] - t[a]), 0, 1)
        only = on[s] & ~on["left" if s == "right" else "right"]
        seen[only] = (base[s][0] + x[:, None] * (base[s][1] - base[s][0]))[only]
    both = on["right"] & on["left"]
    seen[both] = [0.4, 0.0, 0.0]
    seen[:, [0, 2]] += rng.normal(0, 0.02, (T, 2))
    moment = np.cross(seen, force)
    est = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05, sole_line=pts)
    hand_over = est.transition & est.contact.all(axis=1)
    assert hand_over.sum() >= 5
    reproduced = np.zeros((T, 3))
    for s in ("right", "left"):
        f, p, tq = est.side(s)
        assert np.allclose(p[hand_over, 2], base[s][0, 2], atol=0.01)  # beside its own line
        assert (np.abs(p[hand_over, 0] - base[s][:, 0].mean()) < 0.16).all()  # along it
        reproduced += np.cross(p, f) + tq
    assert np.allclose(reproduced + est.unexplained_moment_nm, moment, atol=1e-6)


def test_through_the_loading_double_support_the_leading_foot_s_centre_of_pressure_stays_at_its_heel() -> None:
    # Right stance frames 10-59, left 50-89: the left foot strikes at 50 and its true COP
    # stays under its heel (x 0.6) through the heel rocker (the double support), then
    # rolls to its toe (0.8) by frame 89. The line fitted to its single support, extended
    # backwards, would put the COP 7 cm behind the heel in the double support; held, it stays
    # at the heel. The forces are those of the fitted lines, and no moment is lost.
    (t, force, moment, heights, pts), both, first, seen = hand_over_with_heel_rocker()
    est = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05, sole_line=pts)
    loading = est.contact.all(axis=1)
    assert loading.sum() >= 5 and np.array_equal(loading, both)
    left = est.side("left")[1]
    assert np.allclose(left[loading, 0], 0.6, atol=1e-6)  # at the heel, not behind it
    assert np.allclose(left[first:90, 0], seen[first:90, 0], atol=1e-6)  # single support: the line
    reproduced = sum(np.cross(est.side(s)[1], est.side(s)[0]) + est.side(s)[2]
                     for s in ("right", "left"))
    assert np.allclose(reproduced + est.unexplained_moment_nm, moment, atol=1e-6)


def test_a_foot_without_a_heel_to_toe_direction_keeps_the_whole_body_centre_of_pressure() -> None:
    # One foot body and no markers: both ends of the sole line are the same point. The stance
    # then has no rolling line and its COP is the whole-body one, finite everywhere.
    t, force, moment, heights, pts, sole, true, stance = _one_stance(noise_m=0.01)
    import warnings

    point = {s: np.repeat(v[:, :1], 2, axis=1) for s, v in sole.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 on the way to the fallback
        est = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05,
                           sole_line=point)
    whole_body = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05)
    assert np.isfinite(est.values).all()
    assert np.allclose(est.values, whole_body.values)


def test_in_a_hand_over_the_vertical_share_follows_the_whole_body_centre_of_pressure() -> None:
    # The plates' hand-over is near linear, not the smoothstep: with both feet's COPs on
    # their rolling lines, the share comes from where the whole-body COP lies between them. Here the right foot hands over linearly.
    t, force, moment, heights, pts, share = _hand_over(np.linspace(0.9, 0.1, 10))
    est = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05, sole_line=pts)
    hand_over = est.transition & est.contact.all(axis=1)
    assert hand_over.sum() >= 5
    right = est.side("right")[0][:, 1] / force[:, 1].clip(1e-9)
    assert np.allclose(right[hand_over], share[hand_over], atol=0.02)
    # The smoothstep alone (no rolling lines) misses a linear hand-over mid-way.
    old = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05)
    old_right = old.side("right")[0][:, 1] / force[:, 1].clip(1e-9)
    assert np.abs(old_right[hand_over] - share[hand_over]).max() > 0.05


def test_a_model_whose_default_pose_lifts_one_foot_still_finds_both_feet_on_the_floor(
        model_path: Path, tmp_path: Path) -> None:
    # A scaled model may keep a static trial's pose as its defaults (a Helen Hayes model of
    # the corpus stood on one leg): each point's height above the sole is taken with the
    # joints at zero, per foot, so the squat's feet are both found on the floor as with
    # the model's own defaults.
    import opensim as osim

    lifted = osim.Model(str(model_path))
    coords = lifted.getCoordinateSet()
    coords.get("hip_flexion_l").setDefaultValue(0.8)
    coords.get("knee_angle_l").setDefaultValue(1.2)
    path = tmp_path / "lifted.osim"
    lifted.printToXML(str(path))
    motion = squat_motion(2.0)
    est = estimate_grf(str(path), motion, feet=FEET)
    ref = estimate_grf(str(model_path), motion, feet=FEET)
    assert est.contact.all() and not est.orphan.any()
    assert np.allclose(est.values, ref.values, atol=1e-6)


def _hand_over(share_in_double_support):
    """Right stance frames 10-59, left 50-89 (a hand-over at 50-59), each foot's COP rolling
    heel -> toe; the whole-body COP where `share_in_double_support` (the right foot's, one
    per hand-over frame) puts it between the two feet's COPs."""
    T, t, on, base, heights, pts, force = two_stances()
    path = {}
    for s, (a, b) in (("right", (10, 59)), ("left", (50, 89))):
        x = np.clip((t - t[a]) / (t[b] - t[a]), 0, 1)
        path[s] = base[s][0] + x[:, None] * (base[s][1] - base[s][0])
    both = on["right"] & on["left"]
    share = np.where(on["right"], 1.0, 0.0)
    share[both] = share_in_double_support
    seen = share[:, None] * path["right"] + (1 - share[:, None]) * path["left"]
    return t, force, np.cross(seen, force), heights, pts, share


def test_a_whole_body_centre_of_pressure_that_runs_ahead_hands_over_along_the_ramp() -> None:
    # The Plug-in-Gait walks' whole-body COP ran 10-20 cm ahead of the plates' through the
    # double supports: statics alone handed the whole load to the leading foot at once. A
    # moment that far from any measured hand-over is trusted little: the share follows the
    # linear ramp from heel strike to toe-off.
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule

    t, force, moment, heights, pts, _ = _hand_over(np.zeros(10))  # all on the left at once
    est = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05, sole_line=pts)
    hand_over = est.transition & est.contact.all(axis=1)
    assert hand_over.sum() >= 5
    right = est.side("right")[0][:, 1] / force[:, 1].clip(1e-9)
    ramp = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05, sole_line=pts,
                        rule=ContactRule(handover="ramp"))
    ramp_right = ramp.side("right")[0][:, 1] / force[:, 1].clip(1e-9)
    # the ramp alone: linear from 1 to 0 between the last single-support frames either side
    assert np.all(np.diff(ramp_right[hand_over]) < 0) and np.ptp(np.diff(ramp_right[hand_over])) < 1e-9
    assert np.abs(right[hand_over] - ramp_right[hand_over]).max() < 0.1
    assert right[hand_over].mean() > 0.4  # statics alone gave the right foot nothing
    # A moment that agrees with a near-linear hand-over is followed (statics, weight near 1).
    shape = np.linspace(0.9, 0.1, 10) + 0.05 * np.sin(np.linspace(0, np.pi, 10))
    t, force, moment, heights, pts, share = _hand_over(shape)
    est = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05, sole_line=pts)
    right = est.side("right")[0][:, 1] / force[:, 1].clip(1e-9)
    assert np.allclose(right[hand_over], share[hand_over], atol=0.02)


def test_a_whole_body_centre_of_pressure_off_the_stance_foot_hands_over_along_the_ramp() -> None:
    # The moment's noise is also read where the truth is known: in single support the
    # whole-body COP lies under the stance foot. A hand-over shape the moment follows
    # exactly is trusted when the single-support COP stays on its foot's rolling line, and
    # not when it scatters by 15 cm about it (the Plug-in-Gait walks' whole-body COP strays
    # 20 cm from the stance foot's): then the share follows the ramp.
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule

    shape = np.linspace(0.9, 0.1, 10) + 0.06 * np.sin(np.linspace(0, np.pi, 10))
    t, force, moment, heights, pts, share = _hand_over(shape)
    est = split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05, sole_line=pts)
    hand_over = est.transition & est.contact.all(axis=1)
    assert hand_over.sum() >= 5
    right = est.side("right")[0][:, 1] / force[:, 1].clip(1e-9)
    assert np.allclose(right[hand_over], share[hand_over], atol=0.02)

    # Scatter of 15 cm about the truth in single support (seeded; the rolling lines, fitted
    # to it, stay near the feet's true paths, so the hand-overs alone do not reveal it).
    single = (force[:, 1] > 0) & ~np.isin(np.arange(len(t)), np.flatnonzero(hand_over))
    scatter = np.random.default_rng(3).normal(0.0, 0.15, (len(t), 3)) * [1.0, 0.0, 1.0]
    ahead = moment.copy()
    ahead[single] = np.cross(scatter[single], force[single]) + moment[single]
    est = split_wrench(t, force, ahead, heights, pts, 72.0, cop_margin_m=0.05, sole_line=pts)
    right = est.side("right")[0][:, 1] / force[:, 1].clip(1e-9)
    ramp = split_wrench(t, force, ahead, heights, pts, 72.0, cop_margin_m=0.05, sole_line=pts,
                        rule=ContactRule(handover="ramp"))
    ramp_right = ramp.side("right")[0][:, 1] / force[:, 1].clip(1e-9)
    assert np.abs(right[hand_over] - ramp_right[hand_over]).max() < 0.02
    assert np.abs(right[hand_over] - share[hand_over]).max() > 0.04


def test_an_unknown_hand_over_force_aim_is_refused() -> None:
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule

    with pytest.raises(InputError, match="hand-over force aim 'hip': choose one of com, "
                                         "leading share, pivot"):
        ContactRule(force_aim="hip")


def test_the_pivot_height_is_where_single_support_forces_cross_the_centre_of_mass_vertical() -> None:
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import pivot_height_m

    # Single-support forces from COPs at x -0.2..0.2 aimed at a point 1.3 m above the floor
    # (floor at 0.05) over a centre of mass at 1.0 m: the fit finds 1.3 m, not the COM's.
    T = 40
    cops = np.column_stack([np.linspace(-0.2, 0.2, T), np.full(T, 0.05), np.zeros(T)])
    com = np.column_stack([np.zeros(T), np.full(T, 1.05), np.zeros(T)])
    fy = np.full(T, 700.0)
    force = np.column_stack([fy * (0.0 - cops[:, 0]) / 1.3, fy, np.zeros(T)])
    contact = np.column_stack([np.ones(T, bool), np.zeros(T, bool)])
    assert pivot_height_m(force, com, contact, cops, 0.05) == pytest.approx(1.3)
    # forces pointing away from the centre of mass, or too little single support: none
    assert pivot_height_m(force * [-1, 1, 1], com, contact, cops, 0.05) is None
    assert pivot_height_m(force, com, np.ones((T, 2), bool), cops, 0.05) is None


def test_in_a_hand_over_the_leading_foot_s_force_tilts_towards_the_centre_of_mass_as_it_takes_the_load() -> None:
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule

    # two_stances' hand-over (frames 50-59) with the centre of mass 1 m up between the feet
    # (x 0.4; the left heel at 0.6, ahead of it) and no total fore-aft force. Aimed at the
    # centre of mass ("com", the rule before), the leading (left) foot brakes by the aim's
    # slope from its heel strike; with "leading share" that slope is scaled by its share of
    # the load: nearer upright at first, the same once it carries the body. Either way the
    # two feet's forces sum to the total.
    (t, force, moment, heights, pts), both, _, _ = hand_over_with_heel_rocker()
    com = np.column_stack([np.full(len(t), 0.4), np.full(len(t), 1.0), np.zeros(len(t))])
    est = {aim: split_wrench(t, force, moment, heights, pts, 72.0, cop_margin_m=0.05,
                             sole_line=pts, com=com, rule=ContactRule(force_aim=aim))
           for aim in ("com", "leading share")}
    hand_over = est["com"].transition & est["com"].contact.all(axis=1)
    assert hand_over.sum() >= 5
    for e in est.values():
        total = e.side("right")[0] + e.side("left")[0]
        assert np.allclose(total[hand_over], force[hand_over], atol=1e-6)
    left = {aim: e.side("left")[0][hand_over] for aim, e in est.items()}
    share = left["com"][:, 1] / force[hand_over, 1]
    assert share[0] < 0.2 < 0.8 < share[-1]
    ratio = {aim: f[:, 0] / f[:, 1] for aim, f in left.items()}
    assert ratio["com"][0] < 0 and ratio["leading share"][0] < 0  # braking
    assert abs(ratio["leading share"][0]) < 0.7 * abs(ratio["com"][0])
    assert ratio["leading share"][-1] == pytest.approx(ratio["com"][-1], rel=0.15)


def test_the_rule_s_hand_over_keeps_the_leading_foot_near_upright_at_its_heel_strike() -> None:
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import ESTIMATE_RULE_VERSION

    # The rule (ESTIMATE_RULE_VERSION 10, no force_aim given): at the leading foot's heel
    # strike its fore-aft force is a small part of its load, far less than the centre-of-mass
    # aim's braking, as every corpus walk's plates have it; "com" stays selectable.
    assert ESTIMATE_RULE_VERSION >= 10 and ContactRule().force_aim == "leading share"
    (t, force, moment, heights, pts), _, _, _ = hand_over_with_heel_rocker()
    com = np.column_stack([np.full(len(t), 0.4), np.full(len(t), 1.0), np.zeros(len(t))])
    kw = dict(cop_margin_m=0.05, sole_line=pts, com=com)
    rule = split_wrench(t, force, moment, heights, pts, 72.0, **kw)
    aimed = split_wrench(t, force, moment, heights, pts, 72.0, rule=ContactRule(force_aim="com"),
                         **kw)
    hand_over = np.flatnonzero(aimed.transition & aimed.contact.all(axis=1))
    k = hand_over[0]  # the left (leading) foot's heel strike
    f_rule, f_com = rule.side("left")[0][k], aimed.side("left")[0][k]
    assert f_rule[1] > 0 and f_com[1] > 0
    assert abs(f_rule[0] / f_rule[1]) < 0.7 * abs(f_com[0] / f_com[1])
    # the rule's feet still carry the whole-body force
    total = rule.side("right")[0] + rule.side("left")[0]
    assert np.allclose(total[hand_over], force[hand_over], atol=1e-6)
