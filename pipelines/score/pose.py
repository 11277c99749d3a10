"""An OpenSim model posed by a motion file: centre of mass, body transforms, muscle paths.

Used by `score` (whole-body centre of mass) and `view` (bodies and muscles per frame). Reads
the IK .mot itself (radians from the header's `inDegrees`, except `*_beta` columns, which
OpenSim writes in radians even under `inDegrees=yes`; docs/dynamics.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError


@dataclass(frozen=True)
class MotionTable:
    time_s: np.ndarray        # (T,)
    names: list[str]          # coordinate names (short form)
    values: np.ndarray        # (T, N), as written (degrees where in_degrees)
    in_degrees: bool


def read_mot(path: Path) -> MotionTable:
    """An OpenSim .mot/.sto motion: header up to `endheader`, then a tab-separated table."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise InputError(f"cannot read the motion file {path}: {err.strerror}") from err
    in_degrees = False
    for i, line in enumerate(lines):
        key = line.strip().lower()
        if key.startswith("indegrees="):
            in_degrees = key.split("=", 1)[1].strip() == "yes"
        if key == "endheader":
            header = lines[i + 1].split("\t")
            rows = [r.split("\t") for r in lines[i + 2:] if r.strip()]
            break
    else:
        raise InputError(f"{path} is not an OpenSim motion file (no `endheader` line)")
    try:
        table = np.array(rows, dtype=float)
    except ValueError as err:
        raise InputError(f"{path}: the motion table holds a value that is not a number") from err
    if table.ndim != 2 or table.shape[1] != len(header) or header[0].strip() != "time":
        raise InputError(f"{path}: the motion table's rows do not match its header")
    # /jointset/<joint>/<coordinate>/value -> <coordinate>; /speed columns are dropped.
    names, cols = [], []
    for j, name in enumerate(header[1:], start=1):
        name = name.strip()
        if name.startswith("/"):
            parts = name.split("/")
            if parts[-1] != "value":
                continue
            name = parts[-2]
        names.append(name)
        cols.append(j)
    return MotionTable(table[:, 0], names, table[:, cols], in_degrees)


class ModelPoser:
    """One OpenSim model and one state; `pose(row)` sets the coordinates of one motion row."""

    def __init__(self, model_path: Path, motion: MotionTable) -> None:
        import opensim as osim

        osim.Logger.setLevelString("error")
        if not Path(model_path).is_file():
            raise InputError(f"the OpenSim model {model_path} does not exist")
        self.model = osim.Model(str(model_path))
        self.state = self.model.initSystem()
        coords = self.model.getCoordinateSet()
        by_name = {coords.get(i).getName(): coords.get(i) for i in range(coords.getSize())}
        self._columns = []
        for j, name in enumerate(motion.names):
            coord = by_name.get(name)
            if coord is None:
                continue
            rotational = str(coord.getMotionType()) in ("1", "Rotational") or \
                coord.getMotionType() == osim.Coordinate.Rotational
            scale = np.pi / 180.0 if (motion.in_degrees and rotational
                                      and not name.endswith("_beta")) else 1.0
            self._columns.append((coord, j, scale))
        if not self._columns:
            raise InputError(f"none of the motion's columns ({', '.join(motion.names[:5])} ...) "
                             f"is a coordinate of the model {model_path}")
        self.motion = motion
        bodies = self.model.getBodySet()
        self.bodies = [bodies.get(i) for i in range(bodies.getSize())]
        self.body_names = [b.getName() for b in self.bodies]
        muscles = self.model.getMuscles()
        self.muscles = [muscles.get(i) for i in range(muscles.getSize())]
        self.muscle_names = [m.getName() for m in self.muscles]
        # Skeleton lines: each joint's child body origin to its parent body's origin.
        index = {n: i for i, n in enumerate(self.body_names)}
        self.bones: list[tuple[int, int]] = []
        joints = self.model.getJointSet()
        for i in range(joints.getSize()):
            joint = joints.get(i)
            parent = joint.getParentFrame().findBaseFrame().getName()
            child = joint.getChildFrame().findBaseFrame().getName()
            if parent in index and child in index:
                self.bones.append((index[parent], index[child]))

    def pose(self, row: int) -> None:
        values = self.motion.values[row]
        for coord, j, scale in self._columns:
            coord.setValue(self.state, float(values[j]) * scale, False)
        self.model.realizePosition(self.state)

    def com(self) -> np.ndarray:
        v = self.model.calcMassCenterPosition(self.state)
        return np.array([v.get(0), v.get(1), v.get(2)])

    def body_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions (B, 3) and orientations as quaternions w, x, y, z (B, 4) in ground."""
        pos = np.empty((len(self.bodies), 3))
        quat = np.empty((len(self.bodies), 4))
        for i, body in enumerate(self.bodies):
            tf = body.getTransformInGround(self.state)
            p = tf.p()
            pos[i] = (p.get(0), p.get(1), p.get(2))
            q = tf.R().convertRotationToQuaternion()
            quat[i] = (q.get(0), q.get(1), q.get(2), q.get(3))
        return pos, quat

    def muscle_paths(self) -> list[np.ndarray]:
        """Each muscle's path points in ground (P_i, 3); empty where the path has no points."""
        out = []
        for muscle in self.muscles:
            try:
                points = muscle.getGeometryPath().getCurrentPath(self.state)
            except Exception:  # noqa: BLE001 - a function-based path has no points to draw
                out.append(np.empty((0, 3)))
                continue
            arr = np.empty((points.getSize(), 3))
            for k in range(points.getSize()):
                g = points.get(k).getLocationInGround(self.state)
                arr[k] = (g.get(0), g.get(1), g.get(2))
            out.append(arr)
        return out


def com_trajectory(model_path: Path, mot_path: Path, max_frames: int = 2000
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Whole-body centre of mass (T', 3) over the motion and its times (T',), on at most
    max_frames evenly spaced frames."""
    motion = read_mot(mot_path)
    poser = ModelPoser(model_path, motion)
    rows = np.unique(np.linspace(0, len(motion.time_s) - 1,
                                 min(max_frames, len(motion.time_s))).astype(int))
    com = np.empty((len(rows), 3))
    for k, row in enumerate(rows):
        poser.pose(int(row))
        com[k] = poser.com()
    return motion.time_s[rows], com
