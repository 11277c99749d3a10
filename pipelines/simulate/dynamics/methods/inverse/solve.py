"""The `inverse` method: estimated ground forces as external loads, then the muscle
redundancy problem.

Kinematics are prescribed (filtered IK coordinates). The ground reaction forces are
estimated from them (methods/inverse/grf.py); then muscle activations (DeGroote-Fregly muscles, rigid
tendons) are found that, with those forces, reproduce the motion's generalized forces with
the least squared excitations: stated from OpenSim evaluations (setup.py) and solved with
exact derivatives in CasADi (nlp/inverse.py), or by MocoInverse (moco.py, `--solver moco`).
Residual actuators at the pelvis and reserve actuators at the joints take up what remains.

Because the ground forces come from the same equations of motion, the root's residual
*forces* are ~0 by construction and say nothing. What can fail, and is reported per chunk
(kernel/solution.py `assess`): the residual *moments* (what the clamped centres of pressure
could not carry), reserve loads, muscles at full activation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk
from musclekit.pipelines.simulate.dynamics.kernel.prep import PreparedModel
from musclekit.pipelines.simulate.dynamics.kernel.result import ChunkOutput, ChunkReport
from musclekit.pipelines.simulate.dynamics.kernel.solution import (
    ChunkContext,
    assess,
    chunk_output,
    measured_on_times,
    residual_units,
    start_chunk,
)
from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import (
    GrfEstimate,
    sequence_estimate,
    window,
)
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
from musclekit.pipelines.simulate.dynamics.methods.inverse.solution import InverseSolution
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS, write_external_loads
from musclekit.pipelines.simulate.opensim.files import Motion, write_mot


def solve_chunk(prep_folder: Path, motion_path: str | Path, chunk: Chunk,
                settings: InverseSettings, work: Path
                ) -> tuple[ChunkReport, ChunkOutput | None]:
    """Solve one chunk (estimated ground forces, then the muscle redundancy problem); a
    non-converged solve is a failed report (no output)."""
    ctx = start_chunk(prep_folder, motion_path, chunk, settings, work, "inverse")
    return solve_context(ctx, settings)


def solve_context(ctx: ChunkContext, settings: InverseSettings
                  ) -> tuple[ChunkReport, ChunkOutput | None]:
    prep, report, work, chunk = ctx.prep, ctx.report, ctx.work, ctx.chunk
    kin = ctx.window()
    if settings.grf_file or settings.grf_setup:
        est_w = measured_loads(ctx, settings, kin.time_s)
        report.diagnostics.grf_source = "measured"
    else:
        # Ground forces over the whole sequence (contact phases and hand-overs are the
        # sequence's, not the window's), computed by the first chunk, shared by the others.
        est = sequence_estimate(
            work.parent / "grf_estimate.npz", ctx.model_file, ctx.motion,
            feet={s: tuple(b) for s, b in prep.feet.items()},
            cop_margin_m=settings.cop_margin_m, rule=settings.contact_rule(),
        )
        est_w = window(est, kin.time_s[0], kin.time_s[-1])
        report.diagnostics.grf_source = "estimated"
    write_external_loads(est_w.time_s, est_w.values, work / "grf.mot", work / "grf.xml", prep.apply_body)
    write_mot(work / "coordinates.mot", kin)

    if settings.solver == "moco":
        from musclekit.pipelines.simulate.dynamics.methods.inverse.moco import solve_moco

        sol = solve_moco(ctx.model_file, work, chunk, settings, prep)
    else:
        sol = solve_casadi(ctx.model_file, work, chunk, settings, prep, kin)
    report.solve_time_s = sol.seconds
    report.iterations = sol.iterations
    report.objective = sol.objective
    report.diagnostics.solver = settings.solver
    if not sol.converged:
        report.reason = f"solver did not converge: {sol.status} after {report.iterations} iterations"
        if not settings.keep_unconverged:
            return report, None

    time_s, res_names = sol.time_s, sol.residual_names
    res_units = residual_units(ctx)
    coord_names = [c for c in prep.coordinates if c in kin.names]
    q = np.column_stack([np.interp(time_s, kin.time_s, kin.column(c)) for c in coord_names])
    grf = np.column_stack([np.interp(time_s, est_w.time_s, est_w.values[:, i])
                           for i in range(len(GRF_CHANNELS))])
    q_units = [ctx.units[c] for c in coord_names]
    assess(report, ctx, sol.activations, sol.residuals, res_names, res_units)
    report.status = "converged" if sol.converged else "failed"
    # Moment the feet could not carry with their COPs under them (see grf.py): the pelvis
    # residual moments include it; large values mean kinematics inconsistent with the model.
    d = report.diagnostics
    d.contact_share = est_w.contact.mean(axis=0).tolist()
    d.max_cop_clamped_moment_nm = float(np.abs(est_w.unexplained_moment_nm).max())
    d.orphan_load_frames = int(est_w.orphan.sum())
    d.floor_m = est_w.floor_m
    moments = None
    if sol.joint_moments is not None:
        moments = (sol.joint_moments, sol.moment_names,
                   ["N" if ctx.units[c] == "m" else "N m" for c in sol.moment_names])
    return report, chunk_output(prep, time_s, sol.activations, sol.forces, grf,
                                (q, coord_names, q_units), (sol.residuals, res_names, res_units),
                                moments)


def measured_loads(ctx: ChunkContext, settings: InverseSettings, time_s: np.ndarray
                   ) -> GrfEstimate:
    """The lab's measured forces on the window's times (filtered like the kinematics), in the
    shape of an estimate: nothing clamped, nothing unexplained."""
    values = measured_on_times(ctx, settings.grf_file, settings.grf_setup, time_s,
                               settings.filter_hz)
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    fy = np.column_stack([values[:, idx[f"ground_force_{s}_vy"]] for s in ("right", "left")])
    n = len(time_s)
    return GrfEstimate(time_s, values, np.zeros((n, 3)), np.zeros((n, 3)), fy > 1e-6,
                       np.zeros((n, 3)), orphan=np.zeros(n, dtype=bool))


def solve_casadi(model_file: str, work: Path, chunk: Chunk, settings: InverseSettings,
                 prep: PreparedModel, kin: Motion) -> InverseSolution:
    """The problem stated once from OpenSim and solved with exact derivatives
    (nlp/inverse.py); validated against MocoInverse in tests and docs/benchmarks.md."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.setup import build_problem
    from musclekit.pipelines.simulate.dynamics.nlp.inverse import solve_in_subprocess

    start = time.perf_counter()
    mesh_n = max(1, int(round(chunk.solve_duration_s * settings.mesh_per_s)))
    mesh = np.linspace(chunk.solve_start_s, chunk.solve_end_s, mesh_n + 1)
    problem, root = build_problem(model_file, work / "grf.xml", kin, mesh,
                                  list(prep.root_coordinates))
    problem.tolerance = settings.tolerance
    problem.max_iterations = settings.max_iterations
    setup_s = time.perf_counter() - start
    sol = solve_in_subprocess(problem, work)
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
        json.dumps({"setup_s": round(setup_s, 3), "solve_s": round(sol.seconds, 3)}))
    return InverseSolution(mesh, act, forces, res, res_names, sol.success, sol.status,
                           sol.iterations, sol.objective, time.perf_counter() - start,
                           np.column_stack([root, problem.tau]),
                           list(prep.root_coordinates) + list(problem.coordinates))
