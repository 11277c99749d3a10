"""The track method's CasADi solver (sequential linearisation) on the project's small model."""

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
    prepare_model,
)
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import (  # noqa: E402
    InverseSettings,
)
from musclekit.pipelines.simulate.dynamics.methods.track.settings import (  # noqa: E402
    TrackSettings,
)
from musclekit.pipelines.simulate.dynamics.methods.track.solve import (  # noqa: E402
    solve_chunk as solve_track_chunk,
)
from musclekit.pipelines.simulate.opensim.evaluate import (  # noqa: E402
    dgf_model_processor,
)
from musclekit.pipelines.simulate.opensim.files import write_mot  # noqa: E402
from musclekit.pipelines.simulate.opensim.test_model import (  # noqa: E402
    build_test_model,
    squat_motion,
)

FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}
G = 9.80665
PLAN = ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("track")
    model = build_test_model(d / "twoleg.osim")
    mot = write_mot(d / "squat.mot", squat_motion(1.2, period_s=1.2))
    folder = prepare_model(model, d / "cache",
                           PrepSettings(method="track", contact=True, feet=FEET, polynomial_paths=False), mot)
    return folder, mot


def _chunk():
    return plan_chunks("sq", squat_motion(1.2, period_s=1.2).time_s, PLAN)[0]


def test_track_chunk_converges_tracks_and_carries_the_body(prepared, tmp_path: Path) -> None:
    folder, mot = prepared
    settings = TrackSettings(mesh_per_s=25)
    report, out = solve_track_chunk(folder, mot, _chunk(), settings, tmp_path / "w")
    assert report.status == "converged", report.reason
    assert report.diagnostics.solver == "casadi"
    # Checked against OpenSim's own equations of motion at the solution.
    assert report.diagnostics.max_dynamics_defect <= settings.max_defect_bw * 32 * G
    assert report.tracking_error_rad < 0.02 and report.diagnostics.tracking_error_m < 0.015
    # The contact spheres, not the residual actuators, hold the body up.
    assert report.max_residual_force_bw < 0.01
    names = out.channels["grf"]
    grf = out.values["grf"]
    fy = grf[:, names.index("ground_force_right_vy")] + grf[:, names.index("ground_force_left_vy")]
    mean_fy = np.trapezoid(fy, out.time_s) / np.ptp(out.time_s)
    assert mean_fy == pytest.approx(32 * G, rel=0.1)
    # Centres of pressure lie on the floor, between heel and toe spheres of each foot.
    px = grf[:, names.index("ground_force_right_px")]
    loaded = grf[:, names.index("ground_force_right_vy")] > 20
    assert loaded.any() and np.all(np.abs(grf[loaded, names.index("ground_force_right_py")]) < 1e-9)
    assert np.ptp(px[loaded]) < 0.25
    act = out.values["activations"]
    assert act.min() >= -1e-6 and act.max() <= 1 + 1e-6 and act.max() > 0.02
    assert np.all(np.isfinite(out.values["muscle_forces"]))


def test_track_chunk_that_does_not_settle_is_a_failed_chunk_with_its_reason(
        prepared, tmp_path: Path) -> None:
    folder, mot = prepared
    settings = TrackSettings(mesh_per_s=25, outer_iterations=1,
                             max_defect_bw=1e-9)
    report, out = solve_track_chunk(folder, mot, _chunk(), settings, tmp_path / "w")
    assert out is None and report.status == "failed"
    assert "did not settle: the equations of motion are missed by" in report.reason
    assert len(report.diagnostics.rounds) == 1


def test_track_solver_iteration_limit_is_a_failed_chunk(prepared, tmp_path: Path) -> None:
    folder, mot = prepared
    report, out = solve_track_chunk(folder, mot, _chunk(),
                                    TrackSettings(mesh_per_s=25, max_iterations=2),
                                    tmp_path / "w")
    assert out is None and report.status == "failed"
    assert report.reason.startswith("did not settle: its last round was stopped unsolved")
    assert report.reason.endswith("after 1 rounds and 2 IPOPT iterations (the chunk's limit, "
                                  "--max-iterations 2)")


def test_track_round_stopped_at_its_limit_is_continued_not_accepted(
        prepared, tmp_path: Path) -> None:
    """A round that reaches `track_round_iterations` (IPOPT cycling) does not fail the chunk:
    the next round linearises at its last iterate. A stopped round is not accepted while
    the trajectory still moves (round 2 here moved 9e-4 rad after round 1's 2e-2: not two
    settled rounds in a row); the chunk is accepted from the round IPOPT solved."""
    folder, mot = prepared
    settings = TrackSettings(mesh_per_s=25, round_iterations=4, outer_iterations=3)
    report, out = solve_track_chunk(folder, mot, _chunk(), settings, tmp_path / "w")
    rounds = report.diagnostics.rounds
    # Measured: rounds 1 and 2 stop at 4 iterations unsolved, round 3 solves; the chunk is
    # accepted from that solved round only.
    assert rounds[0]["iterations"] == 4 and rounds[0]["solved"] is False
    assert rounds[1]["solved"] is False
    assert report.status == "converged", report.reason
    assert rounds[-1]["solved"] is True and out is not None
    assert len(rounds) == 3


