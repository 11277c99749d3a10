"""Evaluate the model once per mesh point to state the muscle redundancy problem.

With the kinematics and ground reaction forces given, everything the optimiser needs is a
function of time only (see redundancy.py): the generalized forces the actuators must supply
(inverse dynamics with the external loads, gravity and inertia), each muscle's tendon force
at zero and at full activation (rigid tendon: affine in activation), and its moment arms.
Coordinates driven by a coupler constraint (the patellae's `knee_angle_*_beta`) are folded
into their independent coordinate by virtual work: tau_eff = tau_i + dq_dep/dq_i * tau_dep.
"""

from __future__ import annotations

import numpy as np

from musclekit.errors import InputError

from .grf import mobility_index
from .motion import Motion, finite_difference
from .redundancy import RedundancyProblem


def _couplers(model) -> dict[str, tuple[str, object]]:
    """dependent coordinate -> (independent coordinate, coupling function)."""
    import opensim as osim

    out = {}
    cs = model.getConstraintSet()
    for i in range(cs.getSize()):
        c = osim.CoordinateCouplerConstraint.safeDownCast(cs.get(i))
        if c is None:
            continue
        indep = c.getIndependentCoordinateNames()
        if indep.getSize() != 1:
            raise InputError(
                f"coupler constraint {c.getName()} has {indep.getSize()} independent "
                "coordinates; the inverse method supports one")
        out[c.getDependentCoordinateName()] = (indep.get(0), c.getFunction())
    return out


def _slope(fn, x: float, dx: float = 1e-6) -> float:
    import opensim as osim

    hi = fn.calcValue(osim.Vector(1, x + dx))
    lo = fn.calcValue(osim.Vector(1, x - dx))
    return (hi - lo) / (2 * dx)


def crossing_sets(model, state, muscles: list, equations: list[str],
                  poses: list[dict[str, float]]) -> list[list[int]]:
    """Per muscle, the indices of the equations (coordinates) it crosses: a non-zero moment
    arm at any of the poses (a moment arm can pass through zero at one pose, e.g. an
    adductor's about hip flexion, so give several)."""
    cset = model.getCoordinateSet()
    hit = np.zeros((len(muscles), len(equations)), dtype=bool)
    for pose in poses:
        for n, value in pose.items():
            cset.get(n).setValue(state, value, False)
        model.assemble(state)
        model.realizePosition(state)
        for i, m in enumerate(muscles):
            path = m.getPath()
            for j, n in enumerate(equations):
                if not hit[i, j] and abs(path.computeMomentArm(state, cset.get(n))) > 1e-7:
                    hit[i, j] = True
    return [list(np.flatnonzero(row)) for row in hit]


