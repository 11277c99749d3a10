"""`track`'s contact forces beside `inverse`'s estimate and the plates: the agreement every
chunk reports, `--track-grf` (its option, its refusals, its effect) and the treadmill frame,
on the project's small model."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import opensim  # noqa: F401  (a required dependency: missing fails the suite)
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan, plan_chunks
from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings, prepare_model
from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings
from musclekit.pipelines.simulate.dynamics.methods.track.solve import (
    solve_chunk as solve_track_chunk,
)
from musclekit.pipelines.simulate.dynamics.stage.config import config_from_cli
from musclekit.pipelines.simulate.dynamics.stage.units import _settings_for
from musclekit.pipelines.simulate.opensim.files import Motion, write_mot
from musclekit.pipelines.simulate.opensim.test_model import build_test_model, squat_motion

FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}
PLAN = ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("track_grf")
    model = build_test_model(d / "twoleg.osim")
    motion = squat_motion(1.2, period_s=1.2)
    mot = write_mot(d / "squat.mot", motion)
    # The same squat on a treadmill belt running backwards at 1 m/s: the whole body is
    # carried back with the feet planted on the belt.
    moved = motion.values.copy()
    moved[:, motion.names.index("pelvis_tx")] -= 1.0 * (motion.time_s - motion.time_s[0])
    belt = write_mot(d / "squat_belt.mot", Motion(motion.time_s, motion.names, moved))
    folder = prepare_model(model, d / "cache", PrepSettings(
        method="track", contact=True, feet=FEET, polynomial_paths=False), [mot, belt])
    return folder, mot, belt


def _chunk():
    return plan_chunks("sq", squat_motion(1.2, period_s=1.2).time_s, PLAN)[0]


def test_track_grf_option_reaches_the_config_and_refuses_what_it_cannot_do() -> None:
    assert config_from_cli(method="track", track_grf="estimated").solve.track_grf == "estimated"
    assert config_from_cli(method="track").solve.track_grf == "none"
    with pytest.raises(InputError, match="--track-grf 'plates': choose one of none, measured, "
                                         "estimated"):
        config_from_cli(method="track", track_grf="plates")
    with pytest.raises(InputError, match="--track-grf is for --method track"):
        config_from_cli(method="inverse", track_grf="estimated")


def test_measured_forces_without_plates_are_refused(prepared, tmp_path: Path) -> None:
    cfg = config_from_cli(method="track", track_grf="measured")
    job = SimpleNamespace(grf_file=None, grf_setup=None, out_dir=tmp_path / "track",
                          sequence=SimpleNamespace(id="S01_walk"))
    with pytest.raises(InputError, match="--track-grf measured needs force plates, and sequence "
                                         "S01_walk has none: pass the lab's forces with --grf"):
        _settings_for(job, cfg)
    job.grf_file = tmp_path / "grf.mot"
    assert _settings_for(job, cfg).grf_file == str(tmp_path / "grf.mot")
    # Called directly, the solver refuses too (before any work).
    folder, mot, _ = prepared
    with pytest.raises(InputError, match="--track-grf measured needs force plates"):
        solve_track_chunk(folder, mot, _chunk(), TrackSettings(track_grf="measured"),
                          tmp_path / "w")


def test_every_chunk_reports_its_forces_against_the_estimate_and_tracking_it_follows_it(
        prepared, tmp_path: Path) -> None:
    folder, mot, _ = prepared
    found = {}
    for mode in ("none", "estimated"):
        # the force-tracking term at its default weight (TrackSettings.grf_weight)
        settings = TrackSettings(mesh_per_s=25, track_grf=mode)
        report, out = solve_track_chunk(folder, mot, _chunk(), settings, tmp_path / mode / "c0")
        assert report.status == "converged", report.reason
        d = report.diagnostics
        assert d.grf_tracked == mode
        assert set(d.grf_vs_estimate) == {"right_rmse_bw_pct", "right_pcc", "left_rmse_bw_pct",
                                          "left_pcc"}
        assert d.cpu_s > 0 and d.round_iterations == [r["iterations"] for r in d.rounds]
        weights = [r["grf_weight"] for r in d.rounds]
        if mode == "none":
            assert weights == [None] * len(d.rounds)
        else:
            # the first round at grf_first_weight, every later one (the last included: the
            # chunk ends only at the full weight) at grf_weight
            assert len(weights) >= 2, weights
            assert weights == [settings.grf_first_weight] + [settings.grf_weight] * (
                len(weights) - 1)
        found[mode] = d.grf_vs_estimate
    # A squat loads both feet alike: the estimate splits the body weight in two, the spheres
    # need not. Tracked, each foot's force is nearer the estimate than untracked.
    for side in ("right", "left"):
        assert found["estimated"][f"{side}_rmse_bw_pct"] < found["none"][f"{side}_rmse_bw_pct"]
        assert found["estimated"][f"{side}_rmse_bw_pct"] < 5.0
    # benchmarks/track_grf_terms.py reads the tracked chunk's last round back: the NLP's own
    # foot forces near its target, every term of the objective; untracked it has no target.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from track_grf_terms import analyse

    terms = analyse(tmp_path / "estimated" / "c0")
    assert terms["right_vertical_rmse_bw_pct"] < 5.0 and terms["left_vertical_rmse_bw_pct"] < 5.0
    assert terms["sum_vertical_rmse_bw_pct"] < 5.0
    assert set(terms["objective_terms"]) == {"states", "speeds", "accelerations", "excitations",
                                             "grf"}
    assert terms["objective_terms"]["grf"] >= 0.0 and len(terms["furthest_coordinates"]) == 5
    with pytest.raises(InputError, match="solved without --track-grf"):
        analyse(tmp_path / "none" / "c0")
    with pytest.raises(InputError, match="holds no track_problem.npz"):
        analyse(tmp_path)


@pytest.mark.parametrize("field,value", [("grf_first_weight", 0.0),
                                         ("grf_first_weight", float("nan")),
                                         ("grf_weight", -1.0)])
def test_force_weights_that_are_not_positive_are_refused(prepared, tmp_path: Path, field: str,
                                                         value: float) -> None:
    folder, mot, _ = prepared
    settings = TrackSettings(track_grf="estimated", **{field: value})
    with pytest.raises(InputError, match=f"track's {field} must be a positive finite weight"):
        solve_track_chunk(folder, mot, _chunk(), settings, tmp_path / "w")


def test_the_rajagopal_benchmark_takes_track_settings_by_name() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from validate_rajagopal_track import parse_settings

    assert parse_settings(["grf_first_weight=none", "trust_rad=0.03"]) == {
        "grf_first_weight": None, "trust_rad": 0.03}
    for bad in ("first_weight=100", "grf_first_weight"):
        with pytest.raises(SystemExit, match="expected FIELD=VALUE with a TrackSettings field"):
            parse_settings([bad])


def test_a_treadmill_is_solved_in_the_belt_frame(prepared, tmp_path: Path) -> None:
    """In the lab's frame the planted feet slide backwards at the belt's speed, and the
    spheres' friction on a static floor would push them forwards for the whole stance."""
    folder, mot, belt = prepared
    report, out = solve_track_chunk(folder, belt, _chunk(), TrackSettings(mesh_per_s=25),
                                    tmp_path / "belt" / "c0")
    assert report.status == "converged", report.reason
    assert report.diagnostics.treadmill_m_s == pytest.approx([-1.0, 0.0, 0.0], abs=0.05)
    # Outputs are in the lab's frame: the pelvis goes back with the belt, the centres of
    # pressure travel with the feet.
    names = out.channels["joint_angles_solved"]
    tx = out.values["joint_angles_solved"][:, names.index("pelvis_tx")]
    assert np.polyfit(out.time_s, tx, 1)[0] == pytest.approx(-1.0, abs=0.05)
    g = out.channels["grf"]
    px = out.values["grf"][:, g.index("ground_force_right_px")]
    assert np.polyfit(out.time_s, px, 1)[0] == pytest.approx(-1.0, abs=0.1)
    # Friction does not hold the body: fore-aft forces stay small against the weight.
    fx = out.values["grf"][:, g.index("ground_force_right_vx")]
    fy = out.values["grf"][:, g.index("ground_force_right_vy")]
    assert np.abs(fx).max() < 0.1 * fy.max()


