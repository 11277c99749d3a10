"""The `inverse` method: estimated ground forces as external loads, then MocoInverse.

Kinematics are prescribed (filtered IK coordinates); MocoInverse finds muscle activations
(DeGroote-Fregly muscles, rigid tendons) that, with the estimated ground reaction forces,
reproduce the motion's generalized forces with the least squared activations. Residual
actuators at the pelvis and reserve actuators at the joints take up what remains; both are
reported (the goal for pelvis residual forces is < 5 % of body weight).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .chunks import Chunk
from .grf import GRF_CHANNELS, GRF_UNITS, estimate_grf, write_external_loads
from .motion import Motion, lowpass, read_mot, write_mot
from .prep import PreparedModel
from .result import ChunkOutput, ChunkReport


@dataclass
class SolveSettings:
    """Solver settings (MinT: 50 mesh points per second, tolerance 1e-3, <= 2500 iterations)."""

    mesh_per_s: float = 50.0
    tolerance: float = 1e-3
    max_iterations: int = 2500
    filter_hz: float = 6.0
    contact_height_m: float = 0.04
    cop_margin_m: float | None = None  # None: from the foot's contact spheres (see grf.py)
    # track method
    track_weights: dict | None = None
    # Explicit multibody dynamics: on the test model's squat the implicit form diverged
    # (primal infeasibility 1e6 after 40 iterations) where the explicit one converged
    # (175 iterations); docs/benchmarks.md.
    track_dynamics_mode: str = "explicit"  # or "implicit"
    track_hessian: str = "limited-memory"  # or "exact" (finite differences of gradients)
    # A converged track solution that strays further than this from the motion (RMS over the
    # window) is a failed chunk: on the test model's squat MocoTrack's optimum was a jump (the
    # pelvis 28 cm low at the start, then flight; 0.125 rad and 7.1 cm RMS), which must not
    # enter a dataset as muscle activity of a squat. On OpenCap's real squat with the
    # generic contact model (not the subject's), balancing needs the pelvis up to ~6 cm
    # fore-aft of the motion (2.3 cm RMS in a chunk), which is tracking, not a jump.
    track_max_error_rad: float = 0.1
    track_max_error_m: float = 0.05
    # track with the CasADi solver (track_casadi.py): rounds of linearisation at most, the
    # trust region of one round, and the largest error in the equations of motion a
    # converged chunk may have (checked with OpenSim at the solution), as a share of body
    # weight in N (or N m): 0.01 is 7.7 N for OpenCap's 78 kg model.
    # The trust region: with 0.2 rad / 5 cm one real squat chunk's first round wandered for
    # > 1000 IPOPT iterations (another fit of the same muscle paths converged in 50); with
    # 0.05 rad / 2 cm it converged in 53, the chunk in 5 rounds.
    # Rounds are cheap once the trajectory settles (5-15 IPOPT iterations): on the default
    # model's synthetic squat two of five chunks needed exactly 10 (the defect falls only
    # once the steps shrink below ~3 mrad), so up to 15 are allowed.
    track_outer_iterations: int = 15
    # IPOPT iterations one round may take. Rounds on the squats converge in 7-90; one on the
    # default model's squat (acceleration weight 1e-2) instead cycled with period 16 between
    # the same iterates for all 2500 iterations, and the first rounds of OpenCap's walking
    # trial run past 300. Such a round is stopped here and the next one linearises at its
    # last iterate (near-feasible); a chunk is only accepted from a round IPOPT solved, and
    # `max_iterations` still bounds the chunk's total. Walking: 305 s with a cap of 300,
    # 182 s with 100 (RMS tracking error 0.010 rad both times).
    track_round_iterations: int = 100
    track_trust_rad: float = 0.05
    track_trust_m: float = 0.02
    track_max_defect_bw: float = 0.01
    # The floor (track): the motion is shifted vertically so that the lowest contact sphere
    # sinks this far at the median frame, then by an optimised offset within the range.
    track_floor_penetration_m: float = 0.005
    track_offset_range_m: float = 0.03
    # Debugging: also return the arrays of a solve that did not converge (status stays failed).
    keep_unconverged: bool = False
    # "casadi" (default; the problem stated from OpenSim evaluations, exact derivatives:
    # redundancy.py for inverse, track_casadi.py for track) or "moco" (MocoInverse /
    # MocoTrack, finite differences through OpenSim on every iteration).
    solver: str = "casadi"


def load_motion(prep: PreparedModel, prep_folder: Path, motion_path: str | Path) -> Motion:
    """The IK motion in SI units, with the model's rotational coordinates converted."""
    import opensim as osim

    model = osim.Model(str(prep_folder / prep.model_path))
    cset = model.getCoordinateSet()
    rotational = {
        cset.get(i).getName() for i in range(cset.getSize()) if cset.get(i).getMotionType() == 1
    }
    return read_mot(motion_path, rotational=rotational)


