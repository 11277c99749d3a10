"""The `track` method: muscle-driven tracking with foot contact by sequential linearisation
in CasADi (default), or MocoTrack (moco.py, `--solver moco`).

MocoTrack differentiates the whole OpenSim model by finite differences on every IPOPT
iteration (5-7 min per iteration on OpenCap's 80-muscle contact model here). Instead:

1. OpenSim evaluates the skeleton, the contact geometry and the muscles along a trajectory
   (setup.py; the first trajectory is the filtered IK motion).
2. CasADi states the tracking problem with that local model and the exact nonlinear contact
   law, and IPOPT solves it with exact derivatives (nlp/track.py, in a child process).
3. The solution becomes the next trajectory. Once OpenSim agrees that the solution satisfies
   the model's equations of motion (the dynamics defect below `max_defect_bw` of body weight), the chunk
   is converged; otherwise it fails after `outer_iterations` rounds.

The result is checked, not assumed: the reported defect is the largest generalized force
(N or N m) left over when OpenSim itself computes every force at the solution (muscles at
the solved activations, its SmoothSphereHalfSpaceForces, the actuators at the solved
controls) and runs its inverse dynamics on the solved motion.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk
from musclekit.pipelines.simulate.dynamics.kernel.contact_law import ContactSphere, sphere_force
from musclekit.pipelines.simulate.dynamics.kernel.filtering import finite_difference
from musclekit.pipelines.simulate.dynamics.kernel.result import (
    ChunkOutput,
    ChunkReport,
    load_output,
)
from musclekit.pipelines.simulate.dynamics.kernel.solution import (
    ChunkContext,
    assess,
    chunk_output,
    residual_units,
    start_chunk,
)
from musclekit.pipelines.simulate.dynamics.methods.track.check import tracking_check
from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings
from musclekit.pipelines.simulate.dynamics.nlp.track import (
    DEFAULT_TRACK_WEIGHTS,
    TrackProblem,
    TrackSolution,
    solve_in_subprocess,
)
from musclekit.pipelines.simulate.opensim.evaluate import dgf_model_processor
from musclekit.pipelines.simulate.opensim.external_loads import (
    GRF_CHANNELS,
    SIDES,
    centre_of_pressure,
)


def ground_reactions(problem: TrackProblem, sol: TrackSolution,
                     feet: dict[str, list[str]]) -> np.ndarray:
    """MinT's 18 channels (force, centre of pressure, free torque per foot, in ground) from
    the contact spheres at the solution (`problem` linearised at `sol`)."""
    spheres = [ContactSphere(**d) for d in problem.spheres]
    N = len(problem.time_s)
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    out = np.zeros((N, len(GRF_CHANNELS)))
    floor_y = float(spheres[0].plane_point[1])
    for k in range(N):
        for side in SIDES:
            F = np.zeros(3)
            M = np.zeros(3)  # about the ground origin
            for s, sphere in enumerate(spheres):
                if sphere.body not in feet.get(side, []):
                    continue
                J = problem.sphere_jacobian[k, s]
                f, p = sphere_force(np, sphere, problem.sphere_centre[k, s], J @ sol.v[k],
                                    problem.body_angular_jacobian[k, s] @ sol.v[k])
                F += np.asarray(f, dtype=float)
                M += np.cross(np.asarray(p, dtype=float), f)
            if F[1] > 1e-6:
                cop, ty = centre_of_pressure(F, M, floor_y)
            else:
                # An unloaded foot has no centre of pressure: NaN, never a point at the
                # origin that stitching would blend into its neighbours' real ones.
                cop, ty = np.full(3, np.nan), 0.0
            for a, i in zip("xyz", range(3), strict=True):
                out[k, idx[f"ground_force_{side}_v{a}"]] = F[i]
                out[k, idx[f"ground_force_{side}_p{a}"]] = cop[i]
            out[k, idx[f"ground_torque_{side}_y"]] = ty
    return out


def _vertical_coordinate(tm, q: np.ndarray) -> int:
    """The coordinate that lifts every contact sphere straight up (the root's vertical
    translation)."""
    jac = tm.linearise(q, np.zeros_like(q), np.zeros_like(q))["jac_centre"]  # (S, 3, n)
    for j in range(jac.shape[2]):
        if np.allclose(jac[:, :, j], [0.0, 1.0, 0.0], atol=1e-6):
            return j
    raise InputError("no coordinate of the model translates the feet vertically (a root "
                     "joint with a vertical translation is needed to place the floor)")


def _inverse_guess(warm_start_dir: str | None, chunk: Chunk, muscles: list[str],
                   mesh: np.ndarray):
    """Activations of the warm-start method's solution of the same chunk, when one was saved
    (`TrackSettings.warm_start_dir`)."""
    out = load_output(Path(warm_start_dir), f"chunk{chunk.index:04d}") if warm_start_dir else None
    if out is None or sorted(out.channels["activations"]) != sorted(muscles):
        return None
    cols = [out.channels["activations"].index(m) for m in muscles]
    act = np.column_stack([np.interp(mesh, out.time_s, out.values["activations"][:, c])
                           for c in cols])
    return np.clip(act, 0.0, 1.0)


def solve_chunk(prep_folder: Path, motion_path: str | Path, chunk: Chunk,
                settings: TrackSettings, work: Path) -> tuple[ChunkReport, ChunkOutput | None]:
    """Solve one chunk with the chosen solver (sequential linearisation in CasADi by
    default, or MocoTrack); a non-converged solve is a failed report."""
    ctx = start_chunk(prep_folder, motion_path, chunk, settings, work, "track")
    if settings.solver == "moco":
        from musclekit.pipelines.simulate.dynamics.methods.track.moco import solve_moco

        return solve_moco(ctx, settings)
    return solve_casadi(ctx, settings)


def solve_casadi(ctx: ChunkContext, settings: TrackSettings
                 ) -> tuple[ChunkReport, ChunkOutput | None]:
    """Solve one chunk by sequential linearisation (module docstring)."""
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel

    prep, report, work, chunk = ctx.prep, ctx.report, ctx.work, ctx.chunk
    report.diagnostics.solver = "casadi"
    start = time.perf_counter()
    kin = ctx.window()
    mesh_n = max(1, int(round(chunk.solve_duration_s * settings.mesh_per_s)))
    mesh = np.linspace(chunk.solve_start_s, chunk.solve_end_s, mesh_n + 1)

    tm = TrackModel(dgf_model_processor(ctx.model_file), list(prep.root_coordinates), ctx.units)
    missing = [c for c in tm.coordinates if c not in kin.names]
    if missing:
        raise InputError(f"kinematics lack coordinates of the model: {missing[:8]}")
    qd, qdd = finite_difference(kin)

    def at(values: np.ndarray) -> np.ndarray:
        return np.column_stack([np.interp(mesh, kin.time_s, values[:, kin.names.index(c)])
                                for c in tm.coordinates])

    q_ref = at(kin.values)
    # The floor: IK places the feet only roughly on it (a few cm above or below with a model
    # not scaled to the subject). As MinT and OpenCap do, shift the motion vertically: first
    # so that the lowest sphere sinks `track_floor_penetration_m` at the median frame, then
    # by an offset the NLP optimises (within `track_offset_range_m`).
    vertical = _vertical_coordinate(tm, q_ref[0])
    lowest = np.array([float((tm.sphere_centres(q_ref[k])[:, 1] - tm.sphere_bottom_offsets).min())
                       for k in range(len(mesh))])
    shift = -settings.floor_penetration_m - float(np.median(lowest))
    q_ref[:, vertical] += shift
    q, v, a = q_ref, at(qd), at(qdd)
    guess: dict[str, np.ndarray] = {}
    warm = _inverse_guess(settings.warm_start_dir, chunk, tm.muscle_names, mesh)
    if warm is not None:
        guess = {"activation": warm, "excitation": warm}
        report.diagnostics.warm_start = "inverse"
    options = {**DEFAULT_TRACK_WEIGHTS, **(settings.weights or {}),
               "trust_rad": settings.trust_rad, "trust_m": settings.trust_m,
               "force_scale_n": ctx.body_weight_n, "tolerance": settings.tolerance,
               "max_iterations": settings.max_iterations, "vertical_coordinate": vertical,
               "offset_range_m": settings.offset_range_m}
    problem = tm.build(mesh, q_ref, q, v, a, options)
    max_defect = settings.max_defect_bw * ctx.body_weight_n
    history = []
    report.iterations = 0
    for _ in range(settings.outer_iterations):
        budget = settings.max_iterations - report.iterations
        if budget <= 0:
            break
        problem.settings["max_iterations"] = min(settings.round_iterations, budget)
        sol = solve_in_subprocess(problem, guess, work)
        report.iterations += sol.iterations
        report.objective = sol.objective
        stopped = sol.status == "Maximum_Iterations_Exceeded"
        if not sol.success and not stopped:
            report.reason = (f"solver did not converge: {sol.status} after {sol.iterations} "
                             f"iterations (round {len(history) + 1})")
            report.solve_time_s = time.perf_counter() - start
            report.diagnostics.rounds = history
            return report, None
        step = float(np.abs(sol.q - problem.q_lin).max())
        # The check, by OpenSim alone: every force at the solution, through the model's
        # own equations of motion. Then the next round's local model, at the solution.
        defect = float(np.abs(tm.opensim_defect(mesh, sol.q, sol.v, sol.a, sol.activation,
                                                sol.control)).max())
        problem = tm.build(mesh, q_ref, sol.q, sol.v, sol.a, options)
        history.append({"iterations": sol.iterations, "nlp_s": round(sol.seconds, 3),
                        "step": step, "defect": defect, "solved": sol.success})
        # Progress for the chunk's log (`musclekit status --logs`); stderr, since OpenSim's
        # log block silences stdout.
        print(f"track round {len(history)}: {sol.iterations} IPOPT iterations in "
              f"{sol.seconds:.1f} s" + (" (stopped unsolved; the next round starts from its "
                                        "last iterate)" if stopped else "")
              + f", largest step {step:.3g}, dynamics defect {defect:.3g} "
              f"(limit {max_defect:.3g})", file=sys.stderr, flush=True)
        guess = sol.arrays()
        if defect <= max_defect and sol.success:
            break
    report.solve_time_s = time.perf_counter() - start
    report.diagnostics.rounds = history
    report.diagnostics.max_dynamics_defect = defect
    if defect > max_defect or not sol.success:
        why = (f"the equations of motion are missed by {defect:.3g} N or N m (limit "
               f"{max_defect:.3g}: {settings.max_defect_bw:g} of body weight)")
        if not sol.success:
            why = "its last round was stopped unsolved" + (f" and {why}" if defect > max_defect
                                                           else "")
        report.reason = (f"did not settle: {why} after {len(history)} rounds and "
                         f"{report.iterations} IPOPT iterations")
        if report.iterations >= settings.max_iterations:
            report.reason += (f" (the chunk's limit, --max-iterations "
                              f"{settings.max_iterations})")
        return report, None

    report.diagnostics.vertical_offset_m = shift + sol.offset
    q_ref[:, vertical] += sol.offset
    if not tracking_check(report, sol.q, q_ref, tm.translational, settings):
        return report, None

    order = [tm.muscle_names.index(m) for m in prep.muscles]
    act = sol.activation[:, order]
    forces = (problem.force_passive + sol.activation * problem.force_active)[:, order]
    res_names = list(prep.residuals) + list(prep.reserves)
    res = np.zeros((len(mesh), len(res_names)))
    for j, name in enumerate(res_names):
        if name in problem.actuators:
            r = problem.actuators.index(name)
            res[:, j] = sol.control[:, r] * problem.actuator_optimal_force[r]
    units = ctx.units
    res_units = residual_units(ctx)
    grf = ground_reactions(problem, sol, prep.feet)
    assess(report, ctx, act, res, res_names, res_units)
    report.status = "converged"
    # Joint angles in the frame of the input motion (the floor offset undone).
    q_out = sol.q.copy()
    q_out[:, vertical] -= shift + sol.offset
    return report, chunk_output(prep, mesh, act, forces, grf,
                                (q_out, list(tm.coordinates), [units[c] for c in tm.coordinates]),
                                (res, res_names, res_units))