def test_measured_target_takes_the_estimate_where_the_plates_miss_a_foot() -> None:
    """A walk's first steps beside the plates: the plates read zero there, the estimate
    carries the body; elsewhere the plates are the target as they are."""
    from musclekit.pipelines.simulate.dynamics.methods.track.grf_target import (
        PLATES_MISS_MARGIN_S,
        plates_or_estimate,
    )
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    bw = 800.0
    t = np.linspace(0.0, 1.0, 101)
    ry, ly = GRF_CHANNELS.index("ground_force_right_vy"), GRF_CHANNELS.index("ground_force_left_vy")
    estimate = np.zeros((len(t), len(GRF_CHANNELS)))
    estimate[:, ry], estimate[:, ly] = 0.6 * bw, 0.5 * bw
    plates = estimate * 1.03  # complete plates: 3 % off the estimate
    target, missed = plates_or_estimate(plates, estimate, t, bw)
    assert not missed.any() and np.array_equal(target, plates)
    # the left foot beside the plates until 0.3 s: 0.5 BW missing
    off = t < 0.3
    plates[off, ly] = 0.0
    target, missed = plates_or_estimate(plates, estimate, t, bw)
    assert np.array_equal(missed, t < 0.3 + PLATES_MISS_MARGIN_S - 1e-9)
    assert np.array_equal(target[missed], estimate[missed])
    assert np.array_equal(target[~missed], plates[~missed])
    # more force on the plates than the estimate (a filter's overshoot) is not a missed foot
    plates[off, ly] = 0.9 * bw
    assert not plates_or_estimate(plates, estimate, t, bw)[1].any()
    with pytest.raises(InputError, match=r"needs plates and estimate of shape \(N, 18\)"):
        plates_or_estimate(plates[:, :6], estimate, t, bw)
    with pytest.raises(InputError, match="needs a positive body weight"):
        plates_or_estimate(plates, estimate, t, 0.0)


