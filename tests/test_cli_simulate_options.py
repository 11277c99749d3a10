"""simulate's options are declared once: the command's parameters, the `--until ik` refusal and
the dynamics config all come from the declarations; no function in cli/ is over 80 lines;
help text keeps option names whole; lab flags that contradict each other are refused."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from musclekit.cli.main import main
from musclekit.cli.simulate import SIMULATE_OPTIONS
from musclekit.errors import ExitCode
from musclekit.pipelines.simulate.dynamics.stage.config import config_from_cli
from musclekit.pipelines.simulate.dynamics.stage.options import OPTIONS

CLI = Path(__file__).resolve().parents[1] / "cli"
EXAMPLE = {"method": "track", "retry_failed": True, "chunk_s": 2.0, "buffer_s": 0.2,
           "mesh_per_s": 30.0, "max_iterations": 10, "tolerance": 1e-2,
           "chunk_time_limit_s": 60.0, "polynomial_paths": False, "filter_hz": 5.0,
           "foot_bodies_right": "calcn_r", "foot_bodies_left": "calcn_l",
           "sequences": ["S01_walk"], "solver": "moco", "add_foot_contact": True,
           "upper_model": __file__, "track_grf": "estimated"}
# a command line of each declared dynamics option
ARGV = {"method": ["--method", "track"], "retry_failed": ["--retry-failed"],
        "polynomial_paths": ["--no-polynomial-paths"], "add_foot_contact": ["--add-foot-contact"],
        "sequences": ["--sequence", "S01_walk"], "upper_model": ["--upper-model", __file__]}


def test_every_dynamics_option_has_an_example() -> None:
    assert {o.name for o in OPTIONS} == set(EXAMPLE)


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.flag)
def test_until_ik_refuses_each_dynamics_option(option, tmp_path, capsys) -> None:
    argv = ARGV.get(option.name, [option.flag, str(EXAMPLE[option.name])])
    code = main(["simulate", "--trc", str(tmp_path / "a.trc"), "--model", str(tmp_path / "m.osim"),
                 "--until", "ik", "--out", str(tmp_path / "ds"), *argv])
    assert code == ExitCode.ERROR
    err = capsys.readouterr().err
    typed = argv[0]  # as the user typed it: `--no-polynomial-paths`, not `--polynomial-paths`
    assert f"{typed} only apply to the dynamics stage" in err.replace("\n", " ")
    assert not (tmp_path / "ds").exists()


def test_each_dynamics_option_reaches_the_config() -> None:
    cfg = config_from_cli(**EXAMPLE)
    assert cfg.method == "track" and cfg.retry_failed
    assert (cfg.chunk.chunk_s, cfg.chunk.buffer_s) == (2.0, 0.2)
    assert (cfg.solve.mesh_per_s, cfg.solve.max_iterations, cfg.solve.tolerance) == (30, 10, 1e-2)
    assert cfg.chunk_time_limit_s == 60.0 and cfg.prep.polynomial_paths is False
    assert cfg.solve.filter_hz == 5.0 and cfg.solve.solver == "moco"
    assert cfg.prep.feet == {"right": ("calcn_r",), "left": ("calcn_l",)}
    assert cfg.sequences == ["S01_walk"] and cfg.prep.add_foot_contact
    assert cfg.upper_model == __file__
    assert cfg.solve.track_grf == "estimated"


def test_an_unknown_dynamics_option_is_refused() -> None:
    from musclekit.errors import InputError

    with pytest.raises(InputError, match=r"unknown options: \['chunks'\]"):
        config_from_cli(chunks=3)


def test_option_names_are_unique() -> None:
    names = [o.name for o in SIMULATE_OPTIONS]
    flags = [f for o in SIMULATE_OPTIONS for f in o.flags]
    assert len(names) == len(set(names)) and len(flags) == len(set(flags))


def test_no_function_in_cli_is_over_80_lines() -> None:
    long = []
    # every command's function: options are declared (musclekit/options.py), not spelled
    # out in a signature that grows with each flag
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > 80:
                    long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert not long, long


def test_help_keeps_option_names_whole() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-m", "musclekit.cli.main", "simulate", "--help"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    broken = [line for line in lines if line.rstrip().endswith("-") and "--" in line]
    assert not broken, broken
    assert "--job-memory" in done.stdout and "--add-foot-contact" in done.stdout


@pytest.mark.parametrize("argv, message", [
    (["--mass", "85070", "--static", "{static}"],
     "--mass 85070: no subject weighs more than 400 kg; give the mass in kg (grams typed as kg? "
     "--mass 85.07)"),
    (["--grf-setup", "{loads}"],
     "--grf-setup describes the columns of a force file: give the file with --grf FILE"),
    (["--ik-setup", "{scale_xml}"],
     "an OpenSim InverseKinematicsTool setup was expected, this file holds ScaleTool (give it as "
     "--scale-setup)"),
])
def test_contradicting_lab_flags_are_refused(argv, message, tmp_path, capsys) -> None:
    files = {"static": tmp_path / "static.trc", "loads": tmp_path / "loads.xml",
             "scale_xml": tmp_path / "scale.xml"}
    files["static"].write_text("PathFileType\t4\t(X/Y/Z)\tstatic.trc\n")
    files["loads"].write_text('<OpenSimDocument Version="40000"><ExternalLoads/></OpenSimDocument>')
    files["scale_xml"].write_text('<OpenSimDocument Version="40000"><ScaleTool name="s"/>'
                                  "</OpenSimDocument>")
    argv = [a.format(**files) for a in argv]
    code = main(["simulate", "--trc", str(files["static"]), "--model", str(tmp_path / "m.osim"),
                 "--until", "ik", "--out", str(tmp_path / "ds"), *argv])
    assert code == ExitCode.ERROR
    assert message in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "ds").exists()


def test_the_command_line_starts_without_the_stages() -> None:
    """Declarations are light: building the CLI loads no stage, OpenSim or dataset layer
    (`musclekit --help` and every short command start in about a second)."""
    code = ("import sys, musclekit.cli.main as m; m.app; "
            "heavy = [n for n in ('opensim', 'musclekit.pipelines.simulate.dynamics.stage.config',"
            " 'musclekit.dataset.reader', 'torch', 'casadi') if n in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_align_session_refuses_capture_options_as_typed(tmp_path, capsys) -> None:
    """align's options are declarations too: with --session, a per-capture option is refused
    by the flag the user typed (the switched-off form of a --x/--no-x pair included)."""
    session = tmp_path / "s.toml"
    session.write_text("")
    code = main(["align", "--out", str(tmp_path / "d"), "--session", str(session), "--fps", "5",
                 "--no-drift", "--qc"])
    assert code == ExitCode.ERROR
    text = " ".join(capsys.readouterr().err.split())
    assert "with --session, --fps, --no-drift would be ignored" in text
