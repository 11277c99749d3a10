"""`musclekit dynamics DATASET`: the dynamics stage alone on a dataset's kinematics, on one
graph of units; its inputs refused before any work with the messages `simulate` gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from musclekit.cli.main import main
from musclekit.dataset import open_dataset
from musclekit.errors import ExitCode
from musclekit.pipelines.simulate.dynamics.stage.demo import make_kinematics_dataset

# The tiny run of the driver tests (tests/helpers/simulate_dyn_fixtures.py), as flags.
SMALL = ["--workers", "0", "--chunk-s", "0.6", "--buffer-s", "0.1", "--mesh-per-s", "25",
         "--max-iterations", "300", "--foot-bodies-right", "calcn_r",
         "--foot-bodies-left", "calcn_l"]


@pytest.fixture
def kinematics(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MUSCLEKIT_MODEL_CACHE", str(tmp_path / "cache"))
    return make_kinematics_dataset(tmp_path / "ds", duration_s=1.2)


def _nothing_solved(root: Path) -> bool:
    return not (root / "opensim" / "S01_squat" / "dynamics").exists()


def test_a_cache_that_cannot_be_written_is_refused_before_any_work(kinematics, tmp_path,
                                                                   monkeypatch, capsys):
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("MUSCLEKIT_MODEL_CACHE", str(not_a_folder))
    assert main(["dynamics", str(kinematics), *SMALL]) == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert ("the prepared-model cache ($MUSCLEKIT_MODEL_CACHE, default ~/.cache/musclekit) "
            f"{not_a_folder}: exists and is not a folder") in err
    assert _nothing_solved(kinematics)


def test_a_filter_above_the_nyquist_frequency_is_refused_before_any_work(kinematics, capsys):
    assert main(["dynamics", str(kinematics), *SMALL, "--filter-hz", "60"]) == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert ("sequence S01_squat: --filter-hz 60 is not below the Nyquist frequency of its "
            "100 Hz kinematics") in err
    assert _nothing_solved(kinematics)


def test_a_dataset_without_kinematics_says_to_run_them(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    from musclekit.dataset import DatasetWriter

    DatasetWriter.create_or_open(tmp_path / "empty", name="empty")
    assert main(["dynamics", str(tmp_path / "empty"), "--workers", "0"]) == ExitCode.ERROR
    assert "has kinematics to simulate: run `musclekit simulate ... --until ik` first" in \
        " ".join(capsys.readouterr().err.split())


@pytest.mark.timeout(600)
@pytest.mark.parametrize("make, said", [
    (lambda tmp: tmp / "absent", "does not exist: give the folder of a musclekit dataset"),
    (lambda tmp: tmp, "is not a musclekit dataset: meta/info.json is missing"),
])
def test_a_dataset_argument_that_is_no_dataset_is_refused(tmp_path, capsys, make, said):
    assert main(["dynamics", str(make(tmp_path)), "--workers", "0"]) == ExitCode.ERROR
    assert said in " ".join(capsys.readouterr().err.split())


def test_solves_and_writes_a_datasets_sequences_then_skips_them(kinematics, capsys):
    import re

    assert main(["dynamics", str(kinematics), *SMALL]) == ExitCode.OK
    assert "S01_squat" in open_dataset(kinematics).sequence_ids("activations")
    capsys.readouterr()
    assert main(["dynamics", str(kinematics), *SMALL]) == ExitCode.OK  # resumed: nothing to do
    assert re.search(r"chunks: 0 solved, 2 skipped", capsys.readouterr().err)
