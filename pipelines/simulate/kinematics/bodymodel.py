"""SMPL-H body model: loading the user's licensed model files and skinning them.

The files are read by our own loader (so a missing or wrong file gets a clear message) and
skinned by `smplx.lbs.lbs`, smplx's linear blend skinning. We do not use `smplx.SMPLH`
itself because it keeps only 10 of the 16 shape coefficients AMASS stores.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError, MissingDependencyError

SMPLH_BODY_JOINTS = [
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
]
_FINGERS = ["index", "middle", "pinky", "ring", "thumb"]
SMPLH_JOINT_NAMES: list[str] = SMPLH_BODY_JOINTS + [
    f"{side}_{finger}{k}" for side in ("left", "right") for finger in _FINGERS for k in (1, 2, 3)
]
_BODY_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]


def _hand_parents(wrist: int, first: int) -> list[int]:
    parents = []
    for f in range(5):
        base = first + 3 * f
        parents += [wrist, base, base + 1]
    return parents


SMPLH_PARENTS: list[int] = _BODY_PARENTS + _hand_parents(20, 22) + _hand_parents(21, 37)
N_JOINTS = 52
N_POSE = 3 * N_JOINTS  # 156 axis-angle values per frame: root, 21 body joints, 2 x 15 hand joints
GENDERS = ("male", "female", "neutral")
REQUIRED_KEYS = ("v_template", "f", "J_regressor", "kintree_table", "weights", "shapedirs",
                 "posedirs")
# A key only musclekit's procedural stand-in carries: it selects the stand-in marker vertices.
STANDIN_KEY = "musclekit_body"
WHERE_FROM = (
    "SMPL-H model files are a licensed download from https://mano.is.tue.mpg.de "
    "('Extended SMPL+H model' used by AMASS: <dir>/{male,female,neutral}/model.npz). "
    "Point --body-model to that folder, or set it once with `musclekit config set body-model "
    "DIR` (or MUSCLEKIT_BODY_MODEL). For a test without the licensed files, `musclekit "
    "simulate-synthetic DIR` writes a procedural stand-in body to DIR/body.")


@dataclass
class BodyModel:
    """One gender of an SMPL-H model. Arrays as in the model file (rest pose, Y up, metres)."""

    path: Path
    gender: str
    v_template: np.ndarray  # (V, 3)
    faces: np.ndarray  # (F, 3) int
    j_regressor: np.ndarray  # (52, V)
    parents: np.ndarray  # (52,) int, parents[0] = -1
    weights: np.ndarray  # (V, 52)
    shapedirs: np.ndarray  # (V, 3, B)
    posedirs: np.ndarray  # (V, 3, 459)
    kind: str  # "smplh" for the real mesh, else the stand-in's id, e.g. "standin-v1"

    @property
    def n_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def n_betas(self) -> int:
        return int(self.shapedirs.shape[2])


def model_file_for(folder: Path, gender: str) -> Path:
    """Find the model file of `gender` in `folder` (AMASS layout or smplx layout)."""
    folder = Path(folder)
    if not folder.exists():
        raise MissingDependencyError(f"body model folder {folder} does not exist. {WHERE_FROM}")
    if folder.is_file():
        return folder
    candidates = [folder / gender / "model.npz", folder / "smplh" / gender / "model.npz"]
    for ext in ("npz", "pkl"):
        for name in (f"SMPLH_{gender.upper()}.{ext}", f"SMPLH_{gender}.{ext}"):
            candidates += [folder / name, folder / "smplh" / name]
    for c in candidates:
        if c.is_file():
            return c
    tried = ", ".join(str(c.relative_to(folder)) for c in candidates[:4])
    raise MissingDependencyError(
        f"body model folder {folder} has no SMPL-H file for gender '{gender}' (looked for {tried}, "
        f"...). {WHERE_FROM}")


def _read_arrays(path: Path) -> dict:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=True) as data:
            return {k: data[k] for k in data.files}
    if path.suffix == ".pkl":
        try:
            with open(path, "rb") as fh:
                return dict(pickle.load(fh, encoding="latin1"))
        except ModuleNotFoundError as err:
            raise InputError(
                f"{path} holds {err.name} objects (the original SMPL-H .pkl files do); use the "
                "npz files of the 'Extended SMPL+H model', or remove chumpy with smplx's "
                "tools/clean_ch.py.") from err
    raise InputError(f"{path}: unknown body model file type {path.suffix!r} (expected .npz or .pkl)")


def load_body_model(folder: Path, gender: str) -> BodyModel:
    """Load and check one SMPL-H model file. Raises `MissingDependencyError`/`InputError`."""
    if gender not in GENDERS:
        raise InputError(f"unknown gender {gender!r}; expected one of {', '.join(GENDERS)}")
    path = model_file_for(Path(folder), gender)
    data = _read_arrays(path)
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise InputError(f"{path} is not a complete SMPL-H model file: keys {missing} are "
                         f"missing. {WHERE_FROM}")
    # the original .pkl files store J_regressor as a scipy sparse matrix
    arrays = {k: data[k].toarray() if hasattr(data[k], "toarray") else np.asarray(data[k])
              for k in REQUIRED_KEYS}
    n_joints = arrays["J_regressor"].shape[0]
    if n_joints != N_JOINTS:
        kind = {24: "SMPL", 55: "SMPL-X"}.get(n_joints, f"a {n_joints}-joint model")
        raise InputError(f"{path} is {kind} ({n_joints} joints), not SMPL-H (52 joints). {WHERE_FROM}")
    v = np.asarray(arrays["v_template"], dtype=np.float64)
    kind = str(data[STANDIN_KEY]) if STANDIN_KEY in data else "smplh"
    parents = np.asarray(arrays["kintree_table"][0], dtype=np.int64).copy()
    parents[0] = -1
    return BodyModel(
        path=path, gender=gender, v_template=v,
        faces=np.asarray(arrays["f"], dtype=np.int64),
        j_regressor=np.asarray(arrays["J_regressor"], dtype=np.float64),
        parents=parents, weights=np.asarray(arrays["weights"], dtype=np.float64),
        shapedirs=np.asarray(arrays["shapedirs"], dtype=np.float64),
        posedirs=np.asarray(arrays["posedirs"], dtype=np.float64), kind=kind)


@dataclass
class Skinned:
    """Posed body: vertices (T, V, 3) and joints (T, 52, 3), metres, in the motion's frame."""

    vertices: np.ndarray
    joints: np.ndarray