def residual_summary(values: np.ndarray, names: list[str], units: list[str]) -> tuple[float, float]:
    """Largest root residual force (N) and moment (N m) over the chunk."""
    trans = [i for i, n in enumerate(names) if n.startswith("residual_") and units[i] == "N"]
    rot = [i for i, n in enumerate(names) if n.startswith("residual_") and units[i] == "N m"]
    f = float(np.nanmax(np.abs(values[:, trans]))) if trans else float("nan")
    m = float(np.nanmax(np.abs(values[:, rot]))) if rot else float("nan")
    return f, m


def dgf_model_processor(model_file: str, external_loads: Path | None = None):
    """The model as both methods solve it: DeGroote-Fregly muscles with rigid tendons, no
    passive fibre forces and a wider active force-length curve (as OpenCap), plus the
    estimated ground reaction forces as external loads when given."""
    import opensim as osim

    mp = osim.ModelProcessor(model_file)
    if external_loads is not None:
        mp.append(osim.ModOpAddExternalLoads(str(external_loads)))
    mp.append(osim.ModOpIgnoreTendonCompliance())
    model = osim.Model(model_file)
    if any(model.getMuscles().get(i).getConcreteClassName() != "DeGrooteFregly2016Muscle"
           for i in range(model.getMuscles().getSize())):
        mp.append(osim.ModOpReplaceMusclesWithDeGrooteFregly2016())
    mp.append(osim.ModOpIgnorePassiveFiberForcesDGF())
    mp.append(osim.ModOpScaleActiveFiberForceCurveWidthDGF(1.5))
    return mp


def start_chunk(prep_folder: Path, motion_path: str | Path, chunk: Chunk,
                settings: SolveSettings, work: Path, method: str):
    """What both methods start from: the prepared model's description and file, a report
    that stays `failed` until a solve converges, and the filtered motion."""
    prep = PreparedModel.load(prep_folder)
    report = ChunkReport(
        sequence_id=chunk.sequence_id, chunk=chunk.index, method=method, status="failed",
        core_start_s=chunk.core_start_s, core_end_s=chunk.core_end_s,
        solve_start_s=chunk.solve_start_s, solve_end_s=chunk.solve_end_s,
    )
    motion = lowpass(load_motion(prep, prep_folder, motion_path), settings.filter_hz)
    work.mkdir(parents=True, exist_ok=True)
    return prep, str(prep_folder / prep.model_path), report, motion


def tracking_check(report: ChunkReport, q: np.ndarray, q_ref: np.ndarray,
                   translational: np.ndarray, settings: SolveSettings) -> bool:
    """Record the RMS tracking errors (rad over rotations, m over translations) in the
    report; False, with the reason, when they exceed the settings' limits."""
    rot = ~np.asarray(translational, dtype=bool)
    err = q - q_ref
    report.tracking_error_rad = float(np.sqrt(np.mean(err[:, rot] ** 2))) if rot.any() else 0.0
    error_m = float(np.sqrt(np.mean(err[:, ~rot] ** 2))) if (~rot).any() else 0.0
    report.extra["tracking_error_m"] = error_m
    if (report.tracking_error_rad > settings.track_max_error_rad
            or error_m > settings.track_max_error_m):
        report.reason = (
            f"converged but does not track the motion: RMS error "
            f"{report.tracking_error_rad:.3f} rad (limit {settings.track_max_error_rad}), "
            f"{error_m:.3f} m (limit {settings.track_max_error_m})")
        return False
    return True


