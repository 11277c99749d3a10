"""The dataset commands through the real entry point, with the exit codes users see."""

from __future__ import annotations

import json

import pytest

from musclekit.cli.main import main
from musclekit.errors import ExitCode
from tests.helpers.format_factories import write_emg_dataset


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("musclekit ")


def test_info_lists_versions(capsys):
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["opensim"] and data["torch"] and data["python"]


def test_validate_ok_and_broken(tmp_path, capsys):
    root = write_emg_dataset(tmp_path / "d")
    assert main(["validate", str(root)]) == ExitCode.OK
    (root / "data" / "emg" / "u0.parquet").write_bytes(b"PAR1")
    assert main(["validate", str(root)]) == ExitCode.ERROR
    assert "truncated or changed" in capsys.readouterr().err


def test_validate_not_a_dataset(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == ExitCode.ERROR
    assert "is not a musclekit dataset" in capsys.readouterr().err


def test_inspect(tmp_path, capsys):
    root = write_emg_dataset(tmp_path / "d")
    assert main(["inspect", str(root)]) == 0
    err = capsys.readouterr().err
    assert "emg-test" in err and "2 sequences" in err and "Squat" in err


def test_inspect_error_message(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing")]) == ExitCode.ERROR
    assert "error:" in capsys.readouterr().err


def test_usage_error_exit_code(capsys):
    assert main(["validate"]) == ExitCode.USAGE
    assert main(["no-such-command"]) == ExitCode.USAGE


@pytest.mark.timeout(600)
def test_demo_runs_end_to_end(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path / "demo")]) == 0
    err = capsys.readouterr().err
    assert "demo finished" in err
    # the user's chain on one dataset: simulate (kinematics + dynamics) -> train on its output
    chain = json.loads((tmp_path / "demo" / "demo-summary.json").read_text())["chain"]
    assert chain["input_stream"] == "markers" and chain["target_stream"] == "activations"
    assert chain["sequences"] and chain["steps"] > 0
    assert "$ musclekit simulate --amass Synthetic" in err and "$ musclekit train " in err


def test_inspect_counts_converged_and_failed_chunks(tmp_path):
    import pandas as pd

    from musclekit.dataset import DatasetWriter, Provenance
    from musclekit.dataset.summary import dataset_summary

    w = DatasetWriter.create_or_open(tmp_path / "d", streams=[])
    with w.unit("dyn", Provenance.for_stage("simulate-dynamics")) as u:
        u.write_table("chunks", pd.DataFrame({
            "sequence_id": ["walk", "walk", "walk"], "status": ["converged", "failed", "converged"],
            "core_start_s": [0.0, 1.4, 2.8], "core_end_s": [1.4, 2.8, 4.0]}))
    chunks = dataset_summary(tmp_path / "d")["chunks"]
    assert chunks["walk"]["converged"] == 2 and chunks["walk"]["failed"] == 1
    assert abs(chunks["walk"]["gap_s"] - 1.4) < 1e-9 and abs(chunks["walk"]["converged_s"] - 2.6) < 1e-9
