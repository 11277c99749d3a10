"""The muscle redundancy problem with prescribed kinematics, by direct collocation in CasADi.

This is the problem MocoInverse solves (De Groote et al. 2016's muscle redundancy solver):
the joint angles and the ground reaction forces are given, so the generalized forces the
actuators must produce, the muscle-tendon lengths, velocities and moment arms are all known
in advance at every mesh time. With rigid tendons a DeGroote-Fregly muscle's tendon force is
affine in its activation, F = F0 + a * F1 (F0: passive and damping force, F1: the active part
at full activation), so what remains to optimise is small and smooth:

    minimise   integral( sum e^2 + sum c^2 + 1e-3 sum a^2 ) dt  (trapezoidal)
    subject to da/dt = f(e, a)            DeGroote-Fregly activation dynamics (trapezoidal),
                                          starting in equilibrium: a(t0) = e(t0)
               sum_m R[k,m,j] (F0[k,m] + a[m,k] F1[k,m]) + sum_r o_r c_r,k = tau[k,j]
               0 <= a, e <= 1;  actuator controls c within their bounds

MocoInverse evaluates the same model through OpenSim with finite-difference derivatives on
every iteration (minutes per chunk on the 80-muscle model); here OpenSim is evaluated once per
mesh point (methods/inverse/setup.py) and IPOPT gets exact derivatives from CasADi.

The `casadi` wheel from PyPI cannot share a process with the `opensim` wheel (each bundles
its own, ABI-incompatible CasADi library), so this module never imports opensim, and the
solve runs in a child process (`child.solve_in_child`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import MissingDependencyError
from musclekit.pipelines.simulate.dynamics.nlp.child import child_main, solve_in_child
from musclekit.pipelines.simulate.dynamics.nlp.common import (
    activation_rate,
    actuator_matrix,
    trapezoid_weights,
)

WHAT = "muscle redundancy solve"

ACTIVATION_WEIGHT = 1e-3


@dataclass
class RedundancyProblem:
    """All arrays on the mesh (N points); M muscles, J equations (coordinates), K actuators.

    tau: (N, J) generalized forces the actuators must produce (N m or N).
    force_passive: (N, M) tendon force at zero activation (N); force_active: (N, M) the
        additional tendon force at full activation (N).
    moment_arm: (N, M, J) in m (N m per N of tendon force; N per N for translations).
    actuator_coordinate: (K,) index of the equation each coordinate actuator acts on.
    actuator_optimal_force, actuator_min_control, actuator_max_control: (K,).
    """

    time_s: np.ndarray
    tau: np.ndarray
    force_passive: np.ndarray
    force_active: np.ndarray
    moment_arm: np.ndarray
    actuator_coordinate: np.ndarray
    actuator_optimal_force: np.ndarray
    actuator_min_control: np.ndarray
    actuator_max_control: np.ndarray
    activation_time_constant_s: np.ndarray  # (M,)
    deactivation_time_constant_s: np.ndarray  # (M,)
    activation_smoothing: np.ndarray  # (M,) the tanh steepness b of DeGroote-Fregly
    muscles: list[str] = field(default_factory=list)
    coordinates: list[str] = field(default_factory=list)
    actuators: list[str] = field(default_factory=list)
    # IPOPT's settings, chosen by the caller (InverseSettings)
    tolerance: float = 1e-3
    max_iterations: int = 2500



@dataclass
class RedundancySolution:
    """activation, excitation: (N, M); actuator_control: (N, K) (force = control * optimal
    force); success, status (IPOPT's return status), iterations, objective, seconds."""

    activation: np.ndarray
    excitation: np.ndarray
    actuator_control: np.ndarray
    success: bool
    status: str
    iterations: int
    objective: float
    seconds: float

    def tendon_force(self, problem: RedundancyProblem) -> np.ndarray:
        return problem.force_passive + self.activation * problem.force_active

    def actuator_force(self, problem: RedundancyProblem) -> np.ndarray:
        return self.actuator_control * problem.actuator_optimal_force








def solve(problem: RedundancyProblem) -> RedundancySolution:
    """Solve with IPOPT (exact Hessian via CasADi's algorithmic differentiation). Only in a
    process without opensim: use `solve_in_subprocess` anywhere else."""
    if "opensim" in sys.modules:
        raise RuntimeError("the muscle redundancy solve cannot run in a process that imported "
                           "opensim (their CasADi libraries clash): use solve_in_subprocess")
    try:
        import casadi as ca
    except ImportError as err:  # pragma: no cover - casadi is a dependency
        raise MissingDependencyError(
            f"the inverse method needs casadi ({err}): pip install casadi") from err

    t = np.asarray(problem.time_s, dtype=float)
    N, M = problem.force_active.shape
    J = problem.tau.shape[1]
    K = len(problem.actuator_coordinate)
    h = np.diff(t)
    w = trapezoid_weights(t)

    # Scalar symbolics (SX) and an explicit NLP: every expression here is a sum of products of
    # numbers and a few variables, which SX evaluates far faster than Opti's matrix graph.
    a = ca.SX.sym("a", M, N)
    e = ca.SX.sym("e", M, N)
    c = ca.SX.sym("c", K, N)
    x = ca.vertcat(ca.vec(a), ca.vec(e), ca.vec(c))
    # vec() is column-major: entry (r, k) of an (R, N) block sits at k * R + r.
    lbx = np.concatenate([np.zeros(2 * M * N), np.tile(problem.actuator_min_control, N)])
    ubx = np.concatenate([np.ones(2 * M * N), np.tile(problem.actuator_max_control, N)])

    tau_a = np.repeat(problem.activation_time_constant_s[:, None], N, axis=1)
    tau_d = np.repeat(problem.deactivation_time_constant_s[:, None], N, axis=1)
    b = np.repeat(problem.activation_smoothing[:, None], N, axis=1)
    rate = activation_rate(ca, e, a, ca.DM(tau_a), ca.DM(tau_d), ca.DM(b))
    g = [
        # The window starts in activation equilibrium (a = e): a free initial activation
        # would be force the muscles could spend without ever being excited.
        a[:, 0] - e[:, 0],
        ca.vec(a[:, 1:] - a[:, :-1] - (rate[:, 1:] + rate[:, :-1]) * ca.repmat(
            ca.DM(h).T, M, 1) / 2),
    ]
    S = actuator_matrix(problem.actuator_coordinate, problem.actuator_optimal_force, J)
    for k in range(N):
        R = problem.moment_arm[k].T  # (J, M)
        generated = ca.mtimes(ca.DM(R * problem.force_active[k][None, :]), a[:, k])
        if K:
            generated = generated + ca.mtimes(ca.DM(S), c[:, k])
        g.append(generated - ca.DM(problem.tau[k] - R @ problem.force_passive[k]))
    g = ca.vertcat(*g)

    # MocoInverse's objective (squared controls), plus a tiny weight on squared activations so
    # that co-contraction, which the equations alone do not exclude, is never free.
    effort = ca.sum1(e ** 2) + ACTIVATION_WEIGHT * ca.sum1(a ** 2)
    if K:
        effort = effort + ca.sum1(c ** 2)
    f = ca.mtimes(effort, ca.DM(w))

    solver = ca.nlpsol("redundancy", "ipopt", {"x": x, "f": f, "g": g}, {
        "print_time": False, "ipopt.print_level": 0, "ipopt.sb": "yes",
        "ipopt.tol": problem.tolerance, "ipopt.constr_viol_tol": problem.tolerance,
        "ipopt.max_iter": int(problem.max_iterations), "ipopt.mu_strategy": "adaptive",
    })
    x0 = np.concatenate([np.full(2 * M * N, 0.1), np.zeros(K * N)])
    start = time.perf_counter()
    out = solver(x0=x0, lbx=lbx, ubx=ubx, lbg=0.0, ubg=0.0)
    seconds = time.perf_counter() - start
    stats = solver.stats()
    xv = np.asarray(out["x"]).ravel()
    # Column-major vec(): each mesh point's block is contiguous, so rows are mesh points.
    return RedundancySolution(
        activation=xv[: M * N].reshape(N, M), excitation=xv[M * N: 2 * M * N].reshape(N, M),
        actuator_control=xv[2 * M * N:].reshape(N, K),
        success=bool(stats.get("success", False)), status=str(stats.get("return_status")),
        iterations=int(stats.get("iter_count", 0)), objective=float(out["f"]),
        seconds=seconds,
    )


def solve_in_subprocess(problem: RedundancyProblem, work: Path,
                        timeout_s: float | None = None) -> RedundancySolution:
    """Solve in a child Python process (casadi and opensim cannot share one)."""
    return solve_in_child(__name__, problem, work, timeout_s=timeout_s)


SOLUTION = RedundancySolution

if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:], RedundancyProblem, solve))
