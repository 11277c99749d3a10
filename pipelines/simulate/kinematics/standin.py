"""A procedural stand-in for the licensed SMPL-H body, written in the SMPL-H file layout.

Same keys, same array shapes (6890 vertices, 52 joints, 16 shape and 459 pose-corrective
blend shapes), same kinematic tree, so the loader and smplx's skinning run unchanged on it.
The mesh is our own: one closed, tapered elliptic cylinder per segment, skinned rigidly to
its joint (no skin sliding). Its skeleton copies the joint centres of the default OpenSim
model (Rajagopal2015) in its reference pose (the default pose with the forearms in neutral
rotation, `REFERENCE_POSE`), so model and body share their joints; the arms are raised to
the T-pose SMPL-H rests in. Joint regressor rows average six helper vertices
placed around each joint centre, so shape blend shapes move the joints with the mesh.
The 67 marker landmarks are vertices 0..66, in marker-set order.

Frames: built in the OpenSim default frame (+X anterior, +Y up, +Z right), then mapped to
the SMPL-H rest frame (+X left, +Y up, +Z anterior) with the pelvis joint at the origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.pipelines.simulate.kinematics.bodymodel import (
    GENDERS,
    N_JOINTS,
    SMPLH_JOINT_NAMES,
    SMPLH_PARENTS,
    STANDIN_KEY,
)
from musclekit.pipelines.simulate.kinematics.markerset import SMPLH_N_VERTICES, load_markerset
from musclekit.pipelines.simulate.opensim.model import (
    REFERENCE_POSE,
    default_joint_centres,
    default_model_path,
)

STANDIN_KIND = "standin-v1"
N_BETAS = 16
N_POSE_BLEND = 9 * (N_JOINTS - 1)
# SMPL-H rest frame from the OpenSim frame: smpl = OS_TO_SMPL @ opensim
OS_TO_SMPL = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
GENDER_SCALE = {"male": 1.0, "female": 0.94, "neutral": 0.97}
_ARM_JOINTS = ("shoulder", "elbow", "wrist", "index", "middle", "ring", "pinky", "thumb")


def _rot_x(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def is_arm_joint(name: str) -> bool:
    return name.startswith(("left_", "right_")) and any(k in name for k in _ARM_JOINTS)


def rest_to_default(name: str) -> np.ndarray:
    """Rotation (OpenSim frame) taking a segment from the stand-in's T-pose rest to the
    default model pose (arms hanging): identity except for the arm chain."""
    if not is_arm_joint(name):
        return np.eye(3)
    return _rot_x(-90.0) if name.startswith("left_") else _rot_x(90.0)


@dataclass
class Segment:
    joint: str
    start: np.ndarray
    end: np.ndarray
    r_start: tuple[float, float]
    r_end: tuple[float, float]

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u = self.end - self.start
        u = u / np.linalg.norm(u)
        ref = np.array([1.0, 0, 0]) if abs(u[0]) < 0.8 else np.array([0, 1.0, 0])
        e1 = ref - ref.dot(u) * u
        e1 /= np.linalg.norm(e1)
        return u, e1, np.cross(u, e1)

    def surface(self, t: float, direction: np.ndarray) -> np.ndarray:
        u, e1, e2 = self.frame()
        c = self.start + t * (self.end - self.start)
        d = np.asarray(direction, dtype=float)
        if not d.any():
            return c
        r1 = self.r_start[0] + t * (self.r_end[0] - self.r_start[0])
        r2 = self.r_start[1] + t * (self.r_end[1] - self.r_start[1])
        phi = np.arctan2(d.dot(e2), d.dot(e1))
        return c + r1 * np.cos(phi) * e1 + r2 * np.sin(phi) * e2


def skeleton(model_path: Path | None = None) -> dict[str, np.ndarray]:
    """The 52 joint centres (OpenSim default frame, m)."""
    model_path = model_path or default_model_path()
    jc = default_joint_centres(model_path, REFERENCE_POSE)
    j: dict[str, np.ndarray] = {"pelvis": jc["ground_pelvis"]}
    for side, s in (("left", "l"), ("right", "r")):
        j[f"{side}_hip"] = jc[f"hip_{s}"]
        j[f"{side}_knee"] = jc[f"walker_knee_{s}"]
        j[f"{side}_ankle"] = jc[f"ankle_{s}"]
        j[f"{side}_foot"] = jc[f"mtp_{s}"]
        j[f"{side}_shoulder"] = jc[f"acromial_{s}"]
        j[f"{side}_elbow"] = jc[f"elbow_{s}"]
        j[f"{side}_wrist"] = jc[f"radius_hand_{s}"]
    back = jc["back"]
    j["spine1"] = back
    j["spine2"] = back + [0.01, 0.14, 0.0]
    j["spine3"] = back + [0.02, 0.28, 0.0]
    j["neck"] = back + [0.02, 0.45, 0.0]
    j["head"] = j["neck"] + [0.01, 0.08, 0.0]
    for side, sign in (("left", -1.0), ("right", 1.0)):
        j[f"{side}_collar"] = back + [0.03, 0.38, sign * 0.03]
        knuckles = j[f"{side}_wrist"] + [0.0, -0.09, 0.0]
        for finger, dx in (("index", 0.025), ("middle", 0.008), ("ring", -0.008),
                           ("pinky", -0.025)):
            base = knuckles + [dx, 0.0, 0.0]
            for k, drop in enumerate((0.0, 0.04, 0.065)):
                j[f"{side}_{finger}{k + 1}"] = base + [0.0, -drop, 0.0]
        thumb = j[f"{side}_wrist"] + [0.03, -0.02, 0.0]
        d = np.array([0.5, -0.85, 0.0]) / np.linalg.norm([0.5, -0.85])
        for k, along in enumerate((0.0, 0.035, 0.065)):
            j[f"{side}_thumb{k + 1}"] = thumb + along * d
    assert set(j) == set(SMPLH_JOINT_NAMES)
    return j


def segments(j: dict[str, np.ndarray]) -> list[Segment]:
    """One tapered cylinder per SMPL-H joint (the body part that joint moves)."""
    seg = [Segment("pelvis", j["pelvis"] + [-0.03, -0.15, 0], j["spine1"] + [0.03, 0, 0],
                   (0.11, 0.17), (0.10, 0.16))]
    for a, b, r0, r1 in (("spine1", "spine2", (0.11, 0.16), (0.11, 0.165)),
                         ("spine2", "spine3", (0.11, 0.165), (0.11, 0.17)),
                         ("spine3", "neck", (0.11, 0.17), (0.07, 0.12)),
                         ("neck", "head", (0.05, 0.05), (0.05, 0.05))):
        seg.append(Segment(a, j[a], j[b], r0, r1))
    seg.append(Segment("head", j["head"], j["head"] + [0.02, 0.23, 0], (0.10, 0.08), (0.06, 0.05)))
    for side in ("left", "right"):
        s = f"{side}_"
        heel = j[s + "ankle"] + [-0.06, -0.022, 0.008 * (1 if side == "right" else -1)]
        toe_tip = j[s + "foot"] + [0.06, 0.012, 0.005 * (1 if side == "right" else -1)]
        seg += [
            Segment(s + "hip", j[s + "hip"], j[s + "knee"], (0.085, 0.085), (0.055, 0.055)),
            Segment(s + "knee", j[s + "knee"], j[s + "ankle"], (0.055, 0.055), (0.035, 0.035)),
            Segment(s + "ankle", heel, j[s + "foot"] + [0, 0.022, 0], (0.035, 0.035), (0.025, 0.045)),
            Segment(s + "foot", j[s + "foot"] + [0, 0.022, 0], toe_tip, (0.02, 0.04), (0.015, 0.035)),
            Segment(s + "collar", j[s + "collar"], j[s + "shoulder"], (0.04, 0.04), (0.045, 0.045)),
            Segment(s + "shoulder", j[s + "shoulder"], j[s + "elbow"], (0.045, 0.045), (0.035, 0.035)),
            Segment(s + "elbow", j[s + "elbow"], j[s + "wrist"], (0.035, 0.035), (0.025, 0.022)),
            Segment(s + "wrist", j[s + "wrist"], j[s + "wrist"] + [0, -0.09, 0], (0.045, 0.015),
                    (0.045, 0.012)),
        ]
        for f in ("index", "middle", "ring", "pinky", "thumb"):
            for k in (1, 2):
                seg.append(Segment(f"{s}{f}{k}", j[f"{s}{f}{k}"], j[f"{s}{f}{k + 1}"],
                                   (0.008, 0.008), (0.008, 0.008)))
            tip = j[f"{s}{f}3"] + (j[f"{s}{f}3"] - j[f"{s}{f}2"]) * 0.8
            seg.append(Segment(f"{s}{f}3", j[f"{s}{f}3"], tip, (0.007, 0.007), (0.006, 0.006)))
    return seg


def _cylinder(s: Segment, n_rings: int, n_around: int):
    """Vertices, faces (outward), and per-vertex axis centres of a capped cylinder."""
    u, e1, e2 = s.frame()
    verts, centres = [], []
    phis = np.linspace(0, 2 * np.pi, n_around, endpoint=False)
    for t in np.linspace(0, 1, n_rings):
        c = s.start + t * (s.end - s.start)
        r1 = s.r_start[0] + t * (s.r_end[0] - s.r_start[0])
        r2 = s.r_start[1] + t * (s.r_end[1] - s.r_start[1])
        for p in phis:
            verts.append(c + r1 * np.cos(p) * e1 + r2 * np.sin(p) * e2)
            centres.append(c)
    verts += [s.start, s.end]
    centres += [s.start, s.end]
    n = n_rings * n_around
    faces = []
    for r in range(n_rings - 1):
        for k in range(n_around):
            a, b = r * n_around + k, r * n_around + (k + 1) % n_around
            c, d = a + n_around, b + n_around
            faces += [[a, b, d], [a, d, c]]
    for k in range(n_around):
        faces.append([n, (k + 1) % n_around, k])
        top = (n_rings - 1) * n_around
        faces.append([n + 1, top + k, top + (k + 1) % n_around])
    return np.array(verts), np.array(faces), np.array(centres)


def build_standin(gender: str = "neutral", model_path: Path | None = None) -> dict[str, np.ndarray]:
    """The arrays of one stand-in model file (SMPL-H keys plus `musclekit_body`)."""
    names = SMPLH_JOINT_NAMES
    index = {n: i for i, n in enumerate(names)}
    j = {k: v * GENDER_SCALE[gender] for k, v in skeleton(model_path).items()}
    segs = {s.joint: s for s in segments(j)}
    mset = load_markerset()
    # landmarks first (marker i = vertex i), then joint helpers, then the segment meshes
    verts, weights_j, centres, faces = [], [], [], []
    for spec in mset.standin:
        s = segs[spec["segment"]]
        p = s.surface(float(spec["t"]), np.asarray(spec["direction"], dtype=float))
        verts.append(p)
        weights_j.append(index[s.joint])
        centres.append(s.start + float(spec["t"]) * (s.end - s.start))
    helper_start = len(verts)
    for name in names:
        for d in np.vstack([np.eye(3), -np.eye(3)]) * 0.01:
            verts.append(j[name] + d)
            weights_j.append(index[name])
            centres.append(j[name] + d)  # no radial (girth) displacement for helpers
    big = [s for s in segs.values() if not any(f in s.joint for f in
                                               ("index", "middle", "ring", "pinky", "thumb"))]
    small = [s for s in segs.values() if s not in big]
    budget = SMPLH_N_VERTICES - len(verts) - len(small) * (3 * 8 + 2)
    n_rings = (budget // len(big) - 2) // 16
    for s, (nr, na) in [(s, (n_rings, 16)) for s in big] + [(s, (3, 8)) for s in small]:
        v, f, c = _cylinder(s, nr, na)
        faces.append(f + len(verts))
        verts += list(v)
        centres += list(c)
        weights_j += [index[s.joint]] * len(v)
    while len(verts) < SMPLH_N_VERTICES:  # pad to the SMPL-H vertex count (unused vertices)
        verts.append(j["pelvis"].copy())
        centres.append(j["pelvis"].copy())
        weights_j.append(0)
    v = np.array(verts)
    centres = np.array(centres)
    wj = np.array(weights_j)
    # arms to the T-pose, about each shoulder
    for side in ("left", "right"):
        r = rest_to_default(f"{side}_shoulder").T
        sh = j[f"{side}_shoulder"]
        arm = np.array([is_arm_joint(names[k]) and names[k].startswith(side) for k in wj])
        v[arm] = (v[arm] - sh) @ r.T + sh
        centres[arm] = (centres[arm] - sh) @ r.T + sh
        for name in names:
            if is_arm_joint(name) and name.startswith(side):
                j[name] = r @ (j[name] - sh) + sh
    origin = j["pelvis"].copy()
    v = (v - origin) @ OS_TO_SMPL.T
    centres = (centres - origin) @ OS_TO_SMPL.T
    n_v = len(v)
    weights = np.zeros((n_v, N_JOINTS))
    weights[np.arange(n_v), wj] = 1.0
    j_reg = np.zeros((N_JOINTS, n_v))
    for k in range(N_JOINTS):
        j_reg[k, helper_start + 6 * k: helper_start + 6 * k + 6] = 1.0 / 6.0
    shapedirs = np.zeros((n_v, 3, N_BETAS))
    shapedirs[:, :, 0] = 0.05 * v  # overall size, 5 % per unit
    hip_y = (j_reg @ v)[index["left_hip"], 1]
    below = v[:, 1] < hip_y
    shapedirs[below, 1, 1] = -0.05 * (hip_y - v[below, 1])  # leg length
    shapedirs[:, :, 2] = 0.08 * (v - centres)  # girth
    kintree = np.array([SMPLH_PARENTS, list(range(N_JOINTS))], dtype=np.int64)
    kintree[0, 0] = 4294967295
    return {
        "v_template": v, "f": np.concatenate(faces).astype(np.int64), "J_regressor": j_reg,
        "kintree_table": kintree, "weights": weights, "shapedirs": shapedirs,
        "posedirs": np.zeros((n_v, 3, N_POSE_BLEND), dtype=np.float32),
        "J": j_reg @ v,
        "hands_componentsl": np.eye(45), "hands_componentsr": np.eye(45),
        "hands_meanl": np.zeros(45), "hands_meanr": np.zeros(45),
        STANDIN_KEY: np.array(STANDIN_KIND),
    }


def write_standin_body(folder: Path, genders: tuple[str, ...] = GENDERS,
                       model_path: Path | None = None) -> Path:
    """Write `<folder>/<gender>/model.npz` (AMASS's SMPL-H layout) for each gender."""
    folder = Path(folder)
    for g in genders:
        (folder / g).mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / g / "model.npz", **build_standin(g, model_path))
    (folder / "README.txt").write_text(
        "Procedural stand-in body written by musclekit (not SMPL-H). Same file layout as the "
        "Extended SMPL+H model; for tests and demos only.\n")
    return folder
