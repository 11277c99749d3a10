"""The simulate family's small commands with bad input (found by benchmarks/bad_inputs.py):
each an `error:` line naming the fix, never a traceback."""

from __future__ import annotations

import pytest

from musclekit.cli.main import main
from musclekit.errors import ExitCode


@pytest.mark.parametrize("flag, value", [("--duration-s", "nan"), ("--rate-hz", "nan"),
                                         ("--duration-s", "1e9"), ("--rate-hz", "-1")])
def test_simulate_synthetic_refuses_absurd_numbers(flag, value, tmp_path, capsys) -> None:
    code = main(["simulate-synthetic", str(tmp_path / "out"), flag, value])
    err = " ".join(capsys.readouterr().err.split())
    assert code == ExitCode.ERROR
    assert f"{flag} {float(value)}: give a number above 0 and at most" in err
    assert not (tmp_path / "out").exists()


def test_status_of_a_missing_folder_names_the_fix(tmp_path, capsys) -> None:
    assert main(["status", str(tmp_path / "missing")]) == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert "dataset folder not found" in err and "give the folder a `musclekit simulate` run" in err


@pytest.fixture(scope="module")
def kinematics_only(tmp_path_factory):
    """A dataset with joint angles but no dynamics (as `--until ik` leaves it)."""
    from musclekit.pipelines.simulate.dynamics.stage.demo import make_kinematics_dataset

    return make_kinematics_dataset(tmp_path_factory.mktemp("kin") / "ds", duration_s=0.6)


def test_plot_names_a_figure_suffix(kinematics_only, tmp_path, capsys) -> None:
    code = main(["plot", str(kinematics_only), "S01_squat", "--out", str(tmp_path / "p.txt")])
    assert code == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert "a figure is written as .png, .pdf, .svg" in err and "p.png" in err


def test_plot_without_dynamics_says_to_run_it(kinematics_only, tmp_path, capsys) -> None:
    code = main(["plot", str(kinematics_only), "S01_squat", "--out", str(tmp_path / "p.png")])
    assert code == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert "has no activations stream: run the dynamics stage on it first" in err


def test_compare_emg_unknown_sequence_and_missing_file(tmp_path, capsys) -> None:
    from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec

    ds = tmp_path / "ds"
    w = DatasetWriter.create_or_open(ds, streams=[StreamSpec(
        name="activations", family="activations", rate_hz=50.0, channels=["soleus_r"])])
    import numpy as np

    with w.unit("u", Provenance.for_stage("test")) as u:
        u.write_sequence("activations", SequenceInfo(id="S01_walk", subject_id="S01"),
                         np.arange(10) / 50.0, np.full((10, 1), 0.2))
    emg = tmp_path / "emg.csv"
    emg.write_text("time,SOL\n" + "".join(f"{k / 1000},0.1\n" for k in range(100)))
    assert main(["compare-emg", str(ds), "nope", "--emg", str(emg)]) == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert "sequence 'nope' has no simulated activations" in err and "S01_walk" in err
    assert main(["compare-emg", str(ds), "S01_walk", "--emg", str(tmp_path / "no.anc")]) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "EMG file not found" in err and "check the path given to --emg" in err
