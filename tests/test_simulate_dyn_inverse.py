"""The inverse method with the real Moco solver on the project's small model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opensim  # noqa: E402,F401  (a required dependency: missing fails the suite)
import pytest

from musclekit.errors import InputError  # noqa: E402
from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan, plan_chunks  # noqa: E402
from musclekit.pipelines.simulate.dynamics.kernel.prep import (  # noqa: E402
    PreparedModel,
    PrepSettings,
    check_model,
    prepare_model,
)
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import (  # noqa: E402
    InverseSettings,
)
from musclekit.pipelines.simulate.dynamics.methods.inverse.solve import (  # noqa: E402
    solve_chunk as solve_inverse_chunk,
)
from musclekit.pipelines.simulate.dynamics.methods.track.settings import (  # noqa: E402
    TrackSettings,
)
from musclekit.pipelines.simulate.opensim.files import write_mot  # noqa: E402
from musclekit.pipelines.simulate.opensim.test_model import (  # noqa: E402
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
                                      InverseSettings(mesh_per_s=25, max_iterations=300), tmp_path)
    assert report.status == "converged", report.reason
    assert report.iterations > 0 and report.solve_time_s > 0
    # The pelvis residual *forces* are ~0 by construction (the ground forces come from the
    # same equations of motion): what can fail is reported and checked instead.
    assert report.max_residual_moment_nm < 1.0  # feet's COPs carry the whole moment
    assert report.diagnostics.max_cop_clamped_moment_nm < 1.0
    assert report.max_reserve_nm < 5.0  # the muscles, not the reserves, move the joints
    assert report.saturated_muscles == []
    assert report.activation_out_of_range <= 1e-6
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
        check_model(model, PrepSettings(method="track", contact=True, feet=FEET))


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
    from musclekit.pipelines.simulate.dynamics.methods.track.solve import (
        solve_chunk as solve_track_chunk,
    )

    model = build_test_model(tmp_path / "twoleg.osim")
    mot = write_mot(tmp_path / "squat.mot", squat_motion(1.2, period_s=1.2))
    folder = prepare_model(model, tmp_path / "cache",
                           PrepSettings(method="track", contact=True, feet=FEET, polynomial_paths=False), mot)
    chunks = plan_chunks("sq", squat_motion(1.2, period_s=1.2).time_s,
                         ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1))
    report, out = solve_track_chunk(folder, mot, chunks[0],
                                    TrackSettings(mesh_per_s=25, max_iterations=2, solver="moco"),
                                    tmp_path / "w")
    assert report.method == "track" and report.iterations >= 1
    assert report.status == "failed" and "iteration" in report.reason.lower(), report.reason


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_track_chunk_is_never_silently_wrong(tmp_path: Path) -> None:
    """MocoTrack with foot contact (explicit dynamics) on the test model's squat converges
    (measured 2026-12-01: 175 IPOPT iterations, ~3 min) to a jump that does not track the
    squat (0.125 rad, 7.1 cm RMS): the tracking check must fail the chunk, never let the
    jump into a dataset (docs/dynamics.md)."""
    from musclekit.pipelines.simulate.dynamics.methods.track.solve import (
        solve_chunk as solve_track_chunk,
    )

    model = build_test_model(tmp_path / "twoleg.osim")
    mot = write_mot(tmp_path / "squat.mot", squat_motion(1.2, period_s=1.2))
    folder = prepare_model(model, tmp_path / "cache",
                           PrepSettings(method="track", contact=True, feet=FEET, polynomial_paths=False), mot)
    chunk = plan_chunks("sq", squat_motion(1.2, period_s=1.2).time_s,
                        ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1))[0]
    settings = TrackSettings(mesh_per_s=25, max_iterations=400, solver="moco")
    report, out = solve_track_chunk(folder, mot, chunk, settings, tmp_path / "w")
    # IPOPT converges, to a jump: the check refuses it as a squat's muscle activity.
    assert report.status == "failed" and out is None
    assert "does not track the motion" in report.reason, report.reason
    assert report.tracking_error_rad > settings.max_error_rad


def _plate_file(prepared, tmp_path: Path, rows: slice = slice(None)) -> Path:
    """The squat's exact ground forces (from the full motion) as a lab force file in
    OpenSim's gait layout (`ground_force_r_vx` ...), the rows `rows` of it."""
    from musclekit.pipelines.simulate.dynamics.kernel.filtering import lowpass
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import estimate_grf
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS
    from musclekit.pipelines.simulate.opensim.files import Motion

    folder, _ = prepared
    prep = PreparedModel.load(folder)
    est = estimate_grf(str(folder / prep.model_path),
                       lowpass(squat_motion(1.2, period_s=1.2), 6.0), feet=FEET)
    lab_names = [c.replace("_right_", "_r_").replace("_left_", "_l_") for c in GRF_CHANNELS]
    name = "grf.mot" if rows == slice(None) else "grf_part.mot"
    return write_mot(tmp_path / name, Motion(est.time_s[rows], lab_names,
                                             np.nan_to_num(est.values[rows])))


