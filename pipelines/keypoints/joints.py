"""The common joint set (OpenPose BODY_25) and the mappings of each backend's joints onto it.

Downstream code only ever sees BODY_25 channels. A joint a backend does not estimate is
NaN in every frame (values and confidence), and is listed in the stream description and
in `SequenceInfo.extra["keypoints"]["missing_joints"]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# OpenPose BODY_25 order; "left"/"right" are the person's own sides (as in OpenPose,
# SPIN/VIBE and MediaPipe), not the image's.
BODY25_JOINTS: tuple[str, ...] = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
ROOT_JOINT = "MidHip"

MEDIAPIPE33_LANDMARKS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb",
    "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)

# SPIN's 49 joints (used by VIBE): the first 25 are the OpenPose BODY_25 joints in order,
# the other 24 are ground-truth-style joints of various datasets.
SPIN49_N_JOINTS = 49


@dataclass(frozen=True)
class JointMapping:
    """How one backend's joints become BODY_25 joints.

    `sources[j]` lists the backend joint indices whose mean gives BODY_25 joint j: one index
    for a direct correspondence, two for a derived midpoint (confidence = the smaller of
    the two), none when the backend lacks that joint (NaN).
    """

    joint_set: str
    sources: tuple[tuple[int, ...], ...]

    @property
    def missing_joints(self) -> list[str]:
        return [BODY25_JOINTS[j] for j, src in enumerate(self.sources) if not src]

    @property
    def derived_joints(self) -> list[str]:
        return [BODY25_JOINTS[j] for j, src in enumerate(self.sources) if len(src) > 1]

    def apply(self, points: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map (T, J, D) points and (T, J) confidences to (T, 25, D) and (T, 25)."""
        n = points.shape[0]
        out = np.full((n, len(BODY25_JOINTS), points.shape[2]), np.nan, dtype=np.float64)
        conf = np.full((n, len(BODY25_JOINTS)), np.nan, dtype=np.float64)
        for j, src in enumerate(self.sources):
            if not src:
                continue
            idx = list(src)
            out[:, j] = points[:, idx].mean(axis=1)
            conf[:, j] = confidence[:, idx].min(axis=1)
        return out, conf


def _mediapipe_mapping() -> JointMapping:
    mp = {name: i for i, name in enumerate(MEDIAPIPE33_LANDMARKS)}
    pick: dict[str, tuple[str, ...]] = {
        "Nose": ("nose",),
        # OpenPose's neck is the midpoint of the shoulders; MediaPipe has no neck.
        "Neck": ("left_shoulder", "right_shoulder"),
        "RShoulder": ("right_shoulder",), "RElbow": ("right_elbow",),
        "RWrist": ("right_wrist",), "LShoulder": ("left_shoulder",),
        "LElbow": ("left_elbow",), "LWrist": ("left_wrist",),
        "MidHip": ("left_hip", "right_hip"),
        "RHip": ("right_hip",), "RKnee": ("right_knee",), "RAnkle": ("right_ankle",),
        "LHip": ("left_hip",), "LKnee": ("left_knee",), "LAnkle": ("left_ankle",),
        "REye": ("right_eye",), "LEye": ("left_eye",),
        "REar": ("right_ear",), "LEar": ("left_ear",),
        # MediaPipe's foot_index is the tip of the foot, the closest to OpenPose's big toe;
        # it has no small toe.
        "LBigToe": ("left_foot_index",), "LSmallToe": (), "LHeel": ("left_heel",),
        "RBigToe": ("right_foot_index",), "RSmallToe": (), "RHeel": ("right_heel",),
    }
    return JointMapping(
        joint_set="mediapipe33",
        sources=tuple(tuple(mp[n] for n in pick[j]) for j in BODY25_JOINTS),
    )


MEDIAPIPE33_TO_BODY25 = _mediapipe_mapping()
SPIN49_TO_BODY25 = JointMapping(
    joint_set="spin49", sources=tuple((j,) for j in range(len(BODY25_JOINTS)))
)

MAPPINGS: dict[str, JointMapping] = {
    MEDIAPIPE33_TO_BODY25.joint_set: MEDIAPIPE33_TO_BODY25,
    SPIN49_TO_BODY25.joint_set: SPIN49_TO_BODY25,
}
