"""A chunk's solver (and its NLP grandchild) dies with the process that started it, and a
chunk is never solved by two runs at once; with real SIGKILLs on the real inverse method."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import opensim  # noqa: E402,F401  (a required dependency: missing fails the suite)
import psutil
import pytest

from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan, plan_chunks  # noqa: E402
from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings, prepare_model  # noqa: E402
from musclekit.pipelines.simulate.dynamics.kernel.result import load_report  # noqa: E402
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import (  # noqa: E402
    InverseSettings,
)
from musclekit.pipelines.simulate.dynamics.stage.payloads import ChunkTask  # noqa: E402
from musclekit.pipelines.simulate.dynamics.stage.worker import (  # noqa: E402
    remove_stale_temp,
    solve_chunk_unit,
)
from musclekit.pipelines.simulate.opensim.files import write_mot  # noqa: E402
from musclekit.pipelines.simulate.opensim.test_model import build_test_model, squat_motion  # noqa: E402

FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> ChunkTask:
    d = tmp_path_factory.mktemp("hyg")
    model = build_test_model(d / "twoleg.osim")
    motion = squat_motion(1.2, period_s=1.2)
    mot = write_mot(d / "squat.mot", motion)
    folder = prepare_model(model, d / "cache", PrepSettings(feet=FEET), mot)
    chunk = plan_chunks("sq", motion.time_s,
                        ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1))[0]
    return ChunkTask(chunk=chunk, method="inverse",
                     settings=InverseSettings(mesh_per_s=25, max_iterations=300),
                     prep_folder=str(folder), motion_path=str(mot), out_dir=str(d / "out"),
                     time_limit_s=300)


def _with_out(task: ChunkTask, out: Path) -> ChunkTask:
    return ChunkTask.from_dict({**json.loads(task.to_json()), "out_dir": str(out)})


def _dask_task(task: ChunkTask) -> subprocess.Popen:
    """What a Dask worker does: run solve_chunk_unit(task) (here in a process we can kill)."""
    code = textwrap.dedent(f"""
        import json, sys
        from musclekit.pipelines.simulate.dynamics.stage.worker import solve_chunk_unit
        print(json.dumps(solve_chunk_unit(json.loads({task.to_json()!r})).status), flush=True)
    """)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _solvers(out: Path) -> list[psutil.Process]:
    """Chunk processes (their command line names the chunk's payload under `out`) and NLP
    children (their problem file lies under `out`)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if str(out) in cmd and "-m" in cmd and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def _wait_for(pred, timeout_s: float, step: float = 0.05):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


@pytest.mark.timeout(300)
def test_killing_the_worker_mid_solve_leaves_no_solver_and_the_rerun_converges(task, tmp_path):
    out = tmp_path / "out"
    job = _with_out(task, out)
    parent = _dask_task(job)
    # Wait until the NLP grandchild runs (chunk process + `python -m ...nlp.inverse`).
    procs = _wait_for(lambda: [p for p in _solvers(out)] if any(
        "nlp" in " ".join(p.cmdline()) for p in _solvers(out)) else [], 120)
    assert any("nlp" in " ".join(p.cmdline()) for p in procs), parent.communicate()
    pids = [p.pid for p in procs]
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    left = _wait_for(lambda: [] if not _solvers(out) else None, 10)
    assert left == [] and _solvers(out) == [], f"orphans: {[p.cmdline() for p in _solvers(out)]}"
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                   for p in pids)
    assert load_report(out, "chunk0000") is None  # killed before it finished: not done
    # The rerun solves it (the dead run's lock is gone with it).
    report = solve_chunk_unit(job)
    assert report.status == "converged", report.reason


@pytest.mark.timeout(300)
def test_two_runs_on_the_same_chunk_never_solve_it_at_once(task, tmp_path):
    out = tmp_path / "out"
    job = _with_out(task, out)
    first = _dask_task(job)
    assert _wait_for(lambda: _solvers(out), 60)
    second = _dask_task(job)
    most = 0
    while first.poll() is None or second.poll() is None:
        chunk_procs = [p for p in _solvers(out) if "stage.worker" in " ".join(p.cmdline())]
        most = max(most, len(chunk_procs))
        time.sleep(0.05)
    (out1, _), (out2, err2) = first.communicate(), second.communicate()
    assert most == 1
    assert out1.strip() == out2.strip() == '"converged"'
    text = " ".join(err2.split())
    assert "chunk sq/chunk0000 is being solved by another run (pid" in text
    assert "waiting for it instead of solving it twice" in text
    assert "chunk sq/chunk0000: taken from the other run (converged)" in text


def test_temporary_results_of_dead_chunk_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [tmp_path / f".chunk0003.{dead.pid}.{ext}" for ext in ("npz", "meta.json", "json")]
    live = tmp_path / f".chunk0003.{os.getpid()}.npz"
    other = tmp_path / f".chunk0004.{dead.pid}.npz"
    for p in [*stale, live, other]:
        p.write_bytes(b"x")
    assert sorted(remove_stale_temp(tmp_path, "chunk0003")) == sorted(stale)
    assert live.exists() and other.exists()
