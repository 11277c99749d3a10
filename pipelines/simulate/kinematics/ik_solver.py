"""Inverse kinematics: the problem OpenSim's InverseKinematicsTool poses, solved by
Gauss-Newton per frame.

The problem is read from an `opensim.InverseKinematicsTool` (a lab's setup or one the
command built) through the tool's own `populateReferences`, so the markers, their weights,
the coordinate tasks (default, manual or from a coordinate file, GCV-splined as OpenSim
does), the marker data (units converted as OpenSim does) and the frames are the tool's.
The objective is Simbody's Assembler's, as AssemblySolver and InverseKinematicsSolver set it
up:

    goal(q) = 1/2 sum_i w_i |x_i(q) - m_i|^2 / sum_i w_i   (Markers; missing markers skipped)
            + sum_c w_c (q_c - ref_c)^2 / 2                 (QValue, one per coordinate task)

subject to the model's constraints held exactly (constraint_weight Inf: couplers such as the
patella's, a locked coordinate held at its value) and each clamped coordinate kept within
its range (AssemblySolver's `restrictQ`).

OpenSim minimises it with a general-purpose optimiser that needs many realisations of the
model per frame. Here each frame takes a few Gauss-Newton steps on the marker residuals
(Levenberg-Marquardt damping, an active set for the ranges, the constraints linearised with
Simbody's constraint Jacobian, a structured secant term for the residuals' curvature carried
from frame to frame), with the marker Jacobians from Simbody's system Jacobian (one call per
step), warm-started from the last two frames; the first frame starts from OpenSim's own
assembly, so the solution follows OpenSim's branch. It stops when the step sizes say no
coordinate has more than the tool's `accuracy` (rad or m) left to move: further than
OpenSim's tool at the same accuracy, so its goal is lower on every frame of the shared
walking and running trials, and its angles are those OpenSim's tool reaches at 1e-7
(docs/validation.md section 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class Unsupported(Exception):  # noqa: N818 - a reason, not an error: OpenSim's tool runs instead
    """A setup or model this solver does not take on; OpenSim's own tool is used instead."""


@dataclass
class IKSolution:
    """Every frame OpenSim's tool would solve (its time range, its rows of the marker file)."""

    time_s: np.ndarray  # (T,)
    coordinates: list[str]  # every model coordinate, the model's order
    values: np.ndarray  # (T, C) rad for rotations, m for translations
    marker_names: list[str]  # the markers in use (tracked and on the model)
    marker_locations_m: np.ndarray  # (T, M, 3) the model's markers in ground
    marker_errors_m: np.ndarray  # (T, M) distance to the measured marker; NaN where missing
    total_squared_m2: np.ndarray  # (T,) as OpenSim reports: missing markers count 0
    rms_m: np.ndarray  # (T,) sqrt(total / M), as OpenSim reports
    max_m: np.ndarray  # (T,)
    goal: np.ndarray  # (T,) the Assembler's goal at the solution
    iterations: np.ndarray  # (T,) Gauss-Newton steps taken
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SolverSettings:
    """Stopping rule and effort per frame."""

    step_tolerance: float  # rad or m: stop when no coordinate has more than this left to go
    max_iterations: int = 200  # per frame; the first frame starts from the default pose
    initial_damping: float = 1e-8  # Levenberg-Marquardt, relative to the normal matrix' diagonal
    goal_tolerance: float = 1e-10  # stop when a step lowers the goal by less than this share


