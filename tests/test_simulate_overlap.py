"""`musclekit simulate` overlaps its stages (pipelines/simulate/flow.py): each sequence's
chunks start when its own IK and its model's preparation are done, and the outputs are the
same bytes as the staged run (IK of every sequence, then `run_dynamics`), also when the
overlapped run is killed mid-way and resumed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from musclekit.cli.simulate import dynamics_config
from musclekit.compute import ComputeConfig
from musclekit.dataset import layout
from musclekit.errors import InputError
from musclekit.pipelines.simulate import flow
from musclekit.pipelines.simulate.dynamics.stage.run import run_dynamics
from musclekit.pipelines.simulate.kinematics.run import amass_sources, run_kinematics
from musclekit.pipelines.simulate.kinematics.sequence import KinematicsConfig
from musclekit.pipelines.simulate.kinematics.standin import write_standin_body
from musclekit.pipelines.simulate.kinematics.synthetic import write_synthetic_sequence
from tests.helpers.same_bytes import same_files

# Short chunks and a coarse mesh: the test is about the order of the work, not the solve.
# As the command line parses them (--mesh-per-s is a float: 25.0 is written, not 25).
DYNAMICS = {"chunk_s": 0.8, "buffer_s": 0.1, "mesh_per_s": 25.0, "max_iterations": 300}
CLI_DYNAMICS = ["--chunk-s", "0.8", "--buffer-s", "0.1", "--mesh-per-s", "25",
                "--max-iterations", "300"]


@pytest.fixture(scope="module")
def amass(tmp_path_factory) -> tuple[Path, Path]:
    """Two subjects (their own body shapes, so their own scaled models), one squat each."""
    root = tmp_path_factory.mktemp("overlap")
    body = write_standin_body(root / "body", genders=("neutral",))
    for subject, betas in (("S01", [0.5, 0.3]), ("S02", [-0.4, 0.2])):
        write_synthetic_sequence(root / "amass" / "X" / subject / "squat_poses.npz", "squat",
                                 body, betas=np.array(betas), duration_s=1.0)
    return root / "amass" / "X", body


@pytest.fixture(scope="module")
def staged(amass, tmp_path_factory) -> Path:
    folder, body = amass
    out = tmp_path_factory.mktemp("staged") / "ds"
    inline = ComputeConfig(workers=0)
    run_kinematics(out, amass_sources([str(folder)]), body_model=body,
                   config=KinematicsConfig(), compute=inline)
    report = run_dynamics(out, dynamics_config(inline, DYNAMICS))
    assert report.chunks_done >= 2 and not report.chunks_failed
    return out


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_overlapped_run_gives_the_staged_bytes_and_starts_chunks_before_the_last_ik(
        amass, staged, tmp_path):
    """Inline, the first subject's model and chunks run before the second subject's IK;
    every output file holds the bytes of the staged run."""
    folder, body = amass
    out = tmp_path / "ds"
    inline = ComputeConfig(workers=0)
    result = flow.run_simulate(out, amass_sources([str(folder)]), model_path=None,
                               body_model=body, kinematics=KinematicsConfig(), compute=inline,
                               dynamics=dynamics_config(inline, DYNAMICS))
    assert result.dynamics.chunks_done >= 2 and not result.dynamics.chunks_failed
    records = {p.stem: p.stat().st_mtime_ns for p in (out / layout.UNITS_DIR).glob("*.json")}
    first_written = records["dynamics-X_S01_squat_poses"]
    assert first_written < records["kinematics.X_S02_squat_poses"]
    assert 0 <= result.idle_share < 1
    same_files(out, staged)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_killed_overlapped_cli_run_resumes_to_the_staged_bytes(amass, staged, tmp_path):
    """SIGKILL `musclekit simulate --workers 2` once a chunk is solved; the rerun skips the
    finished IK, models and chunks, leaves no worker behind, and ends with the staged bytes."""
    import psutil

    folder, body = amass
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "musclekit.cli.main", "simulate", "--amass", str(folder),
           "--body-model", str(body), "--out", str(out), "--workers", "2", *CLI_DYNAMICS]
    log = tmp_path / "killed-run.log"
    run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    children: set[int] = set()
    deadline = time.time() + 1200
    while time.time() < deadline and run.poll() is None:
        children |= {p.pid for p in psutil.Process(run.pid).children(recursive=True)}
        if list(out.glob("opensim/*/dynamics/inverse/chunk0000.json")):
            break
        time.sleep(0.2)
    assert run.poll() is None, f"the run ended before a chunk was solved: {log.read_text()}"
    run.send_signal(signal.SIGKILL)
    run.wait()
    end = time.monotonic() + 20
    while time.monotonic() < end and any(psutil.pid_exists(p) and psutil.Process(p).status()
                                         != psutil.STATUS_ZOMBIE for p in children):
        time.sleep(0.2)
    left = [p for p in children if psutil.pid_exists(p)
            and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not left, f"processes left behind by the killed run: {left}"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    import re

    ik_done, ik_skipped = map(int, re.search(r"kinematics: (\d+) done, (\d+) skipped",
                                             done.stderr).groups())
    assert ik_skipped >= 1 and ik_done + ik_skipped == 2  # S01's IK was done before the kill
    solved, skipped = map(int, re.search(r"chunks: (\d+) solved, (\d+) skipped",
                                         done.stderr).groups())
    assert skipped >= 1  # the chunk solved before the kill is not solved again
    assert "compute: 2 worker(s)" in done.stderr
    same_files(out, staged)


def test_dynamics_inputs_are_refused_before_any_work(amass, tmp_path, monkeypatch):
    """What the staged run refused after every IK (a filter above a sequence's Nyquist
    frequency, an unknown sequence) is refused before the first unit; so are an upper model
    that cannot serve the model and a prepared-model cache that cannot be written."""
    folder, body = amass
    out = tmp_path / "ds"
    inline = ComputeConfig(workers=0)
    sources = amass_sources([str(folder)])
    kw = dict(model_path=None, body_model=body, kinematics=KinematicsConfig(), compute=inline)
    with pytest.raises(InputError, match=r"X_S01_squat_poses: --filter-hz 40 is not below the "
                                         r"Nyquist frequency of its 60 Hz kinematics"):
        flow.run_simulate(out, sources, dynamics=dynamics_config(inline, {"filter_hz": 40.0}),
                          **kw)
    with pytest.raises(InputError, match=r"sequences not in dataset .* nor in the input: "
                                         r"\['nope'\]"):
        flow.run_simulate(out, sources, dynamics=dynamics_config(inline, {"sequences": ["nope"]}),
                          **kw)
    from musclekit.pipelines.simulate.opensim.model import default_model_path

    # An upper model with no muscles beyond the lower body's: refused, not every chunk failed.
    with pytest.raises(InputError, match=r"has no muscles beyond the lower-body model"):
        flow.run_simulate(out, sources, dynamics=dynamics_config(
            inline, {"upper_model": str(default_model_path())}), **kw)
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("MUSCLEKIT_MODEL_CACHE", str(not_a_folder))
    with pytest.raises(InputError, match=r"the prepared-model cache \(\$MUSCLEKIT_MODEL_CACHE, "
                                         r"default ~/.cache/musclekit\) .*cache-file: exists "
                                         r"and is not a folder"):
        flow.run_simulate(out, sources, dynamics=dynamics_config(inline, {}), **kw)
    assert not any((out / "opensim").glob("*/ik.mot"))  # no IK ran
