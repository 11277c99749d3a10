"""train's defaults (dataset and run folder), empty splits, corrupted shards and predict
into a stream another run wrote: the messages a user reads."""

from __future__ import annotations

import errno
import shutil

import pytest

from musclekit.cli.main import main
from musclekit.dataset import open_dataset
from musclekit.errors import ExitCode
from tests.helpers.train_fixtures import tiny_dataset

FAST = ["--model", "lstm", "--width", "8", "--layers", "1", "--window", "20",
        "--max-steps", "5", "--eval-every", "5", "--device", "cpu"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return tiny_dataset(tmp_path_factory.mktemp("trainds") / "ds")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("MUSCLEKIT_DATASET", "MUSCLEKIT_RUNS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MUSCLEKIT_CONFIG", str(tmp_path / "config.toml"))
    return tmp_path


def test_train_without_arguments_uses_the_default_dataset_and_run_folder(dataset, workdir,
                                                                         capsys):
    shutil.copytree(dataset, workdir / "musclekit-data")
    assert main(["train", *FAST]) == 0
    err = capsys.readouterr().err
    run = workdir / "musclekit-runs" / "musclekit-data-motion-to-muscle-lstm"
    assert (run / "run.json").is_file()
    assert f"run folder: {run.relative_to(workdir)}" in err
    assert "best validation loss" in err
    # predict without DATASET writes into the dataset the run was trained on
    assert main(["predict", str(run), "--stream", "act_pred"]) == 0
    assert "act_pred" in open_dataset(workdir / "musclekit-data").streams
    # evaluate and predict without RUN take the most recent run
    assert main(["evaluate"]) == 0
    assert "(the most recently trained run under musclekit-runs)" in capsys.readouterr().err
    assert main(["predict"]) == 0
    assert "activations_predicted" in open_dataset(workdir / "musclekit-data").streams


def test_evaluate_without_any_run_says_so(workdir, capsys):
    assert main(["evaluate"]) == ExitCode.ERROR
    assert "no RUN given and no training run under musclekit-runs" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "inspect", "status", "keypoints", "card"])
