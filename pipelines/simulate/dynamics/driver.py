"""The dynamics stage over a dataset: prepare models, solve chunks on Dask, stitch, write.

1. Sequences with kinematics (written by simulate part 1: `SequenceInfo.extra["opensim"]`
   with `scaled_model` and `ik_mot`, relative to the dataset root) are planned into chunks.
2. Each distinct scaled model is prepared once (one Dask task per model; cached on disk).
3. One Dask task per chunk; each chunk's result is saved atomically under
   `<dataset>/opensim/<sequence>/dynamics/`, its report last. A rerun skips chunks with a
   report (failed ones too, unless `retry_failed`).
4. When every chunk of a sequence has a report, the sequence is stitched and written to the
   dataset as one unit (`dynamics-<sequence>`): streams activations, muscle_forces, grf,
   joint_angles_solved, residuals at 50 fps, and the per-chunk table `chunks`.
5. With an upper model (`upper_model`), each written sequence's upper body is solved by static
   optimisation with its ground forces (one Dask task per sequence) and written as a unit of
   its own (`dynamics-upper-<sequence>`): streams activations_upper, muscle_forces_upper.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from musclekit.compute import Unit, run_units
from musclekit.dataset import Provenance, SequenceInfo, StreamSpec, open_dataset
from musclekit.dataset.columns import Flag
from musclekit.dataset.writer import DatasetWriter
from musclekit.errors import ExitCode, InputError
from musclekit.progress import console

from .chunks import Chunk, plan_chunks
from .config import DynamicsConfig
from .grf import GRF_CHANNELS
from .motion import read_mot
from .prep import cache_key, check_model, prepare_model
from .result import STREAMS, ChunkReport, load_output, load_report
from .stitch import ChunkSeries, stitch
from .upper import UpperResult, UpperSettings, check_upper_model, solve_upper
from .worker import chunk_name, solve_chunk_unit

STREAM_FAMILY = {
    "activations": "activations",
    "muscle_forces": "muscle_forces",
    "grf": "grf",
    "joint_angles_solved": "joint_angles",
    "residuals": "residuals",
}


@dataclass
class SequenceJob:
    sequence: SequenceInfo
    model_path: Path
    motion_path: Path
    chunks: list[Chunk]
    t0: float
    t1: float
    out_dir: Path


@dataclass
class DynamicsReport:
    """What a run did: chunk counts, sequences written, failures with reasons."""

    chunks_done: int = 0
    chunks_skipped: int = 0
    chunks_failed: dict[str, str] = field(default_factory=dict)
    sequences_written: list[str] = field(default_factory=list)
    sequences_skipped: list[str] = field(default_factory=list)
    chunk_seconds: list[float] = field(default_factory=list)
    upper_written: list[str] = field(default_factory=list)
    upper_skipped: list[str] = field(default_factory=list)
    upper_failed: dict[str, str] = field(default_factory=dict)

    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if self.chunks_failed or self.upper_failed else ExitCode.OK

    def summary(self) -> str:
        t = sorted(self.chunk_seconds)
        timing = ""
        if t:
            timing = (f"; solve time per chunk median {t[len(t) // 2]:.1f} s, "
                      f"p90 {t[min(len(t) - 1, int(round(0.9 * (len(t) - 1))))]:.1f} s")
        upper = ""
        if self.upper_written or self.upper_skipped or self.upper_failed:
            upper = (f"; upper body: {len(self.upper_written)} written, "
                     f"{len(self.upper_skipped)} skipped, {len(self.upper_failed)} failed")
        return (f"chunks: {self.chunks_done} solved, {self.chunks_skipped} skipped (done before), "
                f"{len(self.chunks_failed)} failed{timing}; sequences written: "
                f"{len(self.sequences_written)}{upper}")


def find_jobs(root: Path, cfg: DynamicsConfig) -> list[SequenceJob]:
    """Sequences with kinematics in the dataset, planned into chunks."""
    ds = open_dataset(root)
    jobs = []
    wanted = set(cfg.sequences) if cfg.sequences else None
    if wanted:
        unknown = sorted(wanted - set(ds.sequences))
        if unknown:
            raise InputError(f"sequences not in dataset {root}: {unknown}")
    for seq_id, seq in sorted(ds.sequences.items()):
        if wanted and seq_id not in wanted:
            continue
        osim_info = seq.extra.get("opensim")
        if not osim_info:
            if wanted:
                raise InputError(
                    f"sequence {seq_id} has no kinematics (no extra['opensim']): run "
                    "`musclekit simulate ... --until ik` first"
                )
            continue
        for key in ("scaled_model", "ik_mot"):
            if key not in osim_info:
                raise InputError(f"sequence {seq_id}: extra['opensim'] lacks {key!r}")
        model_path = root / osim_info["scaled_model"]
        motion_path = root / osim_info["ik_mot"]
        for what, p in (("scaled model", model_path), ("IK kinematics", motion_path)):
            if not p.is_file():
                raise InputError(
                    f"sequence {seq_id}: {what} file missing: {p}; rerun the kinematics "
                    "stage for it"
                )
        motion = read_mot(motion_path)
        chunks = plan_chunks(seq_id, motion.time_s, cfg.chunk)
        jobs.append(SequenceJob(
            sequence=seq, model_path=model_path, motion_path=motion_path, chunks=chunks,
            t0=float(motion.time_s[0]), t1=float(motion.time_s[-1]),
            out_dir=root / "opensim" / seq_id / "dynamics" / cfg.method,
        ))
    if not jobs:
        raise InputError(
            f"no sequence in {root} has kinematics to simulate: run "
            "`musclekit simulate ... --until ik` first (part 1 writes the scaled model and "
            "IK motion per sequence)"
        )
    return jobs


def _prep_unit(payload: dict) -> str:
    return str(prepare_model(payload["model"], payload["cache"], payload["settings_obj"],
                             payload["motion"]))


def model_cache(root: Path, cfg: DynamicsConfig) -> Path:
    """Folder of prepared models (one subfolder per cache key)."""
    return Path(cfg.cache_dir) if cfg.cache_dir else root / "opensim" / "_dynamics_models"


def prepare_models(root: Path, jobs: list[SequenceJob], cfg: DynamicsConfig,
                   ) -> tuple[Path, dict[str, str]]:
    """Check and prepare each distinct model of `jobs` (found in dataset `root`) once; a
    model already in the cache is skipped. Returns the cache folder and, per cache key
    whose preparation failed, why.
    """
    cache = model_cache(root, cfg)
    models: dict[str, tuple[Path, Path]] = {}
    for job in jobs:
        key = cache_key(job.model_path, cfg.prep)
        if key not in models:
            check_model(job.model_path, cfg.prep)
            models[key] = (job.model_path, job.motion_path)
            if cfg.upper_model:
                check_upper_model(cfg.upper_model, _muscles(job.model_path),
                                  read_mot(job.motion_path).names, cfg.prep.feet)
    prep_units = [
        Unit(id=f"model-{key}", payload={"model": str(m), "cache": str(cache),
                                         "settings_obj": cfg.prep, "motion": str(mot)})
        for key, (m, mot) in models.items()
    ]
    prep_report = run_units(
        prep_units, _prep_unit, cfg.compute, description="preparing models",
        skip=lambda u: (cache / u.id[len("model-"):] / "prep.json").is_file(),
    )
    return cache, {uid[len("model-"):]: why for uid, why in prep_report.failed.items()}


def run_dynamics(dataset_path: str | Path, config: DynamicsConfig | None = None) -> DynamicsReport:
    """Solve muscle-driven dynamics for every sequence with kinematics in the dataset.

    Resumable: rerun the same call to continue; finished chunks and sequences are skipped.
    """
    cfg = config or DynamicsConfig()
    cfg.validate()
    root = Path(dataset_path)
    jobs = find_jobs(root, cfg)
    report = DynamicsReport()

    # 1. Models, once each (checked first so bad models fail before any Dask work).
    cache, prep_failed = prepare_models(root, jobs, cfg)

    # 2. Chunks.
    units = []
    for job in jobs:
        key = cache_key(job.model_path, cfg.prep)
        for chunk in job.chunks:
            payload = {
                "chunk": chunk.to_dict(), "method": cfg.method,
                "prep_folder": str(cache / key), "motion_path": str(job.motion_path),
                "solve": asdict(cfg.solve), "out_dir": str(job.out_dir),
                "time_limit_s": cfg.chunk_time_limit_s,
                "force_fail": chunk.id in cfg.fail_chunks or key in prep_failed,
            }
            units.append(Unit(id=chunk.id, payload=payload))

    def skip(unit: Unit) -> bool:
        rep = load_report(Path(unit.payload["out_dir"]), f"chunk{unit.payload['chunk']['index']:04d}")
        if rep is None:
            return False
        return rep.status == "converged" or not cfg.retry_failed

    writer = DatasetWriter.create_or_open(root)
    done_sequences = {j.sequence.id for j in jobs if writer.is_done(_unit_id(j))}
    todo_units = [u for u in units if u.id.split("/chunk")[0] not in done_sequences]
    run = run_units(todo_units, solve_chunk_unit, cfg.compute,
                    description=f"simulating chunks ({cfg.method})", skip=skip)
    report.chunks_skipped = len(run.skipped) + len(units) - len(todo_units)
    for uid, value in run.done.items():
        if value["status"] == "converged":
            report.chunks_done += 1
            report.chunk_seconds.append(value["solve_time_s"])
        else:
            report.chunks_failed[uid] = value["reason"]
    for uid, why in run.failed.items():
        report.chunks_failed[uid] = why

    # 3. Stitch and write each sequence whose chunks all have a report.
    for job in jobs:
        if job.sequence.id in done_sequences:
            report.sequences_skipped.append(job.sequence.id)
            continue
        reports = [load_report(job.out_dir, chunk_name(c)) for c in job.chunks]
        if any(r is None for r in reports):
            continue
        write_sequence(writer, job, reports, cfg, prep_failed)
        report.sequences_written.append(job.sequence.id)

    # 4. The upper body of every sequence whose lower body is written.
    if cfg.upper_model:
        run_upper(root, writer, jobs, cfg, report)
    console.print(report.summary())
    for uid, why in sorted({**report.chunks_failed, **report.upper_failed}.items()):
        console.print(f"  [yellow]failed[/] {uid}: {why.splitlines()[0] if why else ''}")
    return report


def _muscles(model_path: Path) -> list[str]:
    import opensim as osim

    model = osim.Model(str(model_path))
    return [model.getMuscles().get(i).getName() for i in range(model.getMuscles().getSize())]


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
def _upper_unit_id(job: SequenceJob) -> str:
    return f"dynamics-upper-{job.sequence.id}"


def _upper_task(payload: dict) -> tuple[np.ndarray, UpperResult]:
    """Dask task: one sequence's upper body, from the dataset's written ground forces.
    Returns the stream's own time column (written again as is) and the result."""
    ds = open_dataset(payload["dataset"])
    grf = ds.sequence_array("grf", payload["sequence"], channels=list(GRF_CHANNELS))
    missing = (grf.flags & np.uint8(Flag.MISSING)).astype(bool)
    result = solve_upper(
        payload["model"], payload["motion"], grf.time_s + payload["t0"],
        np.asarray(grf.values, dtype=float), missing, payload["lower_muscles"],
        UpperSettings(**payload["settings"]), Path(payload["work"]),
    )
    return grf.time_s, result


