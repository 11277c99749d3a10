"""AMASS input a user can get wrong, refused before any work with the message they read:
a truncated or empty .npz, and a dataset written inside the AMASS folder (its own .npz files
are not AMASS input on the rerun)."""

from __future__ import annotations

import shutil

import pytest

from musclekit.cli.main import main
from musclekit.errors import ExitCode


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    root = tmp_path_factory.mktemp("amass")
    assert main(["simulate-synthetic", str(root), "--motion", "walking", "--duration-s",
                 "0.5"]) == 0
    return root


def _folder(standin, tmp_path):
    folder = tmp_path / "amass" / "X" / "S1"
    folder.mkdir(parents=True)
    shutil.copy(standin / "amass" / "Synthetic" / "S01" / "walking_poses.npz",
                folder / "a_poses.npz")
    return folder


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:3000], "is not a readable .npz (File is not a zip file; truncated by an "
                         "interrupted download?): download it again, or remove it"),
    (lambda b: b"", "is empty (0 bytes): download it again, or remove it from the folder"),
])
def test_a_damaged_npz_is_named_with_the_fix(damage, message, standin, tmp_path, capsys):
    folder = _folder(standin, tmp_path)
    (folder / "b_poses.npz").write_bytes(damage((folder / "a_poses.npz").read_bytes()))
    code = main(["simulate", "--amass", str(folder.parent), "--body-model",
                 str(standin / "body"), "--until", "ik", "--workers", "0",
                 "--out", str(tmp_path / "ds")])
    assert code == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert "b_poses.npz" in err and message in err
    assert "Traceback" not in err and not (tmp_path / "ds").exists()


def test_a_dataset_inside_the_amass_folder_is_not_read_as_input(standin, tmp_path, capsys):
    folder = _folder(standin, tmp_path)
    out = folder.parent / "ds"
    argv = ["simulate", "--amass", str(folder.parent), "--body-model", str(standin / "body"),
            "--until", "ik", "--workers", "0", "--out", str(out)]
    assert main(argv) == ExitCode.OK
    # the dynamics stage leaves .npz chunk results under the dataset: not AMASS input
    (out / "opensim" / "chunk0000.npz").write_bytes(b"not AMASS")
    code = main(argv)
    assert code == ExitCode.OK, capsys.readouterr().err
    from musclekit.dataset import open_dataset

    assert sorted(open_dataset(out).sequences) == ["X_S1_a_poses"]
