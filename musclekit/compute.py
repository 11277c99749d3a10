"""Running many independent units of work (clips, sequences, chunks) on Dask.

`run_units` maps a function over units on a Dask cluster; `UnitPool` runs the units of
several stages on one cluster, each submitted when what it needs is done (simulate: a
sequence's chunks follow its own IK and its model's preparation, not every sequence's). The
cluster is an embedded `LocalCluster` by default, any running scheduler by address, SLURM/PBS
batch jobs through dask-jobqueue (`musclekit.jobqueue`), or none: inline in this process
(`workers=0`, for tests and debugging). A cluster `run_units` or a `UnitPool` starts (local
or batch jobs) is closed when it ends; a running scheduler or a cluster object passed in
belongs to whoever started it and is left running. A unit that raises is recorded as failed
with its reason; the run goes on. A worker that dies has its task retried by Dask
(`retries`). Resuming is the caller's `skip` predicate: typically "the unit's completion
record exists".
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from musclekit.errors import InputError, MusclekitError
from musclekit.progress import console, make_progress

if TYPE_CHECKING:
    from dask.distributed import Client

    from musclekit.jobqueue import JobqueueConfig


@dataclass(frozen=True)
class Unit:
    """One unit of work. `payload` must pickle: paths and parameters, never OpenSim objects."""

    id: str
    payload: Any


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask: taskset, cpusets, SLURM's
    allocation), which can be fewer than the machine has."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """The one default of every command's --workers: a local worker per available core."""
    return available_cores()


# Where to go when one machine's cores are not enough; every --workers message ends with it.
SCALE_OUT_HINT = ("for more, run the workers elsewhere: --slurm or --pbs submit them as batch "
                  "jobs (simulate), --scheduler tcp://HOST:8786 uses a Dask cluster you "
                  "started (docs/cluster.md)")


def check_workers(workers: object, flag: str = "--workers") -> int:
    """`workers` as a count >= 0, or an InputError that says what to give instead."""
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise InputError(f"{flag} {workers!r}: give a whole number of worker processes "
                         f"(0 = run in this process, up to {available_cores()} on this machine)")
    if workers < 0:
        raise InputError(f"{flag} {workers}: must be 0 (run in this process) or a number of "
                         f"worker processes, 1 to {available_cores()} on this machine; leave "
                         f"it out for the default, one per core")
    return workers