def muscle_terms(model, state, muscles: list, equations: list[str], crossing: list[list[int]],
                 time_s: float, q: dict[str, float], qd: dict[str, float]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At one pose: each muscle's tendon force at zero activation (M,), the additional force
    at full activation (M,) and its moment arms (M, J) about `equations` (rigid tendons: the
    force is affine in activation)."""
    cset = model.getCoordinateSet()
    state.setTime(time_s)
    for n, value in q.items():
        cset.get(n).setValue(state, value, False)
    model.assemble(state)
    for n, value in qd.items():
        cset.get(n).setSpeedValue(state, value)
    forces = []
    for level in (0.0, 1.0):
        for m in muscles:
            m.setActivation(state, level)
        model.realizeDynamics(state)
        forces.append(np.array([m.getTendonForce(state) for m in muscles]))
    arms = np.zeros((len(muscles), len(equations)))
    for i, m in enumerate(muscles):
        path = m.getPath()
        for j in crossing[i]:
            arms[i, j] = path.computeMomentArm(state, cset.get(equations[j]))
    return forces[0], forces[1] - forces[0], arms


def build_problem(model_processor, id_model_processor, kinematics: Motion,
                  mesh_s: np.ndarray, root_coordinates: list[str]) -> tuple[RedundancyProblem,
                                                                            np.ndarray]:
    """The problem on `mesh_s`, and the root generalized forces (N, 6) the residual actuators
    must supply (muscles, being internal, produce none: they are not optimised).

    model_processor: the model as solved (muscles, actuators; no external loads needed).
    id_model_processor: the same model with the external loads attached (inverse dynamics).
    """
    import opensim as osim

    model = model_processor.process()
    state = model.initSystem()
    id_model = id_model_processor.process()
    forces = id_model.updForceSet()
    for i in range(forces.getSize()):
        forces.get(i).set_appliesForce(False)  # the external loads are not in the ForceSet
    id_state = id_model.initSystem()

    cset = model.getCoordinateSet()
    names = [cset.get(i).getName() for i in range(cset.getSize())]
    locked = [n for n in names if cset.get(n).getLocked(state)]
    missing = [n for n in names if n not in kinematics.names and n not in locked]
    if missing:
        raise InputError(f"kinematics lack coordinates of the model: {missing[:8]}")
    couplers = _couplers(model)
    equations = [n for n in names
                 if n not in root_coordinates and n not in couplers and n not in locked]
    eq_index = {n: j for j, n in enumerate(equations)}

    muscles = [model.getMuscles().get(i) for i in range(model.getMuscles().getSize())]
    muscle_names = [m.getName() for m in muscles]
    dgf = [osim.DeGrooteFregly2016Muscle.safeDownCast(m) for m in muscles]
    if any(d is None for d in dgf):
        raise InputError("the inverse method's model must use DeGroote-Fregly muscles")
    actuators = []
    fset = model.getForceSet()
    for i in range(fset.getSize()):
        ca = osim.CoordinateActuator.safeDownCast(fset.get(i))
        if ca is None or ca.get_coordinate() in root_coordinates:
            continue
        coord = ca.get_coordinate()
        if coord not in eq_index:
            raise InputError(f"actuator {ca.getName()} drives {coord}, which is not free")
        actuators.append(ca)

    # Kinematics (speeds, accelerations) at the mesh times, from the smooth motion.
    qd, qdd = finite_difference(kinematics)

    def at(values: np.ndarray, name: str) -> np.ndarray:
        return np.interp(mesh_s, kinematics.time_s, values[:, kinematics.names.index(name)])

    free = [n for n in names if n not in locked]
    q_m = {n: at(kinematics.values, n) for n in free}
    qd_m = {n: at(qd, n) for n in free}
    qdd_m = {n: at(qdd, n) for n in free}
    u_idx = mobility_index(id_model, id_state, free)
    id_cset = id_model.getCoordinateSet()
    solver = osim.InverseDynamicsSolver(id_model)
    nu = id_state.getNU()

    N, M, J = len(mesh_s), len(muscles), len(equations)
    tau = np.zeros((N, J))
    root = np.zeros((N, len(root_coordinates)))
    f_passive = np.zeros((N, M))
    f_active = np.zeros((N, M))
    arms = np.zeros((N, M, J))
    poses = [{n: float(q_m[n][k]) for n in free} for k in sorted({0, N // 2, N - 1})]
    crossing = crossing_sets(model, state, muscles, equations, poses)
    for k, t in enumerate(mesh_s):
        # Inverse dynamics with the external loads: what the actuators must produce.
        id_state.setTime(float(t))
        for n in free:
            id_cset.get(n).setValue(id_state, float(q_m[n][k]), False)
        id_model.assemble(id_state)
        udot = osim.Vector(nu, 0.0)
        for n, iu in u_idx.items():
            id_cset.get(n).setSpeedValue(id_state, float(qd_m[n][k]))
            udot.set(iu, float(qdd_m[n][k]))
        id_model.realizeVelocity(id_state)
        gen = solver.solve(id_state, udot).to_numpy()
        for j, n in enumerate(equations):
            tau[k, j] = gen[u_idx[n]]
        for dep, (indep, fn) in couplers.items():
            if indep in eq_index:
                tau[k, eq_index[indep]] += _slope(fn, float(q_m[indep][k])) * gen[u_idx[dep]]
        root[k] = [gen[u_idx[n]] for n in root_coordinates]

        f_passive[k], f_active[k], arms[k] = muscle_terms(
            model, state, muscles, equations, crossing, float(t),
            {n: float(q_m[n][k]) for n in free}, {n: float(qd_m[n][k]) for n in free})

    problem = RedundancyProblem(
        time_s=np.asarray(mesh_s, dtype=float), tau=tau, force_passive=f_passive,
        force_active=f_active, moment_arm=arms,
        actuator_coordinate=np.array([eq_index[a.get_coordinate()] for a in actuators], dtype=int),
        actuator_optimal_force=np.array([a.getOptimalForce() for a in actuators], dtype=float),
        actuator_min_control=np.array([a.getMinControl() for a in actuators], dtype=float),
        actuator_max_control=np.array([a.getMaxControl() for a in actuators], dtype=float),
        activation_time_constant_s=np.array([d.get_activation_time_constant() for d in dgf]),
        deactivation_time_constant_s=np.array([d.get_deactivation_time_constant() for d in dgf]),
        activation_smoothing=np.array([d.get_activation_dynamics_smoothing() for d in dgf]),
        muscles=muscle_names, coordinates=equations, actuators=[a.getName() for a in actuators],
    )
    return problem, root
