"""SLURM/PBS workers through dask-jobqueue, without a batch system: fake `sbatch`/`qsub`
scripts on PATH stand in for it. Job scripts are only rendered, submissions only recorded;
every cluster a test starts is closed before it ends."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import dask_jobqueue  # noqa: E402,F401  (a required dependency: missing fails the suite)
import pytest

from musclekit.cli.main import main
from musclekit.compute import ComputeConfig, open_client
from musclekit.errors import ExitCode, InputError, MissingDependencyError
from musclekit.jobqueue import JobqueueConfig, build_cluster, check, new_cluster

SIZE = ["--job-cores", "8", "--job-memory", "32GiB"]


def _fake_batch_system(tmp_path: Path, monkeypatch, submit_fails: bool = False) -> Path:
    """Put fake submit/cancel commands first on PATH; returns the log they append to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "batch.log"
    if submit_fails:
        submit = 'echo "sbatch: error: invalid partition specified: nosuch" >&2\nexit 1\n'
    else:
        submit = f'echo "submit $1" >> {log}\necho "Submitted batch job 4242"\n'
    for name in ("sbatch", "qsub"):
        _script(bin_dir / name, submit)
    for name in ("scancel", "qdel"):
        _script(bin_dir / name, f'echo "cancel $1" >> {log}\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _no_batch_system(tmp_path: Path, monkeypatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture(autouse=True)
def _clusters_closed():
    """No test may leave a cluster (and its event-loop thread) running."""
    from distributed.core import Status
    from distributed.deploy.spec import SpecCluster

    yield
    left = [c for c in list(SpecCluster._instances) if c.status != Status.closed]
    for cluster in left:
        cluster.close()
    assert not left, f"clusters left running: {left}"


def _slurm(**kw) -> JobqueueConfig:
    base = dict(system="slurm", queue="normal", account="proj1", walltime="04:00:00", cores=8,
                memory="32GiB", processes=4, job_extra_directives=["--constraint=skylake"])
    return JobqueueConfig(**{**base, **kw})


def test_slurm_job_script_has_the_directives(tmp_path, monkeypatch):
    _fake_batch_system(tmp_path, monkeypatch)
    cluster = new_cluster(_slurm())
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    header = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    for directive in ("#SBATCH -J musclekit", "#SBATCH -p normal", "#SBATCH -A proj1",
                      "#SBATCH -t 04:00:00", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=32G",
                      "#SBATCH --constraint=skylake"):
        assert directive in header, (directive, header)
    # 4 single-threaded workers per job, leaving 15 min before the 4 h walltime.
    assert "--nworkers 4" in script and "--nthreads 1" in script
    assert "--lifetime 13500s --lifetime-stagger 300s" in script


def test_pbs_job_script_has_the_directives(tmp_path, monkeypatch):
    _fake_batch_system(tmp_path, monkeypatch)
    cluster = new_cluster(_slurm(system="pbs", job_extra_directives=["-l place=scatter"]))
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    header = [line for line in script.splitlines() if line.startswith("#PBS")]
    for directive in ("#PBS -N musclekit", "#PBS -q normal", "#PBS -A proj1",
                      "#PBS -l select=1:ncpus=8:mem=32GB", "#PBS -l walltime=04:00:00",
                      "#PBS -l place=scatter"):
        assert directive in header, (directive, header)
    assert "--nworkers 4" in script and "--nthreads 1" in script


def test_named_config_section_fills_unset_values(tmp_path, monkeypatch):
    import dask

    _fake_batch_system(tmp_path, monkeypatch)
    section = dict(dask.config.get("jobqueue.slurm"), cores=4, memory="16GiB", queue="long",
                   walltime="01:00:00")
    with dask.config.set({"jobqueue.mycluster": section}):
        cluster = new_cluster(JobqueueConfig(system="slurm", config_name="mycluster"))
        try:
            script = cluster.job_script()
        finally:
            cluster.close()
        with pytest.raises(InputError, match=r"the section lacks the key '[a-z-]+'; copy the "
                                             r"whole 'slurm:' section"):
            with dask.config.set({"jobqueue.partial": {"cores": 4, "memory": "16GiB"}}):
                new_cluster(JobqueueConfig(system="slurm", config_name="partial"))
    for directive in ("#SBATCH -p long", "#SBATCH -t 01:00:00", "#SBATCH --cpus-per-task=4",
                      "#SBATCH --mem=16G"):
        assert directive in script
    assert "--nworkers 4" in script


def test_build_cluster_submits_whole_jobs_and_close_cancels_them(tmp_path, monkeypatch):
    log = _fake_batch_system(tmp_path, monkeypatch)
    cluster = build_cluster(_slurm(), workers=10)  # 10 workers, 4 per job: 3 jobs
    try:
        assert log.read_text().count("submit ") == 3
    finally:
        cluster.close()
    assert log.read_text().count("cancel 4242") == 3


def test_run_units_owns_its_batch_jobs(tmp_path, monkeypatch):
    # Two units need no more than one job, and leaving the client cancels it.
    log = _fake_batch_system(tmp_path, monkeypatch)
    cfg = ComputeConfig(workers=96, jobqueue=_slurm())
    with open_client(cfg, units=2) as client:
        assert client.cluster is not None
        assert log.read_text().count("submit ") == 1
    assert log.read_text().count("cancel 4242") == 1


def test_refused_submission_is_a_clear_error(tmp_path, monkeypatch):
    _fake_batch_system(tmp_path, monkeypatch, submit_fails=True)
    with pytest.raises(InputError) as err:
        build_cluster(_slurm(queue="nosuch"), workers=4)
    assert str(err.value) == (
        "--slurm: `sbatch` refused the worker job: sbatch: error: invalid partition specified: "
        "nosuch; check --queue, --account, --walltime, --job-cores and --job-memory against "
        "the cluster's limits")


def test_library_checks():
    with pytest.raises(InputError, match=r"^unknown batch system 'lsf': choose one of slurm, "
                                         r"pbs$"):
        check(JobqueueConfig(system="lsf"))
    with pytest.raises(InputError, match=r"--workers 0: --slurm needs at least 1 worker"):
        build_cluster(_slurm(), workers=0)
    cfg = ComputeConfig(scheduler="tcp://127.0.0.1:9", jobqueue=_slurm())
    with pytest.raises(InputError, match="--slurm and --scheduler tcp://127.0.0.1:9 cannot"):
        with open_client(cfg):
            pass


def _simulate(tmp_path: Path, *options: str) -> list[str]:
    """A `musclekit simulate` command line whose compute options are checked before its
    (missing) inputs are read."""
    return ["simulate", "--trc", str(tmp_path / "walk.trc"), "--model",
            str(tmp_path / "m.osim"), "--out", str(tmp_path / "out"), *options]


@pytest.mark.parametrize("options, message", [
    (["--slurm", *SIZE, "--scheduler", "tcp://head:8786"],
     "error: --slurm and --scheduler tcp://head:8786 cannot be combined: --slurm starts a Dask "
     "scheduler here and submits its workers as batch jobs, --scheduler connects to a Dask "
     "cluster that already runs; use one of them"),
    (["--slurm", "--pbs", *SIZE],
     "error: --slurm and --pbs cannot be combined: choose the batch system of this cluster"),
    (["--queue", "normal", "--walltime", "01:00:00"],
     "error: --queue, --walltime apply only to batch jobs: add --slurm or --pbs, or leave "
     "them out"),
    (["--slurm", *SIZE, "--walltime", "4h"],
     "error: --walltime '4h': give the job time limit as HH:MM:SS, e.g. 04:00:00 for four "
     "hours"),
    (["--slurm", *SIZE, "--walltime", "00:00:00"],
     "error: --walltime '00:00:00': must be longer than 00:00:00"),
    (["--slurm", "--job-cores", "0", "--job-memory", "8GB"],
     "error: --job-cores 0: must be a whole number > 0"),
    (["--slurm", "--job-cores", "8", "--job-memory", "0GB"],
     "error: --job-memory '0GB': must be more than 0, e.g. 32GB"),
    (["--slurm", "--job-cores", "8", "--job-memory", "lots"],
     "error: --job-memory 'lots': not a memory size; give a number with a unit, e.g. 32GB"),
    (["--slurm", "--job-cores", "4", "--job-processes", "8", "--job-memory", "8GB"],
     "error: --job-processes 8 is more than --job-cores 4: each worker process needs a core "
     "of its own; lower --job-processes or raise --job-cores"),
    (["--slurm"],
     "error: --slurm needs the size of each job: --job-cores N and --job-memory SIZE (e.g. "
     "--job-cores 8 --job-memory 32GB), or --jobqueue-config NAME with cores and memory set "
     "in ~/.config/dask/jobqueue.yaml"),
    (["--slurm", *SIZE, "--workers", "0"],
     "error: --workers 0: with --slurm, --workers is the number of worker processes across "
     "all jobs; give at least 1"),
    (["--slurm", *SIZE, "--jobqueue-config", "nosuch"],
     "error: --jobqueue-config nosuch: no section 'jobqueue: nosuch:' in the dask config "
     "(~/.config/dask/jobqueue.yaml or $DASK_CONFIG); copy its 'slurm:' section under that "
     "name and edit it, or leave out --jobqueue-config"),
    (["--slurm", *SIZE],
     "error: --slurm: the SLURM submit command `sbatch` is not on PATH; run --slurm on a "
     "SLURM cluster login node, or start Dask workers yourself and pass --scheduler "
     "tcp://HOST:8786"),
    (["--pbs", *SIZE],
     "error: --pbs: the PBS submit command `qsub` is not on PATH; run --pbs on a PBS "
     "cluster login node, or start Dask workers yourself and pass --scheduler "
     "tcp://HOST:8786"),
])
def test_cli_refuses_bad_cluster_options(tmp_path, monkeypatch, capsys, options, message):
    _no_batch_system(tmp_path, monkeypatch)
    assert main(_simulate(tmp_path, *options)) == ExitCode.ERROR
    assert capsys.readouterr().err.strip() == message


def test_cli_without_dask_jobqueue(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError) as err:
        check(_slurm())
    assert str(err.value) == ('--slurm needs dask-jobqueue, which is not installed: '
                              'pip install "musclekit[cluster]"')
    assert main(_simulate(tmp_path, "--slurm", *SIZE)) == ExitCode.ERROR
    # The extra's brackets reach the user (rich would swallow them as markup unescaped).
    assert " ".join(capsys.readouterr().err.split()) == (
        'error: --slurm needs dask-jobqueue, which is not installed: pip install '
        '"musclekit[cluster]"')
