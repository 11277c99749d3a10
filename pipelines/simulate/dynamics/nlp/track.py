"""One linearised muscle-driven tracking problem with foot contact, by direct collocation.

The `track` method's own solver (methods/track/solve.py drives the iteration;
methods/track/setup.py fills the arrays from OpenSim). Unknowns on the mesh (N points): independent coordinates q, speeds
v, accelerations a; muscle activations and excitations; coordinate-actuator controls
(residuals at the root, reserves and torque actuators elsewhere).

    minimise   1/T integral( w_q |q - q_ref|^2 + w_v |v - v_ref|^2 + w_a |a - a_ref|^2
                             + w_e (sum e^2 + sum (F_r / s_r)^2 + w_r sum (F_res / s_res)^2)
                             + 1e-3 sum act^2 ) dt                         (trapezoidal)
    (F / s: actuator forces over their cost scale: optimal force for residuals and reserves,
    `torque_cost_nm` for the actuators of coordinates no muscle crosses)
    subject to q' = v, v' = a (trapezoidal); DeGroote-Fregly activation dynamics, starting
               in equilibrium; 0 <= act, e <= 1; |q - q_lin| within a trust region;
               G_lin(q, v, a) = sum_m R_m (F0_m + act_m F1_m) + sum_r o_r c_r + tau_contact

G_lin is the skeleton's inverse dynamics linearised at the current trajectory (q_lin, v_lin,
a_lin); tau_contact maps each smooth contact sphere's force (kernel/contact_law.py, the exact
nonlinear SmoothSphereHalfSpaceForce law) through the sphere's Jacobian: centre
c = c_lin + J (q - q_lin), velocity J v + d(J v_lin)/dq (q - q_lin). Muscle forces and moment
arms are those at q_lin, plus the first-order change of the muscles' and the contact forces'
generalized forces with q and v (`applied_dq`, `applied_dv`), so that the local model agrees
with the nonlinear one to first order in the step.

Like every NLP module, this one never imports opensim and runs in a child process
(`child.solve_in_child`): the PyPI casadi wheel and the opensim wheel cannot share a process.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from musclekit.pipelines.simulate.dynamics.kernel.contact_law import (
    ContactSphere,
    cross,
    sphere_force,
)
from musclekit.pipelines.simulate.dynamics.nlp.child import child_main, solve_in_child
from musclekit.pipelines.simulate.dynamics.nlp.common import (
    activation_rate,
    actuator_matrix,
    load_npz,
    save_npz,
    sparse_dm,
    trapezoid_weights,
)
from musclekit.pipelines.simulate.dynamics.nlp.reuse import (
    Parameters,
    Reusable,
    structure_key,
)

WHAT = "track NLP solve"

DEFAULT_TRACK_WEIGHTS = {
    # w_q on squared coordinate errors (rad^2 or m^2): 0.01 rad or 1 cm costs as much as one
    # muscle's full excitation / 10. With 100 (MocoTrack's default scale) the real squat
    # strayed up to 0.2 rad from the motion to spare the lumbar actuator.
    "states": 1e4,
    "speeds": 1.0,  # w_v on squared speed errors
    # w_a on squared acceleration errors (as OpenCap tracks accelerations): it damps the
    # trapezoidal rule's zig-zag mode, in which speeds and accelerations alternate without
    # moving the coordinates; with 1e-4 IPOPT wandered along it for 1000s of iterations on a
    # real squat chunk, with 1e-2 that round converged in 46. With 1e-2 a round on the
    # default model's squat cycled (period 16, a mesh end point's accelerations) for all
    # 2500 iterations, under either barrier strategy, without NLP scaling, with a
    # limited-memory Hessian or with half the trust region; with 1e-1 the same round solved
    # in 33 iterations, and every round of that squat's six chunks in <= 20.
    "accelerations": 1e-1,
    "control_effort": 10.0,  # w_e on squared excitations and reserve controls
    "residual_weight": 100.0,  # w_r: residual controls cost w_e * w_r
    # w_f on each foot's squared vertical and fore-aft force error in body weights, when a
    # target is given (TrackSettings.grf_weight, the same value, documents the choice)
    "grf": 1e4,
    # The mediolateral force of each foot, tracked with the same target at this multiple of
    # w_f (0: not tracked). Left free, the sideways shear is a control the optimiser gets for
    # a sub-mm/s slip of the stance foot (the friction law's transition velocity is 0.2 m/s)
    # and it spends it on the hip abductors: at the hip's ~0.9 m height each 10 N of shear is
    # ~9 N m of abductor moment. On the Rajagopal walk (validate_rajagopal_track_emg.py,
    # docs/validation.md section 4) the right foot pushed 6 N laterally in the loading
    # response where the plates have 0.2 N, leaving 2 N m of abduction where the plates' ID
    # has 13.
    "grf_mediolateral": 1.0,
}
ACTIVATION_WEIGHT = 1e-3

# IPOPT's linear algebra (MUMPS), as nlp/inverse.py sets it for the same reasons: a working
# space of twice MUMPS's estimate instead of three times (fewer page faults, same arithmetic),
# iterative refinement only where a solve's residual asks for it, and METIS's fill-reducing
# ordering (5) instead of MUMPS's automatic choice. On the Rajagopal walk's first chunk (round
# 1 stopped at 100 iterations, round 3 solved in 34) the same iterates to 5e-8 of the
# objective in 34.6 CPU s instead of 41.0 (round 1) and 9.7 instead of 15.0 (round 3);
# docs/benchmarks.md, "track (casadi)".
MUMPS_OPTIONS = {"ipopt.mumps_mem_percent": 100, "ipopt.min_refinement_steps": 0,
                 "ipopt.mumps_pivot_order": 5}


@dataclass
class TrackProblem:
    """All arrays on the mesh (N points): n independent coordinates, M muscles, K actuators,
    S contact spheres. Coordinates are in rad or m; `translational` (n,) is 1 for metres."""

    time_s: np.ndarray
    q_ref: np.ndarray  # (N, n)
    q_lin: np.ndarray  # (N, n) the linearisation trajectory
    v_lin: np.ndarray
    a_lin: np.ndarray
    g0: np.ndarray  # (N, n) inverse dynamics at the linearisation point
    dg_dq: np.ndarray  # (N, n, n)
    dg_dv: np.ndarray
    dg_da: np.ndarray  # the (folded) mass matrix
    sphere_centre: np.ndarray  # (N, S, 3) in ground
    sphere_jacobian: np.ndarray  # (N, S, 3, n)
    body_angular_jacobian: np.ndarray  # (N, S, 3, n) of the body each sphere is on
    force_passive: np.ndarray  # (N, M)
    force_active: np.ndarray  # (N, M)
    moment_arm: np.ndarray  # (N, M, n)
    translational: np.ndarray  # (n,)
    actuator_coordinate: np.ndarray  # (K,)
    actuator_optimal_force: np.ndarray  # (K,)
    actuator_is_residual: np.ndarray  # (K,) 1 for the root's residual actuators
    actuator_cost_scale: np.ndarray  # (K,) force (N or N m) whose square costs w_e
    activation_time_constant_s: np.ndarray
    deactivation_time_constant_s: np.ndarray
    activation_smoothing: np.ndarray
    muscles: list[str] = field(default_factory=list)
    coordinates: list[str] = field(default_factory=list)
    actuators: list[str] = field(default_factory=list)
    spheres: list[dict] = field(default_factory=list)
    # Ground forces to follow (`--track-grf`): (N, 2, 3) per foot (right, left) in ground, N;
    # `sphere_side` (S,) the foot each sphere is under (0 right, 1 left, -1 neither).
    # None: no force tracking.
    # (N, S, 3, n) d(J(q) v)/dq at (q_lin, v_lin): the centre velocity is linearised as
    # J v + dvel_dq (q - q_lin), not J v alone (None: the latter, as before)
    sphere_velocity_dq: np.ndarray | None = None
    # (N, n, n) the applied forces' first-order change with q and v that the terms above
    # hold at q_lin: the contact forces through the spheres' Jacobians at q (J(q)^T F with
    # F at the linearisation point) and the muscles' generalized force (moment arms,
    # force-length, force-velocity at the linearisation point's activations). None: left
    # out (the local model then misses OpenSim's equations to first order in the step).
    applied_dq: np.ndarray | None = None
    applied_dv: np.ndarray | None = None
    grf_target: np.ndarray | None = None
    sphere_side: np.ndarray | None = None
    # weights (DEFAULT_TRACK_WEIGHTS keys), "trust_rad", "trust_m", "force_scale_n",
    # "tolerance", "max_iterations", "vertical_coordinate" (index), "offset_range_m"
    settings: dict = field(default_factory=dict)

    def save(self, path: Path, guess: dict[str, np.ndarray] | None = None) -> None:
        save_npz(path, self, guess)

    @classmethod
    def load(cls, path: Path) -> tuple[TrackProblem, dict[str, np.ndarray]]:
        return load_npz(cls, path)


@dataclass
class TrackSolution:
    """q, v, a: (N, n); activation, excitation: (N, M); control: (N, K)."""

    q: np.ndarray
    v: np.ndarray
    a: np.ndarray
    activation: np.ndarray
    excitation: np.ndarray
    control: np.ndarray
    offset: float  # m, the optimised floor offset of the vertical coordinate's reference
    success: bool
    status: str
    iterations: int
    objective: float
    seconds: float

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(getattr(self, k)) for k in
                ("q", "v", "a", "activation", "excitation", "control", "offset")}




def _sphere_wrench_function(ca, sphere: ContactSphere):
    """y = (centre (3), centre velocity (3), body angular velocity (3)) -> (force (3), its
    moment about the centre (3)), in ground: one sphere's contact law as a CasADi function."""
    y = ca.SX.sym("y", 9)
    centre = [y[i] for i in range(3)]
    force, point = sphere_force(ca, sphere, centre, [y[i] for i in range(3, 6)],
                                [y[i] for i in range(6, 9)])
    # The force acts at a point of the sphere's body (contact.py): about the centre its moment
    # is (P - c) x F, which the body's angular-velocity Jacobian maps to generalized forces.
    moment = cross([point[i] - centre[i] for i in range(3)], force)
    return ca.Function("sphere_wrench", [y], [ca.vertcat(*force, *moment)])


