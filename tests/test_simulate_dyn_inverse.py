"""The inverse method with the real Moco solver on the project's small model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("opensim")

from musclekit.errors import InputError  # noqa: E402
from musclekit.pipelines.simulate.dynamics.chunks import ChunkPlan, plan_chunks  # noqa: E402
from musclekit.pipelines.simulate.dynamics.inverse import (  # noqa: E402
    SolveSettings,
    solve_inverse_chunk,
)
from musclekit.pipelines.simulate.dynamics.motion import write_mot  # noqa: E402
from musclekit.pipelines.simulate.dynamics.prep import (  # noqa: E402
    PreparedModel,
    PrepSettings,
    check_model,
    prepare_model,
)
from musclekit.pipelines.simulate.dynamics.testmodel import (  # noqa: E402
    build_test_model,
    squat_motion,
)

FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}
G = 9.80665


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("inv")
    model = build_test_model(d / "twoleg.osim")
    mot = write_mot(d / "squat.mot", squat_motion(1.2, period_s=1.2))
    folder = prepare_model(model, d / "cache", PrepSettings(feet=FEET), mot)
    return folder, mot


def test_preparation_is_cached_and_complete(prepared, tmp_path: Path) -> None:
    folder, mot = prepared
    prep = PreparedModel.load(folder)
    assert prep.polynomial_paths and (folder / prep.path_fit["file"]).is_file()
    assert prep.residuals == [f"residual_{c}" for c in prep.root_coordinates]
    assert set(prep.reserves.values()) == {f"{j}_{s}" for j in ("hip_flexion", "knee_angle", "ankle_angle") for s in "rl"}
    assert prep.contact_forces == []  # contact is replaced by estimated loads in `inverse`
    assert len(prep.muscles) == 12 and prep.mass_kg == pytest.approx(32.0)
    # Same model + settings: found again, not rebuilt.
    again = prepare_model(prep.source_model, folder.parent, PrepSettings(feet=FEET), mot)
    assert again == folder


def test_inverse_chunk_converges_with_small_residuals(prepared, tmp_path: Path) -> None:
    folder, mot = prepared
    chunks = plan_chunks("sq", squat_motion(1.2, period_s=1.2).time_s,
                         ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1))
    report, out = solve_inverse_chunk(folder, mot, chunks[0],
                                      SolveSettings(mesh_per_s=25, max_iterations=300), tmp_path)
    assert report.status == "converged", report.reason
    assert report.iterations > 0 and report.solve_time_s > 0
    # Ground forces are exact for this motion, so the pelvis residuals stay tiny
    # (goal < 5 % of body weight; measured ~0.1 %).
    assert report.max_residual_force_bw < 0.01
    a = out.values["activations"]
    assert a.shape[1] == 12 and (a >= 0).all() and (a <= 1).all()
    # Knee extensors work during the squat; vertical ground force carries the body weight.
    vas = out.channels["activations"].index("vasint_r")
    assert a[:, vas].max() > 0.02
    grf = out.values["grf"]
    fy = grf[:, out.channels["grf"].index("ground_force_right_vy")] + grf[:, out.channels["grf"].index("ground_force_left_vy")]
    assert np.median(fy) == pytest.approx(32 * G, rel=0.15)
    assert out.values["muscle_forces"][:, vas].max() > 10.0


def test_model_without_muscles_is_refused(tmp_path: Path) -> None:
    model = build_test_model(tmp_path / "bare.osim", with_muscles=False)
    with pytest.raises(InputError, match="has no muscles"):
        check_model(model, PrepSettings(feet=FEET))


def test_track_needs_contact_spheres(tmp_path: Path) -> None:
    model = build_test_model(tmp_path / "nocontact.osim", with_contact=False)
    with pytest.raises(InputError, match="no foot contact spheres"):
        check_model(model, PrepSettings(method="track", feet=FEET))


def test_model_without_feet_is_refused(tmp_path: Path) -> None:
    model = build_test_model(tmp_path / "m.osim")
    with pytest.raises(InputError, match="none of the left foot bodies"):
        check_model(model, PrepSettings(feet={"right": ("calcn_r",), "left": ("foot_l",)}))


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="model file not found"):
        check_model(tmp_path / "nope.osim", PrepSettings())


@pytest.mark.slow
def test_track_chunk_runs_and_reports_non_convergence(tmp_path: Path) -> None:
    """The track method with MocoTrack (`--solver moco`) builds and runs its problem; when it stops at
    the iteration limit the chunk is a failed report with a reason, never an exception."""
    from musclekit.pipelines.simulate.dynamics.track import solve_track_chunk

    model = build_test_model(tmp_path / "twoleg.osim")
    mot = write_mot(tmp_path / "squat.mot", squat_motion(1.2, period_s=1.2))
    folder = prepare_model(model, tmp_path / "cache",
                           PrepSettings(method="track", feet=FEET, polynomial_paths=False), mot)
    chunks = plan_chunks("sq", squat_motion(1.2, period_s=1.2).time_s,
                         ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1))
    report, out = solve_track_chunk(folder, mot, chunks[0],
                                    SolveSettings(mesh_per_s=25, max_iterations=2, solver="moco"),
                                    tmp_path / "w")
    assert report.method == "track" and report.iterations >= 1
    assert report.status == "failed" and "iteration" in report.reason.lower(), report.reason


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_track_chunk_is_never_silently_wrong(tmp_path: Path) -> None:
    """MocoTrack with foot contact (explicit dynamics) on the test model's squat either tracks
    the motion with the contact carrying the body weight, or is a failed chunk with the
    reason. (Measured 2026-12-01: IPOPT converges in 175 iterations, ~3 min, to a jump that
    does not track the squat, so the chunk is failed: see docs/dynamics.md.)"""
    from musclekit.pipelines.simulate.dynamics.track import solve_track_chunk

    model = build_test_model(tmp_path / "twoleg.osim")
    mot = write_mot(tmp_path / "squat.mot", squat_motion(1.2, period_s=1.2))
    folder = prepare_model(model, tmp_path / "cache",
                           PrepSettings(method="track", feet=FEET, polynomial_paths=False), mot)
    chunk = plan_chunks("sq", squat_motion(1.2, period_s=1.2).time_s,
                        ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1))[0]
    settings = SolveSettings(mesh_per_s=25, max_iterations=400, solver="moco")
    report, out = solve_track_chunk(folder, mot, chunk, settings, tmp_path / "w")
    if report.status != "converged":
        assert out is None
        assert ("does not track the motion" in report.reason
                or "did not converge" in report.reason), report.reason
        return
    assert report.tracking_error_rad <= settings.track_max_error_rad
    assert report.extra["tracking_error_m"] <= settings.track_max_error_m
    assert report.max_residual_force_bw < 0.05
    grf = out.values["grf"]
    names = out.channels["grf"]
    fy = grf[:, names.index("ground_force_right_vy")] + grf[:, names.index("ground_force_left_vy")]
    assert np.trapezoid(fy, out.time_s) / np.ptp(out.time_s) == pytest.approx(32 * G, rel=0.25)
