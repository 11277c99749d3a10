"""Checks that must never pass silently: a filter above Nyquist, unloaded feet's centres of
pressure, activations outside [0, 1], polynomial paths used outside their fitted range."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk, ChunkPlan, plan_chunks
from musclekit.pipelines.simulate.dynamics.kernel.filtering import lowpass
from musclekit.pipelines.simulate.dynamics.kernel.solution import unloaded_cop_to_nan
from musclekit.pipelines.simulate.dynamics.kernel.stitch import ChunkSeries, stitch
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS
from musclekit.pipelines.simulate.opensim.files import Motion


def _motion(rate_hz: float) -> Motion:
    t = np.arange(0, 1, 1 / rate_hz)
    return Motion(t, ["q"], np.sin(2 * np.pi * t)[:, None])


def test_lowpass_at_or_above_nyquist_is_an_error_not_a_silent_no_op() -> None:
    with pytest.raises(InputError, match=r"cut-off 60 Hz must lie between 0 and the motion's "
                                         r"Nyquist frequency \(50 Hz for 100 Hz samples\)"):
        lowpass(_motion(100.0), 60.0)
    with pytest.raises(InputError, match="choose a --filter-hz below 5"):
        lowpass(_motion(10.0), 5.0)
    with pytest.raises(InputError, match="cut-off 0 Hz"):
        lowpass(_motion(100.0), 0.0)
    assert lowpass(_motion(100.0), 6.0).values.shape == (100, 1)


def test_filter_above_the_kinematics_nyquist_is_refused_before_any_work(tmp_path: Path) -> None:
    import opensim  # noqa: F401

    from musclekit.pipelines.simulate.dynamics import run_dynamics
    from tests.helpers.simulate_dyn_fixtures import make_kinematics_dataset, small_dynamics_config

    root = make_kinematics_dataset(tmp_path / "ds", duration_s=1.2)
    cfg = small_dynamics_config()
    cfg.solve.filter_hz = 500.0
    with pytest.raises(InputError, match="--filter-hz 500 is not below the Nyquist frequency"):
        run_dynamics(root, cfg)
    assert not (root / "opensim" / "_dynamics_models").exists()


def test_negative_filter_is_refused_by_the_config() -> None:
    from musclekit.pipelines.simulate.dynamics import config_from_cli

    with pytest.raises(InputError, match="--filter-hz must be positive"):
        config_from_cli(filter_hz=-1.0)


def test_unloaded_foot_has_no_centre_of_pressure() -> None:
    grf = np.zeros((4, len(GRF_CHANNELS)))
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    grf[:, idx["ground_force_right_vy"]] = [300.0, 300.0, 0.0, 0.0]
    grf[:, idx["ground_force_right_px"]] = 0.1
    out = unloaded_cop_to_nan(grf)
    px = out[:, idx["ground_force_right_px"]]
    assert px[:2].tolist() == [0.1, 0.1] and np.isnan(px[2:]).all()
    assert np.isnan(out[:, idx["ground_force_left_pz"]]).all()  # left never loaded
    assert out[:, idx["ground_force_right_vy"]].tolist() == [300.0, 300.0, 0.0, 0.0]
    assert grf[2, idx["ground_force_right_px"]] == 0.1  # the input is not changed


def test_stitching_never_blends_a_missing_cop_into_a_real_one() -> None:
    """Across a seam where one chunk has the foot unloaded (NaN) and its neighbour a real
    COP, the stitched value is the real one, never a blend with (0, 0, 0)."""
    t = np.arange(0, 2.01, 0.01)
    plan = ChunkPlan(chunk_s=1.0, buffer_s=0.2, blend_s=0.1, trim_s=0.0, min_last_chunk_s=0.3)
    chunks = plan_chunks("s", t, plan)
    series = []
    for c in chunks:
        ts = t[(t >= c.solve_start_s - 1e-9) & (t <= c.solve_end_s + 1e-9)]
        v = np.full((len(ts), 1), 0.25)
        if c.index == 0:
            v[ts > 0.9] = np.nan  # chunk 0 sees the foot leave the floor near its end
        series.append(ChunkSeries(ts, v))
    st = stitch(chunks, series, 0.0, 2.0, 1, plan, rate_hz=100.0)
    seam = (st.time_s > 0.9) & (st.time_s < 1.1)
    assert np.allclose(st.values[seam, 0], 0.25)


def test_worker_fails_a_chunk_whose_activations_leave_their_bounds(tmp_path: Path) -> None:
    from musclekit.pipelines.simulate.dynamics import methods
    from musclekit.pipelines.simulate.dynamics.kernel.result import load_output
    from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings
    from musclekit.pipelines.simulate.dynamics.stage.payloads import ChunkTask
    from musclekit.pipelines.simulate.dynamics.stage.worker import solve_in_process

    m = methods.Method(name="fake-bounds", settings=SolveSettings,
                       solver_module="tests.helpers.dyn_fake_method", contact=False, summary="test only")
    methods.register(m)
    try:
        chunk = Chunk("S01", 0, 0.0, 1.0, 0.0, 1.2, True, False)
        task = ChunkTask(chunk=chunk, method="fake-bounds", settings=SolveSettings(),
                         prep_folder=str(tmp_path), motion_path="m.mot",
                         out_dir=str(tmp_path / "out"))
        report = solve_in_process(task)
    finally:
        methods._REGISTRY.pop("fake-bounds", None)
    assert report.status == "failed"
    assert "activations leave [0, 1] by 0.2" in report.reason
    assert load_output(tmp_path / "out", "chunk0000") is None  # nothing a reader would take


def test_paths_are_fitted_over_every_sequence_and_checked_against_others(tmp_path: Path) -> None:
    """The polynomial paths record the poses they cover; a sequence beyond them is named,
    and a preparation for two sequences covers both (the cache key holds both motions)."""
    import opensim  # noqa: F401

    from musclekit.pipelines.simulate.dynamics.kernel.prep import (
        PreparedModel,
        PrepSettings,
        cache_key,
        path_fit_violations,
        prepare_model,
    )
    from musclekit.pipelines.simulate.opensim.files import write_mot
    from musclekit.pipelines.simulate.opensim.test_model import build_test_model, squat_motion

    feet = {"right": ("calcn_r",), "left": ("calcn_l",)}
    model = build_test_model(tmp_path / "m.osim")
    shallow = squat_motion(1.2, period_s=1.2, knee_amplitude_rad=0.2)
    deep = squat_motion(1.2, period_s=1.2, knee_amplitude_rad=1.2)
    a, b = write_mot(tmp_path / "a.mot", shallow), write_mot(tmp_path / "b.mot", deep)
    settings = PrepSettings(feet=feet, path_fit_range_deg=5.0, path_fit_max_frames=8,
                            path_fit_samples_per_frame=5)
    only_a = PreparedModel.load(prepare_model(model, tmp_path / "c", settings, a))
    ranges = only_a.path_fit["ranges"]
    assert set(ranges) >= {"knee_angle_r", "hip_flexion_r"}
    bad = path_fit_violations(only_a, deep)
    assert bad and any(v.startswith("knee_angle_r spans") for v in bad)
    assert path_fit_violations(only_a, shallow) == []
    assert cache_key(model, settings, [a]) != cache_key(model, settings, [a, b])
    both = PreparedModel.load(prepare_model(model, tmp_path / "c", settings, [a, b]))
    assert path_fit_violations(both, deep) == [] and path_fit_violations(both, shallow) == []