def _contact_matrices(problem: TrackProblem, columns: list[tuple[int, int]]):
    """The contact terms' sparse maps for `columns` ((mesh point, sphere) per column): Y
    (9 per column x 2 n N) and y0 with each column's (centre, centre velocity, angular
    velocity) = Y (vec(q - q_lin), vec(v)) + y0, and T (n N x 6 per column) mapping the
    columns' (force, moment) back to generalized forces. Every entry lies in its own
    (row, column), so the matrices do not depend on the order the entries are listed in;
    numpy fancy indexing over all columns at once (a Python loop per column and row took
    ~0.5 CPU s a round on the Rajagopal walk)."""
    from scipy import sparse

    N, n = problem.q_lin.shape
    k = np.array([c[0] for c in columns], dtype=int)
    s = np.array([c[1] for c in columns], dtype=int)
    C = len(columns)
    J = np.asarray(problem.sphere_jacobian)[k, s]  # (C, 3, n)
    Jw = np.asarray(problem.body_angular_jacobian)[k, s]
    y0 = np.zeros((C, 9))
    y0[:, :3] = np.asarray(problem.sphere_centre)[k, s]
    y_rows, y_cols, y_vals, t_rows, t_cols, t_vals = [], [], [], [], [], []
    if problem.sphere_velocity_dq is not None:
        # the pose's first-order effect on the centre's velocity (from dq)
        H = np.asarray(problem.sphere_velocity_dq)[k, s]
        c, i, j = np.nonzero(np.abs(H) > 1e-12)
        y_rows.append(9 * c + 3 + i)
        y_cols.append(k[c] * n + j)
        y_vals.append(H[c, i, j])
    # centre (from dq), centre velocity (from v); generalized force of F_i
    c, i, j = np.nonzero(J)
    y_rows += [9 * c + i, 9 * c + 3 + i]
    y_cols += [k[c] * n + j, n * N + k[c] * n + j]
    y_vals += [J[c, i, j], J[c, i, j]]
    t_rows.append(k[c] * n + j)
    t_cols.append(6 * c + i)
    t_vals.append(J[c, i, j])
    c, i, j = np.nonzero(Jw)
    y_rows.append(9 * c + 6 + i)
    y_cols.append(n * N + k[c] * n + j)
    y_vals.append(Jw[c, i, j])
    t_rows.append(k[c] * n + j)
    t_cols.append(6 * c + 3 + i)
    t_vals.append(Jw[c, i, j])
    Y = sparse.csc_matrix((np.concatenate(y_vals), (np.concatenate(y_rows),
                                                    np.concatenate(y_cols))),
                          shape=(9 * C, 2 * n * N))
    T = sparse.csc_matrix((np.concatenate(t_vals), (np.concatenate(t_rows),
                                                    np.concatenate(t_cols))),
                          shape=(n * N, 6 * C))
    return Y, T, y0.ravel()


