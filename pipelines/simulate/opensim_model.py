"""OpenSim model helpers: the default model, quiet logging, forward kinematics.

OpenSim objects cannot be pickled: every function here takes file paths and builds its
objects itself, so it can run inside a Dask task.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np

from musclekit.errors import InputError, MissingDependencyError

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


@cache
def quiet_opensim() -> None:
    """Keep OpenSim's log to warnings-as-errors only (missing .vtp meshes are harmless)."""
    import opensim

    opensim.Logger.setLevelString("error")


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

