"""Dask workers as SLURM or PBS batch jobs, through dask-jobqueue.

`build_cluster` turns typed settings into a `dask_jobqueue.SLURMCluster`/`PBSCluster` and
asks for a number of worker processes; `musclekit.compute.run_units` calls it when
`ComputeConfig.jobqueue` is set, and closes the cluster (cancelling its jobs) when the run
ends. The scheduler runs in this process, so the command must run where jobs can be
submitted and compute nodes can connect back: a cluster login node.

Every check that can fail runs before the cluster is constructed, and job submission is
waited for, so a wrong queue or a missing `sbatch` is an error at once, never a run that
waits forever for workers that will not come.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from musclekit.errors import InputError, MissingDependencyError
from musclekit.progress import console

# system -> (dask-jobqueue class, submit command, name users know)
SYSTEMS: dict[str, tuple[str, str, str]] = {
    "slurm": ("SLURMCluster", "sbatch", "SLURM"),
    "pbs": ("PBSCluster", "qsub", "PBS"),
}
INSTALL_HINT = 'pip install "musclekit[cluster]"'
CONFIG_FILE = "~/.config/dask/jobqueue.yaml"
_WALLTIME = re.compile(r"^(\d+):([0-5]\d):([0-5]\d)$")


@dataclass
class JobqueueConfig:
    """One kind of batch job, each running `processes` single-threaded Dask workers.

    Unset values (None) come from the section `config_name` of the dask jobqueue config
    (~/.config/dask/jobqueue.yaml; default: the section named like `system`).

    system: "slurm" or "pbs".
    queue: partition (SLURM -p) or queue (PBS -q).
    account: account to charge (-A).
    walltime: job time limit, "HH:MM:SS" (hours may exceed 24).
    cores: CPU cores each job reserves.
    memory: memory each job reserves, e.g. "32GB" (10^9 bytes) or "32GiB" (2^30, SLURM's G).
    processes: worker processes per job; default one per core.
    job_extra_directives: extra header lines, without the #SBATCH/#PBS prefix.
    local_directory: worker scratch folder on the compute node (e.g. $TMPDIR).
    config_name: a named section of the jobqueue config, e.g. one per cluster you use.
    python: python executable on the compute nodes (default: this one).
    """

    system: str = "slurm"
    queue: str | None = None
    account: str | None = None
    walltime: str | None = None
    cores: int | None = None
    memory: str | None = None
    processes: int | None = None
    job_extra_directives: list[str] = field(default_factory=list)
    local_directory: str | None = None
    config_name: str | None = None
    python: str | None = None

    @property
    def flag(self) -> str:
        return f"--{self.system}"


@dataclass(frozen=True)
class JobShape:
    """What one job reserves once the config file has filled in what the user left unset."""

    cores: int
    memory: str
    memory_bytes: int
    processes: int
    walltime: str | None
    walltime_s: int | None


def walltime_seconds(value: str, where: str) -> int:
    """Seconds of an "HH:MM:SS" walltime; `where` names the flag or config key for errors."""
    match = _WALLTIME.match(value.strip())
    if match is None:
        raise InputError(f"{where} {value!r}: give the job time limit as HH:MM:SS, "
                         "e.g. 04:00:00 for four hours")
    hours, minutes, seconds = (int(g) for g in match.groups())
    total = 3600 * hours + 60 * minutes + seconds
    if total <= 0:
        raise InputError(f"{where} {value!r}: must be longer than 00:00:00")
    return total


def memory_bytes(value: str, where: str) -> int:
    """Bytes of a memory size such as "32GB"; a bare number is refused (bytes are never meant)."""
    from dask.utils import parse_bytes

    try:
        size = parse_bytes(value)
    except (ValueError, TypeError):
        size = None
    if size is None or not re.search(r"[A-Za-z]", str(value)):
        raise InputError(f"{where} {value!r}: not a memory size; give a number with a unit, "
                         "e.g. 32GB")
    if size <= 0:
        raise InputError(f"{where} {value!r}: must be more than 0, e.g. 32GB")
    return int(size)


def _positive(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InputError(f"{where} {value!r}: must be a whole number > 0")
    return value


def refuse_scheduler(cfg: JobqueueConfig, scheduler: str | None) -> None:
    """--slurm/--pbs start their own scheduler; a second one by address is a contradiction."""
    if scheduler:
        raise InputError(f"{cfg.flag} and --scheduler {scheduler} cannot be combined: "
                         f"{cfg.flag} starts a Dask scheduler here and submits its workers as "
                         "batch jobs, --scheduler connects to a Dask cluster that already runs; "
                         "use one of them")


def _section(cfg: JobqueueConfig) -> str:
    return cfg.config_name or cfg.system


def _from_file(cfg: JobqueueConfig, key: str) -> Any:
    import dask

    return dask.config.get(f"jobqueue.{_section(cfg)}.{key}", None)


def check(cfg: JobqueueConfig) -> JobShape:
    """Validate `cfg` without submitting anything; returns the job each worker batch gets.

    Cheap values first (so a typo is reported before anything is imported), then the
    installation, the config section, and last the submit command on PATH.
    """
    if cfg.system not in SYSTEMS:
        raise InputError(f"unknown batch system {cfg.system!r}: choose one of "
                         + ", ".join(SYSTEMS))
    _, submit, label = SYSTEMS[cfg.system]
    if cfg.walltime is not None:
        walltime_seconds(cfg.walltime, "--walltime")
    if cfg.cores is not None:
        _positive(cfg.cores, "--job-cores")
    if cfg.processes is not None:
        _positive(cfg.processes, "--job-processes")
    if cfg.memory is not None:
        memory_bytes(cfg.memory, "--job-memory")

    try:
        import dask_jobqueue  # noqa: F401 - also loads its defaults into dask.config
    except ImportError as err:
        raise MissingDependencyError(f"{cfg.flag} needs dask-jobqueue, which is not installed: "
                                     f"{INSTALL_HINT}") from err
    import dask

    if cfg.config_name and not isinstance(
            dask.config.get(f"jobqueue.{cfg.config_name}", None), dict):
        raise InputError(f"--jobqueue-config {cfg.config_name}: no section "
                         f"'jobqueue: {cfg.config_name}:' in the dask config ({CONFIG_FILE} or "
                         f"$DASK_CONFIG); copy its '{cfg.system}:' section under that name and "
                         "edit it, or leave out --jobqueue-config")

    where = f"jobqueue.{_section(cfg)}"
    cores = cfg.cores if cfg.cores is not None else _from_file(cfg, "cores")
    memory = cfg.memory if cfg.memory is not None else _from_file(cfg, "memory")
    if cores is None or memory is None:
        raise InputError(f"{cfg.flag} needs the size of each job: --job-cores N and "
                         f"--job-memory SIZE (e.g. --job-cores 8 --job-memory 32GB), or "
                         f"--jobqueue-config NAME with cores and memory set in {CONFIG_FILE}")
    cores = _positive(cores, "--job-cores" if cfg.cores is not None else f"{where}.cores")
    size = memory_bytes(str(memory), "--job-memory" if cfg.memory is not None
                        else f"{where}.memory")
    processes = cfg.processes if cfg.processes is not None else _from_file(cfg, "processes")
    # One single-threaded worker per core: OpenSim/IPOPT solves do not share a process well.
    processes = cores if processes is None else _positive(
        processes, "--job-processes" if cfg.processes is not None else f"{where}.processes")
    if processes > cores:
        raise InputError(f"--job-processes {processes} is more than --job-cores {cores}: each "
                         "worker process needs a core of its own; lower --job-processes or "
                         "raise --job-cores")
    walltime = cfg.walltime if cfg.walltime is not None else _from_file(cfg, "walltime")
    walltime_s = None
    if walltime is not None:
        walltime_s = walltime_seconds(str(walltime), "--walltime" if cfg.walltime is not None
                                      else f"{where}.walltime")

    # Checked last and before any cluster exists: without it, dask-jobqueue starts a
    # scheduler, fails to submit in the background and the run waits for workers forever.
    if shutil.which(submit) is None:
        raise InputError(f"{cfg.flag}: the {label} submit command `{submit}` is not on PATH; "
                         f"run {cfg.flag} on a {label} cluster login node, or start Dask "
                         "workers yourself and pass --scheduler tcp://HOST:8786")
    return JobShape(cores=cores, memory=str(memory), memory_bytes=size, processes=processes,
                    walltime=None if walltime is None else str(walltime),
                    walltime_s=walltime_s)


def _lifetime_args(walltime_s: int | None) -> list[str]:
    """Workers leave on their own before the batch system kills their job at the walltime.

    A worker killed by the batch system would take its chunk with it and count against the
    task's retries; one that retires hands its task back. Retiring is spread over a window
    (`--lifetime-stagger`) so that not all workers of a run leave at once.
    """
    if walltime_s is None:
        return []
    margin = min(0.1 * walltime_s, 15 * 60.0)
    stagger = margin / 3
    return ["--lifetime", f"{int(walltime_s - margin)}s",
            "--lifetime-stagger", f"{max(1, int(stagger))}s"]


def new_cluster(cfg: JobqueueConfig, dashboard: str | None = None) -> Any:
    """A SLURMCluster/PBSCluster for `cfg` with its scheduler started and no job submitted.

    The caller owns it and must `close()` it; `cluster.job_script()` shows one job.
    """
    return _construct(cfg, check(cfg), dashboard)


def _scheduler_options(cfg: JobqueueConfig, dashboard: str | None) -> dict[str, Any]:
    """No dashboard unless asked for (`dashboard`, or the config section's scheduler-options);
    the scheduler's HTTP server takes a free port, so a busy 8787 gives no warning."""
    options: dict[str, Any] = {"dashboard": False, "dashboard_address": ":0"}
    if dashboard:
        options = {"dashboard": True, "dashboard_address": dashboard}
    return {**options, **(_from_file(cfg, "scheduler-options") or {})}


def _construct(cfg: JobqueueConfig, shape: JobShape, dashboard: str | None = None) -> Any:
    import dask_jobqueue

    cls_name, _, _ = SYSTEMS[cfg.system]
    extras = list(_from_file(cfg, "job-extra-directives") or []) + list(cfg.job_extra_directives)
    worker_args = (list(_from_file(cfg, "worker-extra-args") or [])
                   + _lifetime_args(shape.walltime_s))
    kwargs: dict[str, Any] = dict(
        # For Dask, `cores` counts threads per job: one per worker process.
        cores=shape.processes,
        processes=shape.processes,
        memory=shape.memory,
        walltime=shape.walltime,
        queue=cfg.queue,
        account=cfg.account,
        job_extra_directives=extras,
        worker_extra_args=worker_args,
        local_directory=cfg.local_directory,
        python=cfg.python,
        config_name=cfg.config_name,
        scheduler_options=_scheduler_options(cfg, dashboard),
    )
    if cfg.config_name is None:
        kwargs["job_name"] = "musclekit"  # what `squeue`/`qstat` show
    # The job reserves all its cores even when it runs fewer workers (e.g. for memory):
    # dask-jobqueue would otherwise ask for one core per thread.
    if cfg.system == "slurm":
        kwargs["job_cpu"] = shape.cores
    elif cfg.cores is not None or cfg.memory is not None or not _from_file(cfg, "resource-spec"):
        from dask_jobqueue.pbs import pbs_format_bytes_ceil

        kwargs["resource_spec"] = (f"select=1:ncpus={shape.cores}:"
                                   f"mem={pbs_format_bytes_ceil(shape.memory_bytes)}")
    try:
        return getattr(dask_jobqueue, cls_name)(**kwargs)
    except KeyError as err:
        # dask-jobqueue reads every key of a named section without a default.
        raise InputError(f"--jobqueue-config {cfg.config_name}: the section lacks the key "
                         f"{err.args[0]!r}; copy the whole '{cfg.system}:' section of "
                         f"{CONFIG_FILE} under the name {cfg.config_name} and edit it") from err


def build_cluster(cfg: JobqueueConfig, workers: int, dashboard: str | None = None) -> Any:
    """A jobqueue cluster asking for at least `workers` worker processes, in whole jobs
    (ceil(workers / processes) of them); submission has succeeded when it returns.

    The caller owns the cluster and must `close()` it (that cancels its jobs).
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise InputError(f"--workers {workers!r}: {cfg.flag} needs at least 1 worker process")
    shape = check(cfg)
    cluster = _construct(cfg, shape, dashboard)
    _, submit, label = SYSTEMS[cfg.system]
    jobs = -(-workers // shape.processes)
    # Whole jobs only: asking adapt() for a count between two job sizes makes it cancel
    # and resubmit a job forever.
    total = jobs * shape.processes
    try:
        # scale() alone only schedules the submission on the cluster's event loop; waiting
        # for it turns a refused job (wrong queue, account or limits) into an error now.
        with _quiet("tornado.application"):
            cluster.sync(_submit, cluster, total)
        # Keep `total` workers: jobs that end at their walltime are replaced (dask-jobqueue's
        # remedy for long runs, together with the workers' --lifetime).
        cluster.adapt(minimum=total, maximum=total)
    except Exception as err:
        _close_after_failed_submit(cluster)
        raise InputError(f"{cfg.flag}: `{submit}` refused the worker job: "
                         f"{_submit_error(err)}; check --queue, --account, --walltime, "
                         "--job-cores and --job-memory against the cluster's limits") from err
    console.print(f"{label}: {jobs} job(s) submitted, {shape.processes} worker(s) each "
                  f"({shape.cores} cores, {shape.memory}, walltime "
                  f"{shape.walltime or 'default'}); work starts as the jobs start",
                  soft_wrap=True)
    return cluster


async def _submit(cluster: Any, workers: int) -> None:
    # Runs on the cluster's loop: the state correction started here (right after scale(),
    # before its own scheduled one) is the one that submits, so its error reaches us.
    cluster.scale(workers)
    await cluster._correct_state()


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Mute one logger for a moment: the event loop also logs the submission error that
    build_cluster reports itself, as a traceback the user would read twice."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _close_after_failed_submit(cluster: Any) -> None:
    """Close a cluster whose submission failed; jobs never submitted have nothing to cancel
    but would fail distributed's close-time status check."""
    from distributed.core import Status

    for job in list(cluster.workers.values()):
        if job.status == Status.created:
            job.status = Status.failed
    cluster.close()


def _submit_error(err: BaseException) -> str:
    """The batch system's own words from dask-jobqueue's error (its stderr), else the error."""
    text = str(err)
    if "stderr:" in text:
        stderr = text.split("stderr:", 1)[1].strip()
        if stderr:
            return " ".join(stderr.split())
    return f"{type(err).__name__}: {' '.join(text.split())}"


def config_from_cli(
    *,
    slurm: bool = False,
    pbs: bool = False,
    queue: str | None = None,
    account: str | None = None,
    walltime: str | None = None,
    job_cores: int | None = None,
    job_memory: str | None = None,
    job_processes: int | None = None,
    jobqueue_config: str | None = None,
    job_extra: list[str] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> JobqueueConfig | None:
    """Checked settings from the command-line options (None: no batch jobs asked for).

    Everything, including the submit command on PATH, is checked here so that a command
    fails before it reads any input, not when its first batch of units starts.
    """
    given = [flag for flag, value in (
        ("--queue", queue), ("--account", account), ("--walltime", walltime),
        ("--job-cores", job_cores), ("--job-memory", job_memory),
        ("--job-processes", job_processes), ("--jobqueue-config", jobqueue_config),
        ("--job-extra", job_extra)) if value not in (None, [], ())]
    if slurm and pbs:
        raise InputError("--slurm and --pbs cannot be combined: choose the batch system of "
                         "this cluster")
    if not (slurm or pbs):
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise InputError(f"{', '.join(given)} {verb} only to batch jobs: add --slurm or "
                             "--pbs, or leave them out")
        return None
    cfg = JobqueueConfig(system="slurm" if slurm else "pbs", queue=queue, account=account,
                         walltime=walltime, cores=job_cores, memory=job_memory,
                         processes=job_processes, job_extra_directives=list(job_extra or []),
                         config_name=jobqueue_config)
    refuse_scheduler(cfg, scheduler)
    if workers < 1:
        raise InputError(f"--workers {workers}: with {cfg.flag}, --workers is the number of "
                         "worker processes across all jobs; give at least 1")
    check(cfg)
    return cfg
