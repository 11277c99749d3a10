"""The upper body after the lower body: one unit of work and one dataset unit per sequence,
submitted by the dynamics graph (stage/graph.py) when the sequence's lower body is written
(the static optimisation itself is upper.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from musclekit.compute import Finished, Unit
from musclekit.dataset import Provenance, SequenceInfo, StreamSpec, open_dataset
from musclekit.dataset.columns import Flag
from musclekit.dataset.writer import DatasetWriter
from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
from musclekit.pipelines.simulate.dynamics.stage.jobs import SequenceJob, unit_id
from musclekit.pipelines.simulate.dynamics.stage.payloads import UpperTask
from musclekit.pipelines.simulate.dynamics.upper import UpperResult, solve_upper
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

if TYPE_CHECKING:
    from musclekit.pipelines.simulate.dynamics.stage.report import DynamicsReport


# The upper body is a Dask unit and a dataset unit of its own per sequence, not part of the
# lower body's write step, because:
# - it only needs what the lower-body unit recorded (the written `grf` stream), so a dataset
#   solved earlier without --upper-model gets its upper body on a rerun with it, without
#   redoing a chunk, and a failed static optimisation never costs the lower-body results;
# - it loads an OpenSim model and solves every frame (seconds to minutes for a 322-strand
#   model): on Dask, sequences are solved in parallel and the OpenSim objects stay in the
#   worker, as for the chunks;
# - resuming is the same rule as everywhere: a sequence whose `dynamics-upper-<id>` record
#   exists is skipped.
UPPER_PREFIX = "dynamics-upper-"


def upper_unit_id(job: SequenceJob) -> str:
    return f"{UPPER_PREFIX}{job.sequence.id}"


def upper_task(task: UpperTask) -> tuple[np.ndarray, UpperResult]:
    """Dask task: one sequence's upper body, from the dataset's written ground forces.
    Returns the stream's own time column (written again as is) and the result."""
    ds = open_dataset(task.dataset)
    grf = ds.sequence_array("grf", task.sequence, channels=list(GRF_CHANNELS))
    missing = (grf.flags & np.uint8(Flag.MISSING)).astype(bool)
    result = solve_upper(
        task.model, task.motion, grf.time_s,
        np.asarray(grf.values, dtype=float), missing, task.lower_muscles,
        task.settings, Path(task.work),
    )
    return grf.time_s, result


def upper_units(root: Path, writer: DatasetWriter, jobs: list[SequenceJob], cfg: DynamicsConfig,
                report: DynamicsReport, lower_rewritten: bool = False) -> list[Unit]:
    """One unit per sequence of `jobs` whose lower body is written with ground forces and
    whose upper body is not (those written before go to `report.upper_skipped`), or, with
    `lower_rewritten` (this run wrote the lower body again: `--retry-failed` filled its
    gaps), is out of date."""
    if not cfg.upper_model:
        return []
    # The same filter and foot bodies as the lower-body solve.
    settings = replace(cfg.upper, filter_hz=cfg.solve.filter_hz, feet=dict(cfg.prep.feet))
    ds = open_dataset(root)
    lower = ds.info.streams.get("activations")
    with_grf = set(ds.sequence_ids("grf")) if "grf" in ds.info.streams else set()
    units = []
    for job in jobs:
        if not writer.is_done(unit_id(job)) or lower is None or job.sequence.id not in with_grf:
            # The lower body is not finished, or every chunk failed (no streams were written):
            # there are no ground forces to load the upper body with.
            continue
        if writer.is_done(upper_unit_id(job)) and not lower_rewritten:
            report.upper_skipped.append(job.sequence.id)
            continue
        units.append(Unit(id=upper_unit_id(job), payload=UpperTask(
            dataset=str(root), sequence=job.sequence.id, t0=job.t0,
            model=str(Path(cfg.upper_model).resolve()), motion=str(job.motion_path),
            lower_muscles=list(lower.channels), settings=settings,
            work=str(root / "opensim" / job.sequence.id / "dynamics" / "upper"),
        )))
    return units


def record_upper(root: Path, writer: DatasetWriter, jobs: dict[str, SequenceJob],
                 cfg: DynamicsConfig, report: DynamicsReport, done: Finished) -> None:
    """One upper-body unit ended (`jobs`: sequence id -> plan): write it, or record why it
    failed."""
    if done.status != "ok":
        report.upper_failed[done.unit_id] = done.value
        return
    job = jobs[done.unit_id[len(UPPER_PREFIX):]]
    time_s, result = done.value
    lower_extra = open_dataset(root).sequences[job.sequence.id].extra.get("dynamics", {})
    write_upper(writer, job, time_s, result, cfg, lower_extra)
    report.upper_written.append(job.sequence.id)


def write_upper(writer: DatasetWriter, job: SequenceJob, time_s: np.ndarray, result: UpperResult,
                cfg: DynamicsConfig, lower_extra: dict) -> None:
    """Write one sequence's upper body as its own unit (after the lower-body unit), on the
    lower-body streams' times `time_s` (seconds from the motion's start)."""
    desc = "musclekit simulate dynamics: upper body by static optimisation"
    writer.add_streams([
        StreamSpec(name="activations_upper", family="activations", rate_hz=cfg.output_rate_hz,
                   channels=list(result.muscles), clock="motion", description=desc),
        StreamSpec(name="muscle_forces_upper", family="muscle_forces", rate_hz=cfg.output_rate_hz,
                   channels=list(result.muscles), clock="motion", description=desc),
    ])
    seq = job.sequence
    # Sequence extras merge key by key across units: the lower body's "dynamics" record is
    # carried over so that adding "upper" does not replace it.
    info = SequenceInfo(
        id=seq.id, subject_id=seq.subject_id, source=seq.source, label=seq.label,
        start_time_ns=seq.start_time_ns,
        extra={"dynamics": {**lower_extra,
                            "upper": result.summary(str(Path(cfg.upper_model).resolve()))}},
    )
    flags = np.where(result.missing, np.uint8(Flag.MISSING), np.uint8(0)).astype(np.uint8)
    prov = Provenance.for_stage("simulate-dynamics-upper", config=cfg.to_dict(),
                                inputs=[str(cfg.upper_model), job.motion_path])
    with writer.unit(upper_unit_id(job), provenance=prov) as u:
        u.write_sequence("activations_upper", info, time_s=time_s, values=result.activations,
                         flags=flags)
        u.write_sequence("muscle_forces_upper", info, time_s=time_s, values=result.forces,
                         flags=flags)