def _sphere_columns(spheres: list[ContactSphere], N: int
                    ) -> tuple[dict[tuple, list[int]], list[tuple[int, int]]]:
    """The spheres grouped by contact parameters, and the contact terms' columns: (mesh
    point, sphere) per column, group after group."""
    groups: dict[tuple, list[int]] = {}
    for s, sphere in enumerate(spheres):
        key = tuple((k, tuple(np.atleast_1d(v_).tolist())) for k, v_ in asdict(sphere).items()
                    if k not in ("name", "body", "location_m", "force_name"))
        groups.setdefault(key, []).append(s)
    return groups, [(k, s) for members in groups.values() for s in members for k in range(N)]


def _contact_generalized_force(ca, problem: TrackProblem, spheres: list[ContactSphere], dq, v,
                               maps=None):
    """vec of the (n, N) contact generalized forces for vec(q - q_lin) `dq` and vec(v) `v`.

    Each sphere's centre, its velocity and its body's angular velocity are linear in (dq, v)
    through the Jacobians (one sparse matrix for the whole mesh); the contact law is one small
    function per parameter set mapped over spheres and mesh points; the wrenches map back to
    generalized forces through the transposed Jacobians (another sparse matrix). CasADi then
    derives only 9-input functions, and the NLP's sparsity is the Jacobians' own. `maps`:
    (Y, T, y0) of `_contact_matrices` as CasADi expressions (the NLP's parameters), else
    the problem's own as constants."""
    N = problem.q_lin.shape[0]
    groups, columns = _sphere_columns(spheres, N)
    if maps is None:
        Y, T, y0 = _contact_matrices(problem, columns)
        maps = (sparse_dm(ca, Y), sparse_dm(ca, T), ca.DM(y0))
    Y, T, y0 = maps
    y = ca.reshape(ca.mtimes(Y, ca.vertcat(dq, v)) + y0, 9, len(columns))
    wrenches, start = [], 0
    for members in groups.values():
        count = len(members) * N
        fn = _sphere_wrench_function(ca, spheres[members[0]]).map(count)
        wrenches.append(fn(y[:, start: start + count]))
        start += count
    W = ca.vec(ca.horzcat(*wrenches))
    return ca.mtimes(T, W), W, columns