class _Kinematics:
    """The model's marker positions, marker Jacobians and constraint errors at q, from
    Simbody (one system Jacobian per step, not one call per marker)."""

    def __init__(self, model, state, markers: list, bodies: np.ndarray):
        import opensim

        self._opensim = opensim
        self._location = opensim._simulation.Point_getLocationInGround
        self._vec3 = opensim._simbody.Vec3__to_numpy
        self.model = model
        self.state = state
        self.matter = model.getMatterSubsystem()
        self.markers = markers  # opensim.Marker, one per tracked marker
        self.bodies = bodies  # (M,) MobilizedBodyIndex of each marker's body
        self.body_frames = {}  # MobilizedBodyIndex -> a PhysicalFrame on it (its origin)
        for mk in markers:
            base = mk.getParentFrame().findBaseFrame()
            self.body_frames.setdefault(int(mk.getParentFrame().getMobilizedBodyIndex()),
                                        opensim.PhysicalFrame.safeDownCast(base))
        self._ids = sorted(self.body_frames)
        self._row = {b: k for k, b in enumerate(self._ids)}
        self._J = opensim.Matrix()
        self._Pq = opensim.Matrix()
        self._q = opensim.Vector(state.getNQ(), 0.0)
        self.nq = state.getNQ()

    def set_q(self, q: np.ndarray) -> None:
        self.state.setQ(self._opensim.Vector.createFromMat(np.ascontiguousarray(q)))
        self.model.realizePosition(self.state)

    def marker_positions(self) -> np.ndarray:
        # SWIG's own entry points: the Python wrappers around them cost as much as the call
        loc, vec = self._location, self._vec3
        return np.array([vec(loc(mk, self.state), 3) for mk in self.markers])

    def marker_jacobian(self, x: np.ndarray) -> np.ndarray:
        """(M, 3, nu): d x_i / d u, from each marker's body's spatial velocity Jacobian."""
        self.matter.calcSystemJacobian(self.state, self._J)
        J = self._J.to_numpy().reshape(-1, 6, self._J.ncol())  # per body: angular, linear
        origin = np.array([self._vec3(self.body_frames[b].getPositionInGround(self.state), 3)
                           for b in self._ids])
        rows = np.array([self._row[int(b)] for b in self.bodies])
        r = x - origin[rows]  # (M, 3) from the body's origin to the marker
        w = J[self.bodies, 0:3, :]
        v = J[self.bodies, 3:6, :]
        # v_marker = v_origin + w x r, column by column
        cross = np.stack([w[:, 1] * r[:, 2, None] - w[:, 2] * r[:, 1, None],
                          w[:, 2] * r[:, 0, None] - w[:, 0] * r[:, 2, None],
                          w[:, 0] * r[:, 1, None] - w[:, 1] * r[:, 0, None]], axis=1)
        return v + cross

    def constraint_errors(self) -> np.ndarray:
        return self.state.getQErr().to_numpy().copy()

    def constraint_jacobian(self) -> np.ndarray:
        self.matter.calcPq(self.state, self._Pq)
        if self._Pq.nrow() == 0:
            return np.zeros((0, self.nq))
        return self._Pq.to_numpy().copy()


@dataclass
class _Problem:
    """What the tool would solve, as arrays."""

    time_s: np.ndarray  # (T,)
    observed: np.ndarray  # (T, M, 3) m; NaN where missing
    weights: np.ndarray  # (M,)
    marker_names: list[str]
    coord_names: list[str]  # every model coordinate, model order
    q_index: np.ndarray  # (C,) each coordinate's index in Q
    q0: np.ndarray  # (nq,) the default state's Q (where OpenSim's first frame starts)
    free: np.ndarray  # (nq,) bool: not locked
    lower: np.ndarray  # (nq,) -inf where not clamped
    upper: np.ndarray
    goal_q: np.ndarray  # (G,) Q indices with a coordinate task
    goal_w: np.ndarray  # (G,)
    goal_ref: np.ndarray  # (T, G) the task's value per frame


def _coordinate_q_index(model, state) -> np.ndarray:
    """Each coordinate's index in Simbody's Q vector (Euler angles: one q per coordinate)."""
    cs = model.getCoordinateSet()
    n = cs.getSize()
    if state.getNQ() != n or state.getNU() != n:
        raise Unsupported(f"the model has {state.getNQ()} generalized coordinates for {n} "
                          "OpenSim coordinates (quaternions)")
    keys = [(int(cs.get(i).getBodyIndex()), int(cs.get(i).getMobilizerQIndex()))
            for i in range(n)]
    order = sorted(range(n), key=lambda i: keys[i])
    index = np.empty(n, dtype=int)
    index[order] = np.arange(n)
    # Check the layout on a copy of the state with every q different: each coordinate
    # must read its own entry of Simbody's Q.
    import opensim

    probe = opensim.State(state)
    q = 0.01 + 1e-3 * np.arange(n)
    probe.setQ(opensim.Vector.createFromMat(q))
    values = np.array([cs.get(i).getValue(probe) for i in range(n)])
    if not np.allclose(q[index], values, atol=1e-12, rtol=0):
        raise Unsupported("the model's coordinates do not map one to one onto Simbody's Q")
    return index


