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
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import MissingDependencyError
from musclekit.pipelines.simulate.dynamics.nlp.child import child_main, solve_in_child
from musclekit.pipelines.simulate.dynamics.nlp.common import (
    activation_rate,
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








def _check_shapes(problem: RedundancyProblem) -> None:
    """ValueError naming the first array whose shape disagrees with the mesh (N), muscles
    (M), equations (J) and actuators (K) of the problem."""
    N, M = np.shape(problem.force_active)
    J, K = np.shape(problem.tau)[1], len(problem.actuator_coordinate)
    expected = {"time_s": (N,), "tau": (N, J), "force_passive": (N, M), "moment_arm": (N, M, J),
                "actuator_optimal_force": (K,), "actuator_min_control": (K,),
                "actuator_max_control": (K,), "activation_time_constant_s": (M,),
                "deactivation_time_constant_s": (M,), "activation_smoothing": (M,)}
    for name, shape in expected.items():
        if np.shape(getattr(problem, name)) != shape:
            raise ValueError(f"{name} has shape {np.shape(getattr(problem, name))}; the problem "
                             f"(N={N} mesh points, M={M} muscles, J={J} equations, K={K} "
                             f"actuators) needs {shape}")
    if N < 2:
        raise ValueError(f"the mesh has {N} point(s); a solve needs at least 2")


def _pattern(problem: RedundancyProblem) -> np.ndarray:
    """(J, M) bool: the muscle-equation pairs whose generated force is non-zero anywhere on
    the mesh (a muscle's moment arm about a coordinate it crosses). The solver is built on
    this union pattern; a pair that is zero at some mesh point gets the value 0 there."""
    gain = np.abs(problem.moment_arm) * np.abs(problem.force_active)[:, :, None]  # (N, M, J)
    return (gain > 0).any(axis=0).T


@dataclass
class _Built:
    """An IPOPT solver built for one problem shape, its numbers passed as parameters."""

    solver: object
    pattern_rows: np.ndarray  # row (equation) of each non-zero of the pattern, column-major
    pattern_cols: np.ndarray  # column (muscle) of each non-zero


# Built solvers of this process, by problem shape: the chunks of a sequence share one shape
# (mesh size, muscles, equations, actuators, which muscle crosses which coordinate), so a
# persistent solver process (child.SolverServer) builds the CasADi graph and IPOPT's
# structures once and only passes each chunk's numbers.
# A few shapes at a time (a sequence's last chunk is usually shorter, and a worker may move
# on to another subject's model): the least recently used is dropped. One built solver of
# an 80-muscle 1.68 s window holds ~0.2 GB.
_BUILT: OrderedDict[tuple, _Built] = OrderedDict()
_BUILT_MAX = 3


def _shape_key(problem: RedundancyProblem, pattern: np.ndarray) -> tuple:
    N, M = problem.force_active.shape
    return (N, M, problem.tau.shape[1], tuple(int(j) for j in problem.actuator_coordinate),
            np.packbits(pattern).tobytes(), float(problem.tolerance),
            int(problem.max_iterations))


@dataclass
class _Graph:
    """The NLP of the module docstring as CasADi SX, every number a parameter (`_build`):
    x = [vec(a); vec(e); vec(c)], p as in `_build`; kept apart so that benchmarks can try
    other derivatives or starts on the same graph (benchmarks/inverse_nlp_variants.py)."""

    x: object
    p: object
    f: object
    g: object
    a: object  # (M, N) activations
    e: object  # (M, N) excitations
    h: object  # (1, N-1) mesh intervals (s)
    w: object  # (1, N) trapezoidal weights (s)
    rate: object  # (M, N) da/dt of each muscle at each mesh point


def _graph(ca, problem: RedundancyProblem, pattern: np.ndarray) -> _Graph:
    """The NLP with p = [h (N-1); tau_a, tau_d, b (M each); generated-force gains (N x nnz);
    net demands tau - R F0 (N x J); actuator optimal forces (K)]."""
    N, M = problem.force_active.shape
    J = problem.tau.shape[1]
    K = len(problem.actuator_coordinate)
    cols, rows = np.nonzero(pattern.T)  # column-major order of the (J, M) pattern
    nnz = len(rows)
    colptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=M))]).astype(int)
    sparsity = ca.Sparsity(J, M, colptr.tolist(), rows.astype(int).tolist())

    # Scalar symbolics (SX) and an explicit NLP: every expression here is a sum of products of
    # numbers and a few variables, which SX evaluates far faster than Opti's matrix graph.
    a = ca.SX.sym("a", M, N)
    e = ca.SX.sym("e", M, N)
    c = ca.SX.sym("c", K, N)
    h = ca.SX.sym("h", 1, N - 1)
    tau_a = ca.SX.sym("tau_a", M)
    tau_d = ca.SX.sym("tau_d", M)
    b = ca.SX.sym("b", M)
    gain = ca.SX.sym("gain", nnz, N)
    demand = ca.SX.sym("demand", J, N)
    optimal = ca.SX.sym("optimal", K)
    x = ca.vertcat(ca.vec(a), ca.vec(e), ca.vec(c))
    p = ca.vertcat(ca.vec(h), tau_a, tau_d, b, ca.vec(gain), ca.vec(demand), optimal)

    rate = activation_rate(ca, e, a, ca.repmat(tau_a, 1, N), ca.repmat(tau_d, 1, N),
                           ca.repmat(b, 1, N))
    g = [
        # The window starts in activation equilibrium (a = e): a free initial activation
        # would be force the muscles could spend without ever being excited.
        a[:, 0] - e[:, 0],
        ca.vec(a[:, 1:] - a[:, :-1] - (rate[:, 1:] + rate[:, :-1]) * ca.repmat(h, M, 1) / 2),
    ]
    S = ca.SX(J, K)
    for r, j in enumerate(problem.actuator_coordinate):
        S[int(j), r] = optimal[r]
    for k in range(N):
        generated = ca.mtimes(ca.SX(sparsity, gain[:, k]), a[:, k])
        if K:
            generated = generated + ca.mtimes(S, c[:, k])
        g.append(generated - demand[:, k])
    g = ca.vertcat(*g)

    # MocoInverse's objective (squared controls), plus a tiny weight on squared activations so
    # that co-contraction, which the equations alone do not exclude, is never free.
    # Trapezoidal weights from the intervals (common.trapezoid_weights).
    w = ca.horzcat(h[:, :1] / 2, (h[:, 1:] + h[:, :-1]) / 2, h[:, -1:] / 2) if N > 1 else \
        ca.SX.zeros(1, 1)
    effort = ca.sum1(e ** 2) + ACTIVATION_WEIGHT * ca.sum1(a ** 2)
    if K:
        effort = effort + ca.sum1(c ** 2)
    f = ca.mtimes(effort, w.T)
    return _Graph(x, p, f, g, a, e, h, w, rate)


