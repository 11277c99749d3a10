"""`musclekit keypoints` on the command line: exit codes and the messages users read."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest

from musclekit.cli.main import main
from musclekit.dataset import DatasetWriter, StreamSpec
from musclekit.pipelines.keypoints.synthetic import make_aligned_capture, write_person_video

SEQ = "S03_jump_000"


def _pkl(path: Path, frame_ids: np.ndarray) -> Path:
    n = frame_ids.size
    joblib.dump({0: {"joints3d": np.zeros((n, 49, 3)),
                     "joints2d_img_coord": np.ones((n, 49, 2)), "frame_ids": frame_ids}}, path)
    return path


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    clip = write_person_video(tmp_path / "clip.mp4", 30, size=(160, 120))
    return make_aligned_capture(tmp_path / "ds", clip, sequence_id=SEQ)


def test_cli_imports_vibe_output(dataset: Path, tmp_path: Path, capsys) -> None:
    pkl = _pkl(tmp_path / "v.pkl", np.arange(30))
    assert main(["keypoints", str(dataset), "--vibe-output", str(pkl)]) == 0
    err = capsys.readouterr().err
    assert f"ok {SEQ}: 11/11 frames with a person" in err
    assert main(["keypoints", str(dataset), "--vibe-output", str(pkl)]) == 0
    assert "0 done, 1 skipped (already done)" in capsys.readouterr().err


def test_cli_dataset_without_aligned_frames(tmp_path: Path, capsys) -> None:
    ds = tmp_path / "emg_only"
    DatasetWriter.create_or_open(ds, name="emg-only", streams=[
        StreamSpec(name="emg", family="semg", rate_hz=10.0, channels=["l_quad"])])
    assert main(["keypoints", str(ds)]) == 1
    assert "has no aligned frames" in capsys.readouterr().err


def test_cli_bad_flags(dataset: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("MUSCLEKIT_VIBE_ROOT", raising=False)
    assert main(["keypoints", str(dataset), "--backend", "openpose"]) == 1
    assert "--backend 'openpose': choose mediapipe or vibe" in capsys.readouterr().err
    assert main(["keypoints", str(dataset), "--backend", "vibe"]) == 1
    assert "needs your own VIBE installation" in capsys.readouterr().err
    assert main(["keypoints", str(dataset), "--track", "2"]) == 1
    assert "--track selects a VIBE track" in capsys.readouterr().err


def test_cli_every_sequence_failing_exits_1_some_failing_exits_3(dataset: Path, tmp_path: Path,
                                                                 capsys) -> None:
    # frame ids 0..29 fit the first clip (30 frames) but not a second, shorter one.
    pkl = _pkl(tmp_path / "v.pkl", np.arange(30))
    short = write_person_video(tmp_path / "short.mp4", 20, size=(160, 120))
    make_aligned_capture(dataset, short, sequence_id="S03_jump_001")
    code = main(["keypoints", str(dataset), "--vibe-output", str(pkl),
                 "--sequence", "S03_jump_001"])
    err = capsys.readouterr().err
    assert code == 1 and "keypoints failed for every sequence" in err
    assert "frame ids 0..29 are outside the video, which has 20 frames" in err
    assert main(["keypoints", str(dataset), "--vibe-output", str(pkl), "--sequence", SEQ]) == 0


def test_cli_partial_failure_exits_3(tmp_path: Path, capsys) -> None:
    import mediapipe  # noqa: F401
    good = write_person_video(tmp_path / "good.mp4", 12, size=(160, 120))
    ds = make_aligned_capture(tmp_path / "ds", good, sequence_id="S04_a")
    broken = write_person_video(tmp_path / "broken.mp4", 8, size=(160, 120))
    broken.n_frames = 30  # the dataset refers to frames the file does not have
    make_aligned_capture(ds, broken, sequence_id="S04_b")
    assert main(["keypoints", str(ds)]) == 3
    err = capsys.readouterr().err
    assert "ok S04_a" in err and "failed keypoints.S04_b" in err
    assert "1 sequence(s) failed: keypoints.S04_b" in err
