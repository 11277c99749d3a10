"""Running units on Dask: failures become reports, unreachable schedulers a clear error."""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path

import pytest

from musclekit.compute import ComputeConfig, Unit, UnitPool, make_client, run_units
from musclekit.errors import InputError, UnitFailedError


def _sqrt(x: float) -> float:
    if x < 0:
        raise UnitFailedError(f"negative input {x}")
    return math.sqrt(x)


def test_inline_run_records_failures_and_skips():
    units = [Unit(str(i), i) for i in (4, -1, 9)]
    report = run_units(units, _sqrt, ComputeConfig(workers=0), skip=lambda u: u.id == "9")
    assert report.done == {"4": 2.0}
    assert report.failed == {"-1": "negative input -1"}
    assert report.skipped == ["9"]
    assert "1 done, 1 skipped (already done), 1 failed" in report.summary()


def test_local_cluster_runs_units_in_worker_processes():
    units = [Unit(str(i), i) for i in range(6)]
    report = run_units(units, _sqrt, ComputeConfig(workers=2))
    assert report.done == {str(i): math.sqrt(i) for i in range(6)}


def _die_once(marker: str) -> int:
    """Kill this worker process the first time (as the OOM killer would), then succeed."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return int(path.read_text())


def test_worker_killed_mid_task_has_its_unit_rerun(tmp_path: Path):
    marker = tmp_path / "killed-pid"
    report = run_units([Unit("u", str(marker))], _die_once, ComputeConfig(workers=1))
    # The nanny restarts the worker and the scheduler reruns the unit there.
    assert report.failed == {}
    assert report.done == {"u": int(marker.read_text())}
    assert report.done["u"] != os.getpid()


def test_duplicate_unit_ids():
    with pytest.raises(InputError, match="unit ids must be unique; got duplicates: a"):
        run_units([Unit("a", 1), Unit("a", 2)], _sqrt, ComputeConfig(workers=0))


def test_unreachable_scheduler_is_a_clear_error():
    cfg = ComputeConfig(scheduler="tcp://127.0.0.1:9", connect_timeout_s=2)
    with pytest.raises(InputError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 "
                                         r"within 2 s .*leave out --scheduler"):
        make_client(cfg)


def _pid(_: object) -> int:
    return os.getpid()


def test_one_unit_with_the_default_workers_runs_inline():
    """A cluster for a single unit (one trial's IK, one model) costs seconds and gains
    nothing: with no worker count given it runs in this process; a count given is obeyed."""
    here = os.getpid()
    assert run_units([Unit("a", 0)], _pid, ComputeConfig()).done == {"a": here}
    two = run_units([Unit("a", 0), Unit("b", 1)], _pid, ComputeConfig(workers=1))
    assert here not in two.done.values()
    asked = run_units([Unit("a", 0)], _pid, ComputeConfig(workers=1))
    assert asked.done["a"] != here


def _twice(x: int) -> int:
    return 2 * x


@pytest.mark.parametrize("workers", [0, 2])
def test_unit_pool_starts_each_unit_when_its_input_is_done(workers):
    """A unit submitted while others run (from the outcome of its input) runs on the same
    pool; every stage has its report, and the busy share is measured."""
    with UnitPool(ComputeConfig(workers=workers)) as pool:
        pool.submit_all("first", [Unit(f"a{i}", i) for i in range(3)], _twice)
        order = []
        for done in pool.finished():
            order.append(done.unit_id)
            if done.stage == "first":
                pool.submit_all("second", [Unit(f"b{done.value}", done.value)], _twice,
                                priority=1)
        assert 0 < pool.busy_share() <= 1
    assert pool.report("first").done == {"a0": 0, "a1": 2, "a2": 4}
    assert pool.report("second").done == {"b0": 0, "b2": 4, "b4": 8}
    assert sorted(order) == ["a0", "a1", "a2", "b0", "b2", "b4"]
    if workers == 0:  # inline: the higher priority of the second stage runs it first
        assert order == ["a0", "b0", "a1", "b2", "a2", "b4"]


def test_unit_pool_with_nothing_to_do_starts_no_cluster():
    with UnitPool(ComputeConfig(workers=2)) as pool:
        assert pool.submit_all("s", [Unit("a", 1)], _twice, skip=lambda u: True) == []
        assert list(pool.finished()) == []
        assert pool.client is None
    assert pool.report("s").skipped == ["a"]


def test_unit_pool_submits_its_batch_jobs_once_for_every_stage(tmp_path, monkeypatch):
    """`simulate --slurm`: the jobs are submitted when the first unit is, serve every stage,
    and are cancelled when the pool closes (fake sbatch/scancel; the workers never start)."""
    from tests.test_jobqueue import _fake_batch_system, _slurm

    log = _fake_batch_system(tmp_path, monkeypatch)
    with UnitPool(ComputeConfig(workers=8, jobqueue=_slurm())) as pool:  # 4 per job: 2 jobs
        assert not log.exists()  # nothing submitted yet: no jobs
        pool.submit_all("kinematics", [Unit("a", 1)], _twice)
        pool.submit_all("chunks", [Unit("b", 1), Unit("c", 2)], _twice, priority=1)
        assert log.read_text().count("submit ") == 2
        assert pool.pending() == 3
    assert log.read_text().count("submit ") == 2
    assert log.read_text().count("cancel 4242") == 2


def _burn(cpu_s: float) -> int:
    """A unit that takes `cpu_s` CPU seconds; returns the process it ran in."""
    end = time.process_time() + cpu_s
    while time.process_time() < end:
        pass
    return os.getpid()


@pytest.mark.timeout(300)
def test_start_inline_keeps_cheap_units_here_and_moves_costly_ones_to_the_workers(monkeypatch):
    """With the default workers, `start_inline` runs units in this process while those
    queued cost less than starting the workers (this process's own start-up CPU seconds and
    the first unit's one-off costs) plus their share there; past that, the rest go to the
    workers."""
    from musclekit import compute

    monkeypatch.setattr(compute, "available_cores", lambda: 2)  # default: 2 local workers
    here = os.getpid()
    with UnitPool(ComputeConfig(), start_inline=True) as pool:
        pool.submit_all("ik", [Unit(f"u{i}", 0.0) for i in range(4)], _burn)
        assert len(list(pool.finished())) == 4
        assert pool.client is None  # no cluster was started
    assert set(pool.report("ik").done.values()) == {here}
    with UnitPool(ComputeConfig(), start_inline=True) as pool:
        pool.startup_cpu_s = 0.0  # workers that would start for free: worth it at once
        pool.submit_all("ik", [Unit(f"u{i}", 0.05) for i in range(4)], _burn)
        assert len(list(pool.finished())) == 4
        assert pool.client is not None and pool.workers == 2
    pids = pool.report("ik").done
    # Two units here (the first one's one-off costs are told apart from the second's), then
    # the rest on the workers.
    assert pids["u0"] == pids["u1"] == here and pids["u2"] != here != pids["u3"], pids
    with UnitPool(ComputeConfig(workers=2), start_inline=True) as pool:  # a count given
        assert not pool.inline