def _check_n_identity(model, state, q_probe: np.ndarray) -> None:
    """q-dot = u for every mobilizer (pins, sliders, custom and universal joints): the
    Jacobian in u is the Jacobian in q. Checked at a pose away from zero."""
    import opensim

    matter = model.getMatterSubsystem()
    saved = state.getQ().to_numpy().copy()
    state.setQ(opensim.Vector.createFromMat(q_probe))
    model.realizePosition(state)
    n = state.getNQ()
    e, out = opensim.Vector(n, 0.0), opensim.Vector()
    try:
        for j in range(n):
            e.set(j, 1.0)
            matter.multiplyByN(state, False, e, out)
            col = out.to_numpy()
            e.set(j, 0.0)
            col[j] -= 1.0
            if np.max(np.abs(col)) > 1e-12:
                raise Unsupported("a joint's generalized speeds are not the time derivatives "
                                  "of its coordinates (a ball or free joint)")
    finally:
        state.setQ(opensim.Vector.createFromMat(saved))
        model.realizePosition(state)


def build_problem(tool, model, state) -> tuple[_Problem, list, tuple]:
    """The tool's references (markers, weights, coordinate tasks, data rows) as arrays, the
    model's markers in use and the references themselves (OpenSim's objects, for its own
    solver). Raises Unsupported for what this solver does not take on."""
    import opensim

    cw = float(tool.get_constraint_weight())
    if math.isfinite(cw):
        raise Unsupported(f"constraint_weight {cw:g}: OpenSim then weighs constraint errors "
                          "into the goal instead of holding the constraints")
    tool.setModel(model)
    mref = opensim.MarkersReference()
    crefs = opensim.SimTKArrayCoordinateReference()
    tool.populateReferences(mref, crefs)
    names_all = mref.getNames()
    ref_names = [names_all.getElt(i) for i in range(names_all.size())]
    w_all = opensim.SimTKArrayDouble()
    mref.getWeights(state, w_all)
    mset = model.getMarkerSet()
    used = [i for i, n in enumerate(ref_names) if mset.contains(n)]
    if not used:
        raise Unsupported("no marker of the marker file is on the model")
    table = mref.getMarkerTable()
    times_all = np.array(table.getIndependentColumn(), dtype=float)
    flat_table = table.flatten()  # kept alive: getMatrix() is a view into it
    flat = flat_table.getMatrix().to_numpy().reshape(len(times_all), -1, 3)
    lo_t = max(float(tool.getStartTime()), times_all[0])
    hi_t = min(float(tool.getEndTime()), times_all[-1])
    first = int(table.getNearestRowIndexForTime(lo_t))
    last = int(table.getNearestRowIndexForTime(hi_t))
    rows = slice(first, last + 1)
    markers = [mset.get(ref_names[i]) for i in used]

    cs = model.getCoordinateSet()
    q_index = _coordinate_q_index(model, state)
    nq = state.getNQ()
    q0 = state.getQ().to_numpy().copy()
    free = np.ones(nq, dtype=bool)
    lower, upper = np.full(nq, -np.inf), np.full(nq, np.inf)
    for i in range(cs.getSize()):
        c = cs.get(i)
        if c.get_prescribed():
            raise Unsupported(f"coordinate {c.getName()} is prescribed")
        if c.getLocked(state):
            free[q_index[i]] = False
        if c.getClamped(state):
            lower[q_index[i]], upper[q_index[i]] = c.getRangeMin(), c.getRangeMax()
    coord_pos = {cs.get(i).getName(): i for i in range(cs.getSize())}
    goal_q, goal_w, goal_ref = [], [], []
    times = times_all[rows]
    probe = opensim.State(state)
    for k in range(crefs.size()):
        ref = crefs.getElt(k)
        name = ref.getName()
        c = cs.get(name)
        if c.getLocked(state):
            continue  # AssemblySolver: a locked coordinate's task is dropped; the lock holds
        if c.get_is_free_to_satisfy_constraints():
            raise Unsupported(f"coordinate task {name} on a coordinate free to satisfy "
                              "constraints")
        vals = []
        for t in times:
            probe.setTime(float(t))
            vals.append(ref.getValue(probe))
        goal_q.append(q_index[coord_pos[name]])
        goal_w.append(ref.getWeight(probe))
        goal_ref.append(vals)
    q_probe = np.clip(q0 + 0.3, np.where(np.isfinite(lower), lower, -1e9),
                      np.where(np.isfinite(upper), upper, 1e9))
    q_probe[~free] = q0[~free]
    _check_n_identity(model, state, q_probe)
    problem = _Problem(
        time_s=times, observed=flat[rows][:, used, :], weights=np.array(
            [w_all.getElt(i) for i in used], dtype=float),
        marker_names=[ref_names[i] for i in used],
        coord_names=[cs.get(i).getName() for i in range(cs.getSize())], q_index=q_index,
        q0=q0, free=free, lower=lower, upper=upper, goal_q=np.array(goal_q, dtype=int),
        goal_w=np.array(goal_w, dtype=float),
        goal_ref=np.array(goal_ref, dtype=float).T.reshape(len(times), len(goal_q)))
    return problem, markers, (mref, crefs)