def run_upper(root: Path, writer: DatasetWriter, jobs: list[SequenceJob], cfg: DynamicsConfig,
              report: DynamicsReport) -> None:
    """Solve and write the upper body of every sequence whose lower body is written."""
    if not cfg.upper_model:
        return
    # The same filter and foot bodies as the lower-body solve.
    settings = replace(cfg.upper, filter_hz=cfg.solve.filter_hz, feet=dict(cfg.prep.feet))
    ds = open_dataset(root)
    lower = ds.info.streams.get("activations")
    with_grf = set(ds.sequence_ids("grf")) if "grf" in ds.info.streams else set()
    units = []
    for job in jobs:
        if not writer.is_done(_unit_id(job)) or lower is None or job.sequence.id not in with_grf:
            # The lower body is not finished, or every chunk failed (no streams were written):
            # there are no ground forces to load the upper body with.
            continue
        if writer.is_done(_upper_unit_id(job)):
            report.upper_skipped.append(job.sequence.id)
            continue
        units.append(Unit(id=_upper_unit_id(job), payload={
            "dataset": str(root), "sequence": job.sequence.id, "t0": job.t0,
            "model": str(Path(cfg.upper_model).resolve()), "motion": str(job.motion_path),
            "lower_muscles": list(lower.channels), "settings": asdict(settings),
            "work": str(root / "opensim" / job.sequence.id / "dynamics" / "upper"),
        }))
    if not units:
        return
    run = run_units(units, _upper_task, cfg.compute, description="upper body (static optimisation)")
    for uid, why in run.failed.items():
        report.upper_failed[uid] = why
    by_id = {_upper_unit_id(j): j for j in jobs}
    for uid, (time_s, result) in run.done.items():
        job = by_id[uid]
        write_upper(writer, job, time_s, result, cfg,
                    ds.sequences[job.sequence.id].extra.get("dynamics", {}))
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
    with writer.unit(_upper_unit_id(job), provenance=prov) as u:
        u.write_sequence("activations_upper", info, time_s=time_s, values=result.activations,
                         flags=flags)
        u.write_sequence("muscle_forces_upper", info, time_s=time_s, values=result.forces,
                         flags=flags)