def test_track_rounds_settled_at_a_fixed_point_are_converged(prepared, tmp_path: Path) -> None:
    """Two accepted rounds in a row that move the trajectory by at most `settle_step` and
    meet OpenSim's equations of motion are a converged chunk even when IPOPT stopped the
    last one at its cap (the Rajagopal walk's rounds cycled in IPOPT at a fixed point).
    Here `settle_step` 1.0 makes round 1's 2e-2 rad step count: round 2, stopped after 4
    iterations with the equations met, ends the chunk."""
    folder, mot = prepared
    settings = TrackSettings(mesh_per_s=25, round_iterations=4, outer_iterations=3,
                             settle_step=1.0)
    report, out = solve_track_chunk(folder, mot, _chunk(), settings, tmp_path / "w")
    rounds = report.diagnostics.rounds
    assert report.status == "converged", report.reason
    assert out is not None and len(rounds) == 2
    assert rounds[0]["settled"] is False  # round 1 misses the equations (4.67 N > 3.14 N)
    assert rounds[1]["solved"] is False and rounds[1]["settled"] is True


def test_linearised_skeleton_predicts_inverse_dynamics(prepared) -> None:
    """The local model the NLP uses agrees with OpenSim near the linearisation point
    (first-order accurate: the error shrinks with the square of the step)."""
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel

    folder, _ = prepared
    prep = PreparedModel.load(folder)
    tm = TrackModel(dgf_model_processor(str(folder / prep.model_path)), prep.root_coordinates)
    rng = np.random.default_rng(0)
    n = len(tm.coordinates)
    q = np.zeros(n)
    q[tm.coordinates.index("pelvis_ty")] = 0.9
    for name, value in (("hip_flexion_r", 0.4), ("knee_angle_r", 0.8), ("ankle_angle_r", 0.2)):
        q[tm.coordinates.index(name)] = value
    v, a = rng.normal(0, 0.5, n), rng.normal(0, 2.0, n)
    lin = tm.linearise(q, v, a)
    errors = []
    for scale in (1e-2, 1e-3):
        dq, dv, da = (rng.normal(0, scale, n) for _ in range(3))
        exact = tm.generalized_forces(q + dq, v + dv, a + da)
        approx = lin["g0"] + lin["dg_dq"] @ dq + lin["dg_dv"] @ dv + lin["dg_da"] @ da
        errors.append(np.abs(exact - approx).max())
        centres = tm.sphere_centres(q + dq)
        predicted = lin["centre"] + np.einsum("sij,j->si", lin["jac_centre"], dq)
        assert np.abs(centres - predicted).max() < 10 * scale**2 + 1e-7
    assert errors[1] < errors[0] / 20


def _applied_forces_local(tm, lin, crossing, q, v, dq, dv, act, slopes: bool) -> np.ndarray:
    """The muscles' and the contact spheres' generalized force at (q + dq, v + dv) as a
    round's NLP states it around (q, v): muscles with the moment arms and tendon forces of
    (q, v), each sphere's exact contact law at its linearised centre and velocity mapped
    through the Jacobians of q, plus (with `slopes`) `applied_dq` dq + `applied_dv` dv."""
    from musclekit.pipelines.simulate.dynamics.kernel.contact_law import sphere_force
    from musclekit.pipelines.simulate.opensim.evaluate import muscle_terms

    f0, f1, arms = muscle_terms(tm.model, tm.state, tm.muscles, tm.coordinates, crossing, 0.0,
                                dict(zip(tm.coordinates, q, strict=True)),
                                dict(zip(tm.coordinates, v, strict=True)))
    out = arms.T @ (f0 + act * f1)
    for s, sphere in enumerate(tm.spheres):
        J, Jw = lin["jac_centre"][s], lin["jac_angular"][s]
        c = lin["centre"][s] + J @ dq
        f, point = sphere_force(np, sphere, c, J @ (v + dv) + lin["velocity_dq"][s] @ dq,
                                Jw @ (v + dv))
        f = np.asarray(f)
        out += J.T @ f + Jw.T @ np.cross(np.asarray(point) - c, f)
    if slopes:
        out += lin["applied_dq"] @ dq + lin["applied_dv"] @ dv
    return out


