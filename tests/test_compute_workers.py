"""--workers: one validation for every command (in ComputeConfig), capped at this machine's
cores with a message pointing at --slurm/--scheduler, and no Dask dashboard (no port
warnings) unless asked for."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from musclekit import compute
from musclekit.compute import ComputeConfig, Unit, available_cores, default_workers, run_units
from musclekit.errors import InputError


def _double(x: int) -> int:
    return 2 * x


def test_default_is_one_worker_per_available_core():
    assert ComputeConfig().workers == default_workers() == available_cores()
    assert ComputeConfig(workers=None).workers == available_cores()


@pytest.mark.parametrize("bad", [-1, -96])
def test_negative_workers_is_an_error(bad):
    with pytest.raises(InputError) as err:
        ComputeConfig(workers=bad)
    assert str(err.value) == (
        f"--workers {bad}: must be 0 (run in this process) or a number of worker processes, "
        f"1 to {available_cores()} on this machine; leave it out for the default, one per core")


@pytest.mark.parametrize("bad", [1.5, "4", True])
def test_non_integer_workers_is_an_error(bad):
    with pytest.raises(InputError, match=r"give a whole number of worker processes \(0 = run "
                                         r"in this process, up to \d+ on this machine\)"):
        ComputeConfig(workers=bad)


def test_more_workers_than_cores_are_capped_with_the_way_out(monkeypatch, capsys):
    monkeypatch.setattr(compute, "available_cores", lambda: 2)
    cfg = ComputeConfig(workers=96)
    assert cfg.workers == 2 and cfg.requested_workers == 96
    err = " ".join(capsys.readouterr().err.split())
    assert ("warning: --workers 96 is more than the 2 core(s) of this machine: using 2 local "
            "worker(s)") in err
    assert "--slurm or --pbs submit them as batch jobs" in err
    assert "--scheduler tcp://HOST:8786" in err


def test_workers_within_the_cores_are_kept_silently(monkeypatch, capsys):
    monkeypatch.setattr(compute, "available_cores", lambda: 8)
    assert ComputeConfig(workers=8).workers == 8
    assert ComputeConfig(workers=0).workers == 0
    assert capsys.readouterr().err == ""


def test_remote_workers_are_not_capped(monkeypatch, capsys):
    """A scheduler elsewhere or batch jobs have cores of their own."""
    monkeypatch.setattr(compute, "available_cores", lambda: 2)
    assert ComputeConfig(workers=96, scheduler="tcp://10.0.0.1:8786").workers == 96
    assert capsys.readouterr().err == ""


def test_batch_jobs_need_a_worker():
    from musclekit.jobqueue import JobqueueConfig

    with pytest.raises(InputError, match=r"--workers 0: with --slurm, --workers is the number "
                                         r"of worker processes across all jobs; give at least 1"):
        ComputeConfig(workers=0, jobqueue=JobqueueConfig(system="slurm"))


def test_bad_retries_and_threads():
    with pytest.raises(InputError, match="retries -1: must be a whole number >= 0"):
        ComputeConfig(workers=0, retries=-1)
    with pytest.raises(InputError, match="threads per worker 0: must be >= 1"):
        ComputeConfig(workers=0, threads_per_worker=0)


def test_no_dashboard_and_no_port_warning_even_when_8787_is_taken(capfd, caplog):
    """The default local cluster serves no dashboard: a busy 8787 (another Dask, a second
    run) gives no 'Port 8787 is already in use' warning."""
    busy = socket.socket()
    try:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            busy.bind(("", 8787))
            busy.listen(1)
        except OSError:
            pass  # already taken by something else: the same situation
        with caplog.at_level(logging.WARNING):
            report = run_units([Unit(str(i), i) for i in range(3)], _double,
                               ComputeConfig(workers=1))
    finally:
        busy.close()
    assert report.done == {"0": 0, "1": 2, "2": 4}
    out = capfd.readouterr()
    text = out.out + out.err + caplog.text
    assert "8787" not in text and "dashboard" not in text.lower()


def test_dashboard_when_asked_on_a_free_port(capsys):
    report = run_units([Unit("a", 1)], _double, ComputeConfig(workers=1, dashboard=":0"))
    assert report.done == {"a": 2}
    assert "Dask dashboard: http://" in capsys.readouterr().err


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "musclekit.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_align_session_with_negative_workers_fails_at_once(tmp_path: Path):
    """It used to start a LocalCluster with -1 workers and wait forever."""
    session = tmp_path / "s.toml"
    session.write_text('[[capture]]\nemg = "a.csv"\nvideo = "a.mov"\n')
    done = _cli("align", "--session", str(session), "--out", str(tmp_path / "ds"),
                "--workers", "-1", timeout=60)
    assert done.returncode == 1, done.stderr
    assert "--workers -1: must be 0 (run in this process) or a number of worker processes" in (
        " ".join(done.stderr.split()))
    assert not (tmp_path / "ds").exists()


def test_simulate_with_negative_workers_fails_at_once(tmp_path: Path):
    trc = tmp_path / "m.trc"
    trc.write_text("x")
    done = _cli("simulate", "--trc", str(trc), "--model", str(trc), "--out",
                str(tmp_path / "ds"), "--workers", "-1", timeout=60)
    assert done.returncode == 1, done.stderr
    assert "--workers -1: must be" in done.stderr


def test_batch_job_scheduler_serves_no_dashboard_unless_asked():
    from musclekit.jobqueue import JobqueueConfig, _scheduler_options

    cfg = JobqueueConfig(system="slurm")
    assert _scheduler_options(cfg, None) == {"dashboard": False, "dashboard_address": ":0"}
    assert _scheduler_options(cfg, ":8787") == {"dashboard": True, "dashboard_address": ":8787"}
