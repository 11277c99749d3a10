"""Everything the methods ask of an OpenSim model, in one place.

Reading the model (root joint, couplers, mobilities, contact spheres, which coordinates the
muscles cross), evaluating it at a pose (moment arms, muscle forces at zero and full
activation), the model every method solves (DeGroote-Fregly muscles, rigid tendons), and
the one way residual and reserve actuators are added. opensim is imported inside each
function: this module is imported by code that also runs where opensim must not be loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musclekit.errors import InputError

# Contact force elements (removed for methods that estimate ground forces, kept for track).
CONTACT_FORCE_CLASSES = (
    "SmoothSphereHalfSpaceForce",
    "HuntCrossleyForce",
    "ElasticFoundationForce",
)
GRAVITY_M_S2 = 9.80665


# -- structure of the model ---------------------------------------------------------------
def root_joint(model):
    """The joint between ground and the model's root body; must have 6 coordinates."""
    joints = model.getJointSet()
    for i in range(joints.getSize()):
        j = joints.get(i)
        if j.getParentFrame().findBaseFrame().getName() == "ground":
            if j.numCoordinates() != 6:
                raise InputError(
                    f"model {model.getName()}: root joint {j.getName()} has {j.numCoordinates()} "
                    "coordinates; the inverse method needs a 6-DOF root (pelvis) to read the "
                    "external wrench from the equations of motion"
                )
            return j
    raise InputError(f"model {model.getName()}: no joint attaches a body to ground")


def root_coordinates(model) -> list[str]:
    """Coordinates of the joint that attaches the model to ground (any count)."""
    joints = model.getJointSet()
    for i in range(joints.getSize()):
        j = joints.get(i)
        if j.getParentFrame().findBaseFrame().getName() == "ground":
            return [j.get_coordinates(k).getName() for k in range(j.numCoordinates())]
    return []


@dataclass
class Coupler:
    """A CoordinateCouplerConstraint: dependent = function(independents)."""

    dependent: str
    independents: list[str]
    function: Any


def couplers(model) -> dict[str, Coupler]:
    """Every coupler constraint of the model, by dependent coordinate."""
    import opensim as osim

    out = {}
    cs = model.getConstraintSet()
    for i in range(cs.getSize()):
        c = osim.CoordinateCouplerConstraint.safeDownCast(cs.get(i))
        if c is None:
            continue
        names = c.getIndependentCoordinateNames()
        out[c.getDependentCoordinateName()] = Coupler(
            c.getDependentCoordinateName(), [names.get(k) for k in range(names.getSize())],
            c.getFunction())
    return out


def single_couplers(model) -> dict[str, tuple[str, Any]]:
    """dependent coordinate -> (independent coordinate, coupling function); the solvers fold a
    dependent into its one independent, so a coupler with several is refused."""
    out = {}
    for dep, c in couplers(model).items():
        if len(c.independents) != 1:
            raise InputError(
                f"coupler constraint on {dep} has {len(c.independents)} independent "
                "coordinates; the dynamics methods support one")
        out[dep] = (c.independents[0], c.function)
    return out


def slope(fn, x: float, dx: float = 1e-6) -> float:
    """d fn / dx of a one-argument OpenSim Function, by central differences."""
    import opensim as osim

    hi = fn.calcValue(osim.Vector(1, x + dx))
    lo = fn.calcValue(osim.Vector(1, x - dx))
    return (hi - lo) / (2 * dx)


def second_slope(fn, x: float, dx: float = 1e-4) -> float:
    """d2 fn / dx2 of a one-argument OpenSim Function, by central differences."""
    import opensim as osim

    v = [fn.calcValue(osim.Vector(1, x + d)) for d in (-dx, 0.0, dx)]
    return (v[0] - 2 * v[1] + v[2]) / dx**2


def mobility_index(model, state, names: list[str]) -> dict[str, int]:
    """Index of each coordinate's speed in the state's U vector (mobility order)."""
    import opensim as osim

    coords = model.getCoordinateSet()
    nu = state.getNU()
    out: dict[str, int] = {}
    for n in names:
        state.setU(osim.Vector(nu, 0.0))
        coords.get(n).setSpeedValue(state, 1.0)
        hits = np.flatnonzero(state.getU().to_numpy())
        if len(hits) == 1:
            out[n] = int(hits[0])
    state.setU(osim.Vector(nu, 0.0))
    return out


def muscled_coordinates(model, state, coords: list[str]) -> set[str]:
    """Coordinates at least one muscle has a moment arm about (at the state's pose)."""
    muscles = model.getMuscles()
    cset = model.getCoordinateSet()
    out = set()
    for i in range(muscles.getSize()):
        path = muscles.get(i).getGeometryPath()
        for name in coords:
            if name in out:
                continue
            if abs(path.computeMomentArm(state, cset.get(name))) > 1e-5:
                out.add(name)
    return out


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
    """At one pose (assembled here): `posed_muscle_terms` about `equations`."""
    cset = model.getCoordinateSet()
    state.setTime(time_s)
    for n, value in q.items():
        cset.get(n).setValue(state, value, False)
    model.assemble(state)
    for n, value in qd.items():
        cset.get(n).setSpeedValue(state, value)
    return posed_muscle_terms(model, state, muscles, [m.getPath() for m in muscles],
                              [cset.get(e) for e in equations], crossing)