def test_local_model_of_applied_forces_is_second_order_accurate(prepared) -> None:
    """The muscles' and the contact forces' generalized force as a round's NLP states it
    agrees with OpenSim's to second order in the step only with `applied_dq` / `applied_dv`
    (moment arms, force-length-velocity, the contact Jacobians' change). Without them the
    error is first order: on the first running chunk it left 15 N m at a 6 mrad step under a
    heel strike and the rounds did not converge (docs/validation.md, "Track on real gait")."""
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel
    from musclekit.pipelines.simulate.opensim.evaluate import crossing_sets

    folder, _ = prepared
    prep = PreparedModel.load(folder)
    tm = TrackModel(dgf_model_processor(str(folder / prep.model_path)), prep.root_coordinates)
    rng = np.random.default_rng(2)
    n, M = len(tm.coordinates), len(tm.muscles)
    q = np.zeros(n)
    for name, value in (("hip_flexion_r", 0.3), ("knee_angle_r", 0.5), ("ankle_angle_r", 0.1),
                        ("hip_flexion_l", 0.3), ("knee_angle_l", 0.5), ("ankle_angle_l", 0.1)):
        q[tm.coordinates.index(name)] = value
    # feet 8 mm into the floor: every sphere loaded
    y = tm.coordinates.index("pelvis_ty")
    q[y] -= (tm.sphere_centres(q)[:, 1] - tm.sphere_bottom_offsets).min() + 0.008
    v, a = rng.normal(0, 0.5, n), np.zeros(n)
    act = rng.uniform(0.2, 0.8, M)
    lin = tm.linearise(q, v, a, activation=act)
    assert np.abs(lin["applied_dq"]).max() > 1.0 and np.abs(lin["applied_dv"]).max() > 0.1
    crossing = crossing_sets(tm.model, tm.state, tm.muscles, tm.coordinates,
                             [dict(zip(tm.coordinates, q, strict=True))])
    direction_q, direction_v = rng.normal(0, 1, n), rng.normal(0, 1, n)
    errors = {True: [], False: []}
    for step in (1e-2, 1e-3):
        dq, dv = step * direction_q, 10 * step * direction_v
        # OpenSim: G - defect = every applied force (no actuator control)
        exact = (tm.generalized_forces(q + dq, v + dv, a)
                 - tm.opensim_defect(np.zeros(1), (q + dq)[None], (v + dv)[None], a[None],
                                     act[None], np.zeros((1, len(tm.actuators))))[0])
        for slopes in (True, False):
            local = _applied_forces_local(tm, lin, crossing, q, v, dq, dv, act, slopes)
            errors[slopes].append(np.abs(exact - local).max())
    # second order with the slopes, first order without
    assert errors[True][1] < errors[True][0] / 30, errors
    assert errors[False][1] > errors[False][0] / 15, errors
    assert errors[True][1] < errors[False][1] / 10, errors


def test_exact_mass_matrix_and_contact_jacobians_match_finite_differences(prepared) -> None:
    """Simbody's mass matrix and frame Jacobians (the default) against the finite-difference
    terms they replaced, at a bent pose with speeds and accelerations."""
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel

    folder, _ = prepared
    prep = PreparedModel.load(folder)
    tm = TrackModel(dgf_model_processor(str(folder / prep.model_path)), prep.root_coordinates)
    rng = np.random.default_rng(1)
    n = len(tm.coordinates)
    q = rng.normal(0, 0.3, n)
    q[tm.coordinates.index("pelvis_ty")] = 0.9
    v, a = rng.normal(0, 1.0, n), rng.normal(0, 3.0, n)
    exact, fd = tm.linearise(q, v, a), tm.linearise(q, v, a, exact=False)
    assert np.abs(exact["dg_da"] - fd["dg_da"]).max() < 1e-9 * np.abs(fd["dg_da"]).max()
    for key in ("jac_centre", "jac_angular"):
        assert np.abs(exact[key]).max() > 0.1
        assert np.abs(exact[key] - fd[key]).max() < 1e-5, key
    for key in ("g0", "dg_dq", "dg_dv", "centre"):
        np.testing.assert_array_equal(exact[key], fd[key])
    # How the pose moves the spheres' velocities, d(J(q) v)/dq, against J's own change
    # between two poses (central differences of the Jacobian, times v).
    dvel = exact["velocity_dq"]
    assert np.abs(dvel).max() > 0.1
    h = 1e-5
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        jp, jm = tm.linearise(q + e, v, a)["jac_centre"], tm.linearise(q - e, v, a)["jac_centre"]
        np.testing.assert_allclose(dvel[:, :, j], (jp - jm) @ v / (2 * h), atol=1e-4)


def test_track_needs_contact_spheres(tmp_path: Path) -> None:
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel

    model = build_test_model(tmp_path / "nocontact.osim", with_contact=False)
    with pytest.raises(InputError, match="the track method needs foot contact"):
        TrackModel(dgf_model_processor(str(model)), [
            "pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_ty", "pelvis_tz"])