def _unit_id(job: SequenceJob) -> str:
    return f"dynamics-{job.sequence.id}"


def write_sequence(writer: DatasetWriter, job: SequenceJob, reports: list[ChunkReport],
                   cfg: DynamicsConfig, prep_failed: dict) -> None:
    """Stitch one sequence's chunks and write its streams and chunk table as one unit."""
    outputs = [
        load_output(job.out_dir, chunk_name(c)) if r.status == "converged" else None
        for c, r in zip(job.chunks, reports, strict=True)
    ]
    template = next((o for o in outputs if o is not None), None)
    streams = []
    if template is not None:
        for name in STREAMS:
            units = template.units[name]
            spec_units = None if name in ("activations", "muscle_forces") else units
            streams.append(StreamSpec(
                name=name, family=STREAM_FAMILY[name], rate_hz=cfg.output_rate_hz,
                channels=list(template.channels[name]), units=spec_units, clock="motion",
                description=f"musclekit simulate dynamics ({cfg.method}), stitched chunks",
            ))
        writer.add_streams(streams)
    seq = job.sequence
    stitched_info: dict = {}
    prov = Provenance.for_stage("simulate-dynamics", config=cfg.to_dict(),
                                inputs=[job.model_path, job.motion_path])
    with writer.unit(_unit_id(job), provenance=prov) as u:
        if template is not None:
            for name in STREAMS:
                series = [
                    None if o is None else ChunkSeries(o.time_s, o.values[name]) for o in outputs
                ]
                st = stitch(job.chunks, series, job.t0, job.t1,
                            len(template.channels[name]), cfg.chunk, cfg.output_rate_hz)
                values = st.values
                if name == "activations":
                    values = np.clip(values, 0.0, 1.0)
                stitched_info = {"seams_s": [s - job.t0 for s in st.seams_s],
                                 "gaps_s": [[a - job.t0, b - job.t0] for a, b in st.gaps_s],
                                 "analysed_s": float((~st.missing).sum() / cfg.output_rate_hz),
                                 "analysed_share": float((~st.missing).mean())}
                info = SequenceInfo(
                    id=seq.id, subject_id=seq.subject_id, source=seq.source, label=seq.label,
                    start_time_ns=seq.start_time_ns,
                    extra={"dynamics": {"method": cfg.method, **stitched_info}},
                )
                u.write_sequence(name, info, time_s=st.time_s - job.t0, values=values)
        rows = []
        for c, r in zip(job.chunks, reports, strict=True):
            row = asdict(r)
            row["extra"] = json.dumps(row["extra"])[:4000]
            row["chunk_id"] = c.id
            rows.append(row)
        u.write_table("chunks", pd.DataFrame(rows))