def _foot_forces(ca, problem: TrackProblem, W, columns: list[tuple[int, int]],
                 axes: tuple[int, ...]):
    """(len(axes) * 2, N) each foot's summed sphere force along `axes` (rows: axis-major,
    then right, left), from the stacked wrenches `W` of `_contact_generalized_force`."""
    from scipy import sparse

    N = problem.q_lin.shape[0]
    side = np.asarray(problem.sphere_side, dtype=int)
    rows, cols = [], []
    for col, (k, s) in enumerate(columns):
        if side[s] < 0:
            continue
        for r, axis in enumerate(axes):
            rows.append((r * 2 + side[s]) * N + k)
            cols.append(6 * col + axis)
    P = sparse.csc_matrix((np.ones(len(rows)), (rows, cols)),
                          shape=(2 * len(axes) * N, 6 * len(columns)))
    return ca.reshape(ca.mtimes(sparse_dm(ca, P), W), N, 2 * len(axes)).T


def _linear_dynamics(problem: TrackProblem, S: np.ndarray):
    """The equations of motion's affine part as one sparse matrix L (nN x unknowns) and
    vector b, over the unknowns' layout in `solve` (q, v, a, act, exc, c blocks, each
    column-major over the mesh): L x + b = G_lin(q, v, a) - muscles - actuators."""
    from scipy import sparse

    N, n = problem.q_lin.shape
    M, K = problem.force_active.shape[1], S.shape[1]
    off_q, off_v, off_a, off_act = 0, n * N, 2 * n * N, 3 * n * N
    off_c = off_act + 2 * M * N
    rows, cols, vals = [], [], []

    def block(k: int, offset: int, matrix: np.ndarray) -> None:
        r, c = np.nonzero(matrix)
        rows.append(k * n + r)
        cols.append(offset + c)
        vals.append(matrix[r, c])

    b = np.zeros(n * N)
    for k in range(N):
        R = problem.moment_arm[k].T  # (n, M)
        block(k, off_q + k * n, problem.dg_dq[k])
        block(k, off_v + k * n, problem.dg_dv[k])
        block(k, off_a + k * n, problem.dg_da[k])
        block(k, off_act + k * M, -R * problem.force_active[k][None, :])
        if K:
            block(k, off_c + k * K, -S)
        b[k * n: (k + 1) * n] = (
            problem.g0[k] - problem.dg_dq[k] @ problem.q_lin[k] - problem.dg_dv[k] @ problem.v_lin[k]
            - problem.dg_da[k] @ problem.a_lin[k] - R @ problem.force_passive[k])
        # applied forces' change with the motion: - A_q (q - q_lin) - A_v (v - v_lin)
        if problem.applied_dq is not None:
            block(k, off_q + k * n, -problem.applied_dq[k])
            b[k * n: (k + 1) * n] += problem.applied_dq[k] @ problem.q_lin[k]
        if problem.applied_dv is not None:
            block(k, off_v + k * n, -problem.applied_dv[k])
            b[k * n: (k + 1) * n] += problem.applied_dv[k] @ problem.v_lin[k]
    width = off_c + K * N + 1
    L = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n * N, width))
    return L, b


