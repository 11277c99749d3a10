"""The muscle redundancy NLP (inverse method's default solver) against known answers and
against MocoInverse on the same chunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.pipelines.simulate.dynamics.nlp.inverse import (
    RedundancyProblem,
    RedundancySolution,
    solve_in_subprocess,
)

# Never import casadi in this process: once its libraries are loaded, opensim (which bundles
# an ABI-incompatible CasADi) can no longer be imported by the rest of the suite.


def solve(problem: RedundancyProblem, tmp: Path) -> RedundancySolution:
    problem.tolerance, problem.max_iterations = 1e-3, 500
    return solve_in_subprocess(problem, tmp)


def _one_joint(tau_nm: float, arms: list[float], f_max: list[float], reserve_force: float = 1.0,
               n: int = 21) -> RedundancyProblem:
    m = len(arms)
    return RedundancyProblem(
        time_s=np.linspace(0.0, 0.4, n), tau=np.full((n, 1), tau_nm),
        force_passive=np.zeros((n, m)), force_active=np.tile(f_max, (n, 1)),
        moment_arm=np.tile(np.array(arms)[:, None], (n, 1, 1)),
        actuator_coordinate=np.array([0]), actuator_optimal_force=np.array([reserve_force]),
        actuator_min_control=np.array([-np.inf]), actuator_max_control=np.array([np.inf]),
        activation_time_constant_s=np.full(m, 0.015),
        deactivation_time_constant_s=np.full(m, 0.06), activation_smoothing=np.full(m, 0.1),
        muscles=[f"m{i}" for i in range(m)], coordinates=["q"], actuators=["reserve_q"],
    )


def test_a_constant_moment_is_shared_as_least_squares_predicts(tmp_path: Path) -> None:
    # Minimising sum a^2 subject to sum r_i F_i a_i = tau (steady state, a = e) gives
    # a_i = tau r_i F_i / sum (r_j F_j)^2; an antagonist stays off.
    arms, fmax = [0.05, 0.03, -0.04], [1000.0, 2000.0, 1500.0]
    sol = solve(_one_joint(20.0, arms, fmax), tmp_path)
    assert sol.success, sol.status
    rf = np.array(arms[:2]) * np.array(fmax[:2])
    expected = 20.0 * rf / (rf @ rf)
    mid = sol.activation[5:-5]
    assert np.allclose(mid[:, :2], expected, rtol=0.02)
    assert mid[:, 2].max() < 1e-3
    assert np.allclose(sol.excitation[5:-5], sol.activation[5:-5], atol=1e-3)
    assert np.abs(sol.actuator_force(_one_joint(20.0, arms, fmax))).max() < 0.5


def test_a_moment_beyond_the_muscles_is_carried_by_the_reserve(tmp_path: Path) -> None:
    # Capacity 0.05 * 1000 = 50 N m; 80 N m are asked: the muscle saturates, the reserve
    # takes the remaining 30 N m, and the equation still holds exactly.
    problem = _one_joint(80.0, [0.05], [1000.0])
    sol = solve(problem, tmp_path)
    assert sol.success, sol.status
    generated = (sol.tendon_force(problem) * 0.05)[:, 0] + sol.actuator_force(problem)[:, 0]
    assert np.allclose(generated, 80.0, atol=1e-2)
    assert sol.activation[3:].min() > 0.99
    assert np.allclose(sol.actuator_force(problem)[3:, 0], 30.0, atol=0.5)


def test_a_kept_solver_gives_the_bytes_of_a_fresh_one(tmp_path: Path) -> None:
    # The persistent solver child reuses one built solver per problem shape: a problem of
    # the same shape solved in between must leave no trace in the next solution.
    from musclekit.pipelines.simulate.dynamics.nlp import child, inverse

    child.stop_servers()
    first = solve(_one_joint(20.0, [0.05, 0.03, -0.04], [1000.0, 2000.0, 1500.0]), tmp_path)
    pid = child._SERVERS[inverse.__name__].proc.pid
    other = solve(_one_joint(-35.0, [0.05, 0.03, -0.04], [900.0, 2500.0, 1500.0]), tmp_path)
    again = solve(_one_joint(20.0, [0.05, 0.03, -0.04], [1000.0, 2000.0, 1500.0]), tmp_path)
    assert child._SERVERS[inverse.__name__].proc.pid == pid  # one process solved all three
    problem = _one_joint(20.0, [0.05, 0.03, -0.04], [1000.0, 2000.0, 1500.0])
    problem.tolerance, problem.max_iterations = 1e-3, 500
    fresh = child.solve_in_child(inverse.__name__, problem, tmp_path / "fresh")  # one-shot
    assert not np.array_equal(first.activation, other.activation)
    for sol in (again, fresh):
        assert sol.iterations == first.iterations
        assert np.array_equal(sol.activation, first.activation)
        assert np.array_equal(sol.actuator_control, first.actuator_control)


_SETTING_SOLVE = """
import sys
from pathlib import Path
from musclekit.pipelines.simulate.dynamics.nlp import inverse
from musclekit.pipelines.simulate.dynamics.nlp.common import load_npz, save_npz
problem = load_npz(inverse.RedundancyProblem, Path(sys.argv[1]))[0]
setattr(inverse, sys.argv[3], int(sys.argv[4]))
save_npz(Path(sys.argv[2]), inverse.solve(problem))
"""


def _solve_with_setting(tmp: Path, problem: RedundancyProblem, name: str,
                        value: int) -> RedundancySolution:
    """`problem` solved in a child whose nlp/inverse.py has `name` set to `value`."""
    import subprocess
    import sys

    from musclekit.pipelines.simulate.dynamics.nlp.child import child_environment
    from musclekit.pipelines.simulate.dynamics.nlp.common import load_npz, save_npz

    save_npz(tmp / "problem.npz", problem)
    out = tmp / f"solution_{name}_{value}.npz"
    done = subprocess.run([sys.executable, "-c", _SETTING_SOLVE, str(tmp / "problem.npz"),
                           str(out), name, str(value)],
                          capture_output=True, text=True, env=child_environment())
    assert done.returncode == 0, done.stderr[-2000:]
    return load_npz(RedundancySolution, out)[0]


def _five_muscles() -> RedundancyProblem:
    # Five muscles on one joint and a moment that reverses: the reserve, saturation and
    # activation dynamics all take part.
    problem = _one_joint(60.0, [0.05, 0.03, -0.04, 0.02, 0.01],
                         [1000.0, 800.0, 1500.0, 600.0, 400.0], n=41)
    problem.tau[20:, 0] = -70.0
    problem.tolerance, problem.max_iterations = 1e-3, 500
    return problem


def test_mumps_working_space_changes_no_number(tmp_path: Path) -> None:
    # MUMPS's working space (IPOPT's mumps_mem_percent) is a speed setting only: the
    # default of nlp/inverse.py, IPOPT's own default (1000 %) and none at all above MUMPS's
    # estimate (short: MUMPS asks for more and IPOPT retries) give the same bytes.
    from musclekit.pipelines.simulate.dynamics.nlp import inverse

    assert inverse.ipopt_options(_one_joint(1.0, [0.05], [1000.0]))[
        "ipopt.mumps_mem_percent"] == inverse.MUMPS_MEM_PERCENT
    solutions = [_solve_with_setting(tmp_path, _five_muscles(), "MUMPS_MEM_PERCENT", v)
                 for v in (inverse.MUMPS_MEM_PERCENT, 1000, 0)]
    assert solutions[0].success, solutions[0].status
    for sol in solutions[1:]:
        assert sol.iterations == solutions[0].iterations
        assert np.array_equal(sol.activation, solutions[0].activation)
        assert np.array_equal(sol.actuator_control, solutions[0].actuator_control)


def test_refinement_only_where_asked_keeps_the_solution(tmp_path: Path) -> None:
    # Without IPOPT's compulsory refinement step every linear solve is still refined where
    # its residual is large: the solution is the refined one's to rounding.
    from musclekit.pipelines.simulate.dynamics.nlp import inverse

    assert inverse.ipopt_options(_one_joint(1.0, [0.05], [1000.0]))[
        "ipopt.min_refinement_steps"] == inverse.MIN_REFINEMENT_STEPS == 0
    fast = _solve_with_setting(tmp_path, _five_muscles(), "MIN_REFINEMENT_STEPS", 0)
    refined = _solve_with_setting(tmp_path, _five_muscles(), "MIN_REFINEMENT_STEPS", 1)
    assert fast.success and refined.success, (fast.status, refined.status)
    assert fast.iterations == refined.iterations
    assert np.abs(fast.activation - refined.activation).max() < 1e-8
    assert np.abs(fast.objective - refined.objective) < 1e-8 * abs(refined.objective)


def test_a_failed_solve_names_its_reason_and_the_next_starts_a_fresh_solver(
        tmp_path: Path) -> None:
    from musclekit.pipelines.simulate.dynamics.nlp import child, inverse

    bad = _one_joint(20.0, [0.05, 0.03], [1000.0, 2000.0])
    bad.moment_arm = bad.moment_arm[:, :1, :]  # one muscle's arms for two muscles
    with pytest.raises(RuntimeError, match=r"muscle redundancy solve failed: ValueError: "
                       r"moment_arm has shape \(21, 1, 1\); the problem \(N=21 mesh points, "
                       r"M=2 muscles, J=1 equations, K=1 actuators\) needs \(21, 2, 1\)"):
        solve(bad, tmp_path)
    assert inverse.__name__ not in child._SERVERS  # the failed one is stopped
    assert solve(_one_joint(20.0, [0.05], [1000.0]), tmp_path).success


def test_the_solver_refuses_to_run_beside_opensim() -> None:
    import subprocess
    import sys

    code = ("import opensim\n"
            "from musclekit.pipelines.simulate.dynamics.nlp.inverse import solve\n"
            "solve(None)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "cannot run in a process that imported opensim" in done.stderr


@pytest.mark.timeout(300)
def test_matches_moco_inverse_on_the_same_chunk(tmp_path: Path) -> None:
    import opensim  # noqa: F401

    from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan, plan_chunks
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings, prepare_model
    from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
    from musclekit.pipelines.simulate.dynamics.methods.inverse.solve import (
        solve_chunk as solve_inverse_chunk,
    )
    from musclekit.pipelines.simulate.opensim.files import write_mot
    from musclekit.pipelines.simulate.opensim.test_model import build_test_model, squat_motion

    feet = {"right": ("calcn_r",), "left": ("calcn_l",)}
    model = build_test_model(tmp_path / "twoleg.osim")
    motion = squat_motion(1.2, period_s=1.2)
    mot = write_mot(tmp_path / "squat.mot", motion)
    folder = prepare_model(model, tmp_path / "cache", PrepSettings(feet=feet), mot)
    chunk = plan_chunks("sq", motion.time_s, ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05,
                                                         trim_s=0.1))[0]
    out = {}
    for solver in ("casadi", "moco"):
        rep, out[solver] = solve_inverse_chunk(
            folder, mot, chunk, InverseSettings(mesh_per_s=25, max_iterations=300, solver=solver),
            tmp_path / solver)
        assert rep.status == "converged", rep.reason
        assert rep.diagnostics.solver == solver and rep.diagnostics.max_cop_clamped_moment_nm is not None
    a, b = out["casadi"], out["moco"]
    # Away from the window's first and last 0.1 s (the buffers, dropped when stitching) the
    # two solutions of the same problem agree.
    core = (a.time_s > a.time_s[0] + 0.1) & (a.time_s < a.time_s[-1] - 0.1)
    for stream, tol in (("activations", 0.03), ("muscle_forces", 40.0)):
        va = a.values[stream][core]
        vb = np.column_stack([np.interp(a.time_s[core], b.time_s, col)
                              for col in b.values[stream].T])
        assert np.abs(va - vb).max() < tol, stream
    vas = a.channels["activations"].index("vasint_r")
    assert a.values["activations"][core, vas].max() > 0.1  # the knee extensors do the work