@dataclass
class ComputeConfig:
    """Where units run; checked when constructed, so every command refuses the same values.

    workers: worker processes of the local cluster (0 = inline, no Dask; None = the default,
        one per available core); with `jobqueue`, worker processes across all batch jobs.
        Local workers are capped at the available cores, with a warning naming --slurm and
        --scheduler: a chunk solve is single-threaded and CPU-bound, so more processes than
        cores only add memory and contention. A negative or non-integer count is an
        InputError everywhere (it used to hang a local cluster).
    scheduler: address of a running Dask scheduler (e.g. tcp://host:8786); overrides workers.
    jobqueue: submit the workers as SLURM/PBS jobs; each `UnitPool` (one for all of
        simulate's stages; one per `run_units` call) submits its jobs with its first unit (a
        run_units call no more than it has units for) and cancels them when it ends.
    cluster: a cluster object someone already started (e.g. a dask-jobqueue SLURMCluster
        shared by several runs); used as is and never closed here: its owner closes it.
    threads_per_worker: 1, because OpenSim/IPOPT and numpy already use native threads.
    retries: how often Dask reruns a task whose worker died.
    connect_timeout_s: how long to wait for a remote scheduler before giving up.
    dashboard: address for the Dask dashboard of a local cluster or batch-job scheduler,
        e.g. ":8787" or ":0" (a free port); None (default): no dashboard, so no web server
        and no port warnings. Also from the environment: MUSCLEKIT_DASHBOARD.
    """

    workers: int | None = None
    scheduler: str | None = None
    threads_per_worker: int = 1
    retries: int = 1
    connect_timeout_s: float = 10.0
    jobqueue: JobqueueConfig | None = None
    cluster: Any = None
    dashboard: str | None = field(default_factory=lambda: os.environ.get("MUSCLEKIT_DASHBOARD")
                                  or None)
    requested_workers: int | None = field(default=None, init=False, repr=False)
    # No worker count was given: a run of a single unit then runs inline, since starting a
    # cluster for one unit costs seconds and gains nothing (one trial's IK, one model).
    workers_defaulted: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.workers is None:
            self.workers_defaulted = True
            self.workers = default_workers()
        self.workers = check_workers(self.workers)
        self.requested_workers = self.workers
        if (isinstance(self.threads_per_worker, bool) or not isinstance(self.threads_per_worker, int)
                or self.threads_per_worker < 1):
            raise InputError(f"threads per worker {self.threads_per_worker!r}: must be >= 1")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise InputError(f"retries {self.retries!r}: must be a whole number >= 0")
        if self.jobqueue is not None and self.workers < 1:
            raise InputError(f"--workers {self.workers}: with {self.jobqueue.flag}, --workers is "
                             "the number of worker processes across all jobs; give at least 1")
        if self.local:
            cores = available_cores()
            if self.workers * self.threads_per_worker > cores:
                capped = max(1, cores // self.threads_per_worker)
                console.print(
                    f"[yellow]warning:[/] --workers {self.workers} is more than the {cores} "
                    f"core(s) of this machine: using {capped} local worker(s) (each solves one "
                    f"unit on one core; more would only slow every unit down); "
                    f"{SCALE_OUT_HINT}", soft_wrap=True)
                self.workers = capped

    @property
    def local(self) -> bool:
        """Units run in worker processes on this machine (a LocalCluster started here)."""
        return (self.workers > 0 and not self.scheduler and self.cluster is None
                and self.jobqueue is None)

    def as_dict(self) -> dict:
        """What a run records about where it ran (provenance, config echoes)."""
        return {"workers": self.workers, "requested_workers": self.requested_workers,
                "scheduler": self.scheduler,
                "jobqueue": None if self.jobqueue is None else self.jobqueue.system}


@dataclass
class RunReport:
    """What happened to each unit of a run."""

    done: dict[str, Any] = field(default_factory=dict)  # id -> the function's return value
    failed: dict[str, str] = field(default_factory=dict)  # id -> reason
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        times = list(self.seconds.values())
        timing = ""
        if times:
            import numpy as np

            median, p90 = np.percentile(times, [50, 90])
            timing = f"; per unit median {median:.1f} s, p90 {p90:.1f} s"
        return (f"{len(self.done)} done, {len(self.skipped)} skipped (already done), "
                f"{len(self.failed)} failed{timing}")


def _call(fn: Callable[[Any], Any], payload: Any) -> tuple[str, Any, float]:
    """Run one unit; expected failures come back as data so one unit never stops the run."""
    start = time.perf_counter()
    try:
        result = fn(payload)
    except MusclekitError as err:
        return "failed", str(err), time.perf_counter() - start
    except Exception as err:  # noqa: BLE001 - any unit failure is reported, the run goes on
        tail = "".join(traceback.format_exception(err)[-3:]).strip()
        return "failed", f"{type(err).__name__}: {err}\n{tail}", time.perf_counter() - start
    return "ok", result, time.perf_counter() - start


def _record(report: RunReport, unit_id: str, outcome: tuple[str, Any, float]) -> None:
    status, value, seconds = outcome
    report.seconds[unit_id] = seconds
    if status == "ok":
        report.done[unit_id] = value
    else:
        report.failed[unit_id] = value


# Local worker processes die with this process (kernel death signal): Dask's own parent
# watch is a Python thread that cannot run while OpenSim holds the GIL in a long native call.
WORKER_PRELOAD = "musclekit.process"


def make_client(cfg: ComputeConfig) -> Client:
    """A dask.distributed Client for `cfg`; a clear InputError when a scheduler is unreachable.

    A local cluster it starts belongs to the client (closed with it). Batch-job clusters
    (`cfg.jobqueue`) are started by `open_client`, which also closes them.
    """
    from dask.distributed import Client

    if cfg.cluster is not None:
        return Client(cfg.cluster)
    if cfg.scheduler:
        try:
            return Client(cfg.scheduler, timeout=cfg.connect_timeout_s)
        except (OSError, TimeoutError) as err:
            raise InputError(
                f"cannot reach the Dask scheduler at {cfg.scheduler} within "
                f"{cfg.connect_timeout_s:.0f} s ({type(err).__name__}); check the address and "
                "that `dask scheduler` runs there, or leave out --scheduler to use a local cluster"
            ) from err
    # The scheduler runs in this process: keep its INFO chatter out of the user's terminal.
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Client(**kwargs) starts the LocalCluster itself and so closes it with the client;
    # Client(LocalCluster(...)) would leave the cluster's worker processes running.
    if cfg.dashboard:
        # Asked for: serve it where asked (":0" picks a free port) and say where.
        client = Client(n_workers=cfg.workers, threads_per_worker=cfg.threads_per_worker,
                        processes=True, dashboard_address=cfg.dashboard,
                        silence_logs=logging.ERROR, preload=[WORKER_PRELOAD])
        console.print(f"Dask dashboard: {client.dashboard_link}", soft_wrap=True)
        return client
    return Client(
        n_workers=cfg.workers,
        threads_per_worker=cfg.threads_per_worker,
        processes=True,
        dashboard_address=None,
        # No dashboard; the scheduler's small HTTP server (health, metrics) still starts and
        # takes 8787 unless told otherwise, warning when that port is busy: a free port.
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
        preload=[WORKER_PRELOAD],
    )


@contextmanager
def open_client(cfg: ComputeConfig, units: int | None = None) -> Iterator[Client]:
    """A Client for `cfg`, closed on exit together with any cluster started here.

    units: how many units will run; batch jobs are asked for no more workers than that.
    """
    if cfg.jobqueue is None:
        with make_client(cfg) as client:
            yield client
        return
    from dask.distributed import Client

    from musclekit.jobqueue import build_cluster, refuse_scheduler

    refuse_scheduler(cfg.jobqueue, cfg.scheduler)
    if cfg.cluster is not None:
        raise InputError("ComputeConfig: give either a started cluster or jobqueue settings, "
                         "not both")
    workers = cfg.workers if units is None else max(1, min(cfg.workers, units))
    cluster = build_cluster(cfg.jobqueue, workers, dashboard=cfg.dashboard)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()  # cancels the jobs, also those still waiting in the queue


def _todo(units: Sequence[Unit], skip: Callable[[Unit], bool] | None,
          report: RunReport) -> list[Unit]:
    """The units not skipped, after refusing duplicate ids; the skipped go to `report`."""
    ids = [u.id for u in units]
    if len(set(ids)) != len(ids):
        raise InputError("unit ids must be unique; got duplicates: "
                         + ", ".join(sorted({i for i in ids if ids.count(i) > 1})))
    todo = []
    for unit in units:
        if skip is not None and skip(unit):
            report.skipped.append(unit.id)
        else:
            todo.append(unit)
    return todo


def runs_inline(cfg: ComputeConfig, units: int | None) -> bool:
    """Whether units run in this process: `workers=0`, or the default workers and a single
    unit (a cluster for one unit costs seconds and gains nothing)."""
    local_only = not cfg.scheduler and cfg.cluster is None and cfg.jobqueue is None
    return local_only and (cfg.workers == 0 or (cfg.workers_defaulted and units == 1))


@dataclass
class Finished:
    """A unit that finished in a `UnitPool`: its stage, id and outcome."""

    stage: str
    unit_id: str
    status: str  # "ok" | "failed"
    value: Any  # the function's return value, or why it failed
    seconds: float


class UnitPool:
    """One cluster for the units of several stages, each unit submitted as soon as what it
    needs is done: a sequence's dynamics chunks start when its own inverse kinematics and
    its model's preparation are done, not when every sequence's are.

    Use as a context manager; `submit` units (from any stage, also while iterating), and
    iterate `finished()` to get each unit's outcome as it ends, until none is pending. The
    cluster (local workers, or the SLURM/PBS jobs, submitted once) starts with the first unit
    submitted and lives as long as the pool.
    Inline (`workers=0`, or the default workers with `expected_units=1`) the units run in
    this process one at a time, highest priority first, then in submission order.

    With `start_inline` and the default local workers, units also start in this process
    and stay there while they are cheaper than starting the workers: from the second unit
    on, when the units still queued would take (at the mean CPU seconds of those after the
    first) more than a worker's start (this process's own start-up CPU seconds, and what
    the first unit took beyond the others: the interpreter, the imports, first loads, all
    paid again by each worker) plus their share on the workers, the cluster starts and
    takes the rest. Many short units (the IK of short trials) so never pay for a cluster.

    Per stage, a RunReport (`reports`) and a progress line whose total grows with the units
    submitted. `busy_seconds / (workers x wall_seconds)` is the share of worker time spent
    in units: what the workers did not idle.
    """

    def __init__(self, cfg: ComputeConfig | None = None,
                 expected_units: int | None = None, start_inline: bool = False) -> None:
        self.cfg = cfg or ComputeConfig()
        self.inline = runs_inline(self.cfg, expected_units)
        # Deciding unit by unit whether the workers are worth starting (class docstring).
        self.adaptive = (start_inline and not self.inline and self.cfg.local
                         and self.cfg.workers_defaulted and self.cfg.workers > 1)
        self.inline = self.inline or self.adaptive
        self.startup_cpu_s = time.process_time()  # this process's own start-up, so far
        self._inline_cpu_s: list[float] = []
        self.reports: dict[str, RunReport] = {}
        self.busy_seconds = 0.0
        self._expected = expected_units
        self._tasks: dict[str, int] = {}
        self._queue: list[tuple[int, int, str, Unit, Callable[[Any], Any]]] = []
        self._futures: dict[Any, tuple[str, str]] = {}
        self._order = 0
        self._started = time.perf_counter()
        self._stack: Any = None
        self.client: Client | None = None

    def __enter__(self) -> UnitPool:
        from contextlib import ExitStack

        self._stack = ExitStack()
        self._progress = self._stack.enter_context(make_progress())
        self._started = time.perf_counter()
        return self

    def _open(self) -> Client:
        """The cluster, started with the first unit submitted to it (a run with nothing
        left to do starts none)."""
        if self.client is None:
            from dask.distributed import as_completed

            self.client = self._stack.enter_context(open_client(self.cfg, units=self._expected))
            self._completed = as_completed()
        return self.client

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def wall_seconds(self) -> float:
        return time.perf_counter() - self._started

    @property
    def workers(self) -> int:
        """Worker processes the units run on (1 inline)."""
        if self.inline:
            return 1
        if self.client is not None and self.cfg.scheduler:  # someone else's cluster: its size
            return max(1, len(self.client.scheduler_info().get("workers", {})))
        return max(1, self.cfg.workers)  # local workers, or those of the batch jobs asked for

    def busy_share(self) -> float:
        """Share of the workers' time spent in units since the pool opened."""
        wall = self.wall_seconds
        return min(1.0, self.busy_seconds / (self.workers * wall)) if wall > 0 else 0.0

    def report(self, stage: str) -> RunReport:
        return self.reports.setdefault(stage, RunReport())

    def _task(self, stage: str, description: str | None) -> int:
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(description or stage, total=0)
        return self._tasks[stage]

    def submit_all(self, stage: str, units: Sequence[Unit], fn: Callable[[Any], Any],
                   skip: Callable[[Unit], bool] | None = None, priority: int = 0,
                   description: str | None = None) -> list[Unit]:
        """Submit the units of `stage` not skipped (skipped ones go to its report); returns
        those submitted. Higher `priority` runs first among units waiting for a worker:
        later stages get more, so work already begun finishes before new work starts."""
        todo = _todo(units, skip, self.report(stage))
        if not todo:
            return todo
        task = self._task(stage, description)
        line = self._progress.tasks[task]
        self._progress.update(task, total=line.total + len(todo))
        if getattr(line, "finished_line", False):  # a plain log's stage got more units:
            line.finished_line = False  # its line at the new end is due again
        for unit in todo:
            self._order += 1
            if self.inline:
                self._queue.append((-priority, self._order, stage, unit, fn))
                continue
            self._submit(stage, unit, fn, priority)
        return todo

    def _submit(self, stage: str, unit: Unit, fn: Callable[[Any], Any], priority: int) -> None:
        future = self._open().submit(
            _call, fn, unit.payload, key=f"musclekit-{unit.id}-{time.time_ns()}",
            retries=self.cfg.retries, pure=False, priority=priority)
        self._futures[future] = (stage, unit.id)
        self._completed.add(future)

    def _maybe_start_workers(self) -> None:
        """While starting inline (`start_inline`): move the queued units to the workers once
        they would cost more here than the workers' start-up plus their share there."""
        done = self._inline_cpu_s
        if not (self.adaptive and self._queue and len(done) >= 2):
            return
        # The first unit also paid one-off costs (lazy imports, first loads) that a worker
        # would pay again: they count with the start-up, not per unit.
        per_unit = sum(done[1:]) / len(done[1:])
        start = self.startup_cpu_s + max(0.0, done[0] - per_unit)
        left = per_unit * len(self._queue)
        if left <= start + left / self.cfg.workers:
            return
        self.adaptive = self.inline = False
        queued, self._queue = sorted(self._queue, key=lambda item: item[:2]), []
        for neg_priority, _, stage, unit, fn in queued:
            self._submit(stage, unit, fn, -neg_priority)

    def pending(self) -> int:
        return len(self._queue) + len(self._futures)

    def finished(self) -> Iterator[Finished]:
        """Each submitted unit's outcome as it ends (recorded in its stage's report), until
        no unit is pending; units submitted meanwhile are waited for too."""
        while self.pending():
            if self.inline:
                self._queue.sort(key=lambda item: item[:2])
                _, _, stage, unit, fn = self._queue.pop(0)
                cpu = time.process_time()
                outcome = _call(fn, unit.payload)
                self._inline_cpu_s.append(time.process_time() - cpu)
                unit_id = unit.id
                self._maybe_start_workers()
            else:
                future = next(self._completed)
                stage, unit_id = self._futures.pop(future)
                try:
                    outcome = future.result()
                except Exception as err:  # noqa: BLE001 - e.g. KilledWorker after the retries
                    outcome = ("failed", f"worker lost: {type(err).__name__}: {err}", 0.0)
            _record(self.report(stage), unit_id, outcome)
            self.busy_seconds += outcome[2]
            self._progress.advance(self._tasks[stage])
            yield Finished(stage, unit_id, *outcome)


def run_units(
    units: Sequence[Unit],
    fn: Callable[[Any], Any],
    cfg: ComputeConfig | None = None,
    description: str = "working",
    skip: Callable[[Unit], bool] | None = None,
    on_result: Callable[[str, str, Any], None] | None = None,
) -> RunReport:
    """Run `fn(unit.payload)` for every unit not skipped; returns what happened to each.

    on_result(unit_id, status, value) is called in this process as each unit finishes
    (status "ok" or "failed"), e.g. to print a one-line verdict per clip.
    """
    cfg = cfg or ComputeConfig()
    report = RunReport()
    todo = _todo(units, skip, report)
    if not todo:
        return report
    with UnitPool(cfg, expected_units=len(todo)) as pool:
        pool.reports["units"] = report
        pool.submit_all("units", todo, fn, description=description)
        for done in pool.finished():
            if on_result is not None:
                on_result(done.unit_id, done.status, done.value)
    if report.failed and not pool.inline:
        console.print(f"[yellow]{len(report.failed)} of {len(todo)} units failed[/]")
    return report
