"""MediaPipe backend on real photos of people (public-domain photos shipped in packages)."""

from __future__ import annotations

import mediapipe  # noqa: E402,F401  (a required dependency: missing fails the suite)
import numpy as np
import pytest

from musclekit.pipelines.keypoints.backend import to_body25
from musclekit.pipelines.keypoints.joints import BODY25_JOINTS
from musclekit.pipelines.keypoints.synthetic import person_photo


@pytest.fixture(scope="module")
def backend():
    from musclekit.pipelines.keypoints.mediapipe_backend import MediaPipeBackend

    with MediaPipeBackend() as b:
        yield b


def _xy(body, name: str) -> np.ndarray:
    return body.keypoints2d[0, BODY25_JOINTS.index(name), :2]


@pytest.mark.parametrize("photo", ["grace_hopper", "astronaut"])
def test_frontal_photo_is_anatomically_plausible(backend, photo: str) -> None:
    if photo == "astronaut":
        import skimage  # noqa: F401
    image = person_photo(photo)
    body = to_body25(backend.process([image]))
    assert body.detected[0]
    h, w = image.shape[:2]
    nose, neck = _xy(body, "Nose"), _xy(body, "Neck")
    lsh, rsh = _xy(body, "LShoulder"), _xy(body, "RShoulder")
    leye, reye = _xy(body, "LEye"), _xy(body, "REye")
    assert 0 <= nose[0] < w and 0 <= nose[1] < h
    # Nose above both shoulders (image y grows downwards) and above the neck.
    assert nose[1] < lsh[1] and nose[1] < rsh[1] and nose[1] < neck[1]
    # Facing the camera, the person's left side is on the image's right: not swapped.
    assert lsh[0] > rsh[0] and leye[0] > reye[0]
    # Shoulders are confidently seen; the nose sits between them horizontally.
    conf = body.keypoints2d[0, :, 2]
    assert conf[BODY25_JOINTS.index("LShoulder")] > 0.9 and conf[BODY25_JOINTS.index("Nose")] > 0.9
    assert rsh[0] < nose[0] < lsh[0]
    # 3D: root-relative metres; the head is above the hips (y down), about 0.4-0.9 m.
    nose3d = body.keypoints3d[0, BODY25_JOINTS.index("Nose"), :3]
    assert -0.9 < nose3d[1] < -0.4


def test_identical_frames_give_identical_keypoints(backend) -> None:
    image = person_photo("grace_hopper")
    out = backend.process([image, image.copy(), image])
    assert out.detected.all()
    np.testing.assert_array_equal(out.keypoints2d_px[0], out.keypoints2d_px[1])
    np.testing.assert_array_equal(out.keypoints2d_px[0], out.keypoints2d_px[2])
    np.testing.assert_array_equal(out.keypoints3d_m[0], out.keypoints3d_m[2])


def test_empty_frame_is_missing_not_zero(backend) -> None:
    blank = np.full((240, 320, 3), 100, dtype=np.uint8)
    out = backend.process([blank])
    assert not out.detected[0]
    assert np.isnan(out.keypoints2d_px).all() and np.isnan(out.confidence).all()


def test_two_people_give_one_consistent_person(backend) -> None:
    """Track policy for MediaPipe: one person per frame, never joints mixed from two."""
    from musclekit.pipelines.keypoints.synthetic import scale_to_height

    left = scale_to_height(person_photo("grace_hopper"), 300)
    right = left[:, ::-1]  # a second, mirrored person
    gap = 40
    frame = np.full((300, 2 * left.shape[1] + gap, 3), 90, dtype=np.uint8)
    frame[:, : left.shape[1]] = left
    frame[:, left.shape[1] + gap :] = right
    body = to_body25(backend.process([frame]))
    assert body.detected[0]
    xs = body.keypoints2d[0, [BODY25_JOINTS.index(j) for j in
                              ("Nose", "LShoulder", "RShoulder", "LEye", "REye")], 0]
    in_left = (xs < left.shape[1]).all()
    in_right = (xs > left.shape[1] + gap).all()
    assert in_left or in_right, xs
