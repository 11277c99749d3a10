"""`musclekit keypoints` end to end on a short video of a real photo swaying in the frame.

The aligned dataset is built directly with the dataset writer (streams `emg` and `frames`
exactly as the align -> keypoints contract says), so these tests do not depend on align.
"""

from __future__ import annotations

from pathlib import Path

import mediapipe  # noqa: E402,F401  (a required dependency: missing fails the suite)
import numpy as np
import pytest

from musclekit.dataset import DatasetWriter, Flag, StreamSpec, open_dataset
from musclekit.errors import InputError
from musclekit.pipelines.keypoints.config import KeypointsConfig
from musclekit.pipelines.keypoints.joints import BODY25_JOINTS
from musclekit.pipelines.keypoints.stage import extract_sequence, run_keypoints
from musclekit.pipelines.keypoints.synthetic import (
    grid_source_frames,
    make_aligned_capture,
    reference_joint_px,
    write_person_video,
)

SEQ = "S01_squat_000"
NOSE = BODY25_JOINTS.index("Nose")
N_NATIVE = 45  # 1.5 s at 29.97 fps -> 15 grid rows at 10 fps
EMPTY_NATIVE = range(20, 27)  # grid rows 7 and 8 (native 21, 24) show nobody
MISSING_ROW = 3  # align found no video frame for this row


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("kp_stage")
    clip = write_person_video(root / "clip.mp4", N_NATIVE, size=(480, 360), sway_px=70,
                              period_frames=30, empty_frames=EMPTY_NATIVE)
    dataset = make_aligned_capture(root / "ds", clip, sequence_id=SEQ,
                                   missing_rows=[MISSING_ROW], clip_frames=5)
    report = run_keypoints(dataset, KeypointsConfig())
    return {"root": root, "clip": clip, "dataset": dataset, "report": report}


def test_stage_writes_keypoints_on_the_frames_grid(capture: dict) -> None:
    assert capture["report"].failed == {}
    ds = open_dataset(capture["dataset"])
    frames = ds.sequence_array("frames", SEQ)
    kp2 = ds.sequence_array("keypoints2d", SEQ)
    kp3 = ds.sequence_array("keypoints3d", SEQ)
    norm = ds.sequence_array("keypoints3d_norm", SEQ)
    assert kp2.channels == list(BODY25_JOINTS) and kp2.components == ("x", "y", "confidence")
    assert kp3.components == ("x", "y", "z", "confidence")
    for arr in (kp2, kp3, norm):
        np.testing.assert_array_equal(arr.time_s, frames.time_s)
    missing = (kp2.flags & Flag.MISSING).astype(bool)
    assert sorted(np.flatnonzero(missing)) == [MISSING_ROW, 7, 8]
    # Missing rows are NaN, never zeros; found rows have finite body joints.
    assert np.isnan(kp2.values[missing]).all() and np.isnan(kp3.values[missing]).all()
    assert np.isfinite(kp2.values[~missing][:, NOSE]).all()
    assert not (kp2.values[~missing][:, NOSE, :2] == 0).any()
    # 3D is relative to MidHip; the normalised copy lies in [-0.5, 0.5].
    midhip = BODY25_JOINTS.index("MidHip")
    np.testing.assert_allclose(kp3.values[~missing][:, midhip, :3], 0.0, atol=1e-6)
    assert np.nanmax(np.abs(norm.values[..., :3])) <= 0.5 + 1e-6
    extra = ds.sequences[SEQ].extra
    meta = extra["keypoints"]
    assert meta["backend"] == "mediapipe" and meta["backend_version"] == "0.10.14"
    assert meta["missing_joints"] == ["LSmallToe", "RSmallToe"]
    assert meta["n_no_person"] == 2 and meta["n_no_video_frame"] == 1
    # Three 5-row clips and the 16th row, which no clip covers, in a box of its own.
    assert [b["n_rows"] for b in meta["normalisation"]["boxes"]] == [5, 5, 5, 1]
    assert "video" in extra  # align's metadata is kept


