"""The train demo on an aligned-capture-like dataset: keypoints3d (with confidence) + sEMG."""

import numpy as np

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, SubjectInfo
from musclekit.pipelines.train.demo import run_demo

JOINTS = ["Nose", "Neck", "RHip", "RKnee", "RAnkle"]
EMG = ["l_quad", "l_ham", "r_quad"]


def _capture(path, clips=False):
    """Keypoints and sEMG on one 10 Hz grid, like align + keypoints write them; with `clips`,
    align's extra["clips"] (30-frame clips, every fifth one in test)."""
    specs = [
        StreamSpec(name="emg", family="semg", rate_hz=10.0, channels=EMG, clock="emg"),
        StreamSpec(name="keypoints3d", family="keypoints3d", rate_hz=10.0, channels=JOINTS,
                   units=["m"] * len(JOINTS), clock="emg"),
    ]
    w = DatasetWriter.create_or_open(path, name="capture", streams=specs)
    rng = np.random.default_rng(0)
    with w.unit("capture", provenance=Provenance.for_stage("test")) as u:
        for s in ("S01", "S02"):
            u.add_subject(SubjectInfo(id=s))
            for label in ("Squat", "Running"):
                n = 600
                t = np.arange(n) / 10.0
                phase = rng.uniform(0, 6)
                knee = np.sin(2 * np.pi * 0.4 * t + phase)
                kp = np.zeros((n, len(JOINTS), 4), np.float32)
                for j in range(len(JOINTS)):
                    kp[:, j, 1] = 1.0 - 0.2 * j + 0.1 * (j + 1) * knee
                    kp[:, j, 0] = 0.05 * j * np.cos(2 * np.pi * 0.4 * t + phase)
                kp[:, :, 3] = 0.9
                kp += rng.normal(0, 0.005, kp.shape).astype(np.float32)
                emg = np.stack([40 * np.maximum(knee, 0) ** 2, 30 * np.maximum(-knee, 0),
                                20 * (knee + 1)], axis=1) + rng.normal(0, 1, (n, 3))
                emg[100:110] = np.nan  # a dropout
                extra = {"clips": [{"start_frame": k, "n_frames": 30,
                                    "split": "test" if (k // 30) % 5 == 4 else "train"}
                                   for k in range(0, n - 29, 30)]} if clips else {}
                seq = SequenceInfo(id=f"{s}_{label}_000", subject_id=s, label=label,
                                   extra=extra)
                u.write_sequence("emg", seq, time_s=t, values=emg)
                u.write_sequence("keypoints3d", seq, time_s=t, values=kp)
    return path


def test_demo_on_aligned_capture(tmp_path):
    ds = _capture(tmp_path / "capture")
    result = run_demo(ds, tmp_path / "work", seconds=4.0)
    assert result["input_stream"] == "keypoints3d" and result["target_stream"] == "emg"
    assert result["window_frames"] == 30 and result["rate_hz"] == 10.0
    metrics = result["metrics"]
    assert set(metrics) == {"mint", "constant", "retrieval", "c-retrieval"}
    assert result["beats_baselines"], metrics
    from musclekit.pipelines.train.run import RunFolder

    data = RunFolder.open(result["run"]).data
    assert data.inputs.components == ["x", "y", "z"]  # confidence is not a model input
    assert not data.bounded_output  # sEMG targets are z-scored, the head is linear


def test_align_clip_split_is_used(tmp_path):
    from musclekit.pipelines.train.splits import TEST
    from musclekit.pipelines.train.training import prepare_data
    from tests.helpers.train_fixtures import fast_config

    ds = _capture(tmp_path / "capture", clips=True)
    prepared = prepare_data(fast_config(ds, split="clips", window_frames=30))
    codes = prepared.codes[prepared.table.sequence_slice(0)]
    assert (codes[120:150] == TEST).all() and (codes[270:300] == TEST).all()
    assert not (codes[:120] == TEST).any()
    # every test window is one of align's test clips
    starts = prepared.starts(TEST)
    assert starts.size and set((starts % 600 % 150).tolist()) == {120}


def test_muscle_to_motion_predicts_keypoints(tmp_path):
    from musclekit.dataset import Flag, open_dataset
    from musclekit.pipelines.train.predict import predict_into
    from musclekit.pipelines.train.training import train
    from tests.helpers.train_fixtures import fast_config

    ds = _capture(tmp_path / "capture")
    cfg = fast_config(ds, task="muscle-to-motion", model="lstm", width=8, layers=1,
                      window_frames=30, max_steps=10, eval_every_steps=10)
    train(cfg, tmp_path / "run")
    result = predict_into(tmp_path / "run", ds)
    assert result.stream == "keypoints3d_predicted"
    d = open_dataset(ds)
    assert d.streams["keypoints3d_predicted"].family == "keypoints3d"
    arr = d.sequence_array("keypoints3d_predicted", "S01_Squat_000")
    ok = (arr.flags & Flag.MISSING) == 0
    assert arr.values.shape == (600, len(JOINTS), 4)
    assert np.isfinite(arr.values[ok][:, :, :3]).all()
    assert np.isnan(arr.values[:, :, 3]).all()  # no confidence is invented
    assert not ok[100:110].any()  # the sEMG dropout gives no motion