class _Frame:
    """One frame's residuals: r(q) with goal = |r|^2 / 2."""

    def __init__(self, problem: _Problem, obs: np.ndarray, ref: np.ndarray):
        ok = np.isfinite(obs).all(axis=1) & (problem.weights > 0)
        self.ok = ok
        self.obs = obs[ok]
        wsum = problem.weights[ok].sum()
        self.scale = np.sqrt(problem.weights[ok] / wsum)[:, None] if wsum > 0 else None
        self.goal_q, self.ref = problem.goal_q, ref
        self.goal_s = np.sqrt(problem.goal_w)

    def residual(self, x: np.ndarray, q: np.ndarray) -> np.ndarray:
        parts = []
        if self.scale is not None:
            parts.append((self.scale * (x[self.ok] - self.obs)).ravel())
        if len(self.goal_q):
            parts.append(self.goal_s * (q[self.goal_q] - self.ref))
        return np.concatenate(parts) if parts else np.zeros(0)

    def jacobian(self, jx: np.ndarray, nq: int) -> np.ndarray:
        parts = []
        if self.scale is not None:
            parts.append((self.scale[:, :, None] * jx[self.ok]).reshape(-1, nq))
        if len(self.goal_q):
            jq = np.zeros((len(self.goal_q), nq))
            jq[np.arange(len(self.goal_q)), self.goal_q] = self.goal_s
            parts.append(jq)
        return np.vstack(parts) if parts else np.zeros((0, nq))


# Constraint errors enter the step test with this weight (goal units per unit error squared):
# large, as the constraints are held exactly; the linearised step meets them in one go when
# they are linear (couplers, locks), so this only guards the nonlinear ones.
_CONSTRAINT_MERIT = 1e6


def _step(H: np.ndarray, g: np.ndarray, A: np.ndarray, c: np.ndarray, damp: float
          ) -> np.ndarray:
    """The damped Gauss-Newton step with linearised constraints A dq = -c (KKT system)."""
    n = len(g)
    Hd = H + damp * np.diag(np.maximum(np.diag(H), 1e-12))
    if A.shape[0] == 0:
        try:
            return -np.linalg.solve(Hd, g)
        except np.linalg.LinAlgError:
            return -np.linalg.lstsq(Hd, g, rcond=None)[0]
    K = np.zeros((n + A.shape[0], n + A.shape[0]))
    K[:n, :n], K[:n, n:], K[n:, :n] = Hd, A.T, A
    rhs = np.concatenate([-g, -c])
    try:
        sol = np.linalg.solve(K, rhs)
    except np.linalg.LinAlgError:  # redundant constraint rows
        sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
    return sol[:n]


def _bounded_step(J: np.ndarray, r: np.ndarray, S: np.ndarray, Pq: np.ndarray,
                  c: np.ndarray, q: np.ndarray, problem: _Problem, damp: float) -> np.ndarray:
    """The damped step of the model 1/2 |r + J dq|^2 + 1/2 dq' S dq within the coordinates'
    ranges (active set): a coordinate on its limit whose downhill direction leaves the range
    is held there; one the step would carry past its limit is moved to the limit and held,
    and the others are solved again, until the step stays within every range."""
    nq = len(q)
    g_full = J.T @ r
    eps = 1e-12
    held = ((q <= problem.lower + eps) & (g_full > 0)) | \
           ((q >= problem.upper - eps) & (g_full < 0))
    dq = np.zeros(nq)
    pinned = np.zeros(nq, dtype=bool)  # moved to a limit this step
    for _ in range(nq):
        act = problem.free & ~held & ~pinned
        r_lin = r + J[:, pinned] @ dq[pinned]
        c_lin = c + Pq[:, pinned] @ dq[pinned] if len(c) else c
        Jf = J[:, act]
        A = Pq[:, act]
        keep = np.abs(A).max(axis=1) > 0 if A.shape[0] else np.zeros(0, dtype=bool)
        Saa = S[np.ix_(act, act)]
        g = Jf.T @ r_lin + S[np.ix_(act, pinned)] @ dq[pinned]
        dq[act] = _step(Jf.T @ Jf + Saa, g, A[keep], c_lin[keep], damp)
        q_new = q + dq
        over = act & ((q_new < problem.lower) | (q_new > problem.upper))
        if not over.any():
            break
        dq[over] = np.clip(q_new[over], problem.lower[over], problem.upper[over]) - q[over]
        pinned |= over
    return dq


