"""The units of the dynamics stage, whoever drives them (stage/graph.py): model preparation
(one per prepared-model key, cached on disk), chunks (one per chunk, each result saved
atomically under `<dataset>/opensim/<sequence>/dynamics/`, its report last), their skip
rules (a rerun skips prepared models and chunks with a report, failed ones too unless
`retry_failed`), and the write of a sequence whose chunks all have a report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from musclekit.compute import Unit
from musclekit.dataset.atomic import file_sha256
from musclekit.dataset.writer import DatasetWriter
from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk
from musclekit.pipelines.simulate.dynamics.kernel.model_cache import (
    default_cache_dir,
    entry_complete,
)
from musclekit.pipelines.simulate.dynamics.kernel.prep import (
    PreparedModel,
    cache_key,
    check_model,
    path_fit_violations,
    prepare_model,
)
from musclekit.pipelines.simulate.dynamics.kernel.result import load_report
from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings
from musclekit.pipelines.simulate.dynamics.methods import get_method
from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
from musclekit.pipelines.simulate.dynamics.stage.jobs import SequenceJob
from musclekit.pipelines.simulate.dynamics.stage.payloads import ChunkTask, PrepTask
from musclekit.pipelines.simulate.dynamics.stage.report import DynamicsReport
from musclekit.pipelines.simulate.dynamics.stage.worker import chunk_name
from musclekit.pipelines.simulate.dynamics.stage.write import write_sequence
from musclekit.pipelines.simulate.opensim.files import read_mot


def _prep_unit(task: PrepTask) -> str:
    edit = get_method(task.settings.method).edit_model if task.settings.add_foot_contact else None
    return str(prepare_model(task.model, task.cache, task.settings, task.motions, edit_model=edit))


def model_cache(root: Path, cfg: DynamicsConfig) -> Path:
    """Folder of prepared models (one subfolder per content key, kernel/model_cache.py):
    `cfg.cache_dir`, else the user's cache shared by every run and dataset
    ($MUSCLEKIT_MODEL_CACHE, else ~/.cache/musclekit/prepared-models)."""
    return Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()


def model_keys(jobs: list[SequenceJob], cfg: DynamicsConfig) -> dict[str, str]:
    """Per sequence, the cache key of its prepared model: one per model file, its polynomial
    paths fitted around the poses of every sequence that uses it."""
    model_of = {job.sequence.id: file_sha256(job.model_path) for job in jobs}
    motions: dict[str, list[Path]] = {}
    for job in jobs:
        motions.setdefault(model_of[job.sequence.id], []).append(job.motion_path)
    return {job.sequence.id: cache_key(job.model_path, cfg.prep, motions[model_of[job.sequence.id]])
            for job in jobs}


def prep_units(root: Path, jobs: list[SequenceJob], cfg: DynamicsConfig,
               keys: dict[str, str] | None = None, check: bool = True,
               check_upper: bool | None = None) -> tuple[Path, list[Unit]]:
    """Check each distinct model of `jobs` (found in dataset `root`; `check=False`: checked
    before already), and the upper model against it (`check_upper`, default `check`);
    returns the cache folder and one preparation unit per model (id `model-<cache key>`).
    `keys`: the cache key per sequence (`model_keys`), when the caller has them."""
    check_upper = check if check_upper is None else check_upper
    cache = model_cache(root, cfg)
    keys = keys if keys is not None else model_keys(jobs, cfg)
    models: dict[str, tuple[Path, list[Path]]] = {}
    for job in jobs:
        key = keys[job.sequence.id]
        if key in models:
            models[key][1].append(job.motion_path)
        else:
            models[key] = (job.model_path, [job.motion_path])
            if check:
                check_model(job.model_path, cfg.prep)
            if check_upper and cfg.upper_model:
                from musclekit.pipelines.simulate.dynamics.upper import check_upper_model

                check_upper_model(cfg.upper_model, _muscles(job.model_path),
                                  read_mot(job.motion_path).names, cfg.prep.feet)
    units = [
        Unit(id=f"model-{key}", payload=PrepTask(model=str(m), cache=str(cache),
                                                 settings=cfg.prep, motions=[str(p) for p in mots]))
        for key, (m, mots) in models.items()
    ]
    return cache, units


def prepared(cache: Path):
    """The skip rule of preparation units: the model is in the cache, whole."""
    return lambda u: entry_complete(cache / u.id[len("model-"):])


def prep_failures(run) -> dict[str, str]:
    """Per cache key whose preparation failed (a RunReport of preparation units), why."""
    return {uid[len("model-"):]: why for uid, why in run.failed.items()}


def _settings_for(job: SequenceJob, cfg: DynamicsConfig) -> SolveSettings:
    """The method's settings for one sequence, with its declared inputs: measured forces
    where the method takes them (`grf_file` / `grf_setup`) and the sequence has them, the
    folder of the method it warm-starts from (`warm_start_dir`)."""
    settings = replace(cfg.solve)
    if job.grf_file is not None and hasattr(settings, "grf_file") and not settings.grf_file:
        settings.grf_file = str(job.grf_file)
        if job.grf_setup is not None:
            settings.grf_setup = str(job.grf_setup)
    source = get_method(cfg.method).warm_start_from
    if source and hasattr(settings, "warm_start_dir") and not settings.warm_start_dir:
        settings.warm_start_dir = str(job.out_dir.parent / source)
    if getattr(settings, "track_grf", None) == "measured" and not (settings.grf_file
                                                                  or settings.grf_setup):
        raise InputError(f"--track-grf measured needs force plates, and sequence "
                         f"{job.sequence.id} has none: pass the lab's forces with --grf FILE "
                         "(and --grf-setup XML) or a --c3d with force plates, or use "
                         "--track-grf estimated")
    return settings


def unsolvable(chunk: Chunk, sequence_reason: str) -> str:
    """Why `chunk` is not to be solved ("" to solve it): its sequence's reason (failed model
    preparation, poses outside the fitted paths). Tests replace this to fail chosen chunks."""
    return sequence_reason


def _uncovered(prep_folder: Path, motion_path: Path) -> str:
    """Why a sequence cannot use a prepared model's polynomial muscle paths ("" when it can):
    outside the poses they were fitted around they extrapolate, silently wrong."""
    from musclekit.pipelines.simulate.opensim.files import rotational_coordinates

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


def chunk_units(jobs: list[SequenceJob], cfg: DynamicsConfig, cache: Path,
                keys: dict[str, str], prep_failed: dict[str, str]) -> list[Unit]:
    """One unit per chunk of `jobs`, on the prepared model of its sequence (`cache` / its
    key); a sequence whose preparation failed, or whose poses its model's paths do not
    cover, has its chunks made unsolvable (failed reports, gaps), not dropped."""
    units = []
    for job in jobs:
        key = keys[job.sequence.id]
        why = (f"model preparation failed: {prep_failed[key]}" if key in prep_failed
               else _uncovered(cache / key, job.motion_path))
        for chunk in job.chunks:
            task = ChunkTask(
                chunk=chunk, method=cfg.method, settings=_settings_for(job, cfg),
                prep_folder=str(cache / key), motion_path=str(job.motion_path),
                out_dir=str(job.out_dir), time_limit_s=cfg.chunk_time_limit_s,
                unsolvable=unsolvable(chunk, why),
            )
            units.append(Unit(id=chunk.id, payload=task))
    return units


def solved_before(cfg: DynamicsConfig):
    """The skip rule of chunk units: a saved report, converged (or any, unless
    `retry_failed`)."""
    def skip(unit: Unit) -> bool:
        rep = load_report(Path(unit.payload.out_dir), chunk_name(unit.payload.chunk))
        if rep is None:
            return False
        return rep.status == "converged" or not cfg.retry_failed
    return skip


def count_chunks(report: DynamicsReport, run) -> None:
    """Add a RunReport of chunk units to `report`: a unit that ran returns a chunk report,
    converged or failed with its reason; a unit that raised (or lost its worker) failed."""
    report.chunks_skipped += len(run.skipped)
    for uid, chunk_report in run.done.items():
        if chunk_report.status == "converged":
            report.chunks_done += 1
            report.chunk_seconds.append(chunk_report.solve_time_s)
            if chunk_report.diagnostics.grf_vs_estimate:  # track
                report.contact_agreement[uid] = chunk_report.diagnostics.grf_vs_estimate
        else:
            report.chunks_failed[uid] = chunk_report.reason
    for uid, why in run.failed.items():
        report.chunks_failed[uid] = why


def write_if_solved(writer: DatasetWriter, job: SequenceJob, cfg: DynamicsConfig,
                    cache: Path, key: str, prep_failed: dict[str, str],
                    report: DynamicsReport) -> bool:
    """Stitch and write one sequence once every chunk of it has a report; False while some
    chunk has none (still to solve, or lost)."""
    reports = [load_report(job.out_dir, chunk_name(c)) for c in job.chunks]
    if any(r is None for r in reports):
        return False
    if write_sequence(writer, job, reports, cfg, prep_failed, cache / key):
        report.sequences_written.append(job.sequence.id)
    else:
        report.sequences_unsolved.append(job.sequence.id)
    return True


def _muscles(model_path: Path) -> list[str]:
    import opensim as osim

    model = osim.Model(str(model_path))
    return [model.getMuscles().get(i).getName() for i in range(model.getMuscles().getSize())]
