"""BODY_25 mapping, root-relative 3D and the per-clip box normalisation (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from musclekit.pipelines.keypoints.backend import PoseOutput, to_body25
from musclekit.pipelines.keypoints.joints import (
    BODY25_JOINTS,
    MEDIAPIPE33_LANDMARKS,
    MEDIAPIPE33_TO_BODY25,
    SPIN49_TO_BODY25,
)
from musclekit.pipelines.keypoints.normalise import clip_windows, normalise_by_clip_box


def _j(name: str) -> int:
    return BODY25_JOINTS.index(name)


def _mp(name: str) -> int:
    return MEDIAPIPE33_LANDMARKS.index(name)


def test_body25_is_openpose_order() -> None:
    assert len(BODY25_JOINTS) == 25
    assert BODY25_JOINTS[:9] == ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder",
                                 "LElbow", "LWrist", "MidHip")
    assert BODY25_JOINTS[-1] == "RHeel"


def test_mediapipe_mapping_sides_midpoints_and_missing() -> None:
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 500, size=(2, 33, 2))
    conf = rng.uniform(0.2, 1.0, size=(2, 33))
    out, c = MEDIAPIPE33_TO_BODY25.apply(pts, conf)
    assert out.shape == (2, 25, 2)
    np.testing.assert_allclose(out[:, _j("LShoulder")], pts[:, _mp("left_shoulder")])
    np.testing.assert_allclose(out[:, _j("RWrist")], pts[:, _mp("right_wrist")])
    neck = (pts[:, _mp("left_shoulder")] + pts[:, _mp("right_shoulder")]) / 2
    np.testing.assert_allclose(out[:, _j("Neck")], neck)
    np.testing.assert_allclose(c[:, _j("Neck")], np.minimum(conf[:, _mp("left_shoulder")],
                                                            conf[:, _mp("right_shoulder")]))
    # MediaPipe has no small toes: missing (NaN), never zeros.
    assert np.isnan(out[:, _j("LSmallToe")]).all() and np.isnan(c[:, _j("RSmallToe")]).all()
    assert MEDIAPIPE33_TO_BODY25.missing_joints == ["LSmallToe", "RSmallToe"]


def test_spin49_first_25_are_body25() -> None:
    pts = np.arange(49 * 3, dtype=float).reshape(1, 49, 3)
    out, conf = SPIN49_TO_BODY25.apply(pts, np.ones((1, 49)))
    np.testing.assert_array_equal(out[0], pts[0, :25])
    assert SPIN49_TO_BODY25.missing_joints == []


def test_to_body25_root_relative_and_undetected_rows_are_nan() -> None:
    out = PoseOutput.empty(3, 49, "spin49")
    rng = np.random.default_rng(2)
    out.keypoints3d_m[:2] = rng.normal(size=(2, 49, 3)) + 5.0
    out.keypoints2d_px[:2] = rng.uniform(0, 100, size=(2, 49, 2))
    out.confidence[:2] = 1.0
    out.detected[:2] = True
    body = to_body25(out)
    assert body.keypoints3d.shape == (3, 25, 4) and body.keypoints2d.shape == (3, 25, 3)
    np.testing.assert_allclose(body.keypoints3d[:2, _j("MidHip"), :3], 0.0, atol=1e-12)
    np.testing.assert_allclose(body.keypoints3d[:2, _j("Nose"), :3],
                               out.keypoints3d_m[:2, 0] - out.keypoints3d_m[:2, 8])
    assert np.isnan(body.keypoints3d[2]).all() and np.isnan(body.keypoints2d[2]).all()


def test_clip_windows_cover_every_row() -> None:
    clips = [{"start_frame": 0, "n_frames": 30}, {"start_frame": 30, "n_frames": 30}]
    assert clip_windows(70, clips) == [(0, 30), (30, 30), (60, 10)]
    assert clip_windows(70, None) == [(0, 70)]


def test_box_normalisation_one_box_per_clip_keeps_aspect() -> None:
    kp = np.zeros((4, 2, 4))
    kp[:, :, 3] = 0.9
    kp[0, 0, :3] = (-1.0, 0.0, 0.0)
    kp[1, 1, :3] = (1.0, 2.0, 0.5)  # clip 1 box: x -1..1, y 0..2, z 0..0.5 -> size 2
    kp[2:, :, :3] = 7.0
    kp[3, 1, :3] = (8.0, 7.0, 7.0)  # clip 2 box: x 7..8 -> size 1
    kp[2, 0] = np.nan
    norm, boxes = normalise_by_clip_box(kp, [(0, 2), (2, 2)])
    assert boxes[0].size_m == pytest.approx(2.0) and boxes[1].size_m == pytest.approx(1.0)
    np.testing.assert_allclose(norm[1, 1, :3], [0.5, 0.5, 0.125])
    np.testing.assert_allclose(norm[0, 0, :3], [-0.5, -0.5, -0.125])
    assert np.nanmax(np.abs(norm[..., :3])) <= 0.5 + 1e-12
    np.testing.assert_allclose(norm[:2, :, 3], 0.9)  # confidence passes through
    assert np.isnan(norm[2, 0]).all()
