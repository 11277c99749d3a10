"""The dynamics stage over a dataset: prepare models, solve chunks, stitch, write, then the
upper body; one graph of units on one cluster (stage/graph.py).

1. Sequences with kinematics (written by simulate part 1: `SequenceInfo.extra["opensim"]`
   with `scaled_model` and `ik_mot`, relative to the dataset root) are planned into chunks.
2. Each distinct scaled model is prepared once (one unit per model; cached on disk).
3. One unit per chunk, submitted when its model is prepared; each chunk's result is saved
   atomically under `<dataset>/opensim/<sequence>/dynamics/`, its report last. A rerun
   skips chunks with a report (failed ones too, unless `retry_failed`).
4. When every chunk of a sequence has a report, the sequence is stitched and written to the
   dataset as one unit (`dynamics-<sequence>`): streams activations, muscle_forces, grf,
   joint_angles_solved, residuals at 50 fps, and the per-chunk table `chunks`.
5. With an upper model (`upper_model`), each written sequence's upper body is solved by static
   optimisation with its ground forces (one unit per sequence, as soon as its lower body is
   written) and written as a unit of its own (`dynamics-upper-<sequence>`): streams
   activations_upper, muscle_forces_upper.
"""

from __future__ import annotations

from pathlib import Path

from musclekit.compute import UnitPool, run_units
from musclekit.dataset.writer import DatasetWriter
from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
from musclekit.pipelines.simulate.dynamics.stage.graph import DynamicsGraph
from musclekit.pipelines.simulate.dynamics.stage.jobs import SequenceJob, find_jobs
from musclekit.pipelines.simulate.dynamics.stage.report import DynamicsReport
from musclekit.pipelines.simulate.dynamics.stage.units import (
    _prep_unit,
    model_cache,
    prep_failures,
    prep_units,
    prepared,
)
from musclekit.progress import console


def check_cache(root: Path, cfg: DynamicsConfig) -> None:
    """Refuse a prepared-model cache that cannot be written, naming where it comes from."""
    from musclekit.config import check_writable
    from musclekit.pipelines.simulate.dynamics.kernel.model_cache import CACHE_ENV

    check_writable(model_cache(root, cfg),
                   f"the prepared-model cache (${CACHE_ENV}, default ~/.cache/musclekit)")


def prepare_models(root: Path, jobs: list[SequenceJob], cfg: DynamicsConfig,
                   ) -> tuple[Path, dict[str, str]]:
    """Check and prepare each distinct model of `jobs` (found in dataset `root`) once; a
    model already in the cache is skipped. Returns the cache folder and, per cache key
    whose preparation failed, why.
    """
    cache, units = prep_units(root, jobs, cfg)
    prep_report = run_units(units, _prep_unit, cfg.compute, description="preparing models",
                            skip=prepared(cache))
    return cache, prep_failures(prep_report)


def finish_report(report: DynamicsReport) -> None:
    """The run's summary and each failed unit with its reason."""
    console.print(report.summary())
    for line in report.contact_lines():
        console.print(line)
    for uid, why in sorted({**report.chunks_failed, **report.upper_failed}.items()):
        console.print(f"  [yellow]failed[/] {uid}: {why.splitlines()[0] if why else ''}")


def run_dynamics(dataset_path: str | Path, config: DynamicsConfig | None = None) -> DynamicsReport:
    """Solve muscle-driven dynamics for every sequence with kinematics in the dataset, as one
    graph of units on one cluster (stage/graph.py): each model prepared once around every
    sequence that uses it, each sequence's chunks as soon as its model is ready, its upper
    body as soon as it is written. Inputs are checked before any work (the models, the
    upper model, the filter against each sequence's rate, the prepared-model cache).

    Resumable: rerun the same call to continue; finished chunks and sequences are skipped.
    """
    cfg = config or DynamicsConfig()
    cfg.validate()
    root = Path(dataset_path)
    check_cache(root, cfg)
    jobs = find_jobs(root, cfg)
    prep_units(root, jobs, cfg)  # checks every model before any work
    writer = DatasetWriter.create_or_open(root)
    with UnitPool(cfg.compute) as pool:
        graph = DynamicsGraph(root, cfg, pool, writer, checked=True)
        graph.add(jobs)
        graph.start_all()
        for done in pool.finished():
            graph.on_finished(done)
    report = graph.finish()
    finish_report(report)
    return report
