"""Options every command shares: the default dataset folder, --quiet/--verbose, help at 80
columns, and progress as plain lines when stderr is not a terminal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from musclekit.cli.main import hoist_global_flags, main
from musclekit.errors import ExitCode
from musclekit.progress import PlainProgress
from tests.helpers.align_fixtures import capture
from tests.helpers.format_factories import write_emg_dataset


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("MUSCLEKIT_DATASET", "MUSCLEKIT_RUNS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MUSCLEKIT_CONFIG", str(tmp_path / "config.toml"))
    return tmp_path


def test_align_as_typed_writes_the_default_dataset(workdir, capsys):
    cap = capture(workdir / "cap")
    assert main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path)]) == 0
    err = capsys.readouterr().err
    assert (workdir / "musclekit-data" / "meta" / "info.json").is_file()
    assert "dataset: musclekit-data (the default dataset folder;" in err
    assert "config_name: emg" in (workdir / "musclekit-data" / "README.md").read_text()


def test_quiet_prints_nothing_but_errors_and_warnings(workdir, capsys):
    root = write_emg_dataset(workdir / "d")
    assert main(["inspect", str(root), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["-q", "inspect", str(workdir / "missing")]) == ExitCode.ERROR
    assert "error:" in capsys.readouterr().err
    # after a quiet command the next one speaks again
    assert main(["inspect", str(root)]) == 0
    assert "emg-test" in capsys.readouterr().err


def test_verbose_shows_the_cause_of_an_error(workdir, capsys):
    (workdir / "bad").mkdir()
    (workdir / "bad" / "meta").mkdir()
    (workdir / "bad" / "meta" / "info.json").write_text("{not json")
    assert main(["inspect", str(workdir / "bad")]) == ExitCode.ERROR
    quiet_err = capsys.readouterr().err
    assert "Traceback" not in quiet_err
    assert main(["inspect", str(workdir / "bad"), "--verbose"]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and "error:" in err


def test_quiet_and_verbose_together_are_refused(capsys):
    assert main(["-q", "-v", "info"]) == ExitCode.ERROR
    assert "--quiet and --verbose contradict each other" in capsys.readouterr().err


def test_global_flags_are_hoisted_but_not_after_double_dash():
    assert hoist_global_flags(["train", "ds", "-q"]) == ["-q", "train", "ds"]
    assert hoist_global_flags(["x", "--", "-v"]) == ["x", "--", "-v"]


@pytest.mark.parametrize("command", ["--help", "simulate", "train", "align", "keypoints", "validate",
                                     "config", "predict"])
def test_help_is_readable_at_80_columns(command):
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    args = [command, "--help"] if command != "--help" else ["--help"]
    out = subprocess.run([sys.executable, "-m", "musclekit.cli.main", *args],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert "…" not in out  # no option name or word cut off
    assert max(len(line) for line in out.splitlines()) <= 80
    if command == "align":  # its --out has the default dataset folder now
        assert "[default: musclekit-data]" in " ".join(out.split())
    if command == "simulate":
        for flag in ("--chunk-time-limit-s", "--polynomial-paths / --no-polynomial-paths",
                     "--foot-bodies-right", "--add-foot-contact", "--amass-root"):
            assert flag in out, flag


def test_plain_progress_lines(capsys):
    progress = PlainProgress(interval_s=0.0)
    with progress:
        task = progress.add_task("kinematics (scale + IK)", total=4)
        for _ in range(4):
            progress.advance(task)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "kinematics (scale + IK): 0/4 done, started"
    assert lines[1].startswith("kinematics (scale + IK): 1/4 (25 %), ")
    assert "eta " in lines[1] and "elapsed " in lines[1]
    assert lines[-1].startswith("kinematics (scale + IK): 4/4 (100 %)")
    assert len(lines) == 5


def test_plain_progress_is_periodic_and_silent_under_quiet(capsys):
    from musclekit.progress import NORMAL, QUIET, set_verbosity

    progress = PlainProgress(interval_s=3600)
    with progress:
        task = progress.add_task("training", total=100)
        for i in range(50):
            progress.update(task, completed=i + 1)
    # a line at the start, nothing within the interval, one line when the work stops
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0] == "training: 0/100 done, started"
    assert lines[1].startswith("training: 50/100 (50 %)")
    set_verbosity(QUIET)
    try:
        with PlainProgress(interval_s=0) as p:
            p.advance(p.add_task("x", total=1))
    finally:
        set_verbosity(NORMAL)
    assert capsys.readouterr().err == ""


def test_progress_is_plain_when_stderr_is_not_a_terminal():
    code = ("from musclekit.progress import make_progress, PlainProgress;"
            "print(isinstance(make_progress(), PlainProgress))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "True"


def test_config_set_show_unset_and_mistakes(workdir, capsys, monkeypatch):
    assert main(["config", "set", "amass-root", "data/amass"]) == 0
    assert f"amass-root = {workdir / 'data' / 'amass'}" in capsys.readouterr().err
    monkeypatch.setenv("MUSCLEKIT_AMASS_ROOT", "/elsewhere")
    assert main(["config", "show", "--json"]) == 0
    shown = __import__("json").loads(capsys.readouterr().out)["settings"]["amass-root"]
    assert shown["value"] == "/elsewhere" and shown["source"] == "environment ($MUSCLEKIT_AMASS_ROOT)"
    monkeypatch.delenv("MUSCLEKIT_AMASS_ROOT")
    assert main(["config", "unset", "amass-root"]) == 0
    assert main(["config", "set", "amas-root", "x"]) == ExitCode.ERROR
    assert "unknown setting 'amas-root'; settings: amass-root, body-model" in capsys.readouterr().err
    (workdir / "config.toml").write_text("amass-root = [\n")
    assert main(["config", "show"]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert f"config file {workdir / 'config.toml'} is not valid TOML" in err


def _all_commands() -> list[list[str]]:
    from musclekit.cli.main import app

    out = [[info.name] for info in app.registered_commands]
    for group in app.registered_groups:
        out.append([group.name])
        out += [[group.name, c.name] for c in group.typer_instance.registered_commands]
    return out


@pytest.mark.parametrize("words", _all_commands(), ids=lambda w: " ".join(w))
def test_every_help_fits_80_columns(words, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert main([*words, "--help"]) == 0
    out = capsys.readouterr().out
    assert out and "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80, words