def test_the_rajagopal_benchmark_compares_sharp_forces_with_the_plates_as_recorded() -> None:
    """A force equal to the recorded plates is 0 % BW from them and from the low-passed plates
    once low-passed itself; against the low-passed plates alone its sharp stance edges count
    as error (running: 11 % BW where the recorded plates give 5)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from validate_rajagopal_track import PLATES_CUTOFF_HZ, lowpass, vertical_agreement

    t = np.arange(0.0, 1.7, 0.02)
    # running: two 0.24 s stances of half-sine force, 2000 N peak, flight between
    phase = np.minimum(np.abs(t - 0.6), np.abs(t - 1.2))
    recorded = np.where(phase < 0.12, 2000.0 * np.cos(np.pi * phase / 0.24), 0.0)
    plates = lowpass(t, recorded, PLATES_CUTOFF_HZ)
    frames = (t > 0.3) & (t < 1.4)
    out = vertical_agreement(t, recorded, plates, recorded, frames, 700.0)
    assert out["rmse_raw_bw_pct"] == 0.0
    assert out["rmse_both_lowpassed_bw_pct"] == 0.0
    assert out["rmse_bw_pct"] > 5.0
    with pytest.raises(InputError, match="vertical_agreement needs"):
        vertical_agreement(t, recorded[:-1], plates, recorded, frames, 700.0)


def test_the_terms_script_costs_the_sideways_force_as_the_nlp_does() -> None:
    # nlp/track.py tracks the mediolateral force at `grf_mediolateral` times the force weight
    # (b00bb85); chunks solved before it have no such setting and left the force free.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from track_grf_terms import _grf_term

    bw = 700.0
    target = np.zeros((3, 2, 3))
    feet = np.zeros((3, 2, 3))
    feet[:, 0, 2] = 0.1 * bw  # the right foot pushes 10 % BW sideways, nothing else is off
    with_side = _grf_term({"grf": 1e4, "grf_mediolateral": 0.5}, feet, target, bw)
    np.testing.assert_allclose(with_side, 1e4 * 0.5 * 0.01)
    np.testing.assert_allclose(_grf_term({"grf": 1e4}, feet, target, bw), 0.0)
    feet[:, 1, 1] = 0.2 * bw  # a vertical error counts at the full weight
    np.testing.assert_allclose(_grf_term({"grf": 1e4}, feet, target, bw), 1e4 * 0.04)
