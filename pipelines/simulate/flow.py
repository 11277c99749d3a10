"""`musclekit simulate` as one graph of units on one cluster, each unit started as soon as
what it needs is done:

    IK(sequence) -> preparation(model) -> chunks(sequence) -> write(sequence) -> upper(sequence)

- IK: one unit per sequence (kinematics/run.py), written to the dataset by the unit itself.
- preparation: one unit per scaled model. Its polynomial muscle paths are fitted around the
  poses of every sequence that uses the model, so it waits for the IK of every sequence of
  that model's subject (a subject's sequences share one scaled model); not for any other
  subject's.
- chunks: one unit per chunk, submitted when its model is prepared (or found in the cache).
- write: in this process, when every chunk of the sequence has a report.
- upper (`--upper-model`): one unit per sequence when its lower body is written.

The dynamics side is `dynamics/stage/graph.py` (shared with `run_dynamics`), imported only
when the run goes past IK: `--until ik` starts without the dynamics stage, pandas or polars.
Later stages get a higher Dask priority, so a worker that frees up finishes work already
begun (a prepared model's chunks) before starting new IK; the workers stay busy while any
unit is ready. The units, their skip rules (resume after a kill), their payloads and the
writing are the staged ones (`run_kinematics`, then `run_dynamics`), so the outputs are the
same bytes; only the order of the work differs.

A model's preparation sees the sequences of its subject: sequences of different subjects
whose scaled models happen to be identical files are prepared separately here, where
`run_dynamics` on a dataset fits one model around all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musclekit.compute import ComputeConfig, Finished, RunReport, UnitPool
from musclekit.errors import InputError, MusclekitError
from musclekit.pipelines.simulate.kinematics.lab import LabInputs
from musclekit.pipelines.simulate.kinematics.run import (
    KINEMATICS_DESCRIPTION,
    KinematicsSource,
    kinematics_unit,
    kinematics_units,
)
from musclekit.pipelines.simulate.kinematics.sequence import KinematicsConfig
from musclekit.progress import console

if TYPE_CHECKING:  # the dynamics stage is imported only when a run goes past IK
    from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
    from musclekit.pipelines.simulate.dynamics.stage.graph import DynamicsGraph
    from musclekit.pipelines.simulate.dynamics.stage.report import DynamicsReport

KINEMATICS = "kinematics"
# Dask priority of IK: below every dynamics stage (stage/graph.py), so work already begun
# finishes first.
KINEMATICS_PRIORITY = 0


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


def check_dynamics_inputs(cfg: DynamicsConfig, sources: list[KinematicsSource],
                          model: Path, root: Path) -> None:
    """What the staged run refused after the IK of every sequence, refused before any work:
    unknown --sequences, a filter above a sequence's Nyquist frequency, a model the methods
    cannot use (the scaled models keep its muscles and bodies), an upper model that cannot
    serve it, a prepared-model cache that cannot be written."""
    from musclekit.pipelines.simulate.dynamics.kernel.prep import check_model
    from musclekit.pipelines.simulate.dynamics.stage.jobs import check_filter
    from musclekit.pipelines.simulate.dynamics.stage.run import check_cache

    cfg.validate()
    check_cache(root, cfg)
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
    if cfg.upper_model:  # against the model's muscles and coordinates (the IK's columns)
        from musclekit.pipelines.simulate.dynamics.upper import check_upper_model
        from musclekit.pipelines.simulate.kinematics.marker_checks import model_facts

        facts = model_facts(model)
        check_upper_model(cfg.upper_model, list(facts.muscle_names),
                          [c for c, _ in facts.coordinate_units], cfg.prep.feet)


def run_simulate(out: Path, sources: list[KinematicsSource], *, model_path: Path | None,
                 body_model: Path | None, kinematics: KinematicsConfig,
                 compute: ComputeConfig, dynamics: DynamicsConfig | None = None,
                 name: str | None = None, lab: LabInputs | None = None,
                 on_kinematics: Callable[[str, str, Any], None] | None = None,
                 on_kinematics_done: Callable[[RunReport], None] | None = None,
                 ) -> SimulateResult:
    """Kinematics of `sources` into dataset `out`, then (with `dynamics`) muscle-driven
    dynamics and the upper body, as one graph of units on one cluster (module docstring).
    Without `dynamics` (--until ik) the dynamics stage is not even imported.

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
    # --until ik with the default workers: sequences run in this process while they cost
    # less than starting the workers (compute.UnitPool, start_inline): the IK of a few
    # short trials never pays for a cluster.
    with UnitPool(compute, expected_units=todo if dynamics is None else None,
                  start_inline=dynamics is None) as pool:
        sent = pool.submit_all(KINEMATICS, units, kinematics_unit,
                               skip=lambda u: u.id in done_before,
                               priority=KINEMATICS_PRIORITY, description=KINEMATICS_DESCRIPTION)
        ik_out: dict[str, set[str]] = {}
        for unit in sent:
            ik_out.setdefault(subject_of[unit.id], set()).add(unit.id)
        graph = None
        if dynamics is not None:
            from musclekit.pipelines.simulate.dynamics.stage.graph import DynamicsGraph
            from musclekit.pipelines.simulate.dynamics.stage.jobs import sequence_jobs

            graph = DynamicsGraph(root, dynamics, pool, writer)
            graph.add(sequence_jobs(root, dynamics))  # kinematics from earlier runs
            for subject in sorted({j.sequence.subject_id for j in graph.jobs.values()}
                                  - set(ik_out)):
                graph.start(subject)
        if not sent and on_kinematics_done is not None:
            on_kinematics_done(pool.report(KINEMATICS))
        for done in pool.finished():
            if done.stage != KINEMATICS:
                graph.on_finished(done)
                continue
            _kinematics_done(done, graph, root, dynamics, ik_out, subject_of, on_kinematics)
            if not any(ik_out.values()) and on_kinematics_done is not None:
                on_kinematics_done(pool.report(KINEMATICS))
        result = SimulateResult(pool.report(KINEMATICS), None, pool.wall_seconds,
                                pool.busy_seconds, pool.workers)
    if graph is not None:
        from musclekit.pipelines.simulate.dynamics.stage.run import finish_report

        result.dynamics = graph.finish()
        finish_report(result.dynamics)
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
        from musclekit.pipelines.simulate.dynamics.stage.jobs import sequence_jobs

        seq_id = done.value["sequence_id"]
        try:
            graph.add(sequence_jobs(root, cfg, [seq_id]))
        except MusclekitError as err:  # e.g. an IK file gone: this sequence only
            graph.report.chunks_failed[seq_id] = f"not simulated: {err}"
    if not ik_out[subject]:
        graph.start(subject)
