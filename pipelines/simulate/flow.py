"""`musclekit simulate` as one graph of units on one cluster, each unit started as soon as
what it needs is done:

    IK(sequence) -> preparation(model) -> chunks(sequence) -> write(sequence)

- IK: one unit per sequence (kinematics/run.py), written to the dataset by the unit itself.
- preparation: one unit per scaled model (dynamics/stage/run.py). Its polynomial muscle
  paths are fitted around the poses of every sequence that uses the model, so it waits for
  the IK of every sequence of that model's subject (a subject's sequences share one scaled
  model); not for any other subject's.
- chunks: one unit per chunk, submitted when its model is prepared (or found in the cache).
- write: in this process, when every chunk of the sequence has a report.

Later stages get a higher Dask priority, so a worker that frees up finishes work already
begun (a prepared model's chunks) before starting new IK; the workers stay busy while any
unit is ready. The units, their skip rules (resume after a kill), their payloads and the
writing are the staged ones (`run_kinematics`, then `run_dynamics`), so the outputs are the
same bytes; only the order of the work differs.

A model's preparation sees the sequences of its subject: sequences of different subjects
whose scaled models happen to be identical files are prepared separately here, where the
staged `run_dynamics` fits one model around all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musclekit.compute import ComputeConfig, Finished, RunReport, UnitPool
from musclekit.dataset.atomic import file_sha256
from musclekit.dataset.writer import DatasetWriter
from musclekit.errors import InputError, MusclekitError
from musclekit.pipelines.simulate.dynamics.kernel.prep import check_model
from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
from musclekit.pipelines.simulate.dynamics.stage.jobs import (
    SequenceJob,
    check_filter,
    sequence_jobs,
    unit_id,
)
from musclekit.pipelines.simulate.dynamics.stage.report import DynamicsReport
from musclekit.pipelines.simulate.dynamics.stage.run import (
    _prep_unit,
    chunk_units,
    count_chunks,
    finish_report,
    model_cache,
    model_keys,
    prep_failures,
    prep_units,
    prepared,
    solved_before,
    write_if_solved,
)
from musclekit.pipelines.simulate.dynamics.stage.worker import solve_chunk_unit
from musclekit.pipelines.simulate.kinematics.lab import LabInputs
from musclekit.pipelines.simulate.kinematics.run import (
    KINEMATICS_DESCRIPTION,
    KinematicsSource,
    kinematics_unit,
    kinematics_units,
)
from musclekit.pipelines.simulate.kinematics.sequence import KinematicsConfig
from musclekit.progress import console

KINEMATICS, PREPARATION, CHUNKS = "kinematics", "preparation", "chunks"
# Dask priorities: work already begun first (see the module docstring).
PRIORITY = {KINEMATICS: 0, CHUNKS: 1, PREPARATION: 2}


@dataclass
class SimulateResult:
    """What one `simulate` run did, stage by stage, and how busy its workers were."""

    kinematics: RunReport
    dynamics: DynamicsReport | None
    wall_s: float
    busy_s: float
    workers: int

    @property
    def idle_share(self) -> float:
        """Share of the workers' time (workers x wall) not spent in any unit."""
        capacity = self.workers * self.wall_s
        return max(0.0, 1.0 - self.busy_s / capacity) if capacity > 0 else 0.0

    def compute_line(self) -> str:
        return (f"compute: {self.workers} worker(s), {self.wall_s:.0f} s, busy in units "
                f"{self.busy_s:.0f} s, idle {100 * self.idle_share:.0f} %")


