"""The `track` method's Moco variant (`--solver moco`), kept for comparison with the CasADi
solver (solve.py). MocoTrack: DeGroote-Fregly muscles (rigid tendons), smooth contact spheres under the feet
(the model's own, e.g. OpenCap's LaiArnoldModified2017_contacts), tracking weight 100 for
positions (speeds tracked through the spline derivatives), small residual and reserve
actuators, IPOPT with a limited-memory Hessian, explicit multibody dynamics. Ground reaction
forces come out of the contact model.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk
from musclekit.pipelines.simulate.dynamics.kernel.prep import PreparedModel
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
)
from musclekit.pipelines.simulate.dynamics.methods.track.check import tracking_check
from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings
from musclekit.pipelines.simulate.opensim.evaluate import dgf_model_processor
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS, SIDES
from musclekit.pipelines.simulate.opensim.files import write_mot

DEFAULT_WEIGHTS = {"states": 100.0, "control_effort": 10.0, "residual_weight": 100.0}


def _contact_forces_by_side(prep: PreparedModel, model) -> dict[str, list[str]]:
    """Contact force paths per side, from the body their sphere sits on."""
    import opensim as osim

    out: dict[str, list[str]] = {s: [] for s in SIDES}
    forces = model.getForceSet()
    for name in prep.contact_forces:
        f = osim.SmoothSphereHalfSpaceForce.safeDownCast(forces.get(name))
        if f is None:
            continue
        sphere = f.getConnectee("sphere")
        body = osim.ContactGeometry.safeDownCast(sphere).getFrame().findBaseFrame().getName()
        for side, bodies in prep.feet.items():
            if body in bodies:
                out[side].append(f.getAbsolutePathString())
    return out


def _with_speeds(table):
    """A copy of a coordinate-value table with `/speed` columns from spline derivatives."""
    import opensim as osim

    labels = list(table.getColumnLabels())
    t = np.asarray(table.getIndependentColumn())
    vals = table.getMatrix().to_numpy()
    out = osim.TimeSeriesTable()
    names = osim.StdVectorString()
    cols = []
    for j, label in enumerate(labels):
        names.append(label)
        cols.append(vals[:, j])
        if label.endswith("/value"):
            names.append(label[: -len("/value")] + "/speed")
            cols.append(np.gradient(vals[:, j], t))
    out.setColumnLabels(names)
    data = np.column_stack(cols)
    for k in range(len(t)):
        out.appendRow(float(t[k]), osim.RowVector.createFromMat(data[k]))
    return out


def _inverse_warm_start(warm_start_dir: str | None, chunk: Chunk, prep: PreparedModel):
    """Activations of the warm-start method's solution of the same chunk, when one was saved
    (`TrackSettings.warm_start_dir`), as (states, controls) tables for the initial guess."""
    import opensim as osim

    if not warm_start_dir:
        return None
    out = load_output(Path(warm_start_dir), f"chunk{chunk.index:04d}")
    if out is None or out.channels["activations"] != prep.muscles:
        return None
    act = out.values["activations"]
    tables = []
    for suffix in ("/activation", ""):
        table = osim.TimeSeriesTable()
        labels = osim.StdVectorString()
        for m in prep.muscles:
            labels.append(f"/forceset/{m}{suffix}")
        table.setColumnLabels(labels)
        for k, t in enumerate(out.time_s):
            table.appendRow(float(t), osim.RowVector.createFromMat(act[k]))
        tables.append(table)
    return tables[0], tables[1]


def solve_moco(ctx: ChunkContext, settings: TrackSettings
               ) -> tuple[ChunkReport, ChunkOutput | None]:
    """Solve one chunk with MocoTrack; a non-converged solve is a failed report."""
    import opensim as osim


    prep, report, work, chunk = ctx.prep, ctx.report, ctx.work, ctx.chunk
    model_file = ctx.model_file
    weights = {**DEFAULT_WEIGHTS, **(settings.weights or {})}
    kin = ctx.window()
    write_mot(work / "coordinates.mot", kin)

    mp = dgf_model_processor(model_file)

    track = osim.MocoTrack()
    track.setName(f"track_{chunk.index}")
    track.setModel(mp)
    tp = osim.TableProcessor(str(work / "coordinates.mot"))
    tp.append(osim.TabOpUseAbsoluteStateNames())
    track.setStatesReference(tp)
    track.set_states_global_tracking_weight(weights["states"])
    track.set_allow_unused_references(True)
    track.set_track_reference_position_derivatives(True)
    track.set_apply_tracked_states_to_guess(True)
    track.set_control_effort_weight(weights["control_effort"])
    track.set_initial_time(chunk.solve_start_s)
    track.set_final_time(chunk.solve_end_s)
    track.set_mesh_interval(1.0 / settings.mesh_per_s)
    study = track.initialize()
    problem = study.updProblem()
    effort = osim.MocoControlGoal.safeDownCast(problem.updGoal("control_effort"))
    for name in prep.residuals:
        effort.setWeightForControl(f"/forceset/{name}", weights["residual_weight"])
    solver = osim.MocoCasADiSolver.safeDownCast(study.updSolver())
    solver.set_optim_convergence_tolerance(settings.tolerance)
    solver.set_optim_constraint_tolerance(settings.tolerance)
    solver.set_optim_max_iterations(settings.max_iterations)
    solver.set_optim_hessian_approximation(settings.hessian)
    solver.set_multibody_dynamics_mode(settings.dynamics_mode)
    solver.set_parallel(0)  # one core per chunk; parallelism comes from Dask workers
    # Rebuild the guess for the chosen dynamics mode, starting from the tracked coordinates
    # (and their spline speeds).
    solver.resetProblem(problem)
    guess = solver.createGuess()
    ref_model = mp.process()
    ref_model.initSystem()
    ref = tp.process(ref_model)
    ref_speeds = _with_speeds(ref)
    guess.insertStatesTrajectory(ref_speeds, True)
    warm = _inverse_warm_start(settings.warm_start_dir, chunk, prep)
    if warm is not None:
        states_table, controls_table = warm
        guess.insertStatesTrajectory(states_table, True)
        guess.insertControlsTrajectory(controls_table, True)
        report.diagnostics.warm_start = "inverse"
    solver.setGuess(guess)

    start = time.perf_counter()
    sol = study.solve()
    report.solve_time_s = time.perf_counter() - start
    if sol.isSealed():
        sol.unseal()
    report.iterations = int(sol.getNumIterations())
    report.objective = float(sol.getObjective())
    if not sol.success():
        report.reason = f"solver did not converge: {sol.getStatus()} after {report.iterations} iterations"
        return report, None

    time_s = np.asarray(sol.getTimeMat()).ravel()
    states = np.asarray(sol.getStatesTrajectoryMat())
    state_names = list(sol.getStateNames())
    controls = np.asarray(sol.getControlsTrajectoryMat())
    control_names = list(sol.getControlNames())
    act = np.column_stack([states[:, state_names.index(f"/forceset/{m}/activation")]
                           for m in prep.muscles])
    processed = mp.process()
    processed.initSystem()
    cset = processed.getCoordinateSet()
    coord_names = [c for c in prep.coordinates if c in kin.names]
    paths = {c: cset.get(c).getAbsolutePathString() + "/value" for c in coord_names}
    q = np.column_stack([states[:, state_names.index(paths[c])] for c in coord_names])
    q_units = [ctx.units[c] for c in coord_names]
    ref = np.column_stack([np.interp(time_s, kin.time_s, kin.column(c)) for c in coord_names])
    if not tracking_check(report, q, ref, np.array([u == "m" for u in q_units]), settings):
        return report, None

    outputs = study.analyze(sol, [r".*\|tendon_force"])
    out_names = list(outputs.getColumnLabels())
    out_vals = outputs.getMatrix().to_numpy()
    forces = np.column_stack([out_vals[:, out_names.index(f"/forceset/{m}|tendon_force")]
                              for m in prep.muscles])

    res_names = list(prep.residuals) + list(prep.reserves)
    res = np.column_stack([
        controls[:, control_names.index(f"/forceset/{a}")]
        * osim.CoordinateActuator.safeDownCast(processed.getForceSet().get(a)).getOptimalForce()
        for a in res_names
    ])
    res_units = residual_units(ctx)

    by_side = _contact_forces_by_side(prep, processed)
    right, left = osim.StdVectorString(), osim.StdVectorString()
    for p in by_side["right"]:
        right.append(p)
    for p in by_side["left"]:
        left.append(p)
    grf_table = osim.createExternalLoadsTableForGait(processed, sol, right, left)
    labels = list(grf_table.getColumnLabels())
    g = grf_table.getMatrix().to_numpy()
    grf = np.zeros((len(time_s), len(GRF_CHANNELS)))
    # Its labels are ground_force_{r,l}_v?, _p?, ground_torque_{r,l}_?; map to MinT's names.
    for j, name in enumerate(GRF_CHANNELS):
        short = name.replace("_right_", "_r_").replace("_left_", "_l_")
        if short in labels:
            grf[:, j] = g[:, labels.index(short)]

    assess(report, ctx, act, res, res_names, res_units)
    report.status = "converged"
    return report, chunk_output(prep, time_s, act, forces, grf, (q, coord_names, q_units),
                                (res, res_names, res_units))