# The solver this process built last (the NLP server's: a chunk's rounds), for reuse.
_REUSABLE: dict[str, Reusable] = {}


def _structure_key(problem: TrackProblem, st: dict) -> str:
    """What a built solver holds as constants: everything but the local model (the
    linearisation, in the parameters) and the trust region (in the bounds)."""
    local = {"q_lin", "v_lin", "a_lin", "g0", "dg_dq", "dg_dv", "dg_da", "sphere_centre",
             "sphere_jacobian", "body_angular_jacobian", "sphere_velocity_dq", "applied_dq",
             "applied_dv", "force_passive", "force_active", "moment_arm", "settings"}
    arrays = {k: v for k, v in vars(problem).items() if k not in local}
    arrays["shape"] = np.array([*problem.q_lin.shape, problem.force_active.shape[1],
                                int(problem.sphere_velocity_dq is None)])
    return structure_key(arrays, {k: v for k, v in st.items() if k not in ("trust_rad",
                                                                          "trust_m")})


def _local_model(problem: TrackProblem, st: dict, spheres: list[ContactSphere], S: np.ndarray):
    """((sparse matrices, vectors) of the round's local model, the reusable solver when
    this process's last one has this structure and its parameters' pattern covers them
    (else None), the parameters' layout to state the NLP with)."""
    L, b = _linear_dynamics(problem, S)
    Y, T, y0 = _contact_matrices(problem, _sphere_columns(spheres, problem.q_lin.shape[0])[1])
    local = ({"L": L, "Y": Y, "T": T}, {"b": b, "y0": y0, "q_lin": problem.q_lin.ravel()})
    last = _REUSABLE.get("track")
    if last is not None and last.key == _structure_key(problem, st) \
            and last.layout.covers(*local):
        return local, last, last.layout
    # A solver to build: its pattern holds what the next rounds' local models are likely to
    # need too (a slope at one mesh point at every mesh point); between the Rajagopal walk's
    # rounds ~200 of L's 127 k non-zeros were new each round (finite-difference slopes at
    # the rounding's level, spheres coming into load). A later round with a non-zero
    # outside it widens it (its solver built again).
    wide = ({"L": _uniform_over_mesh(L, problem), "Y": _velocity_slope_room(Y, problem, spheres),
             "T": T}, local[1])
    if last is None or last.key != _structure_key(problem, st):
        return local, None, Parameters.of(*wide)
    return local, None, last.layout.widened(*wide)