def posed_muscle_terms(model, state, muscles: list, paths: list, coordinates: list,
                       crossing: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On a state already posed, with its speeds: each muscle's tendon force at zero
    activation (M,), the additional force at full activation (M,) and its moment arms (M, J)
    about `coordinates` (Coordinate objects; rigid tendons: the force is affine in
    activation). The tendon force is a velocity-stage quantity: realising dynamics as well
    would compute every other force for nothing."""
    forces = []
    for level in (0.0, 1.0):
        for m in muscles:
            m.setActivation(state, level)
        model.realizeVelocity(state)
        forces.append(np.array([m.getTendonForce(state) for m in muscles]))
    arms = np.zeros((len(muscles), len(coordinates)))
    for i, path in enumerate(paths):
        for j in crossing[i]:
            arms[i, j] = path.computeMomentArm(state, coordinates[j])
    return forces[0], forces[1] - forces[0], arms


def mass_matrix(model, state) -> np.ndarray:
    """Simbody's mass matrix (nu, nu) at the state's pose."""
    import opensim as osim

    mass = osim.Matrix()
    model.getMatterSubsystem().calcM(state, mass)
    return mass.to_numpy()


# -- the model as the methods solve it ----------------------------------------------------
def with_welds(model_processor, joints: list[str]):
    """`model_processor` (an opensim.ModelProcessor) with the named joints welded."""
    import opensim as osim

    if joints:
        names = osim.StdVectorString()
        for j in joints:
            names.append(j)
        model_processor.append(osim.ModOpReplaceJointsWithWelds(names))
    return model_processor


# The tanh steepness of DeGroote-Fregly activation dynamics; None keeps the model's (OpenSim's
# default 0.1, the published model's, with which activation and deactivation both run at a
# blend of the two time constants). The property's documentation recommends 10 "to achieve
# activation and deactivation speeds closer to the intended time constants"
# (DeGrooteFregly2016Muscle.h, OpenSim 4.6); tried for `inverse` and not kept: the EMG medians
# at zero delay fell on both force sources, and IPOPT took 7-9 times the iterations
# (docs/validation.md section 4; benchmarks/validate_rajagopal_emg.py --activation-smoothing).
# Every method solves with this value and the EMG comparison reads it from the same model
# (emg_compare.muscle_dynamics), so a change reaches both.
ACTIVATION_DYNAMICS_SMOOTHING: float | None = None


def dgf_model_processor(model_file: str, external_loads: Path | None = None):
    """The model as every method solves it: DeGroote-Fregly muscles with rigid tendons, no
    passive fibre forces and a wider active force-length curve (as OpenCap), the activation
    dynamics smoothing ACTIVATION_DYNAMICS_SMOOTHING when set, plus external loads when
    given."""
    import opensim as osim

    mp = osim.ModelProcessor(model_file)
    if external_loads is not None:
        mp.append(osim.ModOpAddExternalLoads(str(external_loads)))
    mp.append(osim.ModOpIgnoreTendonCompliance())
    model = osim.Model(model_file)
    if any(model.getMuscles().get(i).getConcreteClassName() != "DeGrooteFregly2016Muscle"
           for i in range(model.getMuscles().getSize())):
        mp.append(osim.ModOpReplaceMusclesWithDeGrooteFregly2016())
    mp.append(osim.ModOpIgnorePassiveFiberForcesDGF())
    mp.append(osim.ModOpScaleActiveFiberForceCurveWidthDGF(1.5))
    if ACTIVATION_DYNAMICS_SMOOTHING is None:
        return mp
    # No ModelOperator sets the smoothing: the converted model gets it, and a processor of
    # that model carries it to every caller's process().
    model = mp.process()
    muscles = model.getMuscles()
    for i in range(muscles.getSize()):
        osim.DeGrooteFregly2016Muscle.safeDownCast(muscles.get(i)).set_activation_dynamics_smoothing(
            float(ACTIVATION_DYNAMICS_SMOOTHING))
    return osim.ModelProcessor(model)


@dataclass
class ActuatorStrengths:
    """Optimal forces of the coordinate actuators added to a model (N or N m per unit
    control): residuals on the root, reserves where a muscle crosses, torque actuators on
    coordinates no muscle crosses (trunk, arms)."""

    residual: float = 10.0
    reserve: float = 1.0
    torque: float = 250.0


def add_coordinate_actuators(model, state, strengths: ActuatorStrengths, skip: set[str],
                             ) -> tuple[dict[str, str], dict[str, str]]:
    """Add `residual_<coord>` on every root coordinate and `reserve_<coord>` on every other
    coordinate not in `skip`, unbounded controls; returns ({residual: coord} in the root
    joint's order, {reserve: coord} in the model's coordinate order). Call
    `finalizeConnections` and `initSystem` afterwards."""
    import opensim as osim

    cset = model.getCoordinateSet()
    coords = [cset.get(i).getName() for i in range(cset.getSize())]
    root = root_coordinates(model)
    others = [c for c in coords if c not in root and c not in skip]
    muscled = muscled_coordinates(model, state, others)

    def add(coord: str, name: str, optimal: float) -> str:
        a = osim.CoordinateActuator(coord)
        a.setName(name)
        a.setOptimalForce(optimal)
        a.setMinControl(-float("inf"))
        a.setMaxControl(float("inf"))
        model.addForce(a)
        return name

    residuals = {add(c, f"residual_{c}", strengths.residual): c for c in root if c not in skip}
    reserves = {add(c, f"reserve_{c}", strengths.reserve if c in muscled else strengths.torque): c
                for c in others}
    return residuals, reserves


def coordinate_actuated(model) -> set[str]:
    """Coordinates that already have a CoordinateActuator."""
    import opensim as osim

    out = set()
    forces = model.getForceSet()
    for i in range(forces.getSize()):
        ca = osim.CoordinateActuator.safeDownCast(forces.get(i))
        if ca is not None:
            out.add(ca.get_coordinate())
    return out
