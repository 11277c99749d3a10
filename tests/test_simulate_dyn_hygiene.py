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

import numpy as np
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


def _solvers(*parents: subprocess.Popen) -> list[psutil.Process]:
    """The running descendants of `parents`: their chunk processes (`-m ...stage.worker
    --serve`) and those processes' NLP children (`-m ...nlp.inverse --serve`)."""
    found = []
    for parent in parents:
        try:
            kids = psutil.Process(parent.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for proc in kids:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE and "-m" in proc.cmdline():
                    found.append(proc)
            except psutil.Error:
                continue
    return found


def _cmd(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            continue
    return out


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
    procs = _wait_for(lambda: [p for p in _solvers(parent)] if any(
        "nlp" in _cmd(p) for p in _solvers(parent)) else [], 120)
    assert any("nlp" in _cmd(p) for p in procs), parent.communicate()
    assert any("stage.worker" in _cmd(p) for p in procs)
    pids = [p.pid for p in procs]
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    left = _wait_for(lambda: [] if not _alive(pids) else None, 10)
    assert left == [] and _alive(pids) == [], f"orphans: {_alive(pids)}"
    assert load_report(out, "chunk0000") is None  # killed before it finished: not done
    # The rerun solves it (the dead run's lock is gone with it).
    report = solve_chunk_unit(job)
    assert report.status == "converged", report.reason


@pytest.mark.timeout(300)
def test_two_runs_on_the_same_chunk_never_solve_it_at_once(task, tmp_path):
    out = tmp_path / "out"
    job = _with_out(task, out)
    first = _dask_task(job)
    assert _wait_for(lambda: _solvers(first), 60)
    second = _dask_task(job)
    most = 0
    while first.poll() is None or second.poll() is None:
        chunk_procs = [p for p in _solvers(first, second) if "stage.worker" in _cmd(p)]
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


def _values(out: Path) -> dict:
    from musclekit.pipelines.simulate.dynamics.kernel.result import load_output

    return load_output(out, "chunk0000").values


@pytest.mark.timeout(300)
def test_chunks_share_one_chunk_process_and_match_a_fresh_one(task, tmp_path):
    from musclekit.pipelines.simulate.dynamics.stage import worker

    worker.stop_chunk_servers()
    first = solve_chunk_unit(_with_out(task, tmp_path / "a"))
    pid = worker._LOCAL.server.proc.pid
    again = solve_chunk_unit(_with_out(task, tmp_path / "b"))
    assert worker._LOCAL.server.proc.pid == pid  # the same chunk process solved both
    worker.stop_chunk_servers()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    fresh = solve_chunk_unit(_with_out(task, tmp_path / "c"))
    assert first.status == again.status == fresh.status == "converged"
    assert first.iterations == again.iterations == fresh.iterations
    a, b, c = (_values(tmp_path / k) for k in "abc")
    for stream in a:  # a reused process gives the bytes of a fresh one
        assert np.array_equal(a[stream], b[stream], equal_nan=True), stream
        assert np.array_equal(a[stream], c[stream], equal_nan=True), stream
    assert (tmp_path / "b" / "chunk0000.log").is_file()


@pytest.mark.timeout(300)
def test_a_chunk_past_its_time_limit_is_killed_with_its_solver_and_the_next_one_solves(
        task, tmp_path):
    from musclekit.pipelines.simulate.dynamics.stage import worker

    worker.stop_chunk_servers()
    # Warm the chunk process, then give the next chunk less time than its solve takes.
    assert solve_chunk_unit(_with_out(task, tmp_path / "warm")).status == "converged"
    server = worker._LOCAL.server
    tree = [server.proc.pid] + [p.pid for p in psutil.Process(server.proc.pid).children(
        recursive=True)]
    assert len(tree) == 2  # the chunk process and its NLP child
    job = ChunkTask.from_dict({**json.loads(task.to_json()), "out_dir": str(tmp_path / "slow"),
                               "time_limit_s": 0.05})
    report = solve_chunk_unit(job)
    assert report.status == "failed"
    assert report.reason.startswith("time limit of 0.05 s per chunk reached (log: ")
    assert load_report(tmp_path / "slow", "chunk0000").status == "failed"
    assert _alive(tree) == []  # killed, NLP child included
    assert solve_chunk_unit(_with_out(task, tmp_path / "next")).status == "converged"
    assert worker._LOCAL.server.proc.pid != tree[0]
    worker.stop_chunk_servers()