def test_without_a_dataset_commands_say_where_they_looked(workdir, capsys, command):
    assert main([command]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "no DATASET given and the default dataset folder musclekit-data does not exist" in err
    assert "musclekit config set dataset DIR" in err


def test_default_dataset_from_the_config_file(dataset, workdir, capsys):
    assert main(["config", "set", "dataset", str(dataset)]) == 0
    assert main(["config", "show"]) == 0
    err = capsys.readouterr().err
    assert f"dataset = {dataset}" in err and "config file" in err
    assert main(["train", *FAST, "--out", str(workdir / "run")]) == 0
    assert f"dataset: {dataset}" in capsys.readouterr().err


def test_zero_validation_windows_reports_the_training_loss(dataset, workdir, capsys):
    assert main(["train", str(dataset), "--out", "run", "--val-fraction", "0", *FAST]) == 0
    err = capsys.readouterr().err
    assert "leaves no validation window of 20 frames" in err
    assert "best training loss" in err and "(no validation windows: the training loss)" in err
    assert "best validation loss" not in err
    # the run keeps the warning: inspect on the run folder repeats it
    assert main(["inspect", "run"]) == 0
    err = capsys.readouterr().err
    assert "best training loss" in err and "leaves no validation window" in err
    assert main(["validate", "run"]) == 0
    assert main(["validate", "run", "--strict"]) == ExitCode.ERROR
    assert "leaves no validation window" in capsys.readouterr().err


def test_zero_test_windows_fail_before_training(dataset, workdir, capsys):
    code = main(["train", str(dataset), "--out", "run", "--test-fraction", "0", *FAST])
    err = capsys.readouterr().err
    assert code == ExitCode.ERROR
    assert "leaves no test window of 20 frames, so the run could not be evaluated" in err
    assert "--no-evaluate" in err
    assert not (workdir / "run").exists()  # nothing written


def test_read_only_run_folder_is_refused_before_training(dataset, workdir, capsys, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    assert main(["train", str(dataset), "--out", "ro/run", *FAST]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "--out ro/run: cannot write into" in err and "permission denied" in err
    assert not (workdir / "ro").exists()


def test_permission_error_anywhere_is_a_message_not_a_traceback(workdir, capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/data/ds/meta/info.json")

    import musclekit.dataset.summary as summary

    monkeypatch.setattr(summary, "render_summary", boom)
    assert main(["inspect", str(workdir)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "error: cannot write /data/ds/meta/info.json: permission denied" in err
    assert "Traceback" not in err

    def missing(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/data/x.npz")

    monkeypatch.setattr(summary, "render_summary", missing)
    assert main(["inspect", str(workdir)]) == ExitCode.ERROR
    assert "error: /data/x.npz does not exist; check the path" in capsys.readouterr().err


def test_corrupted_shard_of_the_same_size_is_named(dataset, workdir, capsys):
    ds = workdir / "ds"
    shutil.copytree(dataset, ds)
    shard = sorted((ds / "data").glob("*/*.parquet"))[0]
    data = bytearray(shard.read_bytes())
    for i in range(16, len(data) // 2):  # same size, damaged bytes in the data pages
        data[i] ^= 0x5A
    shard.write_bytes(bytes(data))
    assert main(["train", str(ds), "--out", "run", *FAST]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert f"shard {shard} is corrupted: it has the recorded size but its bytes do not decode" in err
    assert "musclekit validate" in err and "Traceback" not in err
    assert not (workdir / "run").exists()  # refused before the run folder is created


def test_predict_refuses_a_stream_written_by_another_run(dataset, workdir, capsys):
    ds = workdir / "ds"
    shutil.copytree(dataset, ds)
    assert main(["train", str(ds), "--out", "run1", *FAST, "--no-evaluate"]) == 0
    assert main(["train", str(ds), "--out", "run2", *FAST, "--no-evaluate", "--seed", "1"]) == 0
    assert main(["predict", "run1", str(ds)]) == 0
    before = open_dataset(ds).to_pandas("activations_predicted")
    capsys.readouterr()
    assert main(["predict", "run2", str(ds)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "stream 'activations_predicted'" in err and "was predicted by another run" in err
    assert "--stream activations_predicted_2" in err
    after = open_dataset(ds).to_pandas("activations_predicted")
    assert before.equals(after)
    assert main(["predict", "run1", str(ds)]) == 0
    assert "already predicted by this run" in capsys.readouterr().err


def test_default_streams_are_a_pair_that_shares_sequences(workdir, capsys):
    """align (sEMG + keypoints of a capture) and simulate (markers + activations of AMASS
    sequences) write one default dataset; train picks the pair that meets in sequences."""
    import numpy as np

    from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, SubjectInfo

    specs = [StreamSpec(name="emg", family="semg", rate_hz=10.0, channels=["a", "b"]),
             StreamSpec(name="joint_angles", family="joint_angles", rate_hz=10.0,
                        channels=["hip", "knee"], units="rad"),
             StreamSpec(name="markers", family="markers", rate_hz=10.0, channels=["M1", "M2"]),
             StreamSpec(name="activations", family="activations", rate_hz=10.0,
                        channels=["soleus_r", "tibant_r"])]
    w = DatasetWriter.create_or_open(workdir / "musclekit-data", name="both", streams=specs)
    rng = np.random.default_rng(0)
    t = np.arange(300) / 10.0
    with w.unit("capture", Provenance.for_stage("align")) as u:
        u.add_subject(SubjectInfo(id="S01"))
        seq = SequenceInfo(id="capture", subject_id="S01")
        u.write_sequence("emg", seq, time_s=t, values=rng.uniform(size=(300, 2)))
        u.write_sequence("joint_angles", seq, time_s=t, values=rng.normal(size=(300, 2)))
    with w.unit("amass", Provenance.for_stage("simulate")) as u:
        seq = SequenceInfo(id="amass", subject_id="S01")
        u.write_sequence("markers", seq, time_s=t, values=rng.normal(size=(300, 2, 3)))
        u.write_sequence("activations", seq, time_s=t, values=rng.uniform(size=(300, 2)))
    assert main(["train", "--window", "10", "--max-steps", "2", "--eval-every", "2",
                 "--model", "lstm", "--width", "8", "--layers", "1", "--device", "cpu",
                 "--no-evaluate"]) == 0
    assert "streams: markers (markers) -> activations (activations)" in capsys.readouterr().err
    # naming one side picks a partner that shares its sequences
    assert main(["train", "--input", "joint_angles", "--out", "r2", "--window", "10",
                 "--max-steps", "2", "--eval-every", "2", "--model", "lstm", "--width", "8",
                 "--layers", "1", "--device", "cpu", "--no-evaluate"]) == 0
    assert "streams: joint_angles (joint_angles) -> emg (semg)" in capsys.readouterr().err
