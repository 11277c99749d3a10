"""VIBE: importing a VIBE output file (track policy, grid mapping, bad files) and running a
user's VIBE install (missing pieces named; a stand-in VIBE checkout exercises the plumbing)."""

from __future__ import annotations

import os
import re
import stat
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest

from musclekit.dataset import Flag, open_dataset
from musclekit.errors import InputError, MissingDependencyError
from musclekit.pipelines.keypoints import vibe_runner
from musclekit.pipelines.keypoints.config import KeypointsConfig
from musclekit.pipelines.keypoints.joints import BODY25_JOINTS
from musclekit.pipelines.keypoints.stage import extract_sequence, run_keypoints
from musclekit.pipelines.keypoints.synthetic import (
    grid_source_frames,
    make_aligned_capture,
    write_person_video,
)
from musclekit.pipelines.keypoints.vibe_output import load_vibe_output

SEQ = "S02_squat_000"
N_NATIVE = 60  # 2 s at 29.97 fps -> 21 grid rows


def _track(frame_ids: np.ndarray, offset: float) -> dict:
    """A VIBE-like track whose joint j in frame f sits at a value encoding (f, j, offset)."""
    n = frame_ids.size
    j = np.arange(49)
    joints2d = np.stack(np.broadcast_arrays(frame_ids[:, None] * 10.0 + offset, j[None, :] + 0.5),
                        axis=-1)
    joints3d = np.zeros((n, 49, 3))
    joints3d[..., 0] = j[None, :] * 0.01 + offset
    joints3d[..., 1] = -frame_ids[:, None] * 0.001
    joints3d[..., 2] = 3.0  # VIBE's joints are not root-relative; musclekit makes them so
    return {"pred_cam": np.zeros((n, 3)), "orig_cam": np.zeros((n, 4)),
            "verts": np.zeros((n, 10, 3)), "pose": np.zeros((n, 72)), "betas": np.zeros((n, 10)),
            "joints3d": joints3d, "joints2d_img_coord": joints2d,
            "bboxes": np.tile([100.0, 100.0, 50.0, 50.0], (n, 1)), "frame_ids": frame_ids}


@pytest.fixture()
def capture(tmp_path: Path) -> dict:
    clip = write_person_video(tmp_path / "clip.mp4", N_NATIVE, size=(160, 120))
    dataset = make_aligned_capture(tmp_path / "ds", clip, sequence_id=SEQ, missing_rows=[2])
    _, source = grid_source_frames(N_NATIVE, clip.fps, 10.0)
    return {"dataset": dataset, "clip": clip, "source": source, "tmp": tmp_path}


@pytest.fixture()
def vibe_pkl(tmp_path: Path) -> Path:
    tracks = {
        1: _track(np.arange(0, 40), offset=0.0),  # longest: the subject
        7: _track(np.arange(30, 45), offset=1000.0),  # a passer-by
    }
    path = tmp_path / "vibe_output.pkl"
    joblib.dump(tracks, path)
    return path


def test_import_longest_track_onto_the_grid(capture: dict, vibe_pkl: Path) -> None:
    report = run_keypoints(capture["dataset"], KeypointsConfig(vibe_output=vibe_pkl))
    assert report.failed == {}
    ds = open_dataset(capture["dataset"])
    kp2 = ds.sequence_array("keypoints2d", SEQ)
    kp3 = ds.sequence_array("keypoints3d", SEQ)
    source = capture["source"]
    for row, frame in enumerate(source):
        if row == 2 or frame >= 40:  # no video frame, or outside track 1
            assert kp2.flags[row] & Flag.MISSING and np.isnan(kp2.values[row]).all()
            continue
        # Joint j of frame f: x = 10 f, y = j + 0.5 (first 25 of 49 = BODY_25).
        np.testing.assert_allclose(kp2.values[row, :, 0], frame * 10.0)
        np.testing.assert_allclose(kp2.values[row, :, 1], np.arange(25) + 0.5)
        np.testing.assert_allclose(kp2.values[row, :, 2], 1.0)
    midhip = BODY25_JOINTS.index("MidHip")
    ok = ~np.isnan(kp3.values[:, 0, 0])
    np.testing.assert_allclose(kp3.values[ok][:, midhip, :3], 0.0, atol=1e-6)
    np.testing.assert_allclose(kp3.values[ok][:, 0, 0], -0.08, atol=1e-6)  # 0.00 - 0.08
    meta = ds.sequences[SEQ].extra["keypoints"]
    assert meta["track"] == "1" and meta["tracks"] == {"1": 40, "7": 15}
    assert meta["backend"] == "vibe-output" and meta["missing_joints"] == []