def test_solution_satisfies_opensims_own_equations_of_motion(prepared, tmp_path: Path) -> None:
    """Independent of the NLP's formulation: OpenSim computes every force of the solved chunk
    (muscles at the solved activations, its SmoothSphereHalfSpaceForces, the actuators at the
    solved controls) and its inverse dynamics must leave (almost) nothing unexplained."""
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel
    from musclekit.pipelines.simulate.dynamics.nlp.track import TrackProblem, solve_in_subprocess

    folder, mot = prepared
    report, out = solve_track_chunk(folder, mot, _chunk(), TrackSettings(mesh_per_s=25),
                                    tmp_path / "w")
    assert report.status == "converged", report.reason
    problem, _ = TrackProblem.load(tmp_path / "w" / "track_problem.npz")
    sol = solve_in_subprocess(problem, {}, tmp_path / "again")
    prep = PreparedModel.load(folder)
    tm = TrackModel(dgf_model_processor(str(folder / prep.model_path)), prep.root_coordinates)
    defect = tm.opensim_defect(problem.time_s, sol.q, sol.v, sol.a, sol.activation, sol.control)
    gravity = 32 * G
    # The last round's step is below the linearisation's reach: OpenSim agrees to ~1 % of
    # body weight (N) or N m everywhere.
    assert np.abs(defect).max() < 0.01 * gravity
    # A wrong solution is caught: without the muscles' activations the defect is large.
    wrong = tm.opensim_defect(problem.time_s, sol.q, sol.v, sol.a, 0 * sol.activation,
                              sol.control)
    assert np.abs(wrong).max() > 10 * np.abs(defect).max() + 1.0


def test_track_method_end_to_end_through_the_dataset(tmp_path: Path) -> None:
    """`musclekit simulate --method track` path: both chunks solved, seams blended, ground
    forces from the contact spheres written as MinT's channels, the chunk table filled."""
    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.dynamics import PrepSettings, run_dynamics
    from tests.helpers.simulate_dyn_fixtures import make_kinematics_dataset, small_dynamics_config

    root = make_kinematics_dataset(tmp_path / "ds", duration_s=1.2)
    cfg = small_dynamics_config(method="track",
                                prep=PrepSettings(feet=FEET, polynomial_paths=False))
    report = run_dynamics(root, cfg)
    assert report.chunks_done == 2 and not report.chunks_failed, report.chunks_failed
    # The summary says per chunk how far the contact forces are from inverse's estimate.
    lines = report.contact_lines()
    assert len(lines) == 2 and "contact force vs inverse's estimate, vertical RMSE right" in lines[0]
    ds = open_dataset(root)
    table = ds.read_table("chunks").sort("chunk")
    assert table["method"].to_list() == ["track", "track"]
    assert table["status"].to_list() == ["converged", "converged"]
    assert (table["tracking_error_rad"] < 0.05).all()
    grf = ds.sequence_array("grf", "S01_squat")
    vy = grf.values[:, grf.channels.index("ground_force_right_vy")] + grf.values[
        :, grf.channels.index("ground_force_left_vy")]
    assert np.isfinite(vy).all() and vy.mean() == pytest.approx(32 * G, rel=0.15)
    act = ds.sequence_array("activations", "S01_squat")
    assert np.isfinite(act.values).all() and (act.flags == 0).all()


