"""OpenSim model helpers: the default model, quiet logging, coordinate units, forward
kinematics.

OpenSim objects cannot be pickled: every function here takes file paths and builds its
objects itself, so it can run inside a Dask task.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from musclekit.errors import InputError, MissingDependencyError
from musclekit.pipelines.simulate.opensim.log import quiet_console

# The pose the stand-in body and the static frame correspond to: the model's default pose
# with the forearms in neutral rotation (palms facing the thighs, as a lowered SMPL-H T-pose
# arm). pro_sup's default (0, full supination) is the end of its range, where IK stalls.
REFERENCE_POSE: dict[str, float] = {"pro_sup_r": 0.6, "pro_sup_l": 0.6}


def default_model_path() -> Path:
    """Rajagopal2015 (80 lower-limb muscles, torque-driven upper body), from nimblephysics."""
    import importlib.util

    spec = importlib.util.find_spec("nimblephysics")
    if spec is None or spec.origin is None:
        raise MissingDependencyError(
            "the default OpenSim model (Rajagopal2015) comes with the nimblephysics package: "
            "`pip install nimblephysics`, or pass your own model with --model FILE.osim")
    path = Path(spec.origin).parent / "models" / "rajagopal_data" / "Rajagopal2015.osim"
    if not path.is_file():
        raise MissingDependencyError(f"{path} not found in the installed nimblephysics; "
                                     "pass your own model with --model FILE.osim")
    return path


@contextlib.contextmanager
def native_stdout_silenced() -> Iterator[None]:
    """Send the process's file descriptor 1 to /dev/null for the duration.

    ScaleTool prints a model summary with C++ `std::cout`, past OpenSim's logger; Python-level
    redirection cannot catch it. Our own messages go to stderr and are unaffected."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        # C++ streams buffer: flush them while fd 1 still points at /dev/null.
        ctypes.CDLL(None).fflush(None)
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def quiet_opensim() -> None:
    """Keep OpenSim off the terminal (see `musclekit.pipelines.simulate.opensim.log`): outside a unit's
    `opensim_log` block nothing is logged; inside one, the block's file gets the log."""
    quiet_console()


def load_model(path: Path):
    """Load an .osim file with a clear message when it is missing or unreadable."""
    import opensim

    quiet_opensim()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"OpenSim model {path} does not exist")
    try:
        return opensim.Model(str(path))
    except RuntimeError as err:
        raise InputError(f"OpenSim could not read the model {path}: {err}") from err


def coordinate_names(model) -> list[str]:
    cs = model.getCoordinateSet()
    return [cs.get(i).getName() for i in range(cs.getSize())]


CoordinateUnit = Literal["m", "rad"]


def coordinate_units(model) -> dict[str, CoordinateUnit]:
    """The unit of every coordinate of `model` (a loaded `opensim.Model`): "m" for a
    coordinate that moves its body only by translation, "rad" otherwise.

    The rule, per coordinate:

    1. OpenSim's motion type when it is `Translational` ("m") or `Rotational` ("rad").
       Pin, slider, ball, free, planar... joints always set one of these. A CustomJoint sets
       it only when some axis of its SpatialTransform uses the coordinate through a
       `LinearFunction` of slope +-1 (then the last such axis decides).
    2. Otherwise (`Coupled` or `Undefined`) the joint decides: for a CustomJoint, the axes of
       its SpatialTransform whose function actually depends on the coordinate (not a
       `Constant`, a zero-slope `LinearFunction` or a zero `MultiplierFunction`). Used by
       translation axes only -> "m"; used by any rotation axis -> "rad" (a rotation makes it
       an angle whatever else it drags along, e.g. a patella's `knee_angle_r_beta`).
    3. Anything else (no axis uses it, another joint type reporting `Coupled`) -> "rad",
       OpenSim's default.

    Step 2 is what labels the Gait2392 family right: their pelvis translations go through
    a `SimmSpline` (SIMM-converted models) or a `MultiplierFunction` (models scaled by
    OpenSim 3.x wrap every translation axis in one), which OpenSim reports as `Coupled`.

    The model needs its properties finalized (any model read from a file, or after
    `finalizeConnections()`/`initSystem()`); no state is needed.
    """
    cs = model.getCoordinateSet()
    return {cs.get(i).getName(): _coordinate_unit(cs.get(i)) for i in range(cs.getSize())}