@dataclass
class DynamicsGraph:
    """The dynamics side of the graph: which sequences wait for which model, and which
    chunks are still out; writes each sequence when its last chunk is in."""

    root: Path
    cfg: DynamicsConfig
    pool: UnitPool
    writer: DatasetWriter
    report: DynamicsReport = field(default_factory=DynamicsReport)
    jobs: dict[str, SequenceJob] = field(default_factory=dict)  # sequence id -> plan
    keys: dict[str, str] = field(default_factory=dict)  # sequence id -> prepared model key
    prep_failed: dict[str, str] = field(default_factory=dict)  # model key -> why
    waiting: dict[str, list[SequenceJob]] = field(default_factory=dict)  # key -> sequences
    chunks_out: dict[str, int] = field(default_factory=dict)  # sequence id -> chunks running
    preparing: set[str] = field(default_factory=set)  # model keys being prepared
    ready: set[str] = field(default_factory=set)  # model keys prepared (or failed)
    _hash: dict[str, str] = field(default_factory=dict)  # sequence id -> scaled model sha256

    def __post_init__(self) -> None:
        self.cache = model_cache(self.root, self.cfg)
        self.wanted = set(self.cfg.sequences) if self.cfg.sequences else None

    def add(self, jobs: list[SequenceJob]) -> None:
        """Sequences whose kinematics are in the dataset (this run's or an earlier one's)."""
        for job in jobs:
            if self.wanted is None or job.sequence.id in self.wanted:
                self.jobs[job.sequence.id] = job
                self._hash[job.sequence.id] = file_sha256(job.model_path)

    def start(self, subject: str) -> None:
        """Every sequence of `subject` has its kinematics (or failed them): prepare its
        models, around all their sequences' poses, then solve each sequence's chunks."""
        mine = [j for j in self.jobs.values()
                if j.sequence.subject_id == subject and j.sequence.id not in self.keys]
        for model_hash in sorted({self._hash[j.sequence.id] for j in mine}):
            # Every sequence of this model known so far (earlier runs' too), as the staged
            # run's model_keys sees them, so the cache key and the fit are the same.
            same = [j for j in self.jobs.values()
                    if self._hash[j.sequence.id] == model_hash
                    and (j.sequence.subject_id == subject or j.sequence.id in self.keys)]
            self._prepare([j for j in same if j.sequence.id not in self.keys], same)

    def _prepare(self, new: list[SequenceJob], same: list[SequenceJob]) -> None:
        keys = model_keys(same, self.cfg)
        key = keys[new[0].sequence.id]
        for job in new:
            self.keys[job.sequence.id] = key
        self.waiting.setdefault(key, []).extend(new)
        if key in self.ready:
            self._solve(key)
            return
        if key in self.preparing:
            return  # its preparation is out: the chunks follow it
        self.preparing.add(key)
        try:
            _, units = prep_units(self.root, same, self.cfg, keys)
        except MusclekitError as err:  # a model the methods cannot use: its chunks fail
            self.prep_failed[key] = str(err)
            self._solve(key)
            return
        if not self.pool.submit_all(PREPARATION, units, _prep_unit, skip=prepared(self.cache),
                                    priority=PRIORITY[PREPARATION],
                                    description="preparing models"):
            self._solve(key)  # prepared by an earlier run

    def on_prepared(self, done: Finished) -> None:
        key = done.unit_id[len("model-"):]
        self.prep_failed.update(prep_failures(self.pool.report(PREPARATION)))
        self._solve(key)

    def _solve(self, key: str) -> None:
        """Submit the chunks of the sequences waiting for model `key` (prepared or failed);
        a sequence with none left to solve is written at once."""
        self.preparing.discard(key)
        self.ready.add(key)
        for job in self.waiting.pop(key, []):
            if self.writer.is_done(unit_id(job)):
                self.report.sequences_skipped.append(job.sequence.id)
                self.report.chunks_skipped += len(job.chunks)
                continue
            units = chunk_units([job], self.cfg, self.cache, self.keys, self.prep_failed)
            sent = self.pool.submit_all(CHUNKS, units, solve_chunk_unit,
                                        skip=solved_before(self.cfg), priority=PRIORITY[CHUNKS],
                                        description=f"simulating chunks ({self.cfg.method})")
            self.chunks_out[job.sequence.id] = len(sent)
            if not sent:
                self._write(job)

    def on_chunk(self, done: Finished) -> None:
        seq_id = done.unit_id.split("/chunk")[0]
        self.chunks_out[seq_id] -= 1
        if self.chunks_out[seq_id] == 0:
            self._write(self.jobs[seq_id])

    def _write(self, job: SequenceJob) -> None:
        write_if_solved(self.writer, job, self.cfg, self.cache, self.keys[job.sequence.id],
                        self.prep_failed, self.report)

    def finish(self) -> DynamicsReport:
        """Count the chunks, then solve the upper body (a stage after the lower body)."""
        count_chunks(self.report, self.pool.report(CHUNKS))  # adds the chunks skipped
        if self.cfg.upper_model:
            from musclekit.pipelines.simulate.dynamics.stage.upper import run_upper

            jobs = [self.jobs[s] for s in sorted(self.jobs)]
            run_upper(self.root, self.writer, jobs, self.cfg, self.report)
        return self.report