def test_track_option_picks_another_track(capture: dict, vibe_pkl: Path) -> None:
    payload = {"dataset": str(capture["dataset"]), "sequence_id": SEQ,
               "config": KeypointsConfig(vibe_output=vibe_pkl, track="7")}
    result = extract_sequence(payload)
    covered = [r for r, f in enumerate(capture["source"]) if 30 <= f < 45 and r != 2]
    assert result["detected"] == len(covered)
    kp2 = open_dataset(capture["dataset"]).sequence_array("keypoints2d", SEQ)
    row = covered[0]
    np.testing.assert_allclose(kp2.values[row, 0, 0], capture["source"][row] * 10.0 + 1000.0)


def test_unknown_track_lists_the_tracks(capture: dict, vibe_pkl: Path) -> None:
    with pytest.raises(InputError, match=r"--track 3: no such track; the VIBE output has "
                                         r"1 \(40 frames\), 7 \(15 frames\)"):
        run_keypoints(capture["dataset"], KeypointsConfig(vibe_output=vibe_pkl, track="3"))


def test_pickle_with_wrong_keys(tmp_path: Path) -> None:
    old = _track(np.arange(5), 0.0)
    del old["joints3d"], old["joints2d_img_coord"]
    path = tmp_path / "old.pkl"
    joblib.dump({0: old}, path)
    with pytest.raises(InputError, match=r"track 0: missing keys \['joints3d', "
                                         r"'joints2d_img_coord'\].*rerun a current VIBE demo\.py"):
        load_vibe_output(path)
    joblib.dump([1, 2, 3], path)
    with pytest.raises(InputError, match="expected a dict of tracks keyed by track id, got list"):
        load_vibe_output(path)
    bad_shape = _track(np.arange(5), 0.0)
    bad_shape["joints3d"] = np.zeros((5, 24, 3))
    joblib.dump({2: bad_shape}, path)
    with pytest.raises(InputError, match=r"joints3d has shape \(5, 24, 3\), expected \(5, 49, 3\)"):
        load_vibe_output(path)
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(InputError, match="cannot be read as a joblib/pickle file"):
        load_vibe_output(path)
    with pytest.raises(InputError, match="no such file"):
        load_vibe_output(tmp_path / "missing.pkl")


def test_frame_ids_outside_the_video(capture: dict, tmp_path: Path) -> None:
    path = tmp_path / "long.pkl"
    joblib.dump({1: _track(np.arange(50, 90), 0.0)}, path)
    payload = {"dataset": str(capture["dataset"]), "sequence_id": SEQ,
               "config": KeypointsConfig(vibe_output=path)}
    with pytest.raises(InputError, match=r"track 1: frame ids 50\.\.89 are outside the video, "
                                         r"which has 60 frames \(0\.\.59\)"):
        extract_sequence(payload)


def test_vibe_output_needs_one_sequence(capture: dict, vibe_pkl: Path) -> None:
    clip2 = write_person_video(capture["tmp"] / "clip2.mp4", 30, size=(160, 120))
    make_aligned_capture(capture["dataset"], clip2, sequence_id="S02_squat_001")
    with pytest.raises(InputError, match=r"--vibe-output holds the VIBE result of one video, but "
                                         r"2 sequences are selected.*--sequence ID"):
        run_keypoints(capture["dataset"], KeypointsConfig(vibe_output=vibe_pkl))
    report = run_keypoints(capture["dataset"],
                           KeypointsConfig(vibe_output=vibe_pkl, sequences=[SEQ]))
    assert list(report.done) == [f"keypoints.{SEQ}"]


# -- running VIBE --------------------------------------------------------------------------

