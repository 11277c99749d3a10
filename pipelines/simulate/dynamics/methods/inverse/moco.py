"""The `inverse` method's Moco variant (`--solver moco`): MocoInverse on the same model and
loads (finite-difference derivatives through OpenSim on every iteration; slow on large
models, kept to validate the CasADi solver against)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk
from musclekit.pipelines.simulate.dynamics.kernel.prep import PreparedModel
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
from musclekit.pipelines.simulate.dynamics.methods.inverse.solution import InverseSolution
from musclekit.pipelines.simulate.opensim.evaluate import dgf_model_processor


def solve_moco(model_file: str, work: Path, chunk: Chunk, settings: InverseSettings,
               prep: PreparedModel) -> InverseSolution:
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
    return InverseSolution(time_s, act, forces, res, res_names, bool(sol.success()),
                            str(sol.getStatus()), int(sol.getNumIterations()),
                            float(sol.getObjective()), seconds)
