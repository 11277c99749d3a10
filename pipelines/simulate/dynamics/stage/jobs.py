"""Which sequences of a dataset the dynamics stage solves, and their chunk plans."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from musclekit.dataset import SequenceInfo, open_dataset
from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk, plan_chunks
from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
from musclekit.pipelines.simulate.kinematics.record import KinematicsRecord
from musclekit.pipelines.simulate.opensim.files import read_mot


@dataclass
class SequenceJob:
    sequence: SequenceInfo
    model_path: Path
    motion_path: Path
    chunks: list[Chunk]
    t0: float
    t1: float
    out_dir: Path
    # Measured ground forces recorded by the kinematics stage (--grf, --grf-setup).
    grf_file: Path | None = None
    grf_setup: Path | None = None


def find_jobs(root: Path, cfg: DynamicsConfig) -> list[SequenceJob]:
    """Sequences with kinematics in the dataset (`cfg.sequences` only, when given), planned
    into chunks; none is an InputError that says to run the kinematics first."""
    jobs = sequence_jobs(root, cfg, cfg.sequences)
    if not jobs:
        raise InputError(
            f"no sequence in {root} has kinematics to simulate: run "
            "`musclekit simulate ... --until ik` first (part 1 writes the scaled model and "
            "IK motion per sequence)"
        )
    return jobs


def sequence_jobs(root: Path, cfg: DynamicsConfig,
                  wanted_ids: list[str] | None = None) -> list[SequenceJob]:
    """The chunk plans of the sequences of `wanted_ids` (every sequence with kinematics when
    None; then those without are left out), sorted by id. A wanted sequence not in the
    dataset or without kinematics, a missing file or a filter above the kinematics'
    Nyquist frequency is an InputError."""
    ds = open_dataset(root)
    jobs = []
    wanted = set(wanted_ids) if wanted_ids else None
    if wanted:
        unknown = sorted(wanted - set(ds.sequences))
        if unknown:
            raise InputError(f"sequences not in dataset {root}: {unknown}")
    for seq_id, seq in sorted(ds.sequences.items()):
        if wanted and seq_id not in wanted:
            continue
        record = KinematicsRecord.from_extra(seq_id, seq.extra)
        if record is None:
            if wanted:
                raise InputError(
                    f"sequence {seq_id} has no kinematics: run "
                    "`musclekit simulate ... --until ik` first"
                )
            continue
        model_path = record.path(root, "scaled_model")
        motion_path = record.path(root, "ik_mot")
        for what, p in (("scaled model", model_path), ("IK kinematics", motion_path)):
            if not p.is_file():
                raise InputError(
                    f"sequence {seq_id}: {what} file missing: {p}; rerun the kinematics "
                    "stage for it"
                )
        motion = read_mot(motion_path)
        check_filter(cfg, motion.rate_hz, f"sequence {seq_id}")
        chunks = plan_chunks(seq_id, motion.time_s, cfg.chunk)
        jobs.append(SequenceJob(
            sequence=seq, model_path=model_path, motion_path=motion_path, chunks=chunks,
            t0=float(motion.time_s[0]), t1=float(motion.time_s[-1]),
            out_dir=root / "opensim" / seq_id / "dynamics" / cfg.method,
            grf_file=record.path(root, "grf"), grf_setup=record.path(root, "grf_setup"),
        ))
    return jobs


def check_filter(cfg: DynamicsConfig, rate_hz: float, what: str) -> None:
    """The kinematics filter must lie below the Nyquist frequency of `what`'s frame rate."""
    if cfg.solve.filter_hz >= rate_hz / 2:
        raise InputError(
            f"{what}: --filter-hz {cfg.solve.filter_hz:g} is not below the "
            f"Nyquist frequency of its {rate_hz:g} Hz kinematics "
            f"({rate_hz / 2:g} Hz); choose a lower cut-off")


def unit_id(job: SequenceJob) -> str:
    """The dataset unit of one sequence's lower-body dynamics."""
    return f"dynamics-{job.sequence.id}"
