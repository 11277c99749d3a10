"""--upper-model's units are part of the one graph of units (dynamics/stage/graph.py): each
sequence's upper body starts as soon as its own lower body is written, not after every
sequence's, on the same cluster; the bytes are those of the upper body run as a stage after
all the lower bodies, and a run killed after its first upper body resumes to them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from musclekit.dataset import layout
from musclekit.pipelines.simulate.dynamics.stage.graph import DynamicsGraph
from musclekit.pipelines.simulate.dynamics.stage.run import run_dynamics
from musclekit.pipelines.simulate.opensim.test_model import build_test_model
from tests.helpers.same_bytes import digests, same_files
from tests.helpers.simulate_dyn_fixtures import make_kinematics_dataset, small_dynamics_config

SEQUENCES = ("S01_squat", "S02_squat")
# The killed run, in a process of its own: the same dataset, model and config as the tests'.
KILLED_RUN = """
import sys
from tests.helpers.simulate_dyn_fixtures import make_kinematics_dataset, small_dynamics_config
from musclekit.pipelines.simulate.dynamics.stage.run import run_dynamics
root, upper, cache = sys.argv[1:4]
run_dynamics(root, small_dynamics_config(upper_model=upper, cache_dir=cache))
"""


@pytest.fixture(scope="module")
def graph_run(tmp_path_factory):
    """Two sequences solved with --upper-model by one run; its dataset, upper model and config."""
    folder = tmp_path_factory.mktemp("upper-graph")
    upper_model = build_test_model(folder / "upper.osim", upper=True)
    # One cache for every run: chunk payloads name the prepared model by its path.
    cfg = small_dynamics_config(upper_model=str(upper_model), cache_dir=str(folder / "cache"))
    root = make_kinematics_dataset(folder / "graph" / "ds", duration_s=1.2, sequences=SEQUENCES)
    report = run_dynamics(root, cfg)
    assert sorted(report.upper_written) == list(SEQUENCES) and not report.upper_failed
    assert any(k.startswith("data/activations_upper") for k in digests(root))
    return root, upper_model, cfg


def test_upper_units_run_in_the_graph_with_the_bytes_of_the_stage_after_the_lower_body(
        graph_run, tmp_path, monkeypatch) -> None:
    graph_root, _, cfg = graph_run
    written = {p.stem: p.stat().st_mtime_ns
               for p in (graph_root / layout.UNITS_DIR).glob("*.json")}
    # Interleaved: the first sequence's upper body is in before the second's lower body.
    assert written["dynamics-upper-S01_squat"] < written["dynamics-S02_squat"]

    # The stage after the lower body: a run that stops once every lower body is written,
    # then the rerun, which only adds the upper bodies.
    staged_root = make_kinematics_dataset(tmp_path / "staged" / "ds", duration_s=1.2,
                                          sequences=SEQUENCES)
    with monkeypatch.context() as patch:
        patch.setattr(DynamicsGraph, "_upper", lambda self, job, lower_rewritten=False: None)
        lower = run_dynamics(staged_root, cfg)
    assert sorted(lower.sequences_written) == list(SEQUENCES) and lower.upper_written == []
    upper = run_dynamics(staged_root, cfg)
    assert upper.chunks_done == 0 and sorted(upper.sequences_skipped) == list(SEQUENCES)
    assert sorted(upper.upper_written) == list(SEQUENCES)
    same_files(graph_root, staged_root)


@pytest.mark.timeout(600)
def test_a_run_killed_after_an_upper_body_resumes_to_the_same_bytes(graph_run, tmp_path) -> None:
    """SIGKILL once the first upper body is written (the second sequence still to solve);
    the rerun skips what was written and ends with the uninterrupted run's bytes."""
    graph_root, upper_model, cfg = graph_run
    root = make_kinematics_dataset(tmp_path / "ds", duration_s=1.2, sequences=SEQUENCES)
    cmd = [sys.executable, "-c", KILLED_RUN, str(root), str(upper_model), cfg.cache_dir]
    first_upper = root / layout.UNITS_DIR / "dynamics-upper-S01_squat.json"
    run = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parents[1],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 400
    while time.time() < deadline and run.poll() is None and not first_upper.exists():
        time.sleep(0.05)
    assert run.poll() is None, f"the run ended before it was killed: {run.stderr.read()[-2000:]}"
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert not (root / layout.UNITS_DIR / "dynamics-upper-S02_squat.json").exists()
    report = run_dynamics(root, cfg)
    assert "S01_squat" in report.upper_skipped and report.upper_written == ["S02_squat"]
    same_files(graph_root, root)
