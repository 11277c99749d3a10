"""Virtual markers: body mesh vertices -> marker trajectories in OpenSim's frame.

Also the static frame used for scaling (the subject's shaped body standing with arms down)
and the vertical ground offset: every sequence is shifted so that its lowest marker over
the whole sequence sits at `foot_height_m`, the same for every subject (as MinT did).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from musclekit.errors import InputError
from musclekit.pipelines.simulate.kinematics.amass import ZUP_TO_YUP, AmassSequence
from musclekit.pipelines.simulate.kinematics.bodymodel import (
    N_POSE,
    SMPLH_JOINT_NAMES,
    SMPLH_PARENTS,
    BodyModel,
    skin,
)
from musclekit.pipelines.simulate.kinematics.markerset import MarkerSet
from musclekit.pipelines.simulate.kinematics.standin import OS_TO_SMPL, rest_to_default

SMPL_REST_TO_OS = OS_TO_SMPL.T  # the SMPL-H rest frame (Y up, facing +Z) -> OpenSim


@dataclass
class MarkerTrajectories:
    """time_s (T,), names (M), positions (T, M, 3) m in OpenSim's ground frame (Y up)."""

    time_s: np.ndarray
    names: list[str]
    positions: np.ndarray
    ground_shift_m: float = 0.0


def _joint_centre_ids(mset: MarkerSet) -> list[int]:
    return [SMPLH_JOINT_NAMES.index(j) for j, _ in mset.joint_centres.values()]


def _markers_and_joints(body: BodyModel, mset: MarkerSet, poses, trans, betas):
    w = mset.vertex_matrix(body.kind, body.n_vertices)
    used = np.flatnonzero(w.any(axis=0))
    sk = skin(body, poses, trans, betas, vertex_ids=used)
    markers = np.einsum("mv,tvk->tmk", w[:, used], sk.vertices)
    return markers, sk.joints[:, _joint_centre_ids(mset)]


def sequence_markers(body: BodyModel, seq: AmassSequence, mset: MarkerSet,
                     foot_height_m: float) -> tuple[MarkerTrajectories, MarkerTrajectories]:
    """Virtual markers and joint centres of a sequence, Y up, ground offset applied."""
    markers, joints = _markers_and_joints(body, mset, seq.poses, seq.trans, seq.betas)
    markers = markers @ ZUP_TO_YUP.T
    joints = joints @ ZUP_TO_YUP.T
    shift = foot_height_m - float(markers[..., 1].min())
    markers[..., 1] += shift
    joints[..., 1] += shift
    t = seq.time_s
    return (MarkerTrajectories(t, list(mset.names), markers, shift),
            MarkerTrajectories(t, list(mset.joint_centres), joints, shift))


def static_pose(n_frames: int = 1) -> np.ndarray:
    """SMPL-H pose (n, 156) of the static frame: upright, arms lowered along the body."""
    pose = np.zeros((n_frames, N_POSE))
    for side in ("left", "right"):
        j = SMPLH_JOINT_NAMES.index(f"{side}_shoulder")
        r = OS_TO_SMPL @ rest_to_default(f"{side}_shoulder") @ OS_TO_SMPL.T
        pose[:, 3 * j: 3 * j + 3] = Rotation.from_matrix(r).as_rotvec()
    return pose


def static_markers(body: BodyModel, betas: np.ndarray, mset: MarkerSet,
                   foot_height_m: float, duration_s: float = 0.1,
                   rate_hz: float = 100.0) -> MarkerTrajectories:
    """The static trial for scaling: virtual markers and joint centres of the shaped body in
    the static pose, facing +X, ground offset applied (a short constant trial)."""
    n = max(2, int(round(duration_s * rate_hz)) + 1)
    markers, joints = _markers_and_joints(body, mset, static_pose(1), np.zeros((1, 3)), betas)
    pos = np.concatenate([markers, joints], axis=1) @ SMPL_REST_TO_OS.T
    n_markers = len(mset.names)
    pos[..., 1] += foot_height_m - float(pos[:, :n_markers, 1].min())
    return MarkerTrajectories(np.arange(n) / rate_hz, list(mset.names) + list(mset.joint_centres),
                              np.repeat(pos, n, axis=0))


def marker_segments(body: BodyModel, mset: MarkerSet) -> dict[str, str]:
    """Marker name -> the SMPL-H joint that carries it (largest skinning weight)."""
    w = mset.vertex_matrix(body.kind, body.n_vertices)
    per_joint = w @ body.weights  # (M, 52)
    return {n: SMPLH_JOINT_NAMES[int(np.argmax(per_joint[i]))] for i, n in enumerate(mset.names)}


def segment_body(joint: str, mset: MarkerSet) -> str:
    """OpenSim body of an SMPL-H joint's segment; finger joints belong to their hand."""
    k = SMPLH_JOINT_NAMES.index(joint)
    while SMPLH_JOINT_NAMES[k] not in mset.segment_bodies:
        k = SMPLH_PARENTS[k]
        if k < 0:
            raise InputError(f"no OpenSim body is mapped for SMPL-H joint {joint}")
    return mset.segment_bodies[SMPLH_JOINT_NAMES[k]]
