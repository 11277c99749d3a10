"""`musclekit simulate --until ik` starts lean: the dynamics stage is not imported, the marker
file is read once by the command's checks (and once by the sequence's unit, which runs in a
worker process on a cluster) and the model is loaded once by the checks; the IK of a short
trial is not dominated by start-up (benchmarks/bench_simulate_startup.py measures it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import opensim
import pytest

from musclekit.cli.main import main
from musclekit.pipelines.simulate.kinematics import run as kinematics_run
from musclekit.pipelines.simulate.kinematics import sequence
from musclekit.pipelines.simulate.kinematics.marker_checks import _model_facts
from musclekit.pipelines.simulate.opensim import files
from tests.helpers.ik_setup_fixtures import marker_lab

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> dict[str, Path]:
    return marker_lab(tmp_path_factory.mktemp("startup-lab"))


def _simulate_ik(lab: dict[str, Path], out: Path) -> list[str]:
    return ["simulate", "--trc", str(lab["trc"]), "--model", str(lab["model"]),
            "--until", "ik", "--out", str(out), "--workers", "0"]


def test_until_ik_reads_the_marker_file_once_and_loads_the_model_once(lab, tmp_path,
                                                                     monkeypatch) -> None:
    reads: list[str] = []
    real_read = files.read_trc

    def read_trc(path, **kw):
        reads.append(Path(path).name)
        return real_read(path, **kw)

    for module in (files, kinematics_run, sequence):
        monkeypatch.setattr(module, "read_trc", read_trc)
    loads: list[str] = []

    class Model(opensim.Model):  # every Python-level OpenSim model load, by file name
        def __init__(self, *args):
            if args and isinstance(args[0], str):
                loads.append(Path(args[0]).name)
            super().__init__(*args)

    monkeypatch.setattr(opensim, "Model", Model)
    _model_facts.cache_clear()
    assert main(_simulate_ik(lab, tmp_path / "ds")) == 0
    # The checks before any work, then the unit (inline here): once each, not 5 times.
    assert reads.count("trial.trc") == 2, reads
    # The given model: once, by the checks (the unit works on its scaled copy).
    assert loads.count("model.osim") == 1, loads


@pytest.mark.timeout(300)
def test_until_ik_does_not_import_the_dynamics_stage_or_pandas(lab, tmp_path) -> None:
    code = ("import json, sys\n"
            "from musclekit.cli.main import main\n"
            f"code = main({_simulate_ik(lab, tmp_path / 'ds')!r})\n"
            "print(json.dumps([code, sorted(m for m in sys.modules "
            "if m.startswith('musclekit.pipelines.simulate.dynamics')), "
            "'pandas' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    code, dynamics, pandas = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0
    # Nor pandas (~0.3 s CPU): the dataset's columns are built from and read into numpy
    # buffers, not through pyarrow's numpy conversion, which imports it.
    assert not pandas
    # Only the option declarations the command's parameters are built from (no solver,
    # no kernel, no stage driver).
    heavy = [m for m in dynamics if not m.endswith((".dynamics", ".stage", ".stage.options"))]
    assert not heavy, heavy
