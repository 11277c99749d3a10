"""The upper body by static optimisation: the trunk muscles of the test model's upper variant,
solved with ground forces known by construction, gaps, bad inputs, and the driver path."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import opensim  # noqa: E402,F401  (a required dependency: missing fails the suite)
import pytest

from musclekit.dataset import open_dataset  # noqa: E402
from musclekit.errors import ExitCode, InputError  # noqa: E402
from musclekit.pipelines.simulate.dynamics import config_from_cli, run_dynamics  # noqa: E402
from musclekit.pipelines.simulate.dynamics.kernel.filtering import lowpass  # noqa: E402
from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import estimate_grf  # noqa: E402
from musclekit.pipelines.simulate.dynamics.upper import (  # noqa: E402
    UpperSettings,
    solve_upper,
)
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS
from musclekit.pipelines.simulate.opensim.files import Motion, write_mot  # noqa: E402
from musclekit.pipelines.simulate.opensim.test_model import (  # noqa: E402
    TORSO_COM_M,
    TRUNK_MUSCLES,
    build_test_model,
    squat_motion,
)
from tests.helpers.simulate_dyn_fixtures import (  # noqa: E402
    FEET,
    failing_chunks,
    make_kinematics_dataset,
    small_dynamics_config,
)

LOWER_MUSCLES = [f"{m}_{s}" for s in "rl" for m in ("glmax", "iliacus", "vasint", "bflh", "soleus", "tibant")]
GRID = np.round(0.1 + 0.02 * np.arange(51), 10)  # 50 fps over a 1.2 s motion trimmed by 0.1 s
LEAN_RAD = 0.5
G = 9.80665


@pytest.fixture(scope="module")
def upper_model(tmp_path_factory) -> Path:
    return build_test_model(tmp_path_factory.mktemp("upper") / "upper.osim", upper=True)


def known_grf(model: Path, motion: Motion) -> np.ndarray:
    """The ground forces the upper model's own equations of motion demand (exact for a squat
    with the feet flat), on the 50 fps grid."""
    est = estimate_grf(str(model), lowpass(motion, 6.0), feet=FEET)
    return np.column_stack([np.interp(GRID, est.time_s, est.values[:, i])
                            for i in range(len(GRF_CHANNELS))])


def solve(model: Path, folder: Path, lean: float, missing: np.ndarray | None = None):
    motion = squat_motion(1.2, period_s=1.2, trunk_lean_rad=lean)
    mot = write_mot(folder / f"lean{lean}.mot", motion)
    grf = known_grf(model, motion)
    missing = np.zeros(len(GRID), dtype=bool) if missing is None else missing
    grf[missing] = np.nan  # what a gap of the lower-body solution gives
    return solve_upper(model, mot, GRID, grf, missing, LOWER_MUSCLES,
                       UpperSettings(feet=FEET), folder / f"work{lean}")


@pytest.fixture(scope="module")
def upright_and_leaning(upper_model, tmp_path_factory):
    """The same squat with the trunk upright and leaning forward 0.5 rad; the leaning run has
    a 6-frame gap, 8 frames with ground forces, a 3-frame gap, and a last stretch of 4 frames
    (too short to solve)."""
    folder = tmp_path_factory.mktemp("so")
    gaps = np.zeros(len(GRID), dtype=bool)
    gaps[30:36] = True
    gaps[44:47] = True
    return solve(upper_model, folder, 0.0), solve(upper_model, folder, LEAN_RAD, gaps), gaps


def test_outputs_are_the_upper_muscles_only_with_activations_in_0_1(upright_and_leaning) -> None:
    upright, leaning, _ = upright_and_leaning
    for r in (upright, leaning):
        assert r.muscles == TRUNK_MUSCLES  # the legs' muscles come from the lower-body solution
        assert r.activations.shape == r.forces.shape == (len(GRID), len(TRUNK_MUSCLES))
        a = r.activations[~r.missing]
        assert np.isfinite(a).all() and (a >= 0).all() and (a <= 1).all()
        assert r.missing_coordinates == []  # the motion has the lumbar column
        assert r.seconds > 0


def test_a_forward_lean_needs_the_back_extensors(upright_and_leaning) -> None:
    upright, leaning, _ = upright_and_leaning
    ers = [TRUNK_MUSCLES.index(m) for m in ("ercspn_r", "ercspn_l")]
    flex = [TRUNK_MUSCLES.index(m) for m in ("rectabd_r", "rectabd_l", "extobl_r", "extobl_l")]
    ok = ~leaning.missing
    # Upright, the torso's centre of mass is above the lumbar joint: no trunk moment needed.
    assert np.nanmax(upright.activations) < 0.02
    # Leaning, gravity flexes the trunk: the erector spinae hold it, the flexors stay off.
    assert leaning.activations[ok][:, ers].min() > 0.05
    assert leaning.activations[ok][:, flex].max() < 0.01
    # Their moment carries the torso's weight moment m g d sin(lean) (the squat's vertical
    # accelerations and the muscles' changing moment arms make it only roughly so).
    static = 6.0 * G * TORSO_COM_M * np.sin(LEAN_RAD)
    force = leaning.forces[ok][:, ers].sum(axis=1)
    assert 0.5 * static / 0.057 < np.median(force) < 2.5 * static / 0.057


def test_reserves_and_residuals_stay_small(upright_and_leaning) -> None:
    for r in upright_and_leaning[:2]:
        # Ground forces exact for this model: the pelvis residuals are round-off (< 1 % BW).
        assert r.max_residual_force_bw < 0.01
        reserves = {k: v for k, v in r.reserve_peaks.items() if k.startswith("reserve_")}
        assert set(reserves) >= {"reserve_lumbar_extension", "reserve_knee_angle_r"}
        assert max(reserves.values()) < 0.1  # N m, against a 2.8 N m trunk moment
        assert r.reserve_units["residual_pelvis_ty"] == "N"
        assert r.reserve_units["reserve_lumbar_extension"] == "N m"


def test_gaps_in_the_ground_forces_are_missing_rows(upright_and_leaning) -> None:
    _, leaning, gaps = upright_and_leaning
    short = np.zeros(len(GRID), dtype=bool)
    short[47:] = True  # 4 frames after the last gap: fewer than min_segment_frames
    assert np.array_equal(leaning.missing, gaps | short)
    assert np.isnan(leaning.activations[leaning.missing]).all()
    assert np.isnan(leaning.forces[leaning.missing]).all()
    assert np.isfinite(leaning.forces[~leaning.missing]).all()
    assert leaning.skipped_s == [(pytest.approx(GRID[47]), pytest.approx(GRID[50]))]
    assert len(leaning.segments_s) == 2 and leaning.segments_s[0][1] == pytest.approx(GRID[29])
    assert len(leaning.summary("m.osim")["skipped_s"]) == 1


def test_a_model_without_upper_muscles_is_refused(tmp_path: Path) -> None:
    lower = build_test_model(tmp_path / "lower.osim")
    mot = write_mot(tmp_path / "sq.mot", squat_motion(1.2, period_s=1.2))
    grf = np.zeros((len(GRID), len(GRF_CHANNELS)))
    with pytest.raises(InputError, match=r"has no muscles beyond the lower-body model's \(12 "):
        solve_upper(lower, mot, GRID, grf, np.zeros(len(GRID), bool), LOWER_MUSCLES,
                    UpperSettings(feet=FEET), tmp_path / "w")


def test_a_model_sharing_no_coordinate_with_the_motion_is_refused(upper_model, tmp_path: Path) -> None:
    m = squat_motion(1.2, period_s=1.2)
    other = write_mot(tmp_path / "other.mot", Motion(m.time_s, [f"q{i}" for i in range(len(m.names))], m.values))
    grf = np.zeros((len(GRID), len(GRF_CHANNELS)))
    with pytest.raises(InputError, match="none of its coordinates .* is in the kinematics .*"
                       "must use the lower-body model's coordinate names"):
        solve_upper(upper_model, other, GRID, grf, np.zeros(len(GRID), bool), LOWER_MUSCLES,
                    UpperSettings(feet=FEET), tmp_path / "w")


def test_a_missing_upper_model_file_is_refused(tmp_path: Path) -> None:
    mot = write_mot(tmp_path / "sq.mot", squat_motion(1.2, period_s=1.2))
    grf = np.zeros((len(GRID), len(GRF_CHANNELS)))
    with pytest.raises(InputError, match=r"upper-body model file not found: .*nope.osim"):
        solve_upper(tmp_path / "nope.osim", mot, GRID, grf, np.zeros(len(GRID), bool),
                    LOWER_MUSCLES, UpperSettings(feet=FEET), tmp_path / "w")
    with pytest.raises(InputError, match="pass an existing .osim to --upper-model"):
        config_from_cli(upper_model=str(tmp_path / "nope.osim"))


# -- the driver ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dataset(upper_model, tmp_path_factory):
    """A 1.2 s squat solved without the upper body (2 chunks, the second forced to fail),
    then the same command with --upper-model: the upper body is added, no chunk redone."""
    root = make_kinematics_dataset(tmp_path_factory.mktemp("dyn") / "ds", duration_s=1.2)
    with failing_chunks(["S01_squat/chunk0001"]):
        first = run_dynamics(root, small_dynamics_config())
        cfg = small_dynamics_config(upper_model=str(upper_model))
        second = run_dynamics(root, cfg)
    return root, cfg, first, second


def test_driver_adds_the_upper_streams_to_a_solved_dataset(dataset, upper_model) -> None:
    root, _, first, second = dataset
    assert first.chunks_done == 1 and first.upper_written == []
    assert second.chunks_done == 0 and second.sequences_skipped == ["S01_squat"]
    assert second.upper_written == ["S01_squat"] and not second.upper_failed
    assert second.exit_code() == ExitCode.OK  # (the chunk that failed before is not redone)
    ds = open_dataset(root)
    for name, family in (("activations_upper", "activations"), ("muscle_forces_upper", "muscle_forces")):
        spec = ds.info.streams[name]
        assert spec.family == family and spec.rate_hz == 50.0 and spec.clock == "motion"
        assert spec.channels == TRUNK_MUSCLES
    lower = ds.sequence_array("activations", "S01_squat")
    a = ds.sequence_array("activations_upper", "S01_squat")
    f = ds.sequence_array("muscle_forces_upper", "S01_squat")
    assert np.array_equal(a.time_s, lower.time_s)
    # The lower body's gap (the failed chunk) is a gap of the upper body too.
    assert np.array_equal(a.flags, lower.flags) and np.array_equal(f.flags, lower.flags)
    ok = a.flags == 0
    assert ok.sum() == 25 and np.isnan(a.values[~ok]).all()
    assert (a.values[ok] >= 0).all() and (a.values[ok] <= 1).all()
    assert np.isfinite(f.values[ok]).all()
    extra = ds.sequences["S01_squat"].extra["dynamics"]
    assert extra["gaps_s"] == [[pytest.approx(0.6), pytest.approx(1.2)]]  # the lower record kept
    up = extra["upper"]
    assert up["model"] == str(upper_model.resolve()) and up["muscles"] == len(TRUNK_MUSCLES)
    # The squat motion has no lumbar column: the trunk stays at its default (upright).
    assert up["missing_coordinates"] == ["lumbar_extension"]
    assert up["so_seconds"] > 0 and up["solved_frames"] == 25
    assert "reserve_lumbar_extension" in up["reserve_peaks"]
    # The lower model's ground forces suit the upper model (same mass and centre of mass).
    assert up["max_residual_force_bw"] < 0.05


def test_driver_rerun_skips_the_upper_body(dataset) -> None:
    root, cfg, _, _ = dataset
    before = open_dataset(root).sequence_array("activations_upper", "S01_squat").values
    t = time.perf_counter()
    report = run_dynamics(root, cfg)
    assert time.perf_counter() - t < 10
    assert report.upper_skipped == ["S01_squat"] and report.upper_written == []
    assert report.chunks_done == 0
    after = open_dataset(root).sequence_array("activations_upper", "S01_squat").values
    assert np.array_equal(before, after, equal_nan=True)


def test_driver_solves_lower_and_upper_body_in_one_run(dataset, tmp_path: Path) -> None:
    """From saved chunk results (as a killed run leaves them), one run writes both units."""
    root, cfg, _, _ = dataset
    other = make_kinematics_dataset(tmp_path / "ds", duration_s=1.2)
    src = root / "opensim" / "S01_squat" / "dynamics" / "inverse"
    shutil.copytree(src, other / "opensim" / "S01_squat" / "dynamics" / "inverse")
    # The first dataset's prepared model too, so nothing but the upper body is computed.
    report = run_dynamics(other, replace(cfg, cache_dir=str(root / "opensim" / "_dynamics_models")))
    assert report.chunks_done == 0 and report.sequences_written == ["S01_squat"]
    assert report.upper_written == ["S01_squat"]
    a = open_dataset(root).sequence_array("activations_upper", "S01_squat").values
    b = open_dataset(other).sequence_array("activations_upper", "S01_squat").values
    assert np.allclose(a, b, equal_nan=True, atol=1e-6)


def test_driver_refuses_a_bad_upper_model_before_solving(tmp_path: Path) -> None:
    root = make_kinematics_dataset(tmp_path / "ds", duration_s=1.2)
    lower = build_test_model(tmp_path / "lower.osim")
    t = time.perf_counter()
    with pytest.raises(InputError, match="has no muscles beyond the lower-body model"):
        run_dynamics(root, small_dynamics_config(upper_model=str(lower)))
    assert time.perf_counter() - t < 10
    assert not (root / "opensim" / "S01_squat" / "dynamics").exists()


def test_retry_failed_redoes_the_upper_body_of_a_lower_body_it_fills_in(
        dataset, tmp_path: Path) -> None:
    # The upper body was written with the lower body's gap; --retry-failed solves the failed
    # chunk, writes the lower body again and must not keep the old upper body's gap.
    root, cfg, _, _ = dataset
    copy = tmp_path / "ds"
    shutil.copytree(root, copy)
    report = run_dynamics(copy, replace(cfg, retry_failed=True))
    assert report.chunks_done == 1 and report.upper_written == ["S01_squat"]
    assert report.upper_skipped == [] and report.exit_code() == ExitCode.OK
    ds = open_dataset(copy)
    a = ds.sequence_array("activations_upper", "S01_squat")
    assert (a.flags == 0).all() and np.isfinite(a.values).all()
    assert np.array_equal(a.time_s, ds.sequence_array("activations", "S01_squat").time_s)