def test_pixels_follow_the_chosen_frames(capture: dict) -> None:
    """Nose positions match where the photo was drawn in exactly the frame align chose."""
    clip = capture["clip"]
    nose_in_photo = reference_joint_px(clip, "nose")

    _, source = grid_source_frames(clip.n_frames, clip.fps, 10.0)
    kp2 = open_dataset(capture["dataset"]).sequence_array("keypoints2d", SEQ)
    errors, shifted = [], []
    for row, frame in enumerate(source):
        if np.isnan(kp2.values[row, NOSE, 0]):
            continue
        x0, y0 = clip.corners[frame]
        expected = nose_in_photo + (x0, y0)
        errors.append(np.abs(kp2.values[row, NOSE, :2] - expected).max())
        if frame + 1 < clip.n_frames and clip.corners[frame + 1] is not None:
            x1, _ = clip.corners[frame + 1]
            shifted.append(abs(kp2.values[row, NOSE, 0] - (nose_in_photo[0] + x1)))
    assert np.median(errors) < 4.0, errors
    # The neighbouring native frame would be clearly further off: the check can fail.
    assert np.median(shifted) > np.median(errors) + 3.0


def test_rerun_skips_finished_sequences(capture: dict) -> None:
    report = run_keypoints(capture["dataset"], KeypointsConfig())
    assert report.skipped == [f"keypoints.{SEQ}"] and not report.done


def test_rotated_portrait_clip_gives_upright_keypoints(tmp_path: Path) -> None:
    upright = write_person_video(tmp_path / "upright.mp4", 12, size=(270, 360), still=True,
                                 lossless=True)
    rotated = write_person_video(tmp_path / "rotated.mp4", 12, size=(270, 360), still=True,
                                 lossless=True, rotation_deg=-90)
    out = {}
    for clip in (upright, rotated):
        ds_path = make_aligned_capture(tmp_path / f"ds_{clip.path.stem}", clip, sequence_id=SEQ)
        assert run_keypoints(ds_path, KeypointsConfig()).failed == {}
        out[clip.path.stem] = open_dataset(ds_path).sequence_array("keypoints2d", SEQ).values
    rot = out["rotated"]
    lsh, rsh = BODY25_JOINTS.index("LShoulder"), BODY25_JOINTS.index("RShoulder")
    assert (rot[:, NOSE, 1] < rot[:, lsh, 1]).all() and (rot[:, lsh, 0] > rot[:, rsh, 0]).all()
    assert np.nanmax(rot[..., 0]) < 270 + 30  # x spans the upright width, not the stored one
    np.testing.assert_allclose(rot[:, :, :2], out["upright"][:, :, :2], atol=1.0)
    # A still, lossless clip: identical frames give identical keypoints in every row.
    for row in rot[1:]:
        np.testing.assert_array_equal(row, rot[0])


def test_astronaut_video_is_plausible_in_every_row(tmp_path: Path) -> None:
    import skimage  # noqa: F401
    clip = write_person_video(tmp_path / "astronaut.mp4", 30, size=(400, 300),
                              photo="astronaut", sway_px=40, period_frames=20)
    ds_path = make_aligned_capture(tmp_path / "ds", clip, sequence_id=SEQ)
    assert run_keypoints(ds_path, KeypointsConfig()).failed == {}
    kp = open_dataset(ds_path).sequence_array("keypoints2d", SEQ).values
    j = {name: BODY25_JOINTS.index(name) for name in ("Nose", "LShoulder", "RShoulder",
                                                       "LEye", "REye")}
    assert np.isfinite(kp[:, j["Nose"], 0]).all()  # found in every row
    assert (kp[:, j["Nose"], 1] < kp[:, j["LShoulder"], 1]).all()
    assert (kp[:, j["Nose"], 1] < kp[:, j["RShoulder"], 1]).all()
    assert (kp[:, j["LShoulder"], 0] > kp[:, j["RShoulder"], 0]).all()
    assert (kp[:, j["LEye"], 0] > kp[:, j["REye"], 0]).all()


