"""Quality a user must hear about, in `inspect`, in `validate` (exit 1 under --strict) and in
the library call behind them: one dataset per case, the message asserted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from musclekit.cli.main import main
from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, SubjectInfo
from musclekit.errors import ExitCode
from musclekit.quality import dataset_quality

MARKERS = StreamSpec(name="markers", family="markers", rate_hz=10.0,
                     channels=["LASI", "RASI", "LKNE"])


def _kinematics_dataset(root, *, kind="smplh", frames=20, flagged=0, rms=0.01, mass=70.0,
                        empty_marker=False):
    w = DatasetWriter.create_or_open(root, name="q", streams=[MARKERS])
    with w.unit("kinematics.walk", Provenance.for_stage("simulate.kinematics")) as u:
        u.add_subject(SubjectInfo(id="S01", mass_kg=mass))
        seq = SequenceInfo(id="walk", subject_id="S01", label="walk", extra={"kinematics": {
            "body_model_kind": kind, "frames": frames, "flagged_frames": flagged,
            "ik_rms_mean_m": rms, "flag_rms_m": 0.02, "flag_max_m": 0.04}})
        values = np.random.default_rng(0).normal(size=(frames, 3, 3))
        if empty_marker:
            values[:, 2] = np.nan
        u.write_sequence("markers", seq, time_s=np.arange(frames) / 10.0, values=values)
    return root


def _messages(root):
    return [q.message for q in dataset_quality(root)]


def _strict(root, capsys):
    assert main(["validate", str(root), "--no-hashes"]) == ExitCode.OK
    capsys.readouterr()
    assert main(["validate", str(root), "--no-hashes", "--strict"]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert main(["inspect", str(root)]) == ExitCode.OK
    return err, capsys.readouterr().err


def test_a_clean_dataset_has_no_quality_warning(tmp_path, capsys):
    root = _kinematics_dataset(tmp_path / "d")
    assert _messages(root) == []
    assert main(["validate", str(root), "--no-hashes", "--strict"]) == ExitCode.OK


def test_standin_body(tmp_path, capsys):
    root = _kinematics_dataset(tmp_path / "d", kind="standin-v1")
    validate_err, inspect_err = _strict(root, capsys)
    want = "1 sequence(s) were simulated with musclekit's procedural stand-in body"
    assert want in validate_err and want in inspect_err


def test_share_of_flagged_frames(tmp_path, capsys):
    root = _kinematics_dataset(tmp_path / "d", flagged=20)
    validate_err, inspect_err = _strict(root, capsys)
    want = ("100 % of the frames of sequence walk are flagged (IK marker RMS above 20 mm or "
            "largest error above 40 mm)")
    assert want in " ".join(validate_err.split()) and want in " ".join(inspect_err.split())


def test_implausible_units(tmp_path, capsys):
    root = _kinematics_dataset(tmp_path / "d", rms=526.0)
    validate_err, _ = _strict(root, capsys)
    assert "IK marker RMS error 526 m, which no real fit has: the marker units are " \
           "implausible" in " ".join(validate_err.split())


def test_missing_markers(tmp_path, capsys):
    root = _kinematics_dataset(tmp_path / "d", empty_marker=True)
    validate_err, _ = _strict(root, capsys)
    assert "sequence walk: 1 marker(s) of stream 'markers' have no value in any frame (LKNE)" \
        in " ".join(validate_err.split())


def test_subject_without_mass(tmp_path, capsys):
    root = _kinematics_dataset(tmp_path / "d", mass=None)
    validate_err, _ = _strict(root, capsys)
    assert "subject(s) S01 have no mass in the dataset" in " ".join(validate_err.split())


def test_failed_chunks(tmp_path, capsys):
    root = _kinematics_dataset(tmp_path / "d")
    w = DatasetWriter.create_or_open(root)
    with w.unit("dyn", Provenance.for_stage("simulate-dynamics")) as u:
        u.write_table("chunks", pd.DataFrame({"sequence_id": ["walk", "walk"],
                                              "status": ["converged", "failed"]}))
    validate_err, _ = _strict(root, capsys)
    assert "sequence walk: 1 of 2 muscle-driven chunks failed" in " ".join(validate_err.split())


@pytest.mark.parametrize("splits,empty", [(["train", "train"], "test"), (["test"], "train")])
def test_empty_clip_split(tmp_path, capsys, splits, empty):
    spec = StreamSpec(name="emg", family="semg", rate_hz=10.0, channels=["a"])
    w = DatasetWriter.create_or_open(tmp_path / "d", name="clips", streams=[spec])
    clips = [{"start_frame": 10 * i, "n_frames": 10, "split": s} for i, s in enumerate(splits)]
    with w.unit("u", Provenance.for_stage("align")) as u:
        u.add_subject(SubjectInfo(id="S01"))
        u.write_sequence("emg", SequenceInfo(id="s", subject_id="S01", extra={"clips": clips}),
                         time_s=np.arange(30) / 10.0, values=np.ones((30, 1)))
    validate_err, _ = _strict(tmp_path / "d", capsys)
    assert f"the dataset's clips hold no {empty} clip" in " ".join(validate_err.split())


def test_train_repeats_the_quality_of_its_data(tmp_path, capsys):
    """A model trained on the stand-in body inherits it: train says so at the start."""
    root = _kinematics_dataset(tmp_path / "d", kind="standin-v1", frames=200)
    act = StreamSpec(name="activations", family="activations", rate_hz=10.0,
                     channels=["soleus_r", "tibant_r"])
    w = DatasetWriter.create_or_open(root, streams=[act])
    seq = open_dataset_sequence(root)
    with w.unit("dyn", Provenance.for_stage("simulate-dynamics")) as u:
        u.write_sequence("activations", seq, time_s=np.arange(200) / 10.0,
                         values=np.random.default_rng(1).uniform(size=(200, 2)))
    assert main(["train", str(root), "--out", str(tmp_path / "run"), "--model", "lstm",
                 "--width", "8", "--layers", "1", "--window", "10", "--max-steps", "2",
                 "--eval-every", "2", "--device", "cpu", "--no-evaluate"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: training data: 1 sequence(s) were simulated with musclekit's procedural " \
           "stand-in body" in err


def open_dataset_sequence(root):
    from musclekit.dataset import open_dataset

    return open_dataset(root).sequences["walk"]