def _secant_update(S: np.ndarray, step: np.ndarray, y: np.ndarray, y_s: np.ndarray
                   ) -> np.ndarray:
    """The structured secant update of the residual-curvature term S (Dennis, Gay and
    Welsch's, as in NL2SOL): S_new step = y_s, where y is the change of the gradient J'r and
    y_s = (J_new - J_old)' r_new the part of it Gauss-Newton leaves out. With markers 1-2 cm
    off their model places that part is what makes Gauss-Newton converge only linearly."""
    ys = float(y @ step)
    if ys <= 1e-16 * float(np.linalg.norm(y) * np.linalg.norm(step)) or ys <= 0:
        return S
    Ss = S @ step
    sSs = float(step @ Ss)
    if sSs > 0:  # NL2SOL's sizing: shrink S when it overstates the curvature along the step
        S = S * min(1.0, abs(float(step @ y_s)) / sSs)
        Ss = S @ step
    w = y_s - Ss
    return S + (np.outer(w, y) + np.outer(y, w)) / ys - float(w @ step) * np.outer(y, y) / ys**2


def _solve_frame(kin: _Kinematics, problem: _Problem, frame: _Frame, q: np.ndarray,
                 S: np.ndarray, settings: SolverSettings
                 ) -> tuple[np.ndarray, int, float, np.ndarray]:
    """Damped Gauss-Newton (with the secant curvature S, carried from frame to frame) from
    q; returns the solution, the steps taken, the goal and S."""
    nq = kin.nq
    kin.set_q(q)
    x = kin.marker_positions()
    r = frame.residual(x, q)
    c = kin.constraint_errors()
    merit = 0.5 * r @ r + _CONSTRAINT_MERIT * c @ c
    Pq = kin.constraint_jacobian()  # once per frame: linear for couplers and locks
    damp = settings.initial_damping
    steps, last = 0, 0.0
    J = frame.jacobian(kin.marker_jacobian(x), nq)
    for _ in range(settings.max_iterations):
        accepted = False
        while damp < 1e10:
            dq = _bounded_step(J, r, S, Pq, c, q, problem, damp)
            q_new = np.clip(q + dq, problem.lower, problem.upper)
            kin.set_q(q_new)
            x_new = kin.marker_positions()
            r_new = frame.residual(x_new, q_new)
            c_new = kin.constraint_errors()
            merit_new = 0.5 * r_new @ r_new + _CONSTRAINT_MERIT * c_new @ c_new
            if merit_new <= merit:
                accepted = True
                break
            if S.any():  # the secant term misled the step: plain Gauss-Newton from here
                S = np.zeros_like(S)
                continue
            if np.max(np.abs(q_new - q)) < settings.step_tolerance:
                break  # no smaller step can lower the goal measurably: converged
            damp *= 10.0
        if not accepted:
            kin.set_q(q)  # leave the model at the solution
            break
        steps += 1
        moved = float(np.max(np.abs(q_new - q)))
        decrease = merit - merit_new
        damp = max(damp / 10.0, settings.initial_damping)
        # Convergence is linear where the secant term has not caught up yet: each step
        # shrinks by about rate = moved / last. What is left to go is then about
        # moved * rate / (1 - rate); stop when that is below the tolerance.
        rate = moved / last if last > 0 else 1.0
        left = moved * rate / (1.0 - rate) if rate < 0.9 else moved
        last = moved
        if left < settings.step_tolerance or decrease <= settings.goal_tolerance * merit_new:
            q, r = q_new, r_new
            break
        J_new = frame.jacobian(kin.marker_jacobian(x_new), nq)
        S = _secant_update(S, q_new - q, J_new.T @ r_new - J.T @ r, (J_new - J).T @ r_new)
        q, x, r, c, merit, J = q_new, x_new, r_new, c_new, merit_new, J_new
    return q, steps, 0.5 * float(r @ r), S