def _build(ca, problem: RedundancyProblem, pattern: np.ndarray) -> _Built:
    """IPOPT on `_graph`'s NLP, exact Hessian from CasADi."""
    cols, rows = np.nonzero(pattern.T)
    nlp = _graph(ca, problem, pattern)
    solver = ca.nlpsol("redundancy", "ipopt", {"x": nlp.x, "p": nlp.p, "f": nlp.f, "g": nlp.g},
                       ipopt_options(problem))
    return _Built(solver, rows, cols)


# MUMPS's working space above its own estimate, in percent. IPOPT's default (1000) has MUMPS
# allocate eleven times the estimate on every factorization: on the 80-muscle running chunk
# that was 0.8 million page faults per solve (the kernel zeroing fresh pages, ~10 % of the
# solve's CPU). The space does not change the factorization's arithmetic (the same solutions
# bit for bit, docs/benchmarks.md); where it is short, MUMPS says so and IPOPT retries with
# more (IPOPT's MumpsSolverInterface), so a tight estimate costs a refactorization at worst.
MUMPS_MEM_PERCENT = 100

# IPOPT refines every solve of its linear system at least once by default (a residual and a
# second back-substitution; back-substitutions were a quarter of IPOPT's time on running).
# With 0 it still refines whenever the residual exceeds its bound (residual_ratio_max), so a
# poorly solved system is refined as before; walking and squat chunks end within 3.3e-11
# of the refined solutions, running chunks within 2.3e-6 except one that took another path
# to a lower objective (docs/benchmarks.md).
MIN_REFINEMENT_STEPS = 0


def ipopt_options(problem: RedundancyProblem) -> dict:
    """nlpsol's options for `problem`: IPOPT silent, tolerances and iteration cap from the
    problem (InverseSettings), the adaptive barrier update, MUMPS's working space, iterative
    refinement only where a solve's residual asks for it."""
    return {
        "print_time": False, "ipopt.print_level": 0, "ipopt.sb": "yes",
        "ipopt.tol": problem.tolerance, "ipopt.constr_viol_tol": problem.tolerance,
        "ipopt.max_iter": int(problem.max_iterations), "ipopt.mu_strategy": "adaptive",
        "ipopt.mumps_mem_percent": MUMPS_MEM_PERCENT,
        "ipopt.min_refinement_steps": MIN_REFINEMENT_STEPS,
    }


def _parameters(problem: RedundancyProblem, built: _Built) -> np.ndarray:
    """The numbers of `problem` in the order of `_build`'s parameter vector."""
    t = np.asarray(problem.time_s, dtype=float)
    arms = problem.moment_arm  # (N, M, J)
    gains = arms[:, built.pattern_cols, built.pattern_rows] * \
        problem.force_active[:, built.pattern_cols]  # (N, nnz)
    demand = problem.tau - np.einsum("kmj,km->kj", arms, problem.force_passive)  # (N, J)
    return np.concatenate([
        np.diff(t), problem.activation_time_constant_s, problem.deactivation_time_constant_s,
        problem.activation_smoothing, gains.ravel(), demand.ravel(),
        np.asarray(problem.actuator_optimal_force, dtype=float)])


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

    _check_shapes(problem)
    N, M = problem.force_active.shape
    K = len(problem.actuator_coordinate)
    pattern = _pattern(problem)
    key = _shape_key(problem, pattern)
    built = _BUILT.get(key)
    if built is None:
        built = _BUILT[key] = _build(ca, problem, pattern)
        while len(_BUILT) > _BUILT_MAX:
            _BUILT.popitem(last=False)
    _BUILT.move_to_end(key)
    # vec() is column-major: entry (r, k) of an (R, N) block sits at k * R + r.
    lbx = np.concatenate([np.zeros(2 * M * N), np.tile(problem.actuator_min_control, N)])
    ubx = np.concatenate([np.ones(2 * M * N), np.tile(problem.actuator_max_control, N)])
    x0 = np.concatenate([np.full(2 * M * N, 0.1), np.zeros(K * N)])
    start = time.perf_counter()
    out = built.solver(x0=x0, p=_parameters(problem, built), lbx=lbx, ubx=ubx, lbg=0.0, ubg=0.0)
    seconds = time.perf_counter() - start
    stats = built.solver.stats()
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
    """Solve in this process's persistent solver child (casadi and opensim cannot share one
    process; child.SolverServer), which keeps its built solvers between chunks."""
    return solve_in_child(__name__, problem, work, timeout_s=timeout_s, keep=True)


SOLUTION = RedundancySolution

if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:], RedundancyProblem, solve))
