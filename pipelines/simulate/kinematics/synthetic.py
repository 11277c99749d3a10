"""Synthetic motions in AMASS's layout, for tests, the demo and the benchmark.

A motion is defined as trajectories of the default OpenSim model's coordinates (walking,
squat, jumping jack: smooth periodic curves). Forward kinematics of that model gives each
body's rotation; each SMPL-H joint takes the rotation of the body its segment maps to, so
the stand-in body (whose skeleton copies the model's) moves exactly as the model would.
The result is written as an AMASS `.npz` (Z up, SMPL-H axis-angle poses), plus the
generating coordinates under `musclekit_coordinates` / `musclekit_coordinate_names`: the
ground truth IK should recover.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from musclekit.errors import InputError
from musclekit.pipelines.simulate.kinematics.amass import ZUP_TO_YUP
from musclekit.pipelines.simulate.kinematics.bodymodel import (
    SMPLH_JOINT_NAMES,
    SMPLH_PARENTS,
    load_body_model,
    shaped_rest,
)
from musclekit.pipelines.simulate.kinematics.markerset import load_markerset
from musclekit.pipelines.simulate.kinematics.standin import OS_TO_SMPL, rest_to_default
from musclekit.pipelines.simulate.kinematics.virtual_markers import segment_body
from musclekit.pipelines.simulate.opensim.model import (
    REFERENCE_POSE,
    body_poses,
    default_model_path,
)

Coords = dict[str, np.ndarray]


def _both(c: Coords, name: str, right: np.ndarray, left: np.ndarray) -> None:
    c[f"{name}_r"], c[f"{name}_l"] = right, left


def walking(t: np.ndarray, period_s: float = 1.0) -> Coords:
    """A gait-like cycle: 1.2 m/s, alternating hips, knees, ankles and arm swing."""
    w = 2 * np.pi * t / period_s
    c: Coords = {"pelvis_tx": 1.2 * t, "pelvis_ty": 0.93 + 0.012 * np.cos(2 * w),
                 "pelvis_rotation": 0.08 * np.sin(w), "pelvis_list": 0.04 * np.sin(w),
                 "pelvis_tilt": -0.05 + 0.02 * np.sin(2 * w),
                 "lumbar_rotation": -0.06 * np.sin(w), "lumbar_extension": -0.05 + 0 * t}
    for side, ph in (("r", 0.0), ("l", np.pi)):
        c[f"hip_flexion_{side}"] = 0.15 + 0.4 * np.sin(w + ph)
        c[f"hip_adduction_{side}"] = 0.04 * np.sin(w + ph)
        c[f"hip_rotation_{side}"] = 0.05 * np.sin(w + ph)
        c[f"knee_angle_{side}"] = 0.1 + 0.3 * (1 + np.sin(w + ph - 1.2))
        c[f"ankle_angle_{side}"] = 0.15 * np.sin(w + ph + 0.5)
        c[f"arm_flex_{side}"] = -0.3 * np.sin(w + ph)
        c[f"arm_add_{side}"] = -0.15 + 0 * t
        c[f"elbow_flex_{side}"] = 0.35 + 0.15 * np.sin(w + ph)
    return c


def squat(t: np.ndarray, period_s: float = 1.0) -> Coords:
    """Down and up, trunk leaning and arms reaching forward. The pelvis translation, ankles
    and hip adduction/rotation given here are first guesses: `plant_feet` sets them so both feet stay
    flat where they stand (a squat on the floor, which dynamics with foot contact can track)."""
    s = (1 - np.cos(2 * np.pi * t / period_s)) / 2
    c: Coords = {"pelvis_tx": -0.12 * s, "pelvis_ty": 0.93 - 0.33 * s, "pelvis_tilt": -0.2 * s,
                 "lumbar_extension": -0.3 * s}
    for side in ("r", "l"):
        c[f"hip_flexion_{side}"] = 1.2 * s
        c[f"knee_angle_{side}"] = 1.5 * s
        c[f"ankle_angle_{side}"] = 0.45 * s
        c[f"arm_flex_{side}"] = 1.2 * s
        c[f"arm_add_{side}"] = -0.1 + 0 * t
        c[f"elbow_flex_{side}"] = 0.2 + 0.3 * s
    return c


def jumping_jack(t: np.ndarray, period_s: float = 1.0) -> Coords:
    """Arms overhead and legs apart, with a small hop."""
    a = (1 - np.cos(2 * np.pi * t / period_s)) / 2
    c: Coords = {"pelvis_ty": 0.92 + 0.05 * np.sin(2 * np.pi * t / period_s) ** 2}
    for side in ("r", "l"):
        c[f"arm_add_{side}"] = -0.1 - 1.8 * a
        c[f"hip_adduction_{side}"] = -0.3 * a
        c[f"hip_flexion_{side}"] = 0.1 * a
        c[f"knee_angle_{side}"] = 0.15 + 0.2 * a
        c[f"ankle_angle_{side}"] = -0.2 * a
        c[f"elbow_flex_{side}"] = 0.2 + 0 * t
    return c


MOTIONS: dict[str, Callable[[np.ndarray], Coords]] = {
    "walking": walking, "squat": squat, "jumping_jack": jumping_jack}
# Motions whose feet do not move: `motion_coordinates` closes the legs' loop through the floor.
PLANTED = ("squat",)


def _foot_pose(model, state, frame: dict[str, float]) -> np.ndarray:
    """calcn_r's origin (x, y, z in m), its pitch about ground Z and its yaw about ground Y
    (rad) for one pose."""
    cs = model.getCoordinateSet()
    for name, value in frame.items():
        cs.get(name).setValue(state, float(value), False)
    model.realizePosition(state)
    tf = model.getBodySet().get("calcn_r").getTransformInGround(state)
    r = tf.R()
    return np.append(tf.p().to_numpy(), [np.arctan2(r.get(1, 0), r.get(0, 0)),
                                         np.arctan2(-r.get(2, 0), r.get(0, 0))])


def plant_feet(coords: Coords, model_path: Path | None = None, iterations: int = 4) -> Coords:
    """Adjust pelvis_tx/ty, hip adduction, hip rotation and ankle angle (both sides alike) so
    calcn_r keeps its first-frame position, pitch and yaw in every frame (Newton steps on the
    model's forward kinematics). For left-right symmetric motions the left foot stays put too. Without this
    the stand-in squat's feet sank up to 10 cm into the floor and slid 3 cm, which a
    contact model can only follow by jumping."""
    from musclekit.pipelines.simulate.opensim.model import load_model

    legs = ("hip_adduction", "hip_rotation", "ankle_angle")
    model = load_model(model_path or default_model_path())
    state = model.initSystem()
    out = {k: np.array(v, dtype=float) for k, v in coords.items()}
    n = len(next(iter(out.values())))

    def frame(i: int, u: np.ndarray) -> dict[str, float]:
        f = {k: v[i] for k, v in out.items()}
        f["pelvis_tx"], f["pelvis_ty"] = u[0], u[1]
        for side in ("r", "l"):
            for name, value in zip(legs, u[2:], strict=True):
                f[f"{name}_{side}"] = value
        return f

    def current(i: int) -> np.ndarray:
        return np.array([out["pelvis_tx"][i], out["pelvis_ty"][i],
                         *(out[f"{name}_r"][i] for name in legs)])

    target = _foot_pose(model, state, frame(0, current(0)))
    step = 1e-6
    for i in range(1, n):
        u = current(i)
        for _ in range(iterations):
            err = _foot_pose(model, state, frame(i, u)) - target
            if np.max(np.abs(err)) < 1e-7:
                break
            jac = np.column_stack([
                (_foot_pose(model, state, frame(i, u + step * e)) - target - err) / step
                for e in np.eye(len(u))])
            u = u - np.linalg.solve(jac, err)
        for name, value in frame(i, u).items():
            out[name][i] = value
    return out


def motion_coordinates(kind: str, duration_s: float, rate_hz: float,
                       model_path: Path | None = None) -> tuple[np.ndarray, Coords]:
    """time_s (T,) and coordinate trajectories (rad / m) of a named synthetic motion; planted
    motions keep their feet still on `model_path` (default: the default model)."""
    if kind not in MOTIONS:
        raise InputError(f"unknown synthetic motion {kind!r}; choose from {', '.join(MOTIONS)}")
    t = np.arange(int(round(duration_s * rate_hz))) / rate_hz
    coords = MOTIONS[kind](t)
    for name, value in REFERENCE_POSE.items():
        coords.setdefault(name, value + 0 * t)
    if kind in PLANTED:
        for name in ("pelvis_tx", "pelvis_ty", "hip_adduction_r", "hip_adduction_l",
                     "hip_rotation_r", "hip_rotation_l"):
            coords.setdefault(name, 0 * t)
        coords = plant_feet(coords, model_path)
    return t, coords


def coordinates_to_smplh(coords: Coords, rest_pelvis: np.ndarray,
                         model_path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SMPL-H poses (T, 156) and AMASS trans (T, 3), Z up, reproducing the model motion on
    the stand-in. rest_pelvis (3,) is the shaped body's rest pelvis joint."""
    model_path = model_path or default_model_path()
    mset = load_markerset()
    bodies = {j: segment_body(j, mset) for j in SMPLH_JOINT_NAMES}
    names = sorted(set(bodies.values()))
    rot, pos = body_poses(model_path, coords, names)
    ref_rot, _ = body_poses(model_path, {k: np.array([v]) for k, v in REFERENCE_POSE.items()},
                            names)
    n = len(next(iter(coords.values())))
    amass_from_os = ZUP_TO_YUP.T
    glob = np.zeros((n, len(SMPLH_JOINT_NAMES), 3, 3))
    for k, j in enumerate(SMPLH_JOINT_NAMES):
        b = bodies[j]
        delta = rot[b] @ ref_rot[b][0].T  # (T, 3, 3) body rotation from the default pose
        glob[:, k] = amass_from_os @ delta @ rest_to_default(j) @ OS_TO_SMPL.T
    poses = np.zeros((n, 3 * len(SMPLH_JOINT_NAMES)))
    for k, p in enumerate(SMPLH_PARENTS):
        local = glob[:, k] if p < 0 else np.swapaxes(glob[:, p], 1, 2) @ glob[:, k]
        poses[:, 3 * k: 3 * k + 3] = Rotation.from_matrix(local).as_rotvec()
    trans = pos["pelvis"] @ amass_from_os.T - rest_pelvis
    return poses, trans


def write_synthetic_sequence(path: Path, kind: str, body_folder: Path, gender: str = "neutral",
                             betas: np.ndarray | None = None, duration_s: float = 1.0,
                             rate_hz: float = 60.0, model_path: Path | None = None) -> Path:
    """Write one synthetic AMASS-layout sequence (with its generating coordinates)."""
    betas = np.zeros(16) if betas is None else np.asarray(betas, dtype=float)
    _, coords = motion_coordinates(kind, duration_s, rate_hz, model_path)
    body = load_body_model(body_folder, gender)
    _, rest_joints = shaped_rest(body, betas)
    poses, trans = coordinates_to_smplh(coords, rest_joints[0], model_path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(coords)
    np.savez(path, poses=poses, trans=trans, betas=betas, gender=np.array(gender),
             mocap_framerate=np.array(float(rate_hz)), dmpls=np.zeros((len(poses), 8)),
             musclekit_coordinate_names=np.array(names),
             musclekit_coordinates=np.column_stack([coords[k] for k in names]))
    return path