def test_mocoinverse_on_the_track_solution_finds_the_same_activations(tmp_path: Path) -> None:
    """Validation against Moco on the same chunk: MocoInverse, given the track solution's
    joint angles and its contact forces as external loads, solves for the muscles alone; it
    must find (nearly) the activations the track solver found. Measured 2026-12-01: max
    difference 0.052, mean 0.019, for activations up to 0.19 (the two differ in how they
    differentiate the motion: trapezoidal collocation vs Moco's splines)."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import GrfEstimate
    from musclekit.pipelines.simulate.dynamics.methods.inverse.moco import solve_moco
    from musclekit.pipelines.simulate.opensim.external_loads import write_external_loads
    from musclekit.pipelines.simulate.opensim.files import Motion

    model = build_test_model(tmp_path / "twoleg.osim")
    mot = write_mot(tmp_path / "squat.mot", squat_motion(1.2, period_s=1.2))
    track_folder = prepare_model(model, tmp_path / "cache", PrepSettings(
        method="track", contact=True, feet=FEET, polynomial_paths=False), mot)
    inverse_folder = prepare_model(model, tmp_path / "cache", PrepSettings(
        method="inverse", feet=FEET, polynomial_paths=False), mot)
    chunk = _chunk()
    report, out = solve_track_chunk(track_folder, mot, chunk, TrackSettings(mesh_per_s=50),
                                    tmp_path / "track")
    assert report.status == "converged", report.reason

    t = out.time_s
    work = tmp_path / "moco"
    work.mkdir()
    write_mot(work / "coordinates.mot", Motion(t, out.channels["joint_angles_solved"],
                                               out.values["joint_angles_solved"]))
    n = len(t)
    loads = GrfEstimate(t, out.values["grf"], np.zeros((n, 3)), np.zeros((n, 3)),
                        np.ones((n, 2), dtype=bool))
    prep = PreparedModel.load(inverse_folder)
    write_external_loads(loads.time_s, loads.values, work / "grf.mot", work / "grf.xml", prep.apply_body)
    moco = solve_moco(str(inverse_folder / prep.model_path), work, chunk,
                      InverseSettings(mesh_per_s=50), prep)
    assert moco.converged
    a_moco = np.column_stack([np.interp(t, moco.time_s, moco.activations[:, j])
                              for j in range(moco.activations.shape[1])])
    inner = (t > t[0] + 0.1) & (t < t[-1] - 0.1)  # spline end effects aside
    diff = np.abs(out.values["activations"] - a_moco)[inner]
    assert diff.max() < 0.08 and diff.mean() < 0.03


def test_track_nlp_options_cap_the_round_and_set_mumps() -> None:
    """Each round's IPOPT gets the round's cap and tolerance, and MUMPS's working space,
    refinement and METIS ordering (nlp/track.py MUMPS_OPTIONS: 41.0 -> 34.6 CPU s on the
    Rajagopal walk's first round, same iterates); the chunk tests above solve with them."""
    from musclekit.pipelines.simulate.dynamics.nlp.track import (
        DEFAULT_TRACK_WEIGHTS,
        ipopt_options,
    )

    opts = ipopt_options({**DEFAULT_TRACK_WEIGHTS, "tolerance": 1e-3, "max_iterations": 40})
    assert opts["ipopt.max_iter"] == 40 and opts["ipopt.tol"] == 1e-3
    assert opts["ipopt.acceptable_tol"] == pytest.approx(0.1)
    assert opts["ipopt.linear_solver"] == "mumps"
    assert opts["ipopt.mumps_pivot_order"] == 5 and opts["ipopt.mumps_mem_percent"] == 100
    assert opts["ipopt.min_refinement_steps"] == 0


def _track_model_and_random_motion(prepared, seed: int, frames: int):
    """The prepared test model as track's TrackModel, and seeded random poses (pelvis at
    standing height), speeds and accelerations, (frames, coordinates) each."""
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel

    folder, _ = prepared
    prep = PreparedModel.load(folder)
    tm = TrackModel(dgf_model_processor(str(folder / prep.model_path)), prep.root_coordinates)
    rng = np.random.default_rng(seed)
    n = len(tm.coordinates)
    q = rng.normal(0, 0.3, (frames, n))
    q[:, tm.coordinates.index("pelvis_ty")] = 0.9
    return tm, q, rng.normal(0, 1.0, (frames, n)), rng.normal(0, 3.0, (frames, n))


def test_terms_at_the_solution_without_derivatives_match_the_full_linearisation(
        prepared) -> None:
    """After the last round solve.py builds only the terms at the solution (muscle forces,
    sphere centres and Jacobians for the outputs): they equal the full linearisation's, and
    the slopes it skips are zero, not stale."""

    tm, q, v, a = _track_model_and_random_motion(prepared, seed=2, frames=3)
    act = np.full((3, len(tm.muscle_names)), 0.2)
    t = np.array([0.0, 0.02, 0.04])
    full = tm.build(t, q, q, v, a, {}, act)
    light = tm.build(t, q, q, v, a, {}, act, derivatives=False)
    assert np.abs(full.dg_dq).max() > 1.0 and np.abs(full.applied_dq).max() > 0.0
    for key in ("g0", "dg_da", "sphere_centre", "sphere_jacobian", "body_angular_jacobian",
                "force_passive", "force_active", "moment_arm"):
        np.testing.assert_array_equal(getattr(light, key), getattr(full, key), err_msg=key)
    for key in ("dg_dq", "dg_dv", "applied_dq", "applied_dv", "sphere_velocity_dq"):
        assert not np.any(getattr(light, key)), key


def test_muscle_terms_posed_by_couplers_match_opensims_assembled_pose(prepared) -> None:
    """build() poses the model for the muscle forces and moment arms as its other terms
    (independent coordinates set, dependents by their couplers), not by OpenSim's
    assembler: both poses give the same terms."""
    from musclekit.pipelines.simulate.opensim.evaluate import crossing_sets, muscle_terms

    tm, q, v, _ = _track_model_and_random_motion(prepared, seed=3, frames=2)
    a = np.zeros_like(q)
    t = np.array([0.0, 0.02])
    built = tm.build(t, q, q, v, a, {}, derivatives=False)
    poses = [dict(zip(tm.coordinates, q[k], strict=True)) for k in range(2)]
    crossing = crossing_sets(tm.model, tm.state, tm.muscles, tm.coordinates, poses)
    for k in range(2):
        f0, f1, arms = muscle_terms(tm.model, tm.state, tm.muscles, tm.coordinates, crossing,
                                    float(t[k]), dict(zip(tm.coordinates, q[k], strict=True)),
                                    dict(zip(tm.coordinates, v[k], strict=True)))
        assert np.abs(f1).max() > 1.0 and np.abs(arms).max() > 1e-3
        np.testing.assert_allclose(built.force_passive[k], f0, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(built.force_active[k], f1, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(built.moment_arm[k], arms, rtol=1e-6, atol=1e-9)


def test_slopes_by_moving_one_coordinate_equal_posing_every_coordinate(prepared) -> None:
    """linearise() moves one coordinate at a time from the posed state (`_move`,
    `_move_speed`) instead of posing every coordinate for each finite difference: the
    slopes are the same numbers, bit for bit."""
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import FD_STEP

    tm, q, v, a = _track_model_and_random_motion(prepared, seed=4, frames=1)
    q, v, a = q[0], v[0], a[0]
    act = np.full(len(tm.muscle_names), 0.3)
    lin = tm.linearise(q, v, a, activation=act)
    g0 = tm._gen(q, v, a, tm._set(q, v))
    i0 = {}
    for g, (_, state, _, _, muscles) in enumerate(tm._muscle_copies()):
        for m in muscles:
            m.setActivation(state, 0.3)
        i0[g] = tm._gen(q, v, a, tm._set(q, v, ("muscles", g)), ("muscles", g))
    n = len(q)
    for j in range(n):
        e = np.zeros(n)
        e[j] = FD_STEP
        dq = (tm._gen(q + e, v, a, tm._set(q + e, v)) - g0) / FD_STEP
        dv = (tm._gen(q, v + e, a, tm._set(q, v + e)) - g0) / FD_STEP
        np.testing.assert_array_equal(lin["dg_dq"][:, j], dq)
        np.testing.assert_array_equal(lin["dg_dv"][:, j], dv)
        if j not in tm._muscle_group:
            continue
        key = ("muscles", tm._muscle_group[j])
        mus_dv = dv - (tm._gen(q, v + e, a, tm._set(q, v + e, key), key) - i0[key[1]]) / FD_STEP
        if np.any(lin["applied_dv"][:, j]):
            np.testing.assert_array_equal(lin["applied_dv"][:, j], mus_dv)
    assert np.abs(lin["applied_dv"]).max() > 0.0


def _one_muscle_copy(tm):
    """A TrackModel like `tm` whose muscles' slopes come from one copy with every muscle (as
    before the groups)."""
    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel

    whole = TrackModel.__new__(TrackModel)
    whole.__dict__.update(tm.__dict__)
    one = tm.model.clone()
    forces = one.updForceSet()
    for i in range(forces.getSize()):
        if osim.Muscle.safeDownCast(forces.get(i)) is None:
            forces.get(i).set_appliesForce(False)
    every = list(range(len(tm.muscles)))
    whole._mus = [(one, one.initSystem(), osim.InverseDynamicsSolver(one), every,
                   [one.getMuscles().get(i) for i in every])]
    cset = one.getCoordinateSet()
    whole._handles = {**tm._handles, ("muscles", 0): (
        [cset.get(n) for n in tm.coordinates], {d: cset.get(d) for d in tm.couplers})}
    whole._muscle_group = dict.fromkeys(range(len(tm.coordinates)), 0)
    return whole


@pytest.fixture(scope="module")
def prepared_polynomial(tmp_path_factory) -> tuple[Path, Path]:
    """The test model prepared with polynomial muscle paths (FunctionBasedPath)."""
    d = tmp_path_factory.mktemp("track_poly")
    model = build_test_model(d / "twoleg.osim")
    mot = write_mot(d / "squat.mot", squat_motion(1.2, period_s=1.2))
    folder = prepare_model(model, d / "cache", PrepSettings(method="track", contact=True,
                                                            feet=FEET), mot)
    return folder, mot


def test_muscle_groups_and_skipped_sphere_columns_give_the_same_slopes(
        prepared, prepared_polynomial, monkeypatch) -> None:
    """The muscles-only copies are per group of muscles that share no coordinate (the two
    legs, from the polynomial paths' variables): every muscle crossing a coordinate is in
    that coordinate's group, and the slopes equal those of one copy with every muscle. The
    spheres' slopes skipped for coordinates that do not move a sphere equal evaluating
    them, bit for bit."""
    from musclekit.pipelines.simulate.dynamics.methods.track import setup
    from musclekit.pipelines.simulate.opensim.evaluate import crossing_sets

    # paths not polynomial: which coordinates a muscle crosses is not read, one group
    assert len(_track_model_and_random_motion(prepared, seed=5, frames=1)[0]._muscle_groups) == 1
    tm, q, v, a = _track_model_and_random_motion(prepared_polynomial, seed=5, frames=1)
    q, v, a = q[0], 0.3 * v[0], a[0]
    # feet into the floor, so that spheres carry load (their wrenches' slopes)
    y = tm.coordinates.index("pelvis_ty")
    q[y] -= (tm.sphere_centres(q)[:, 1] - tm.sphere_bottom_offsets).min() + 0.005
    assert tm._mus is None  # made when first needed
    members = [set(m) for _, _, _, m, _ in tm._muscle_copies()]
    assert len(members) >= 2  # at least the two legs
    assert sum(len(m) for m in members) == len(set().union(*members))  # disjoint
    crossing = crossing_sets(tm.model, tm.state, tm.muscles, tm.coordinates,
                             [dict(zip(tm.coordinates, q, strict=True))])
    for i, row in enumerate(crossing):
        for j in row:
            assert i in tm._muscle_groups[tm._muscle_group[int(j)]]
    assert setup.muscle_groups(tm.model, tm.coordinates, tm.couplers)[1] == tm._muscle_group
    act = np.linspace(0.05, 0.9, len(tm.muscles))
    muscled = sorted({int(j) for row in crossing for j in row})
    grouped = tm.linearise(q, v, a, activation=act, muscled=muscled)
    with monkeypatch.context() as m:
        m.setattr(setup.TrackModel, "_sphere_movers", staticmethod(
            lambda jac_c, jac_w: np.ones(jac_c.shape[::2], dtype=bool)))
        every_column = tm.linearise(q, v, a, activation=act, muscled=muscled)
    moves = setup.TrackModel._sphere_movers(grouped["jac_centre"], grouped["jac_angular"])
    assert moves.any() and not moves.all()
    # loaded spheres: the contact wrenches' slopes (without activations, applied_dq's only
    # term) are there, and equal with and without the skipped columns
    contact = tm.linearise(q, v, a, muscled=muscled)["applied_dq"]
    assert np.abs(contact).max() > 1.0
    with monkeypatch.context() as m:
        m.setattr(setup.TrackModel, "_sphere_movers", staticmethod(
            lambda jac_c, jac_w: np.ones(jac_c.shape[::2], dtype=bool)))
        np.testing.assert_array_equal(tm.linearise(q, v, a, muscled=muscled)["applied_dq"],
                                      contact)
    assert np.abs(grouped["velocity_dq"]).max() > 0.0
    assert np.abs(grouped["applied_dq"] - every_column["applied_dq"]).max() == 0.0
    for key, value in grouped.items():
        np.testing.assert_array_equal(value, every_column[key], err_msg=key)
    # the groups' slopes against one copy with every muscle: the same to the finite
    # differences' rounding (the residual's other terms summed in another order)
    alone = _one_muscle_copy(tm).linearise(q, v, a, activation=act, muscled=muscled)
    assert np.abs(grouped["applied_dv"]).max() > 1.0
    for key, value in grouped.items():
        np.testing.assert_allclose(value, alone[key], rtol=0, atol=1e-7, err_msg=key)


def test_track_model_opened_once_per_model_contents(prepared, tmp_path: Path,
                                                     monkeypatch) -> None:
    """open_track_model: the same TrackModel for the same file contents (a chunk's copy of
    the model at another path included), another for other root coordinates or another
    activation smoothing in the conversion; a missing
    file is an InputError that names it."""
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import (
        TrackModel,
        open_track_model,
    )

    folder, _ = prepared
    prep = PreparedModel.load(folder)
    model = folder / prep.model_path
    first = open_track_model(str(model), prep.root_coordinates)
    assert isinstance(first, TrackModel)
    copy = tmp_path / "copy.osim"
    copy.write_bytes(model.read_bytes())
    assert open_track_model(str(copy), prep.root_coordinates) is first
    other = open_track_model(str(model), list(prep.root_coordinates)[:-1])
    assert other is not first
    # another activation smoothing in the conversion is another model
    from musclekit.pipelines.simulate.opensim import evaluate
    with monkeypatch.context() as m:
        m.setattr(evaluate, "ACTIVATION_DYNAMICS_SMOOTHING", 10.0)
        assert open_track_model(str(model), prep.root_coordinates) is not first
    with pytest.raises(InputError, match="absent.osim does not exist"):
        open_track_model(str(tmp_path / "absent.osim"), prep.root_coordinates)


def test_a_chunks_rounds_share_one_solver_process_stopped_after_the_chunk(
        prepared, tmp_path: Path, monkeypatch) -> None:
    """Every round of a chunk is solved by one NLP server process (Python and CasADi loaded
    once), whose CPU seconds count in the chunk's `cpu_s`; it is stopped when the chunk
    ends, so that a caller counting waited-for children counts them too."""
    from musclekit.pipelines.simulate.dynamics.methods.track import solve as track_solve
    from musclekit.pipelines.simulate.dynamics.nlp import child
    from musclekit.pipelines.simulate.dynamics.nlp import track as track_nlp

    pids, server_cpu = [], []
    inner = track_solve.solve_in_subprocess

    def recorded(problem, guess, work, **kwargs):
        sol = inner(problem, guess, work, **kwargs)
        pids.append(child._SERVERS[track_nlp.__name__].proc.pid)
        server_cpu.append(child.servers_cpu_s())
        return sol

    monkeypatch.setattr(track_solve, "solve_in_subprocess", recorded)
    folder, mot = prepared
    report, _ = solve_track_chunk(folder, mot, _chunk(), TrackSettings(mesh_per_s=25),
                                  tmp_path / "w")
    assert report.status == "converged", report.reason
    assert len(pids) >= 2 and len(set(pids)) == 1
    # the live server's CPU seconds are counted (the chunk's cpu_s includes them)
    assert server_cpu[0] > 0 and server_cpu == sorted(server_cpu)
    assert report.diagnostics.cpu_s >= server_cpu[-1]
    assert track_nlp.__name__ not in child._SERVERS


_REUSE_CHILD = """
import sys
from pathlib import Path
import numpy as np
import casadi as ca
from musclekit.pipelines.simulate.dynamics.nlp import track
built = []
nlpsol = ca.nlpsol
ca.nlpsol = lambda *a, **k: built.append(1) or nlpsol(*a, **k)
problem, guess = track.TrackProblem.load(Path(sys.argv[1]))
first = track.solve(problem, guess)
problem.settings["trust_rad"] *= 0.5  # a rejected round: the same local model, bounds halved
half = track.solve(problem, guess)
assert len(built) == 1, built
track._REUSABLE.clear()
fresh = track.solve(problem, guess)
assert len(built) == 2
assert half.iterations == fresh.iterations, (half.iterations, fresh.iterations)
assert abs(half.objective - fresh.objective) <= 1e-9 * abs(fresh.objective)
assert np.abs(half.activation - fresh.activation).max() < 1e-9
# a non-zero outside the pattern (a pair of coordinates no block couples at any mesh
# point: the two legs): the solver built again, on the widened pattern
free = np.ones(problem.dg_dq.shape[1:], dtype=bool)
for name in ("dg_dq", "dg_dv", "dg_da", "applied_dq", "applied_dv"):
    free &= ~np.any(getattr(problem, name) != 0, axis=0)
i, j = np.argwhere(free)[0]
problem.dg_dq[:, i, j] = 1e-9
track.solve(problem, guess)
assert len(built) == 3, built
track.solve(problem, guess)
assert len(built) == 3, built
print("ok", first.iterations)
"""


def test_a_chunks_rounds_reuse_one_built_solver(prepared, tmp_path: Path) -> None:
    """The NLP server builds IPOPT's solver once for a chunk's rounds (the local model is
    its parameters): a rejected round's re-solve in half the trust region reuses it and
    finds what a freshly built solver finds; a local model with a non-zero outside the
    solver's pattern builds it again."""
    import subprocess
    import sys

    from musclekit.pipelines.simulate.dynamics.nlp.child import child_environment

    folder, mot = prepared
    report, _ = solve_track_chunk(folder, mot, _chunk(), TrackSettings(mesh_per_s=25),
                                  tmp_path / "w")
    assert report.status == "converged", report.reason
    done = subprocess.run([sys.executable, "-c", _REUSE_CHILD,
                           str(tmp_path / "w" / "track_problem.npz")],
                          capture_output=True, text=True, env=child_environment(), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")


@pytest.mark.slow
def test_a_lab_model_with_a_locked_coordinate_in_a_free_joint_is_prepared_for_track(
        tmp_path: Path) -> None:
    # The corpus' Vicon walk run on Rajagopal's model with lumbar_rotation locked (its two
    # midline torso markers do not determine it) failed every chunk: preparation put a reserve
    # on the locked coordinate (the back joint keeps two free ones, so it is not welded) and
    # track refused it ("not an independent coordinate"). A locked coordinate gets no actuator.
    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.methods import get_method
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel
    from musclekit.pipelines.simulate.opensim.model import default_model_path

    model = osim.Model(str(default_model_path()))
    model.updCoordinateSet().get("lumbar_rotation").set_locked(True)
    locked_path = tmp_path / "rajagopal_lumbar_rotation_locked.osim"
    model.printToXML(str(locked_path))
    feet = {"right": ("calcn_r", "toes_r"), "left": ("calcn_l", "toes_l")}
    folder = prepare_model(locked_path, tmp_path / "cache", PrepSettings(
        method="track", contact=True, add_foot_contact=True, feet=feet,
        polynomial_paths=False), edit_model=get_method("track").edit_model)
    prep = PreparedModel.load(folder)
    assert "lumbar_rotation" not in prep.reserves.values()
    prepared_model = osim.Model(str(folder / prep.model_path))
    forces = prepared_model.getForceSet()
    driven = {osim.CoordinateActuator.safeDownCast(forces.get(i)).get_coordinate()
              for i in range(forces.getSize())
              if forces.get(i).getConcreteClassName() == "CoordinateActuator"}
    assert "lumbar_rotation" not in driven and {"lumbar_extension", "lumbar_bending"} <= driven
    tm = TrackModel(dgf_model_processor(str(folder / prep.model_path)), prep.root_coordinates)
    assert "lumbar_rotation" not in tm.coordinates and "lumbar_bending" in tm.coordinates