def _uniform_over_mesh(L, problem: TrackProblem):
    """L (`_linear_dynamics`) with every mesh point's blocks given the union over all mesh
    points of their non-zero positions, and the q, v and a blocks each the union of the
    three (entries 1: a pattern, not values). Finite-difference slopes that are zero in
    theory (an arm's generalized force against the pelvis's translational speed) come and
    go between rounds at the rounding's level; the mass matrix's pattern holds them."""
    from scipy import sparse

    N, n = problem.q_lin.shape
    M, K = problem.force_active.shape[1], len(problem.actuator_coordinate)
    widths = [n, n, n, M, M, K]
    offsets = np.concatenate([[0], np.cumsum([w * N for w in widths])])
    coo = L.tocoo()
    rows, cols = [coo.row], [coo.col]

    def pairs_of(b: int) -> np.ndarray:
        inside = (coo.col >= offsets[b]) & (coo.col < offsets[b + 1])
        return np.stack([coo.row[inside] % n, (coo.col[inside] - offsets[b]) % widths[b]],
                        axis=1)

    skeleton = np.concatenate([pairs_of(b) for b in range(3)])
    for b, w in enumerate(widths):
        pairs = np.unique(skeleton if b < 3 else pairs_of(b), axis=0)
        if not w or not len(pairs):
            continue
        k = np.repeat(np.arange(N), len(pairs))
        rows.append(k * n + np.tile(pairs[:, 0], N))
        cols.append(offsets[b] + k * w + np.tile(pairs[:, 1], N))
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return sparse.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=L.shape)


def _velocity_slope_room(Y, problem: TrackProblem, spheres: list[ContactSphere]):
    """Y (`_contact_matrices`) as a pattern (entries 1) with each sphere's velocity slopes
    at every mesh point where any of its mesh points has them (the same coordinates: those
    that move the sphere), not only where they pass the cut-off this round."""
    from scipy import sparse

    pattern = abs(Y).tocsc()
    pattern.data[:] = 1.0
    if problem.sphere_velocity_dq is None:
        return pattern
    N, n = problem.q_lin.shape
    columns = _sphere_columns(spheres, N)[1]
    k = np.array([c[0] for c in columns], dtype=int)
    s = np.array([c[1] for c in columns], dtype=int)
    H = np.abs(np.asarray(problem.sphere_velocity_dq)) > 1e-12  # (N, S, 3, n)
    seen = H.any(axis=0)[s]  # (C, 3, n): the sphere's slopes at any mesh point
    c, i, j = np.nonzero(seen)
    room = sparse.csc_matrix((np.ones(len(c)), (9 * c + 3 + i, k[c] * n + j)),
                             shape=Y.shape)
    out = pattern + room
    out.data[:] = 1.0
    return out


def ipopt_options(st: dict) -> dict:
    """nlpsol's options for one round: IPOPT silent (or at `print_level`), the tolerances and
    iteration cap of `st` (the problem's settings over DEFAULT_TRACK_WEIGHTS), the adaptive
    barrier update and MUMPS with MUMPS_OPTIONS."""
    tol = float(st["tolerance"])
    return {
        "print_time": False, "ipopt.print_level": int(st.get("print_level", 0)), "ipopt.sb": "yes",
        "ipopt.tol": tol, "ipopt.constr_viol_tol": tol,
        # Near the optimum a sphere at the edge of contact (steep smoothing functions) can
        # keep IPOPT cycling just above `tol` (measured on a real squat chunk: objective flat
        # to 1e-5, equations met to 1e-3 of body weight, for 100s of iterations). Such a
        # point is accepted here; whether the chunk is accepted is decided outside, by
        # OpenSim's own equations of motion and the tracking error (methods/track/solve.py).
        "ipopt.acceptable_tol": 100 * tol, "ipopt.acceptable_constr_viol_tol": 10 * tol,
        "ipopt.acceptable_obj_change_tol": 1e-5, "ipopt.acceptable_iter": 10,
        "ipopt.max_iter": int(st["max_iterations"]), "ipopt.mu_strategy": "adaptive",
        "ipopt.linear_solver": "mumps", **MUMPS_OPTIONS,
    }


