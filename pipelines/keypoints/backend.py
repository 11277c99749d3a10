"""The interface every pose backend implements, and the BODY_25 result the stage writes.

A backend sees decoded RGB frames with the video's rotation already applied, and returns
for each frame its own joints: 2D positions in pixels of that frame, 3D positions in metres
(camera-aligned: x right, y down, z away from the camera) and a per-joint confidence in
[0, 1]. Frames where it found nobody are NaN. `to_body25` maps any backend's result onto
the common joint set, so downstream code never asks which backend ran.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from musclekit.pipelines.keypoints.joints import BODY25_JOINTS, MAPPINGS, ROOT_JOINT


@dataclass
class PoseOutput:
    """Per-frame output of a backend in its own joint set.

    keypoints2d_px: (T, J, 2) pixel coordinates (x right, y down) in the rotated frame.
    keypoints3d_m: (T, J, 3) metres, camera-aligned (x right, y down, z away).
    confidence: (T, J) in [0, 1].
    detected: (T,) bool, False where no person was found (all values NaN there).
    joint_set: key of `joints.MAPPINGS` ("mediapipe33", "spin49").
    """

    keypoints2d_px: np.ndarray
    keypoints3d_m: np.ndarray
    confidence: np.ndarray
    detected: np.ndarray
    joint_set: str

    @classmethod
    def empty(cls, n_frames: int, n_joints: int, joint_set: str) -> PoseOutput:
        """All frames missing; fill rows in place."""
        return cls(
            keypoints2d_px=np.full((n_frames, n_joints, 2), np.nan),
            keypoints3d_m=np.full((n_frames, n_joints, 3), np.nan),
            confidence=np.full((n_frames, n_joints), np.nan),
            detected=np.zeros(n_frames, dtype=bool),
            joint_set=joint_set,
        )

    def __len__(self) -> int:
        return int(self.detected.shape[0])


@dataclass
class Body25Keypoints:
    """Keypoints on the BODY_25 joint set, ready for the dataset.

    keypoints2d: (T, 25, 3) = x px, y px, confidence.
    keypoints3d: (T, 25, 4) = x, y, z in metres relative to MidHip, confidence.
    detected: (T,) bool.
    missing_joints / derived_joints: BODY_25 names the backend lacks / builds as midpoints.
    """

    keypoints2d: np.ndarray
    keypoints3d: np.ndarray
    detected: np.ndarray
    missing_joints: list[str]
    derived_joints: list[str]


class PoseBackend(Protocol):
    """A pose estimator run frame by frame on the aligned frames."""

    name: str
    version: str
    joint_set: str

    def process(self, frames_rgb: Iterable[np.ndarray]) -> PoseOutput:
        """Estimate poses on (H, W, 3) uint8 RGB frames; one output row per frame."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...


def to_body25(output: PoseOutput) -> Body25Keypoints:
    """Map a backend's output to BODY_25; 3D becomes relative to the MidHip joint.

    Root-relative 3D is what MIA used (VIBE joints, root-relative). MediaPipe's world
    landmarks are already centred between the hips, VIBE's SMPL joints are not: subtracting
    MidHip makes both backends agree.
    """
    mapping = MAPPINGS[output.joint_set]
    xy, conf = mapping.apply(output.keypoints2d_px, output.confidence)
    xyz, _ = mapping.apply(output.keypoints3d_m, output.confidence)
    root = BODY25_JOINTS.index(ROOT_JOINT)
    xyz = xyz - xyz[:, root : root + 1, :]
    detected = output.detected.astype(bool)
    # Frames without a person are entirely NaN, so the dataset writer flags them MISSING.
    xy[~detected] = np.nan
    xyz[~detected] = np.nan
    conf[~detected] = np.nan
    return Body25Keypoints(
        keypoints2d=np.concatenate([xy, conf[..., None]], axis=2),
        keypoints3d=np.concatenate([xyz, conf[..., None]], axis=2),
        detected=detected,
        missing_joints=mapping.missing_joints,
        derived_joints=mapping.derived_joints,
    )
