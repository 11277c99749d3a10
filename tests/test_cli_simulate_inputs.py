"""simulate's inputs refused (or warned about) before any work, with the message a user
reads; the AMASS command with its licensed-asset paths set once."""

from __future__ import annotations

import numpy as np
import pytest

from musclekit.cli.main import main
from musclekit.errors import ExitCode


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("MUSCLEKIT_DATASET", "MUSCLEKIT_RUNS", "MUSCLEKIT_AMASS_ROOT",
                "MUSCLEKIT_BODY_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MUSCLEKIT_CONFIG", str(tmp_path / "config.toml"))
    return tmp_path


@pytest.fixture(scope="module")
def model_and_names():
    from musclekit.pipelines.simulate.kinematics.marker_checks import model_marker_names
    from musclekit.pipelines.simulate.opensim.model import default_model_path

    model = default_model_path()
    return model, model_marker_names(model)


def _trc(path, names, scale=1.0, declared="m"):
    """A TRC of `names` around a standing person (positions within ~1.7 m) times `scale`,
    with Units `declared`."""
    from musclekit.pipelines.simulate.opensim.files import write_trc

    rng = np.random.default_rng(0)
    base = rng.uniform([-0.2, 0.0, -0.2], [0.2, 1.7, 0.2], size=(len(names), 3))
    t = np.arange(5) / 60.0
    pos = np.repeat(base[None], 5, axis=0) * scale
    write_trc(path, t, list(names), pos)
    if declared != "m":
        lines = path.read_text().splitlines(keepends=True)
        keys = lines[1].rstrip("\n").split("\t")
        values = lines[2].rstrip("\n").split("\t")
        values[keys.index("Units")] = declared
        lines[2] = "\t".join(values) + "\n"
        path.write_text("".join(lines))
    return path


def test_non_ascii_subject_is_refused_before_anything_is_written(workdir, model_and_names,
                                                                  capsys):
    model, names = model_and_names
    trc = _trc(workdir / "walk.trc", names)
    code = main(["simulate", "--trc", str(trc), "--model", str(model), "--subject", "Zoë",
                 "--out", "ds", "--until", "ik"])
    err = capsys.readouterr().err
    assert code == ExitCode.ERROR
    assert "--subject 'Zoë': use ASCII letters, digits, '_', '.' and '-'" in err
    assert "(not allowed: 'ë')" in err and "Traceback" not in err
    assert not (workdir / "ds").exists()


def test_trc_in_millimetres_labelled_metres_is_refused(workdir, model_and_names, capsys):
    model, names = model_and_names
    trc = _trc(workdir / "mm.trc", names, scale=1000.0, declared="m")
    code = main(["simulate", "--trc", str(trc), "--model", str(model), "--out", "ds",
                 "--until", "ik"])
    err = capsys.readouterr().err
    assert code == ExitCode.ERROR
    assert "cannot be one person: the numbers are not in the units the file declares ('m')" in err
    assert "set Units to mm" in err
    assert not (workdir / "ds").exists()


def test_trc_in_metres_labelled_millimetres_is_refused(workdir, model_and_names, capsys):
    model, names = model_and_names
    trc = _trc(workdir / "m.trc", names, scale=1.0, declared="mm")
    assert main(["simulate", "--trc", str(trc), "--model", str(model), "--out", "ds",
                 "--until", "ik"]) == ExitCode.ERROR
    assert "cannot be a whole person" in capsys.readouterr().err
    assert not (workdir / "ds").exists()


def test_trc_missing_markers_are_named(workdir, model_and_names, capsys):
    from musclekit.cli.simulate import check_trc_inputs

    model, names = model_and_names
    trc = _trc(workdir / "few.trc", names[3:] + ["EXTRA1"])
    check_trc_inputs([trc], model)
    err = capsys.readouterr().err
    assert f"warning: {trc}: 3 of the {len(names)} markers of {model.name} are missing " \
           f"from the file ({', '.join(names[:3])})" in err
    assert "1 marker(s) of the file are not in" in err and "(EXTRA1)" in err


def test_trc_without_any_model_marker_is_refused(workdir, model_and_names, capsys):
    model, _ = model_and_names
    trc = _trc(workdir / "other.trc", ["A1", "A2", "A3", "A4"])
    assert main(["simulate", "--trc", str(trc), "--model", str(model), "--out", "ds",
                 "--until", "ik"]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "none of its 4 markers (A1, A2, A3, A4) is a marker of the model" in err
    assert not (workdir / "ds").exists()


def test_body_model_message_names_commands_that_exist(workdir, capsys):
    assert main(["simulate", "--amass", "BMLmovi"]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "--make-standin-body" not in err
    assert "musclekit simulate-synthetic DIR" in err
    assert "musclekit config set body-model DIR" in err


def test_amass_name_without_a_root_says_how_to_set_it(workdir, capsys):
    (workdir / "body").mkdir()
    assert main(["simulate", "--amass", "BMLmovi", "--body-model", "body"]) == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert "--amass BMLmovi: not a file or folder here, and no AMASS root is set" in err
    assert "`musclekit config set amass-root DIR`" in err
    assert not (workdir / "musclekit-data").exists()


def test_amass_root_and_body_model_set_once(workdir, capsys):
    """The user's command line as typed: paths from `musclekit config set`, no --out."""
    assert main(["simulate-synthetic", "assets", "--motion", "squat", "--duration-s", "0.25"]) == 0
    assert main(["config", "set", "amass-root", "assets/amass"]) == 0
    assert main(["config", "set", "body-model", "assets/body"]) == 0
    capsys.readouterr()
    assert main(["simulate", "--amass", "Synthetic", "--workers", "0", "--until", "ik"]) == 0
    err = capsys.readouterr().err
    assert (workdir / "musclekit-data" / "meta" / "info.json").is_file()
    # the dataset card and statistics follow every run
    assert "config_name: joint_angles" in (workdir / "musclekit-data" / "README.md").read_text()
    assert (workdir / "musclekit-data" / "meta" / "stats.json").is_file()
    assert "dataset: musclekit-data; next: musclekit inspect musclekit-data, musclekit train" in err
    # the stand-in body is a warning of the run, of inspect and of validate --strict
    assert "warning: 1 sequence(s) were simulated with musclekit's procedural stand-in body" in err
    assert "stand-in body Synthetic_S01_squat_poses: " in err  # its line does not say "ok"
    assert "ok Synthetic_S01_squat_poses" not in err
    assert main(["inspect", "musclekit-data"]) == 0
    assert "procedural stand-in body" in capsys.readouterr().err
    assert main(["validate", "musclekit-data", "--no-hashes"]) == 0
    assert main(["validate", "musclekit-data", "--no-hashes", "--strict"]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "quality (standin_body)" in err and "an error under --strict" in err
