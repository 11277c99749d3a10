"""The `inverse` method's OpenSim side: evaluate the model once per mesh point to state the
muscle redundancy problem (nlp/inverse.py).

With the kinematics and ground reaction forces given, everything the optimiser needs is a
function of time only (see nlp/inverse.py): the generalized forces the actuators must supply
(inverse dynamics with the external loads, gravity and inertia), each muscle's tendon force
at zero and at full activation (rigid tendon: affine in activation), and its moment arms.
Coordinates driven by a coupler constraint (the patellae's `knee_angle_*_beta`) are folded
into their independent coordinate by virtual work: tau_eff = tau_i + dq_dep/dq_i * tau_dep.

What does not change between the chunks of a sequence is built once per process (a chunk
process solves many chunks: stage/worker.py): the muscle model as solved, initialised, and
the model's multibody system without its forces, to which each chunk only adds its own
external loads. The results are those of a fresh process, bit for bit (tested).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.filtering import finite_difference
from musclekit.pipelines.simulate.dynamics.nlp.inverse import RedundancyProblem
from musclekit.pipelines.simulate.opensim.evaluate import (
    crossing_sets,
    mobility_index,
    posed_muscle_terms,
    single_couplers,
    slope,
)
from musclekit.pipelines.simulate.opensim.files import Motion
from musclekit.pipelines.simulate.opensim.pose import Poser


@dataclass
class _Models:
    """The models of one prepared model file, as a chunk process keeps them."""

    model: Any  # muscles and actuators as solved (dgf_model_processor), initialised
    state: Any
    bare: Any  # the multibody system alone: no forces (inverse dynamics adds the loads)


# A few model files per process (a worker may switch subjects); the oldest is dropped.
_CACHE: OrderedDict[tuple, _Models] = OrderedDict()
_CACHE_SIZE = 2


def _models(model_file: str) -> _Models:
    import opensim as osim

    from musclekit.pipelines.simulate.opensim import evaluate
    from musclekit.pipelines.simulate.opensim.evaluate import dgf_model_processor

    stat = os.stat(model_file)
    # The conversion's setting is part of the key: a changed one never gets a stale model.
    key = (os.path.abspath(model_file), stat.st_mtime_ns, stat.st_size,
           evaluate.ACTIVATION_DYNAMICS_SMOOTHING)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    model = dgf_model_processor(model_file).process()
    state = model.initSystem()
    # Inverse dynamics asks the actuators for everything but inertia, gravity and the
    # external loads: no force of the model may apply (a disabled force is the same as none).
    bare = osim.Model(model_file)
    bare.updForceSet().clearAndDestroy()
    bare.finalizeConnections()
    _CACHE[key] = entry = _Models(model, state, bare)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return entry


def build_problem(model_file: str, external_loads: Path, kinematics: Motion,
                  mesh_s: np.ndarray, root_coordinates: list[str]) -> tuple[RedundancyProblem,
                                                                            np.ndarray]:
    """The problem on `mesh_s`, and the root generalized forces (N, 6) the residual actuators
    must supply (muscles, being internal, produce none: they are not optimised).

    model_file: the prepared model; external_loads: the chunk's ExternalLoads file (ground
    forces), applied for inverse dynamics.
    """
    import opensim as osim

    models = _models(model_file)
    model, state = models.model, models.state
    processor = osim.ModelProcessor(models.bare)
    processor.append(osim.ModOpAddExternalLoads(str(external_loads)))
    id_model = processor.process()
    id_state = id_model.initSystem()

    cset = model.getCoordinateSet()
    names = [cset.get(i).getName() for i in range(cset.getSize())]
    locked = [n for n in names if cset.get(n).getLocked(state)]
    missing = [n for n in names if n not in kinematics.names and n not in locked]
    if missing:
        raise InputError(f"kinematics lack coordinates of the model: {missing[:8]}")
    couplers = single_couplers(model)
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
    # Coordinate objects fetched once (a name lookup per call costs more than the call).
    id_free = [id_cset.get(n) for n in free]
    id_speed = [(id_cset.get(n), iu) for n, iu in u_idx.items()]
    mus_speed = [cset.get(n) for n in free]
    eq_coords = [cset.get(n) for n in equations]
    paths = [m.getPath() for m in muscles]
    # Assembly, where the only constraints are couplers of one independent coordinate each
    # (the patellae), has a closed form: OpenSim's assembler keeps every independent
    # coordinate at its goal and sets each dependent one to its coupling function (dependent
    # coordinates get no goal), which is what `Poser` does for a fraction of the assembler's
    # cost. Checked against the assembler at the chunk's first mesh point: any difference
    # beyond its accuracy (another kind of constraint, a scaled coupler) and every point is
    # assembled as before (opensim/pose.py, shared with the ground-force estimate).
    poser = Poser(id_model, id_state, couplers, allowed=not locked)
    for k, t in enumerate(mesh_s):
        # Inverse dynamics with the external loads: what the actuators must produce.
        id_state.setTime(float(t))
        for coord, n in zip(id_free, free, strict=True):
            coord.setValue(id_state, float(q_m[n][k]), False)
        poser.assemble(id_state)
        udot = osim.Vector(nu, 0.0)
        for coord, iu in id_speed:
            coord.setSpeedValue(id_state, float(qd_m[coord.getName()][k]))
            udot.set(iu, float(qdd_m[coord.getName()][k]))
        id_model.realizeVelocity(id_state)
        gen = solver.solve(id_state, udot).to_numpy()
        for j, n in enumerate(equations):
            tau[k, j] = gen[u_idx[n]]
        for dep, (indep, fn) in couplers.items():
            if indep in eq_index:
                tau[k, eq_index[indep]] += slope(fn, float(q_m[indep][k])) * gen[u_idx[dep]]
        root[k] = [gen[u_idx[n]] for n in root_coordinates]

        # The muscle model has the same multibody system and constraints: the pose the
        # inverse-dynamics model assembled is the one it would assemble (identical numbers,
        # tested), so it is copied instead of assembled a second time.
        state.setTime(float(t))
        state.setQ(id_state.getQ())
        for coord, n in zip(mus_speed, free, strict=True):
            coord.setSpeedValue(state, float(qd_m[n][k]))
        f_passive[k], f_active[k], arms[k] = posed_muscle_terms(model, state, muscles, paths,
                                                          eq_coords, crossing)

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