def _nlp(ca, problem: TrackProblem, st: dict, spheres: list[ContactSphere], layout) -> dict:
    """The round's NLP for nlpsol: x, f, g and the local model as its parameters p (in
    `layout`), stated only when a solver is built (a reused one already holds it)."""
    t = np.asarray(problem.time_s, dtype=float)
    N, n = problem.q_lin.shape
    M = problem.force_active.shape[1]
    K = len(problem.actuator_coordinate)
    h = np.diff(t)
    w = trapezoid_weights(t) / (t[-1] - t[0])

    # MX: the affine part of the equations of motion is one sparse matrix product, and the
    # contact law one small function mapped over the mesh, so CasADi derives little (stating
    # the whole problem in SX scalars took ~40 s on the 80-muscle model).
    nx = (3 * n + 2 * M + K) * N + 1
    x = ca.MX.sym("x", nx)
    blocks, pos = [], 0
    for rows in (n, n, n, M, M, K):
        blocks.append(ca.reshape(x[pos: pos + rows * N], rows, N))
        pos += rows * N
    Q, V, A, act, exc, C = blocks
    # The floor height relative to the motion, optimised (as OpenCap's vertical pelvis
    # offset): the tracked vertical coordinate is q_ref + offset.
    offset = x[pos]

    hm = ca.repmat(ca.DM(h).T, n, 1)
    g = [ca.vec(Q[:, 1:] - Q[:, :-1] - (V[:, 1:] + V[:, :-1]) * hm / 2),
         ca.vec(V[:, 1:] - V[:, :-1] - (A[:, 1:] + A[:, :-1]) * hm / 2)]

    def rep(p):  # a per-muscle constant on every mesh point
        return ca.DM(np.repeat(np.asarray(p)[:, None], N, axis=1))

    rate = activation_rate(ca, exc, act, rep(problem.activation_time_constant_s),
                           rep(problem.deactivation_time_constant_s),
                           rep(problem.activation_smoothing))
    g += [act[:, 0] - exc[:, 0],
          ca.vec(act[:, 1:] - act[:, :-1]
                 - (rate[:, 1:] + rate[:, :-1]) * ca.repmat(ca.DM(h).T, M, 1) / 2)]

    scale = 1.0 / float(st["force_scale_n"])
    p, par = layout.symbols(ca)
    tau_c, wrenches, columns = _contact_generalized_force(
        ca, problem, spheres, ca.vec(Q) - par["q_lin"], ca.vec(V),
        maps=(par["Y"], par["T"], par["y0"]))
    g.append((ca.mtimes(par["L"], x) + par["b"] - tau_c) * scale)
    g = ca.vertcat(*g)

    v_ref = np.gradient(problem.q_ref, t, axis=0)
    a_ref = np.gradient(v_ref, t, axis=0)
    res = problem.actuator_is_residual.astype(bool)
    cw = np.where(res, st["control_effort"] * st["residual_weight"], st["control_effort"])
    cw = cw * (problem.actuator_optimal_force / problem.actuator_cost_scale) ** 2
    shift = np.zeros((n, 1))
    shift[int(st["vertical_coordinate"]), 0] = 1.0
    target = ca.DM(problem.q_ref.T) + ca.mtimes(ca.DM(shift), ca.DM.ones(1, N)) * offset
    per_point = (st["states"] * ca.sum1((Q - target) ** 2)
                 + st["speeds"] * ca.sum1((V - ca.DM(v_ref.T)) ** 2)
                 + st["accelerations"] * ca.sum1((A - ca.DM(a_ref.T)) ** 2)
                 + st["control_effort"] * ca.sum1(exc ** 2)
                 + ACTIVATION_WEIGHT * ca.sum1(act ** 2))
    if K:
        per_point = per_point + ca.sum1(ca.DM(np.repeat(cw[:, None], N, axis=1)) * C ** 2)
    if problem.grf_target is not None:
        # Vertical (y), fore-aft (x) and, unless its multiple is 0, mediolateral (z) force of
        # each foot, in body weights; rows axis-major, then right, left.
        ml = float(st["grf_mediolateral"])
        axes = (1, 0, 2) if ml > 0 else (1, 0)
        feet = _foot_forces(ca, problem, wrenches, columns, axes)
        grf_ref = np.concatenate([np.asarray(problem.grf_target)[:, :, a].T for a in axes])
        row_weight = np.repeat([1.0, 1.0, ml][:len(axes)], 2)[:, None] * float(st["grf"])
        per_point = per_point + ca.sum1(
            ca.DM(np.repeat(row_weight, N, axis=1)) * ((feet - ca.DM(grf_ref)) * scale) ** 2)
    return {"x": x, "f": ca.mtimes(per_point, ca.DM(w)), "g": g, "p": p}