def chunk_output(prep: PreparedModel, time_s: np.ndarray, activations: np.ndarray,
                 forces: np.ndarray, grf: np.ndarray, angles: tuple, residuals: tuple
                 ) -> ChunkOutput:
    """One chunk's streams as both methods return them; angles and residuals are
    (values, channel names, units)."""
    q, coord_names, q_units = angles
    res, res_names, res_units = residuals
    muscles = list(prep.muscles)
    return ChunkOutput(
        time_s=time_s,
        values={"activations": activations, "muscle_forces": forces, "grf": grf,
                "joint_angles_solved": q, "residuals": res},
        channels={"activations": muscles, "muscle_forces": muscles, "grf": list(GRF_CHANNELS),
                  "joint_angles_solved": coord_names, "residuals": res_names},
        units={"activations": [""] * len(muscles), "muscle_forces": ["N"] * len(muscles),
               "grf": list(GRF_UNITS), "joint_angles_solved": q_units, "residuals": res_units},
    )


def solve_inverse_chunk(
    prep_folder: Path, motion_path: str | Path, chunk: Chunk, settings: SolveSettings, work: Path
) -> tuple[ChunkReport, ChunkOutput | None]:
    """Solve one chunk (estimated ground forces, then the muscle redundancy problem); a
    non-converged solve is a failed report (no output)."""
    import opensim as osim

    prep, model_file, report, motion = start_chunk(prep_folder, motion_path, chunk, settings,
                                                   work, "inverse")
    # Ground forces only around this chunk (the estimate costs ~1 ms per frame: over a whole
    # long sequence it would dominate every chunk), with a few samples either side so that
    # the splines of the loads and kinematics are well defined at the window's ends.
    dt = float(np.median(np.diff(motion.time_s)))
    lo, hi = chunk.solve_start_s - 5 * dt, chunk.solve_end_s + 5 * dt
    kin = motion.window(lo, hi)
    est_w = estimate_grf(
        model_file, kin, feet={s: tuple(b) for s, b in prep.feet.items()},
        contact_height_m=settings.contact_height_m, cop_margin_m=settings.cop_margin_m,
    )
    write_external_loads(est_w, work / "grf.mot", work / "grf.xml", prep.apply_body)
    write_mot(work / "coordinates.mot", kin)

    if settings.solver == "moco":
        sol = _solve_moco(model_file, work, chunk, settings, prep)
    else:
        sol = _solve_casadi(model_file, work, chunk, settings, prep, kin)
    report.solve_time_s = sol.seconds
    report.iterations = sol.iterations
    report.objective = sol.objective
    converged = sol.converged
    report.extra["solver"] = settings.solver
    if not converged:
        report.reason = f"solver did not converge: {sol.status} after {report.iterations} iterations"
        if not settings.keep_unconverged:
            return report, None

    time_s, act, forces, res, res_names = (sol.time_s, sol.activations, sol.forces,
                                          sol.residuals, sol.residual_names)
    model = osim.Model(model_file)
    model.initSystem()
    cset = model.getCoordinateSet()
    # Units from each actuator's coordinate (a prefix test would take pelvis_tilt for a
    # translation): translational coordinates take forces, rotational ones moments.
    res_units = [
        "N" if cset.get(c).getMotionType() == 2 else "N m"
        for c in list(prep.root_coordinates) + list(prep.reserves.values())
    ]
    coord_names = [c for c in prep.coordinates if c in motion.names]
    q = np.column_stack([np.interp(time_s, kin.time_s, kin.column(c)) for c in coord_names])
    grf = np.column_stack([np.interp(time_s, est_w.time_s, est_w.values[:, i])
                           for i in range(len(GRF_CHANNELS))])
    q_units = ["m" if cset.get(c).getMotionType() == 2 else "rad" for c in coord_names]
    report.max_residual_force_n, report.max_residual_moment_nm = residual_summary(res, res_names, res_units)
    report.max_residual_force_bw = report.max_residual_force_n / (prep.mass_kg * 9.80665)
    report.status = "converged" if converged else "failed"
    # Moment the feet could not carry with their COPs under them (see grf.py): the pelvis
    # residual moments include it; large values mean kinematics inconsistent with the model.
    report.extra |= {
        "contact_share": est_w.contact.mean(axis=0).tolist(),
        "max_cop_clamped_moment_nm": float(np.abs(est_w.unexplained_moment_nm).max()),
    }
    return report, chunk_output(prep, time_s, act, forces, grf, (q, coord_names, q_units),
                                (res, res_names, res_units))


@dataclass
class _InverseSolution:
    time_s: np.ndarray
    activations: np.ndarray  # (N, muscles) in prep.muscles order
    forces: np.ndarray  # tendon forces (N, muscles)
    residuals: np.ndarray  # (N, residual + reserve actuators), N or N m
    residual_names: list[str]
    converged: bool
    status: str
    iterations: int
    objective: float
    seconds: float