def is_translational(model, name: str) -> bool:
    """Whether coordinate `name` of `model` is a translation (in m), by `coordinate_units`'
    rule."""
    cs = model.getCoordinateSet()
    if not cs.contains(name):
        raise InputError(f"the model {model.getName()} has no coordinate {name!r}")
    return _coordinate_unit(cs.get(name)) == "m"


def generalized_force_unit(unit: str) -> str:
    """The unit of the generalized force along a coordinate in `unit`: "N" for "m",
    "N m" for "rad"."""
    try:
        return {"m": "N", "rad": "N m"}[unit]
    except KeyError:
        raise ValueError(f"coordinate unit must be 'm' or 'rad', not {unit!r}") from None


def _coordinate_unit(coord) -> CoordinateUnit:
    import opensim

    motion = coord.getMotionType()
    if motion == opensim.Coordinate.Translational:
        return "m"
    if motion == opensim.Coordinate.Rotational:
        return "rad"
    joint = opensim.CustomJoint.safeDownCast(coord.getJoint())
    if joint is None:
        return "rad"
    transform = joint.getSpatialTransform()
    name = coord.getName()
    rotates = translates = False
    for axis in range(6):  # 0-2 rotation1..3, 3-5 translation1..3
        ta = transform.getTransformAxis(axis)
        if (ta.getCoordinateNamesInArray().findIndex(name) < 0 or not ta.hasFunction()
                or not _varies(ta.getFunction())):
            continue
        if axis < 3:
            rotates = True
        else:
            translates = True
    return "m" if translates and not rotates else "rad"


def _varies(fn) -> bool:
    """Whether an OpenSim Function is not constant (as far as its type tells)."""
    import opensim

    kind = fn.getConcreteClassName()
    if kind == "Constant":
        return False
    if kind == "LinearFunction":
        return opensim.LinearFunction.safeDownCast(fn).getSlope() != 0.0
    if kind == "MultiplierFunction":
        mf = opensim.MultiplierFunction.safeDownCast(fn)
        return mf.getScale() != 0.0 and _varies(mf.getFunction())
    return True


def body_poses(model_path: Path, coords: dict[str, np.ndarray],
               bodies: list[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Forward kinematics: rotations (T, 3, 3) and origins (T, 3) in ground of `bodies` for
    coordinate trajectories `coords` (name -> (T,), rad or m; others stay at default)."""
    model = load_model(model_path)
    state = model.initSystem()
    cs = model.getCoordinateSet()
    n = len(next(iter(coords.values())))
    rot = {b: np.zeros((n, 3, 3)) for b in bodies}
    pos = {b: np.zeros((n, 3)) for b in bodies}
    bodyset = model.getBodySet()
    for i in range(n):
        for name, values in coords.items():
            cs.get(name).setValue(state, float(values[i]), False)
        model.realizePosition(state)
        for b in bodies:
            tf = bodyset.get(b).getTransformInGround(state)
            rot[b][i] = _mat(tf.R())
            pos[b][i] = tf.p().to_numpy()
    return rot, pos


def _mat(r) -> np.ndarray:
    return np.array([[r.get(i, j) for j in range(3)] for i in range(3)])


def default_joint_centres(model_path: Path,
                          pose: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Ground position (3,) of every joint's child frame, by joint name, at the default pose
    with `pose` (coordinate -> value) applied."""
    model = load_model(model_path)
    state = model.initSystem()
    cs = model.getCoordinateSet()
    for name, value in (pose or {}).items():
        if cs.contains(name):
            cs.get(name).setValue(state, value, False)
    model.realizePosition(state)
    js = model.getJointSet()
    return {js.get(i).getName(): js.get(i).getChildFrame().getPositionInGround(state).to_numpy()
            for i in range(js.getSize())}