def solve(problem: TrackProblem, guess: dict[str, np.ndarray] | None = None) -> TrackSolution:
    """Solve with IPOPT (exact Hessian by CasADi). Only in a process without opensim."""
    if "opensim" in sys.modules:
        raise RuntimeError("the track NLP cannot run in a process that imported opensim (their "
                           "CasADi libraries clash): use solve_in_subprocess")
    import casadi as ca

    st = {**DEFAULT_TRACK_WEIGHTS, **problem.settings}
    N, n = problem.q_lin.shape
    M = problem.force_active.shape[1]
    K = len(problem.actuator_coordinate)
    spheres = [ContactSphere(**d) for d in problem.spheres]

    S = actuator_matrix(problem.actuator_coordinate, problem.actuator_optimal_force, n)
    # The local model (the round's linearisation) as the NLP's parameters, so that the next
    # round of the chunk reuses this solver (nlp/reuse.py).
    local, reused, layout = _local_model(problem, st, spheres, S)

    trust = np.tile(np.where(problem.translational > 0, st["trust_m"], st["trust_rad"]), N)
    # vec() is column-major: (rows, N) blocks become the (N, rows) arrays' C-order ravel.
    reach = float(st["offset_range_m"])
    lbx = np.concatenate([problem.q_lin.ravel() - trust, np.full(2 * n * N, -np.inf),
                          np.zeros(2 * M * N), np.full(K * N, -np.inf), [-reach]])
    ubx = np.concatenate([problem.q_lin.ravel() + trust, np.full(2 * n * N, np.inf),
                          np.ones(2 * M * N), np.full(K * N, np.inf), [reach]])

    if reused is not None:
        solver = reused.solver
    else:
        solver = ca.nlpsol("track", "ipopt", _nlp(ca, problem, st, spheres, layout),
                           ipopt_options(st))
        _REUSABLE["track"] = Reusable(_structure_key(problem, st), layout, solver)
    guess = guess or {}
    x0 = np.concatenate([
        problem.q_lin.ravel(), problem.v_lin.ravel(), problem.a_lin.ravel(),
        guess.get("activation", np.full((N, M), 0.05)).ravel(),
        guess.get("excitation", np.full((N, M), 0.05)).ravel(),
        guess.get("control", np.zeros((N, K))).ravel(),
        np.atleast_1d(guess.get("offset", 0.0)).ravel()[:1],
    ])
    start = time.perf_counter()
    out = solver(x0=x0, p=layout.values(*local), lbx=lbx, ubx=ubx, lbg=0.0, ubg=0.0)
    seconds = time.perf_counter() - start
    stats = solver.stats()
    xv = np.asarray(out["x"]).ravel()
    blocks, pos = [], 0
    for rows in (n, n, n, M, M, K):
        blocks.append(xv[pos: pos + rows * N].reshape(N, rows))
        pos += rows * N
    status = str(stats.get("return_status"))
    return TrackSolution(*blocks, offset=float(xv[pos]),
                         success=bool(stats.get("success", False))
                         or status == "Solved_To_Acceptable_Level",
                         status=status,
                         iterations=int(stats.get("iter_count", 0)), objective=float(out["f"]),
                         seconds=seconds)


def solve_in_subprocess(problem: TrackProblem, guess: dict[str, np.ndarray], work: Path,
                        timeout_s: float | None = None) -> TrackSolution:
    """Solve one linearised problem in a child process (casadi cannot share opensim's):
    this process's solver server (child.SolverServer), so that a chunk's rounds load Python
    and CasADi once (~0.5 CPU s a round); solve.py stops it after each chunk."""
    return solve_in_child(__name__, problem, work, guess=guess, timeout_s=timeout_s,
                          keep=True)


SOLUTION = TrackSolution

if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:], TrackProblem, solve))