def check_dynamics_inputs(cfg: DynamicsConfig, sources: list[KinematicsSource],
                          model: Path, root: Path) -> None:
    """What the staged run refused after the IK of every sequence, refused before any work:
    unknown --sequences, a filter above a sequence's Nyquist frequency, a model the methods
    cannot use (the scaled models keep its muscles and bodies), a prepared-model cache that
    cannot be written."""
    from musclekit.config import check_writable
    from musclekit.pipelines.simulate.dynamics.kernel.model_cache import CACHE_ENV

    cfg.validate()
    check_writable(model_cache(root, cfg),
                   f"the prepared-model cache (${CACHE_ENV}, default ~/.cache/musclekit)")
    if cfg.sequences:
        from musclekit.dataset import open_dataset

        known = {s.sequence_id for s in sources} | set(open_dataset(root).sequences)
        unknown = sorted(set(cfg.sequences) - known)
        if unknown:
            raise InputError(f"sequences not in dataset {root} nor in the input: {unknown}")
    for src in sources:
        if src.rate_hz == src.rate_hz:  # known (not NaN)
            check_filter(cfg, src.rate_hz, f"sequence {src.sequence_id}")
    check_model(model, cfg.prep)


def run_simulate(out: Path, sources: list[KinematicsSource], *, model_path: Path | None,
                 body_model: Path | None, kinematics: KinematicsConfig,
                 compute: ComputeConfig, dynamics: DynamicsConfig | None = None,
                 name: str | None = None, lab: LabInputs | None = None,
                 on_kinematics: Callable[[str, str, Any], None] | None = None,
                 on_kinematics_done: Callable[[RunReport], None] | None = None,
                 ) -> SimulateResult:
    """Kinematics of `sources` into dataset `out`, then (with `dynamics`) muscle-driven
    dynamics, as one graph of units on one cluster (module docstring).

    on_kinematics(unit_id, status, value): as each sequence's kinematics end.
    on_kinematics_done(report): once, when the last sequence's kinematics end (the dynamics
        of the others may still run).
    """
    from musclekit.pipelines.simulate.opensim.model import default_model_path

    writer, units = kinematics_units(out, sources, model_path=model_path,
                                     body_model=body_model, config=kinematics, name=name,
                                     lab=lab)
    root = Path(out)
    if dynamics is not None:
        check_dynamics_inputs(dynamics, sources, Path(model_path or default_model_path()), root)
    done_before = {u.id for u in units if writer.is_done(u.id)}
    subject_of = {u.id: u.payload["subject_id"] for u in units}
    todo = len(units) - len(done_before)
    # --until ik: one unit with the default workers runs in this process (no cluster).
    with UnitPool(compute, expected_units=todo if dynamics is None else None) as pool:
        sent = pool.submit_all(KINEMATICS, units, kinematics_unit,
                               skip=lambda u: u.id in done_before,
                               priority=PRIORITY[KINEMATICS], description=KINEMATICS_DESCRIPTION)
        ik_out: dict[str, set[str]] = {}
        for unit in sent:
            ik_out.setdefault(subject_of[unit.id], set()).add(unit.id)
        graph = None
        if dynamics is not None:
            graph = DynamicsGraph(root, dynamics, pool, writer)
            graph.add(sequence_jobs(root, dynamics))  # kinematics from earlier runs
            for subject in sorted({j.sequence.subject_id for j in graph.jobs.values()}
                                  - set(ik_out)):
                graph.start(subject)
        if not sent and on_kinematics_done is not None:
            on_kinematics_done(pool.report(KINEMATICS))
        for done in pool.finished():
            if done.stage == KINEMATICS:
                _kinematics_done(done, graph, root, dynamics, ik_out, subject_of,
                                 on_kinematics)
                if not any(ik_out.values()) and on_kinematics_done is not None:
                    on_kinematics_done(pool.report(KINEMATICS))
            elif done.stage == PREPARATION:
                graph.on_prepared(done)
            else:
                graph.on_chunk(done)
        result = SimulateResult(pool.report(KINEMATICS), None, pool.wall_seconds,
                                pool.busy_seconds, pool.workers)
    # After the pool's cluster is gone: the upper body (--upper-model) still runs as a stage
    # of its own, on a cluster of its own (stage/upper.py).
    report = graph.finish() if graph is not None else None
    result.dynamics = report
    if report is not None:
        finish_report(report)
    console.print(result.compute_line())
    return result


def _kinematics_done(done: Finished, graph: DynamicsGraph | None, root: Path,
                     cfg: DynamicsConfig | None, ik_out: dict[str, set[str]],
                     subject_of: dict[str, str], on_kinematics) -> None:
    if on_kinematics is not None:
        on_kinematics(done.unit_id, done.status, done.value)
    subject = subject_of[done.unit_id]
    ik_out[subject].discard(done.unit_id)
    if graph is None:
        return
    if done.status == "ok":
        seq_id = done.value["sequence_id"]
        try:
            graph.add(sequence_jobs(root, cfg, [seq_id]))
        except MusclekitError as err:  # e.g. an IK file gone: this sequence only
            graph.report.chunks_failed[seq_id] = f"not simulated: {err}"
    if not ik_out[subject]:
        graph.start(subject)