def test_missing_vibe_install_says_what_to_get(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MUSCLEKIT_VIBE_ROOT", raising=False)
    monkeypatch.delenv("MUSCLEKIT_VIBE_PYTHON", raising=False)
    with pytest.raises(MissingDependencyError, match=r"needs your own VIBE installation: pass "
                                                     r"--vibe-root PATH.*github\.com/mkocabas/VIBE"):
        vibe_runner.check_vibe_install(None)
    with pytest.raises(MissingDependencyError, match=r"is not a VIBE checkout \(no demo\.py"):
        vibe_runner.check_vibe_install(tmp_path)


def test_incomplete_vibe_install_lists_every_missing_file(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "VIBE"
    (root / "lib").mkdir(parents=True)
    (root / "demo.py").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(MissingDependencyError) as err:
        vibe_runner.check_vibe_install(root)
    message = str(err.value)
    for piece in ("data/vibe_data/vibe_model_wo_3dpw.pth.tar", "SMPL_NEUTRAL.pkl",
                  "J_regressor_extra.npy", "smpl_mean_params.npz", "prepare_data.sh",
                  ".torch/models/yolov3.weights", "vibe-env/bin/python"):
        assert piece in message, piece


def _fake_vibe(tmp_path: Path, monkeypatch) -> Path:
    """A stand-in VIBE checkout: demo.py counts the clip's frames and writes a VIBE-shaped
    result whose 2D x encodes the frame position (x = 100 + position)."""
    root = tmp_path / "FakeVIBE"
    data = root / "data" / "vibe_data"
    data.mkdir(parents=True)
    (root / "lib").mkdir()
    for name in vibe_runner.VIBE_DATA_FILES:
        (data / name).write_bytes(b"placeholder")
    (root / "multi_person_tracker.py").write_text("")
    (root / "demo.py").write_text(textwrap.dedent("""
        import argparse, os
        import av, joblib, numpy as np
        p = argparse.ArgumentParser()
        p.add_argument("--vid_file"); p.add_argument("--output_folder")
        p.add_argument("--no_render", action="store_true")
        a = p.parse_args()
        with av.open(a.vid_file) as c:
            n = sum(1 for _ in c.decode(video=0))
        ids = np.arange(n)
        j2d = np.zeros((n, 49, 2)); j2d[..., 0] = 100 + ids[:, None]; j2d[..., 1] = 50
        j3d = np.zeros((n, 49, 3))
        out = os.path.join(a.output_folder, os.path.basename(a.vid_file).replace(".mp4", ""))
        os.makedirs(out, exist_ok=True)
        joblib.dump({1: {"joints3d": j3d, "joints2d_img_coord": j2d, "frame_ids": ids,
                         "bboxes": np.zeros((n, 4)), "pose": np.zeros((n, 72)),
                         "betas": np.zeros((n, 10))}}, os.path.join(out, "vibe_output.pkl"))
    """))
    home = tmp_path / "home"
    (home / ".torch" / "models").mkdir(parents=True)
    (home / ".torch" / "models" / "yolov3.weights").write_bytes(b"placeholder")
    monkeypatch.setenv("HOME", str(home))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ffmpeg = bin_dir / "ffmpeg"  # VIBE's demo calls ffmpeg; the stand-in does not
    ffmpeg.write_text("#!/bin/sh\nexit 0\n")
    ffmpeg.chmod(ffmpeg.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return root


def test_vibe_runner_feeds_aligned_frames_and_maps_back(tmp_path: Path, monkeypatch) -> None:
    root = _fake_vibe(tmp_path, monkeypatch)
    clip = write_person_video(tmp_path / "clip.mp4", 90, size=(160, 120))  # 3 s -> 31 rows
    dataset = make_aligned_capture(tmp_path / "ds", clip, sequence_id=SEQ, missing_rows=[4])
    config = KeypointsConfig(backend="vibe", vibe_root=root, vibe_python=Path(sys.executable))
    report = run_keypoints(dataset, config)
    assert report.failed == {}, report.failed
    kp2 = open_dataset(dataset).sequence_array("keypoints2d", SEQ)
    assert np.isnan(kp2.values[4]).all()
    # VIBE saw one frame per distinct aligned source frame, in order, row 4 excluded.
    rows = [r for r in range(kp2.values.shape[0]) if r != 4]
    np.testing.assert_allclose(kp2.values[rows, 0, 0], 100 + np.arange(len(rows)))


def test_vibe_refuses_sequences_shorter_than_its_track_minimum(tmp_path: Path,
                                                               monkeypatch) -> None:
    root = _fake_vibe(tmp_path, monkeypatch)
    clip = write_person_video(tmp_path / "clip.mp4", 45, size=(160, 120))  # 16 rows
    dataset = make_aligned_capture(tmp_path / "ds", clip, sequence_id=SEQ)
    config = KeypointsConfig(backend="vibe", vibe_root=root, vibe_python=Path(sys.executable))
    report = run_keypoints(dataset, config)
    assert re.search(r"has only 16 aligned frames with video, and VIBE drops every track "
                     r"shorter than 25 frames", report.failed[f"keypoints.{SEQ}"])