def skin(model: BodyModel, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray,
         vertex_ids: np.ndarray | None = None, batch: int = 256) -> Skinned:
    """Pose the body with smplx's linear blend skinning.

    poses (T, 156) axis-angle (rad), trans (T, 3) m, betas (B,) shape coefficients (extra
    coefficients beyond the model's are ignored, missing ones are zero). `vertex_ids` keeps
    only those vertices (saves memory on long sequences).
    """
    import torch
    from smplx.lbs import lbs

    n_b = model.n_betas
    b = np.zeros(n_b)
    b[: min(n_b, len(betas))] = np.asarray(betas, dtype=np.float64)[:n_b]
    dt = torch.float64
    # Only the wanted vertices and those the joint regressor reads need skinning: the same
    # result for a fraction of the work (vertices are independent in linear blend skinning).
    keep = np.arange(model.n_vertices)
    if vertex_ids is not None:
        keep = np.union1d(np.flatnonzero(np.abs(model.j_regressor).sum(axis=0) > 0),
                          np.asarray(vertex_ids))
        vertex_ids = np.searchsorted(keep, vertex_ids)
    v_template = torch.as_tensor(model.v_template[keep], dtype=dt)
    shapedirs = torch.as_tensor(model.shapedirs[keep], dtype=dt)
    posedirs = torch.as_tensor(
        model.posedirs[keep].reshape(-1, model.posedirs.shape[-1]).T, dtype=dt)
    j_reg = torch.as_tensor(model.j_regressor[:, keep], dtype=dt)
    parents = torch.as_tensor(model.parents, dtype=torch.long)
    weights = torch.as_tensor(model.weights[keep], dtype=dt)
    verts_out, joints_out = [], []
    with torch.no_grad():
        for s in range(0, len(poses), batch):
            p = torch.as_tensor(poses[s:s + batch], dtype=dt)
            bb = torch.as_tensor(b, dtype=dt).expand(p.shape[0], -1)
            verts, joints = lbs(bb, p, v_template, shapedirs, posedirs, j_reg, parents, weights,
                                pose2rot=True)
            t = torch.as_tensor(trans[s:s + batch], dtype=dt)[:, None, :]
            verts = verts + t
            if vertex_ids is not None:
                verts = verts[:, torch.as_tensor(vertex_ids, dtype=torch.long)]
            verts_out.append(verts.numpy())
            joints_out.append((joints + t).numpy())
    return Skinned(vertices=np.concatenate(verts_out), joints=np.concatenate(joints_out))


def shaped_rest(model: BodyModel, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rest-pose vertices (V, 3) and joints (52, 3) of the shaped body, metres, Y up."""
    n_b = model.n_betas
    b = np.zeros(n_b)
    b[: min(n_b, len(betas))] = np.asarray(betas, dtype=np.float64)[:n_b]
    v = model.v_template + model.shapedirs @ b
    return v, model.j_regressor @ v


def mesh_volume_m3(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Enclosed volume of a closed, outward-oriented triangle mesh (divergence theorem)."""
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    return float(abs(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6.0)


def mass_and_height(model: BodyModel, betas: np.ndarray,
                    density_kg_m3: float) -> tuple[float, float]:
    """Subject mass (kg) = shaped mesh volume x density; height (m) = vertical extent of the
    shaped rest mesh (the rest pose stands upright along +Y)."""
    v, _ = shaped_rest(model, betas)
    used = v[np.unique(model.faces)]
    return mesh_volume_m3(v, model.faces) * density_kg_m3, float(np.ptp(used[:, 1]))
