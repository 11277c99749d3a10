"""The dynamics units as a graph on one `compute.UnitPool`: preparation(model) ->
chunks(sequence) -> write(sequence) -> upper body(sequence), each unit submitted as soon as
what it needs is done.

Two drivers use it: `musclekit simulate` (pipelines/simulate/flow.py), which adds each
sequence when its IK is done and prepares a subject's models when every sequence of that
subject has its kinematics, and `run_dynamics` (stage/run.py) on a dataset whose kinematics
are all there, which prepares each model once around every sequence that uses it. The units,
their skip rules (resume after a kill), payloads and writing are the same in both, so are
the bytes; only the order of the work differs.

- preparation: one unit per prepared-model key (`model-<key>`), skipped when the cache holds it.
- chunks: one unit per chunk, when its model is prepared (or its preparation failed: the
  chunks then become failed reports, gaps).
- write: in this process, when every chunk of the sequence has a report.
- upper body (`--upper-model`): one unit per sequence when its lower body is written (this
  run or an earlier one), solved from the written ground forces and written as a unit of its
  own (stage/upper.py).

Later stages get a higher Dask priority, so a worker that frees up finishes work already
begun before starting new work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from musclekit.compute import Finished, UnitPool
from musclekit.dataset.atomic import file_sha256
from musclekit.dataset.writer import DatasetWriter
from musclekit.errors import MusclekitError
from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
from musclekit.pipelines.simulate.dynamics.stage.jobs import SequenceJob, unit_id
from musclekit.pipelines.simulate.dynamics.stage.report import DynamicsReport
from musclekit.pipelines.simulate.dynamics.stage.units import (
    _prep_unit,
    chunk_units,
    count_chunks,
    model_cache,
    model_keys,
    prep_failures,
    prep_units,
    prepared,
    solved_before,
    write_if_solved,
)
from musclekit.pipelines.simulate.dynamics.stage.worker import solve_chunk_unit

PREPARATION, CHUNKS, UPPER = "preparation", "chunks", "upper body"
# Dask priorities (module docstring); simulate's IK units run at 0.
PRIORITY = {CHUNKS: 1, PREPARATION: 2, UPPER: 3}


@dataclass
class DynamicsGraph:
    """The dynamics side of the graph: which sequences wait for which model, and which
    chunks are still out; writes each sequence when its last chunk is in, then submits its
    upper body."""

    root: Path
    cfg: DynamicsConfig
    pool: UnitPool
    writer: DatasetWriter
    # The models were checked before any work (run_dynamics): not checked again per model.
    checked: bool = False
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

    def start_all(self) -> None:
        """Every sequence is known (a dataset's kinematics): prepare each model once, around
        the poses of every sequence that uses it, whatever their subjects."""
        for model_hash in sorted(set(self._hash.values())):
            same = [j for j in self.jobs.values() if self._hash[j.sequence.id] == model_hash]
            self._prepare(same, same)

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
            # The upper model was checked before any work by the driver: a bad one must not
            # cost the lower body.
            _, units = prep_units(self.root, same, self.cfg, keys, check=not self.checked,
                                  check_upper=False)
        except MusclekitError as err:  # a model the methods cannot use: its chunks fail
            self.prep_failed[key] = str(err)
            self._solve(key)
            return
        if not self.pool.submit_all(PREPARATION, units, _prep_unit, skip=prepared(self.cache),
                                    priority=PRIORITY[PREPARATION],
                                    description="preparing models"):
            self._solve(key)  # prepared by an earlier run

    def on_finished(self, done: Finished) -> None:
        """A unit of one of this graph's stages ended: submit what it was waited for by."""
        {PREPARATION: self.on_prepared, CHUNKS: self.on_chunk,
         UPPER: self.on_upper}[done.stage](done)

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
            units = None
            done = self.writer.is_done(unit_id(job))
            if done and self.cfg.retry_failed:
                # A sequence written with gaps (failed chunks) is solved and written again
                # under --retry-failed; before, its being written hid the failed chunks.
                units = chunk_units([job], self.cfg, self.cache, self.keys, self.prep_failed)
                done = all(solved_before(self.cfg)(u) for u in units)
            if done:
                self.report.sequences_skipped.append(job.sequence.id)
                self.report.chunks_skipped += len(job.chunks)
                self._upper(job)  # a lower body written earlier may lack its upper body
                continue
            if units is None:
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
        if write_if_solved(self.writer, job, self.cfg, self.cache, self.keys[job.sequence.id],
                           self.prep_failed, self.report):
            # Written by this run: an upper body written before belongs to the old lower
            # body (the one `--retry-failed` just filled in) and is redone.
            self._upper(job, lower_rewritten=True)

    def _upper(self, job: SequenceJob, lower_rewritten: bool = False) -> None:
        """Submit the upper body of `job` (--upper-model), whose lower body is written."""
        if not self.cfg.upper_model:
            return
        from musclekit.pipelines.simulate.dynamics.stage.upper import upper_task, upper_units

        units = upper_units(self.root, self.writer, [job], self.cfg, self.report,
                            lower_rewritten)
        self.pool.submit_all(UPPER, units, upper_task, priority=PRIORITY[UPPER],
                             description="upper body (static optimisation)")

    def on_upper(self, done: Finished) -> None:
        from musclekit.pipelines.simulate.dynamics.stage.upper import record_upper

        record_upper(self.root, self.writer, self.jobs, self.cfg, self.report, done)

    def finish(self) -> DynamicsReport:
        """Count the chunks (those skipped too)."""
        count_chunks(self.report, self.pool.report(CHUNKS))
        return self.report