def _first_chunk():
    return plan_chunks("sq", squat_motion(1.2, period_s=1.2).time_s,
                       ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1))[0]


def test_measured_forces_are_applied_instead_of_estimated(prepared, tmp_path: Path) -> None:
    """A lab force file (here the squat's exact forces, written in OpenSim's gait layout)
    replaces the estimate: the chunk says so, its `grf` is the file's, and since these
    forces are the true ones the muscles come out as with the estimate."""
    folder, mot = prepared
    grf_file = _plate_file(prepared, tmp_path)
    chunk = _first_chunk()
    settings = InverseSettings(mesh_per_s=25, max_iterations=300)
    rep_e, out_e = solve_inverse_chunk(folder, mot, chunk, settings, tmp_path / "e")
    settings.grf_file = str(grf_file)
    rep_m, out_m = solve_inverse_chunk(folder, mot, chunk, settings, tmp_path / "m")
    assert rep_m.status == "converged", rep_m.reason
    assert rep_m.diagnostics.grf_source == "measured" and rep_e.diagnostics.grf_source == "estimated"
    vy = out_m.channels["grf"].index("ground_force_right_vy")
    assert np.allclose(out_m.values["grf"][:, vy], out_e.values["grf"][:, vy], rtol=0.05, atol=5.0)
    assert np.abs(out_m.values["activations"] - out_e.values["activations"]).max() < 0.05
    # Forces that do not cover the chunk are refused with the reason.
    settings.grf_file = str(_plate_file(prepared, tmp_path, slice(0, 20)))
    with pytest.raises(InputError, match=r"the measured forces \(0.000-0.190 s\) do not cover "
                                         r"this chunk \(0.000-0.850 s\)"):
        solve_inverse_chunk(folder, mot, chunk, settings, tmp_path / "s")


def test_joint_moments_match_opensims_inverse_dynamics_tool(prepared, tmp_path: Path) -> None:
    """With measured forces, OpenSim's InverseDynamicsTool on the chunk's own files (its
    filtered coordinates, its external loads) gives musclekit's joint moments."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.files import read_mot

    folder, mot = prepared
    prep = PreparedModel.load(folder)
    grf_file = _plate_file(prepared, tmp_path)
    chunk = _first_chunk()
    settings = InverseSettings(mesh_per_s=25, max_iterations=300, grf_file=str(grf_file))
    work = tmp_path / "w"
    report, out = solve_inverse_chunk(folder, mot, chunk, settings, work)
    assert report.status == "converged", report.reason
    names = out.channels["joint_moments"]
    assert names[:6] == list(prep.root_coordinates) and "knee_angle_r" in names
    assert out.units["joint_moments"][names.index("pelvis_ty")] == "N"
    assert out.units["joint_moments"][names.index("knee_angle_r")] == "N m"

    tool = osim.InverseDynamicsTool()
    tool.setModelFileName(str(folder / prep.model_path))
    tool.setCoordinatesFileName(str(work / "coordinates.mot"))
    tool.setLowpassCutoffFrequency(-1)  # the chunk's coordinates are filtered already
    tool.setExternalLoadsFileName(str(work / "grf.xml"))
    tool.setStartTime(chunk.solve_start_s)
    tool.setEndTime(chunk.solve_end_s)
    excluded = osim.ArrayStr()
    excluded.append("Muscles")
    excluded.append("Actuators")
    tool.setExcludedForces(excluded)
    tool.setResultsDir(str(tmp_path / "id"))
    tool.setOutputGenForceFileName("id.sto")
    tool.run()
    theirs = read_mot(tmp_path / "id" / "id.sto", rotational=set())
    t = out.time_s
    inner = (t > t[0] + 0.1) & (t < t[-1] - 0.1)  # spline vs difference end effects aside
    for c in ("hip_flexion_r", "knee_angle_r", "ankle_angle_r", "pelvis_ty"):
        col = next(n for n in theirs.names if n.startswith(c + "_"))
        ref = np.interp(t, theirs.time_s, theirs.column(col))
        ours = out.values["joint_moments"][:, names.index(c)]
        scale = np.abs(ref[inner]).max()
        assert np.abs(ours[inner] - ref[inner]).max() < 0.05 * scale + 0.5, c
