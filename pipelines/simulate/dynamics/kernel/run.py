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

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from musclekit.compute import Unit, run_units
from musclekit.dataset.atomic import file_sha256
from musclekit.dataset.writer import DatasetWriter
from musclekit.errors import ExitCode
from musclekit.pipelines.simulate.opensim_io import read_mot
from musclekit.progress import console

from ..config import DynamicsConfig
from ..payloads import ChunkTask, PrepTask
from .jobs import SequenceJob, find_jobs, unit_id
from .prep import PreparedModel, cache_key, check_model, path_fit_violations, prepare_model
from .result import load_report
from .worker import chunk_name, solve_chunk_unit
from .write import write_sequence


@dataclass
class DynamicsReport:
    """What a run did: chunk counts, sequences written, failures with reasons."""

    chunks_done: int = 0
    chunks_skipped: int = 0
    chunks_failed: dict[str, str] = field(default_factory=dict)
    sequences_written: list[str] = field(default_factory=list)
    # written with every row a gap: no chunk converged
    sequences_unsolved: list[str] = field(default_factory=list)
    sequences_skipped: list[str] = field(default_factory=list)
    chunk_seconds: list[float] = field(default_factory=list)
    upper_written: list[str] = field(default_factory=list)
    upper_skipped: list[str] = field(default_factory=list)
    upper_failed: dict[str, str] = field(default_factory=dict)

    def exit_code(self) -> ExitCode:
        return (ExitCode.PARTIAL if self.chunks_failed or self.upper_failed
                or self.sequences_unsolved else ExitCode.OK)

    def summary(self) -> str:
        timing = ""
        if self.chunk_seconds:
            median, p90 = np.percentile(self.chunk_seconds, [50, 90])
            timing = f"; solve time per chunk median {median:.1f} s, p90 {p90:.1f} s"
        upper = ""
        if self.upper_written or self.upper_skipped or self.upper_failed:
            upper = (f"; upper body: {len(self.upper_written)} written, "
                     f"{len(self.upper_skipped)} skipped, {len(self.upper_failed)} failed")
        return (f"chunks: {self.chunks_done} solved, {self.chunks_skipped} skipped (done before), "
                f"{len(self.chunks_failed)} failed{timing}; sequences written: "
                f"{len(self.sequences_written)}"
                + (f", {len(self.sequences_unsolved)} without any solved chunk (all rows "
                   "gaps)" if self.sequences_unsolved else "") + upper)


def _prep_unit(task: PrepTask) -> str:
    return str(prepare_model(task.model, task.cache, task.settings, task.motions))


def model_cache(root: Path, cfg: DynamicsConfig) -> Path:
    """Folder of prepared models (one subfolder per cache key)."""
    return Path(cfg.cache_dir) if cfg.cache_dir else root / "opensim" / "_dynamics_models"


def model_keys(jobs: list[SequenceJob], cfg: DynamicsConfig) -> dict[str, str]:
    """Per sequence, the cache key of its prepared model: one per model file, its polynomial
    paths fitted around the poses of every sequence that uses it."""
    model_of = {job.sequence.id: file_sha256(job.model_path) for job in jobs}
    motions: dict[str, list[Path]] = {}
    for job in jobs:
        motions.setdefault(model_of[job.sequence.id], []).append(job.motion_path)
    return {job.sequence.id: cache_key(job.model_path, cfg.prep, motions[model_of[job.sequence.id]])
            for job in jobs}