def _solve_moco(model_file: str, work: Path, chunk: Chunk, settings: SolveSettings,
                prep: PreparedModel) -> _InverseSolution:
    """MocoInverse (finite-difference derivatives through OpenSim; slow on large models)."""
    import opensim as osim

    mp = dgf_model_processor(model_file, external_loads=work / "grf.xml")
    inv = osim.MocoInverse()
    inv.setName(f"inverse_{chunk.index}")
    inv.setModel(mp)
    tp = osim.TableProcessor(str(work / "coordinates.mot"))
    tp.append(osim.TabOpUseAbsoluteStateNames())
    inv.setKinematics(tp)
    inv.set_initial_time(chunk.solve_start_s)
    inv.set_final_time(chunk.solve_end_s)
    inv.set_mesh_interval(1.0 / settings.mesh_per_s)
    inv.set_kinematics_allow_extra_columns(True)
    inv.set_convergence_tolerance(settings.tolerance)
    inv.set_max_iterations(settings.max_iterations)
    inv.set_output_paths(0, r".*\|tendon_force")
    inv.set_output_paths(1, r".*(residual|reserve)_.*\|actuation")
    start = time.perf_counter()
    solution = inv.solve()
    seconds = time.perf_counter() - start
    sol = solution.getMocoSolution()
    if sol.isSealed():
        sol.unseal()
    time_s = np.asarray(sol.getTimeMat()).ravel()
    states = np.asarray(sol.getStatesTrajectoryMat())
    state_names = list(sol.getStateNames())
    act = np.column_stack([states[:, state_names.index(f"/forceset/{m}/activation")]
                           for m in prep.muscles])
    outputs = solution.getOutputs()
    out_names = list(outputs.getColumnLabels())
    out_time = np.asarray(outputs.getIndependentColumn())
    out_vals = outputs.getMatrix().to_numpy()

    def out_col(label: str) -> np.ndarray:
        return np.interp(time_s, out_time, out_vals[:, out_names.index(label)])

    forces = np.column_stack([out_col(f"/forceset/{m}|tendon_force") for m in prep.muscles])
    res_names = list(prep.residuals) + list(prep.reserves)
    res = np.column_stack([out_col(f"/forceset/{a}|actuation") for a in res_names])
    return _InverseSolution(time_s, act, forces, res, res_names, bool(sol.success()),
                            str(sol.getStatus()), int(sol.getNumIterations()),
                            float(sol.getObjective()), seconds)


def _solve_casadi(model_file: str, work: Path, chunk: Chunk, settings: SolveSettings,
                  prep: PreparedModel, kin: Motion) -> _InverseSolution:
    """The same problem stated once from OpenSim and solved with exact derivatives
    (redundancy.py); validated against MocoInverse in tests and docs/benchmarks.md."""
    from .redundancy import solve_in_subprocess
    from .redundancy_setup import build_problem

    start = time.perf_counter()
    mesh_n = max(1, int(round(chunk.solve_duration_s * settings.mesh_per_s)))
    mesh = np.linspace(chunk.solve_start_s, chunk.solve_end_s, mesh_n + 1)
    problem, root = build_problem(
        dgf_model_processor(model_file),
        dgf_model_processor(model_file, external_loads=work / "grf.xml"),
        kin, mesh, list(prep.root_coordinates),
    )
    setup_s = time.perf_counter() - start
    sol = solve_in_subprocess(problem, work, settings.tolerance, settings.max_iterations)
    order = [problem.muscles.index(m) for m in prep.muscles]
    act = sol.activation[:, order]
    forces = sol.tendon_force(problem)[:, order]
    actuation = sol.actuator_force(problem)
    res_names = list(prep.residuals) + list(prep.reserves)
    res = np.zeros((len(mesh), len(res_names)))
    # Muscles are internal forces: the root's generalized forces are the residuals.
    res[:, : len(prep.residuals)] = root
    for j, name in enumerate(prep.reserves, start=len(prep.residuals)):
        if name in problem.actuators:
            res[:, j] = actuation[:, problem.actuators.index(name)]
    (work / "redundancy_timing.json").write_text(
        f'{{"setup_s": {setup_s:.3f}, "solve_s": {sol.seconds:.3f}}}')
    return _InverseSolution(mesh, act, forces, res, res_names, sol.success, sol.status,
                            sol.iterations, sol.objective, time.perf_counter() - start)