# -- bad input ---------------------------------------------------------------------------

def test_dataset_without_aligned_frames(tmp_path: Path) -> None:
    ds_path = tmp_path / "emg_only"
    writer = DatasetWriter.create_or_open(ds_path, name="emg-only", streams=[
        StreamSpec(name="emg", family="semg", rate_hz=10.0, channels=["l_quad"])])
    assert writer is not None
    with pytest.raises(InputError, match=r"has no aligned frames \(no `frames` stream"):
        run_keypoints(ds_path, KeypointsConfig())


def test_frames_outside_the_video(tmp_path: Path) -> None:
    short = write_person_video(tmp_path / "short.mp4", 20, size=(160, 120))
    # align claims a 45-frame video, but the file decodes to 20 frames.
    short.n_frames = 45
    ds_path = make_aligned_capture(tmp_path / "ds", short, sequence_id=SEQ)
    payload = {"dataset": str(ds_path), "sequence_id": SEQ, "config": KeypointsConfig()}
    with pytest.raises(InputError, match=r"frame index 21 is outside the video, which decodes "
                                         r"to only 20 frames"):
        extract_sequence(payload)
    # Through the unit runner the failure is reported, not raised, and nothing is written.
    report = run_keypoints(ds_path, KeypointsConfig())
    assert "outside the video" in report.failed[f"keypoints.{SEQ}"]
    assert "keypoints2d" not in open_dataset(ds_path).streams or not open_dataset(
        ds_path).sequence_ids("keypoints2d")


def test_source_frames_beyond_recorded_count(tmp_path: Path) -> None:
    clip = write_person_video(tmp_path / "c.mp4", 20, size=(160, 120))
    # The grid refers to frames up to 18, but the dataset says the video has 10.
    ds_path = make_aligned_capture(tmp_path / "ds", clip, sequence_id=SEQ,
                                   n_frames_in_extra=10)
    payload = {"dataset": str(ds_path), "sequence_id": SEQ, "config": KeypointsConfig()}
    with pytest.raises(InputError, match=r"aligned frames refer to video frame 18, but align "
                                         r"recorded only 10 frames"):
        extract_sequence(payload)


def test_replaced_video_and_moved_video(tmp_path: Path) -> None:
    clip = write_person_video(tmp_path / "clip.mp4", 12, size=(160, 120))
    ds_path = make_aligned_capture(tmp_path / "ds", clip, sequence_id=SEQ)
    payload = {"dataset": str(ds_path), "sequence_id": SEQ, "config": KeypointsConfig()}
    moved = tmp_path / "moved"
    moved.mkdir()
    clip.path.rename(moved / "clip.mp4")
    with pytest.raises(InputError, match=r"its video is not at .*clip\.mp4; pass --video-root"):
        extract_sequence(payload)
    other = write_person_video(tmp_path / "other.mp4", 12, size=(160, 120), sway_px=5)
    other.path.rename(tmp_path / "clip.mp4")
    with pytest.raises(InputError, match="is not the video align read"):
        extract_sequence(payload)
    (tmp_path / "clip.mp4").unlink()
    result = extract_sequence({**payload, "config": KeypointsConfig(video_root=moved)})
    assert result["rows"] == 5 and result["detected"] == 5


def test_unknown_sequence(capture: dict) -> None:
    with pytest.raises(InputError, match=r"--sequence nope: not in .*; sequences with aligned "
                                         r"frames: S01_squat_000"):
        run_keypoints(capture["dataset"], KeypointsConfig(sequences=["nope"]))


def test_demo_finds_the_person_where_it_was_drawn(tmp_path: Path) -> None:
    from musclekit.pipelines.keypoints.demo import run_demo

    result = run_demo(tmp_path, duration_s=2.0)
    assert result["rows_detected"] == result["rows_with_person_drawn"] > 0
    assert result["rows"] > result["rows_with_person_drawn"]  # the person steps out
    assert result["nose_error_px_median"] < 5.0