def prepare_models(root: Path, jobs: list[SequenceJob], cfg: DynamicsConfig,
                   ) -> tuple[Path, dict[str, str]]:
    """Check and prepare each distinct model of `jobs` (found in dataset `root`) once; a
    model already in the cache is skipped. Returns the cache folder and, per cache key
    whose preparation failed, why.
    """
    cache = model_cache(root, cfg)
    keys = model_keys(jobs, cfg)
    models: dict[str, tuple[Path, list[Path]]] = {}
    for job in jobs:
        key = keys[job.sequence.id]
        if key in models:
            models[key][1].append(job.motion_path)
        else:
            check_model(job.model_path, cfg.prep)
            models[key] = (job.model_path, [job.motion_path])
            if cfg.upper_model:
                from ..upper import check_upper_model

                check_upper_model(cfg.upper_model, _muscles(job.model_path),
                                  read_mot(job.motion_path).names, cfg.prep.feet)
    prep_units = [
        Unit(id=f"model-{key}", payload=PrepTask(model=str(m), cache=str(cache),
                                                 settings=cfg.prep, motions=[str(p) for p in mots]))
        for key, (m, mots) in models.items()
    ]
    prep_report = run_units(
        prep_units, _prep_unit, cfg.compute, description="preparing models",
        skip=lambda u: (cache / u.id[len("model-"):] / "prep.json").is_file(),
    )
    return cache, {uid[len("model-"):]: why for uid, why in prep_report.failed.items()}


def _settings_for(job: SequenceJob, cfg: DynamicsConfig) -> dict:
    """The method's settings for one sequence: its measured forces, where the method takes
    them (`grf_file` / `grf_setup` settings) and the sequence has them."""
    settings = asdict(cfg.solve)
    if job.grf_file is not None and "grf_file" in settings and not settings["grf_file"]:
        settings["grf_file"] = str(job.grf_file)
        if job.grf_setup is not None:
            settings["grf_setup"] = str(job.grf_setup)
    return settings


def _uncovered(prep_folder: Path, motion_path: Path) -> str:
    """Why a sequence cannot use a prepared model's polynomial muscle paths ("" when it can):
    outside the poses they were fitted around they extrapolate, silently wrong."""
    from musclekit.pipelines.simulate.opensim_io import rotational_coordinates

    prep = PreparedModel.load(prep_folder)
    if not prep.polynomial_paths:
        return ""
    import opensim as osim

    model = osim.Model(str(prep_folder / prep.model_path))
    motion = read_mot(motion_path, rotational=rotational_coordinates(model))
    bad = path_fit_violations(prep, motion)
    if not bad:
        return ""
    return (f"the polynomial muscle paths of {prep_folder} were fitted on other poses: "
            f"{'; '.join(bad[:4])} (rad); rerun with the default model cache (paths are "
            "refitted over every sequence) or --no-polynomial-paths")


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
    keys = model_keys(jobs, cfg)
    for job in jobs:
        key = keys[job.sequence.id]
        why = (f"model preparation failed: {prep_failed[key]}" if key in prep_failed
               else _uncovered(cache / key, job.motion_path))
        for chunk in job.chunks:
            task = ChunkTask(
                chunk=chunk, method=cfg.method, settings=_settings_for(job, cfg),
                prep_folder=str(cache / key), motion_path=str(job.motion_path),
                out_dir=str(job.out_dir), time_limit_s=cfg.chunk_time_limit_s,
                force_fail=chunk.id in cfg.fail_chunks or bool(why), fail_reason=why,
            )
            units.append(Unit(id=chunk.id, payload=task))

    def skip(unit: Unit) -> bool:
        rep = load_report(Path(unit.payload.out_dir), chunk_name(unit.payload.chunk))
        if rep is None:
            return False
        return rep.status == "converged" or not cfg.retry_failed

    writer = DatasetWriter.create_or_open(root)
    done_sequences = {j.sequence.id for j in jobs if writer.is_done(unit_id(j))}
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
        key = keys[job.sequence.id]
        if write_sequence(writer, job, reports, cfg, prep_failed, cache / key):
            report.sequences_written.append(job.sequence.id)
        else:
            report.sequences_unsolved.append(job.sequence.id)

    # 4. The upper body of every sequence whose lower body is written.
    if cfg.upper_model:
        from ..upper_stage import run_upper

        run_upper(root, writer, jobs, cfg, report)
    console.print(report.summary())
    for uid, why in sorted({**report.chunks_failed, **report.upper_failed}.items()):
        console.print(f"  [yellow]failed[/] {uid}: {why.splitlines()[0] if why else ''}")
    return report


def _muscles(model_path: Path) -> list[str]:
    import opensim as osim

    model = osim.Model(str(model_path))
    return [model.getMuscles().get(i).getName() for i in range(model.getMuscles().getSize())]