def solve(tool, model_path: Path, settings: SolverSettings | None = None) -> IKSolution:
    """Solve every frame of `tool` (an opensim.InverseKinematicsTool, not run) on the model
    at `model_path`. The model is loaded without its forces: IK needs only its kinematics."""
    model, state = _kinematic_model(model_path)
    problem, markers, refs = build_problem(tool, model, state)
    accuracy = float(tool.get_accuracy())
    settings = settings or SolverSettings(step_tolerance=accuracy)
    bodies = np.array([int(mk.getParentFrame().getMobilizedBodyIndex()) for mk in markers])
    kin = _Kinematics(model, state, markers, bodies)
    T, M = len(problem.time_s), len(markers)
    values = np.empty((T, len(problem.coord_names)))
    locations = np.empty((T, M, 3))
    goals = np.empty(T)
    iters = np.zeros(T, dtype=int)
    q = _first_pose(model, state, refs, accuracy, float(problem.time_s[0]))
    q_prev = q
    S = np.zeros((kin.nq, kin.nq))  # residual curvature, learnt as the frames go
    for t in range(T):
        state.setTime(float(problem.time_s[t]))
        frame = _Frame(problem, problem.observed[t], problem.goal_ref[t])
        # start from the previous frame's pose moved on at its speed (within range)
        start = np.clip(2 * q - q_prev, problem.lower, problem.upper) if t > 1 else q
        q_prev = q
        q, iters[t], goals[t], S = _solve_frame(kin, problem, frame, start, S, settings)
        values[t] = q[problem.q_index]
        locations[t] = kin.marker_positions()
    diff = locations - problem.observed
    errors = np.linalg.norm(diff, axis=2)  # NaN where the marker is missing
    sq = np.where(np.isfinite(errors), errors, 0.0) ** 2
    total = sq.sum(axis=1)
    return IKSolution(
        time_s=problem.time_s, coordinates=problem.coord_names, values=values,
        marker_names=problem.marker_names, marker_locations_m=locations,
        marker_errors_m=errors, total_squared_m2=total, rms_m=np.sqrt(total / M),
        max_m=np.sqrt(sq.max(axis=1)), goal=goals, iterations=iters)


def _first_pose(model, state, refs, accuracy: float, time_s: float) -> np.ndarray:
    """The first frame's pose as OpenSim's tool starts it: its own solver's assembly from
    the model's default pose. From there every frame is warm-started, so the solution
    follows the same branch as OpenSim's (from the default pose, a local method can settle
    in another minimum: a forearm at its pronation limit instead of mid-range)."""
    import opensim

    mref, crefs = refs
    solver = opensim.InverseKinematicsSolver(model, mref, crefs, float("inf"))
    solver.setAccuracy(accuracy)
    state.setTime(time_s)
    solver.assemble(state)
    return state.getQ().to_numpy().copy()


def _kinematic_model(model_path: Path):
    """The model and its default state, without its forces when it builds without them."""
    from musclekit.pipelines.simulate.opensim.model import load_model

    model = load_model(model_path)
    if _drop_forces(model):
        try:
            return model, model.initSystem()
        except RuntimeError:  # something refers to a force: IK with the whole model
            model = load_model(model_path)
    return model, model.initSystem()


def _drop_forces(model) -> bool:
    """Forces and controllers play no part in IK; without them the model builds and
    realises faster. Kept when something else refers to them (the model would not build)."""
    if model.getForceSet().getSize() == 0:
        return False
    if model.getControllerSet().getSize() or model.getProbeSet().getSize():
        return False
    model.updForceSet().clearAndDestroy()
    return True


def goals(tool, model_path: Path, values: np.ndarray) -> np.ndarray:
    """The Assembler's goal (module docstring) on every frame of `tool` at the coordinate
    values `values` (T, C; rad / m, the model's coordinate order), e.g. OpenSim's tool's
    own answer: which of two answers is the better fit of the same problem."""
    model, state = _kinematic_model(model_path)
    problem, markers, _ = build_problem(tool, model, state)
    if values.shape != (len(problem.time_s), len(problem.coord_names)):
        raise ValueError(f"values of shape {values.shape} for {len(problem.time_s)} frames "
                         f"and {len(problem.coord_names)} coordinates")
    bodies = np.array([int(mk.getParentFrame().getMobilizedBodyIndex()) for mk in markers])
    kin = _Kinematics(model, state, markers, bodies)
    out = np.empty(len(problem.time_s))
    for t in range(len(problem.time_s)):
        q = problem.q0.copy()
        q[problem.q_index] = values[t]
        kin.set_q(q)
        r = _Frame(problem, problem.observed[t], problem.goal_ref[t]).residual(
            kin.marker_positions(), q)
        out[t] = 0.5 * float(r @ r)
    return out
