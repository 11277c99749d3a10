"""`musclekit simulate`: motion -> virtual markers -> OpenSim scaling + IK (part 1), then,
unless `--until ik`, muscle-driven simulation (part 2, `pipelines/simulate/dynamics`)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from musclekit.errors import ExitCode, InputError, PartialFailure
from musclekit.progress import console

BODY_MODEL_ENV = "MUSCLEKIT_BODY_MODEL"
UNTIL = ("ik", "dynamics")

# Where units run. Declared once so that any command that runs units on Dask can offer the
# same options: give its parameters these defaults and pass the values to
# `musclekit.jobqueue.config_from_cli`, then the result to ComputeConfig(jobqueue=...).
COMPUTE_PANEL = "Compute: local Dask workers (default), a running scheduler, or SLURM/PBS jobs"
WORKERS_OPTION = typer.Option(None, "--workers", rich_help_panel=COMPUTE_PANEL,
                              help="Dask worker processes (default: one per core; 0 = in this "
                              "process; more than the cores is capped). With --slurm/--pbs: "
                              "worker processes across all jobs, rounded up to whole jobs "
                              "(default 1).")
SCHEDULER_OPTION = typer.Option(None, "--scheduler", rich_help_panel=COMPUTE_PANEL,
                                help="Address of a running Dask scheduler (tcp://host:8786) "
                                "instead of a local one.")
SLURM_OPTION = typer.Option(False, "--slurm", rich_help_panel=COMPUTE_PANEL,
                            help="Run the workers as SLURM batch jobs (dask-jobqueue); run the "
                            "command on a login node. Needs the job size: --job-cores and "
                            "--job-memory, or --jobqueue-config.")
PBS_OPTION = typer.Option(False, "--pbs", rich_help_panel=COMPUTE_PANEL,
                          help="Run the workers as PBS batch jobs (as --slurm).")
QUEUE_OPTION = typer.Option(None, "--queue", rich_help_panel=COMPUTE_PANEL,
                            help="Batch jobs: partition (SLURM) or queue (PBS).")
ACCOUNT_OPTION = typer.Option(None, "--account", rich_help_panel=COMPUTE_PANEL,
                              help="Batch jobs: account to charge.")
WALLTIME_OPTION = typer.Option(None, "--walltime", rich_help_panel=COMPUTE_PANEL,
                               help="Batch jobs: time limit of each job, HH:MM:SS; workers "
                               "leave before it and are replaced by new jobs.")
JOB_CORES_OPTION = typer.Option(None, "--job-cores", rich_help_panel=COMPUTE_PANEL,
                                help="Batch jobs: CPU cores per job.")
JOB_MEMORY_OPTION = typer.Option(None, "--job-memory", rich_help_panel=COMPUTE_PANEL,
                                 help="Batch jobs: memory per job, e.g. 32GB.")
JOB_PROCESSES_OPTION = typer.Option(None, "--job-processes", rich_help_panel=COMPUTE_PANEL,
                                    help="Batch jobs: single-threaded worker processes per "
                                    "job (default: one per core).")
JOBQUEUE_CONFIG_OPTION = typer.Option(None, "--jobqueue-config", metavar="NAME",
                                      rich_help_panel=COMPUTE_PANEL,
                                      help="Batch jobs: section NAME of "
                                      "~/.config/dask/jobqueue.yaml for what the options above "
                                      "leave unset.")
JOB_EXTRA_OPTION = typer.Option([], "--job-extra", rich_help_panel=COMPUTE_PANEL,
                                help="Batch jobs: extra #SBATCH/#PBS directive without the "
                                "prefix, e.g. --job-extra=--constraint=skylake (repeatable).")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    app.command("simulate-synthetic")(simulate_synthetic)


def dynamics_available() -> bool:
    return importlib.util.find_spec("musclekit.pipelines.simulate.dynamics.kernel.run") is not None


def simulate(
    out: Path = typer.Option(None, "--out", help="Dataset folder to write (created or "
                             "resumed; default: the default dataset folder, ./musclekit-data, "
                             "which `musclekit train` reads; see `musclekit config show`)."),
    amass: list[str] = typer.Option([], "--amass", help="AMASS input (repeatable): a sub-dataset "
                                    "name under --amass-root (e.g. BMLmovi), a folder, a glob or "
                                    "an .npz file."),
    amass_root: Path | None = typer.Option(None, "--amass-root", help="Folder holding the AMASS "
                                           "sub-datasets (or MUSCLEKIT_AMASS_ROOT, or once: "
                                           "`musclekit config set amass-root DIR`)."),
    body_model: Path | None = typer.Option(None, "--body-model", help="SMPL-H model folder "
                                           "(<dir>/{male,female,neutral}/model.npz; or "
                                           "MUSCLEKIT_BODY_MODEL, or once: `musclekit config "
                                           "set body-model DIR`)."),
    trc: list[Path] = typer.Option([], "--trc", help="Marker file(s) to run IK on instead of "
                                   "AMASS (needs --model with matching markers; repeatable)."),
    model: Path | None = typer.Option(None, "--model", help="OpenSim model (.osim). Default: "
                                      "Rajagopal2015 from nimblephysics. With --trc: a model "
                                      "already scaled to the subject."),
    subject: str = typer.Option("subject", "--subject", help="Subject id for --trc input."),
    c3d: list[Path] = typer.Option([], "--c3d", help="C3D trial(s): markers, force plates "
                                   "(assigned to the feet after IK) and analog EMG (stream "
                                   "emg_raw) from one file; like --trc otherwise."),
    static: Path | None = typer.Option(None, "--static", help="Static trial (.trc) to scale "
                                       "--model (generic; default Rajagopal2015) to the "
                                       "subject with OpenSim's ScaleTool; needs --mass."),
    mass: float | None = typer.Option(None, "--mass", help="Subject mass (kg) for --static."),
    height: float | None = typer.Option(None, "--height", help="Subject height (m)."),
    scale_setup: Path | None = typer.Option(None, "--scale-setup", help="The lab's OpenSim "
                                            "scale setup XML (measurements, marker pairs, "
                                            "weights); default: automatic (docs/simulate.md)."),
    marker_set: Path | None = typer.Option(None, "--marker-set", help="OpenSim MarkerSet XML "
                                           "with the lab's markers, put on the generic model "
                                           "before scaling."),
    ik_setup: Path | None = typer.Option(None, "--ik-setup", help="The lab's OpenSim IK setup "
                                         "XML (marker weights, coordinate tasks, time range)."),
    marker_weights: Path | None = typer.Option(None, "--marker-weights", help="Marker weights "
                                               "for IK and marker placement: CSV name,weight "
                                               "or TOML name = weight."),
    grf: Path | None = typer.Option(None, "--grf", help="Measured ground reaction forces "
                                    "(.mot/.sto), applied by the inverse method instead of "
                                    "estimated ones; with --c3d, `--grf c3d` requires the "
                                    "C3D's own force plates."),
    grf_setup: Path | None = typer.Option(None, "--grf-setup", help="OpenSim ExternalLoads XML: "
                                          "which force columns act on which foot body."),
    until: str = typer.Option("dynamics", "--until", help="Last stage to run: dynamics "
                              "(muscle-driven optimisation, docs/dynamics.md) or ik (stop after "
                              "inverse kinematics)."),
    workers: int | None = WORKERS_OPTION,
    scheduler: str | None = SCHEDULER_OPTION,
    slurm: bool = SLURM_OPTION,
    pbs: bool = PBS_OPTION,
    queue: str | None = QUEUE_OPTION,
    account: str | None = ACCOUNT_OPTION,
    walltime: str | None = WALLTIME_OPTION,
    job_cores: int | None = JOB_CORES_OPTION,
    job_memory: str | None = JOB_MEMORY_OPTION,
    job_processes: int | None = JOB_PROCESSES_OPTION,
    jobqueue_config: str | None = JOBQUEUE_CONFIG_OPTION,
    job_extra: list[str] = JOB_EXTRA_OPTION,
    foot_height_m: float = typer.Option(0.02, "--foot-height-m", help="Height of the lowest "
                                        "marker of each sequence above the ground."),
    flag_rms_m: float = typer.Option(0.02, "--flag-rms-m", help="Flag frames whose IK marker "
                                     "RMS error exceeds this (m)."),
    flag_max_m: float = typer.Option(0.04, "--flag-max-m", help="Flag frames whose largest IK "
                                     "marker error exceeds this (m)."),
    density_kg_m3: float = typer.Option(985.0, "--density-kg-m3", help="Body density for the "
                                        "mass from the mesh volume."),
    name: str | None = typer.Option(None, "--name", help="Dataset name (new datasets)."),
    method: str | None = typer.Option(None, "--method", help="Dynamics method (part 2): inverse "
                                      "(estimated ground forces; fast) or track (tracking "
                                      "with foot contact spheres; needs a model with them)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Dynamics: re-solve chunks "
                                      "that failed before."),
    chunk_s: float | None = typer.Option(None, "--chunk-s", help="Dynamics: chunk length in s "
                                         "(default 1.4)."),
    buffer_s: float | None = typer.Option(None, "--buffer-s", help="Dynamics: buffer on each side "
                                          "of a chunk in s (default 0.14)."),
    mesh_per_s: float | None = typer.Option(None, "--mesh-per-s", help="Dynamics: collocation "
                                            "points per second (default 50)."),
    max_iterations: int | None = typer.Option(None, "--max-iterations", help="Dynamics: IPOPT "
                                              "iteration limit (default 2500)."),
    tolerance: float | None = typer.Option(None, "--tolerance", help="Dynamics: convergence "
                                           "tolerance (default 1e-3)."),
    chunk_time_limit_s: float | None = typer.Option(None, "--chunk-time-limit-s", help="Dynamics: "
                                                    "wall-clock limit per chunk; past it the chunk "
                                                    "is a gap."),
    polynomial_paths: bool | None = typer.Option(None, "--polynomial-paths/--no-polynomial-paths",
                                                 help="Dynamics: fit polynomial muscle paths "
                                                 "once per model (default on)."),
    filter_hz: float | None = typer.Option(None, "--filter-hz", help="Dynamics: low-pass cut-off "
                                           "of the IK coordinates."),
    foot_bodies_right: str | None = typer.Option(None, "--foot-bodies-right", help="Dynamics: "
                                                 "comma-separated right foot bodies."),
    foot_bodies_left: str | None = typer.Option(None, "--foot-bodies-left", help="Dynamics: "
                                                "comma-separated left foot bodies."),
    sequence: list[str] = typer.Option([], "--sequence", help="Dynamics: only these sequence "
                                       "ids (repeatable)."),
    solver: str | None = typer.Option(None, "--solver", "--inverse-solver", help="Dynamics: "
                                      "casadi (problems stated from OpenSim, exact derivatives; "
                                      "default) or moco (MocoInverse / MocoTrack)."),
    add_foot_contact: bool = typer.Option(False, "--add-foot-contact", help="Dynamics, method "
                                          "track: add OpenCap's 12 foot contact spheres to a "
                                          "model without them (e.g. Rajagopal2015)."),
    upper_model: Path | None = typer.Option(None, "--upper-model", help="Dynamics: a whole-body "
                                            ".osim with muscles beyond the lower-body model (e.g. "
                                            "thoracolumbar), solved by static optimisation with "
                                            "the lower-body ground forces."),
) -> int:
    """Simulate: AMASS (or TRC) -> virtual markers -> OpenSim scaling and IK [-> dynamics]."""
    from musclekit.compute import ComputeConfig
    from musclekit.config import check_writable, default_dataset, resolve_path
    from musclekit.jobqueue import config_from_cli
    from musclekit.pipelines.simulate.kinematics import (
        amass_sources,
        run_kinematics,
        trc_sources,
    )
    from musclekit.pipelines.simulate.sequence import KinematicsConfig

    out = out if out is not None else default_dataset()
    if until not in UNTIL:
        raise InputError(f"--until {until!r}: choose ik or dynamics")
    check_name(subject, "--subject")
    if name is not None:
        check_name(name, "--name")
    if until == "ik":
        given = [flag for flag, value in (
            ("--method", method), ("--retry-failed", retry_failed or None), ("--chunk-s", chunk_s),
            ("--buffer-s", buffer_s), ("--mesh-per-s", mesh_per_s),
            ("--max-iterations", max_iterations), ("--tolerance", tolerance),
            ("--chunk-time-limit-s", chunk_time_limit_s),
            ("--polynomial-paths", polynomial_paths), ("--filter-hz", filter_hz),
            ("--foot-bodies-right", foot_bodies_right), ("--foot-bodies-left", foot_bodies_left),
            ("--sequence", sequence or None), ("--upper-model", upper_model),
            ("--solver", solver), ("--add-foot-contact", add_foot_contact or None))
        if value is not None]
        if given:
            # Refused before any work: silently ignoring them would cost a user hours.
            raise InputError(f"{', '.join(given)} only apply to the dynamics stage, which "
                             "--until ik skips: leave out --until ik")
    if until == "dynamics" and not dynamics_available():
        raise InputError("--until dynamics needs the dynamics stage, which is not installed in "
                         "this musclekit; use --until ik")
    trc = list(trc) + list(c3d)
    if bool(amass) == bool(trc):
        raise InputError("give either --amass (with --body-model) or --trc (with --model)")
    from musclekit.pipelines.simulate.lab import LabInputs, read_marker_weights

    c3d_plates = grf is not None and str(grf) == "c3d"
    if c3d_plates:
        if not c3d:
            raise InputError("--grf c3d takes the force plates of the --c3d file: give --c3d")
        grf = None
    lab = LabInputs(static_trc=str(static) if static else None, c3d_require_plates=c3d_plates,
                    marker_set=str(marker_set) if marker_set else None, mass_kg=mass,
                    height_m=height, scale_setup=str(scale_setup) if scale_setup else None,
                    ik_setup=str(ik_setup) if ik_setup else None,
                    marker_weights=read_marker_weights(marker_weights) if marker_weights else None,
                    grf_file=str(grf) if grf else None,
                    grf_setup=str(grf_setup) if grf_setup else None)
    if lab.any and not trc:
        raise InputError("--static, --mass, --scale-setup, --marker-set, --ik-setup, "
                         "--marker-weights, --grf and --grf-setup apply to marker input: give "
                         "--trc")
    lab.validate()
    if trc and model is None and not static:
        raise InputError("--trc needs a model: --model (scaled to the subject, markers named as "
                         "in the TRC) or a static trial to scale the generic one (--static "
                         "static.trc --mass KG)")
    for value, flag in ((foot_height_m, "--foot-height-m"),):
        if value < 0:
            raise InputError(f"{flag} {value}: must be >= 0")
    for value, flag in ((flag_rms_m, "--flag-rms-m"), (flag_max_m, "--flag-max-m"),
                        (density_kg_m3, "--density-kg-m3")):
        if value <= 0:
            raise InputError(f"{flag} {value}: must be > 0")
    jobqueue = config_from_cli(
        slurm=slurm, pbs=pbs, queue=queue, account=account, walltime=walltime,
        job_cores=job_cores, job_memory=job_memory, job_processes=job_processes,
        jobqueue_config=jobqueue_config, job_extra=job_extra,
        workers=workers if workers is not None else 1,
        scheduler=scheduler)
    compute = ComputeConfig(workers=workers, scheduler=scheduler, jobqueue=jobqueue)
    cfg = KinematicsConfig(foot_height_m=foot_height_m, flag_rms_m=flag_rms_m,
                           flag_max_m=flag_max_m, body_density_kg_m3=density_kg_m3)
    input_warnings: list[str] = []
    if amass:
        body_model = resolve_path("body-model", body_model)
        if body_model is None:
            from musclekit.pipelines.simulate.bodymodel import WHERE_FROM

            raise InputError(f"AMASS input needs the SMPL-H body model: --body-model DIR. "
                             f"{WHERE_FROM}")
        root = resolve_path("amass-root", amass_root)
        named = [a for a in amass if not Path(a).exists() and not any(c in a for c in "*?[")]
        if root is None and named:
            raise InputError(f"--amass {named[0]}: not a file or folder here, and no AMASS root "
                             "is set: give --amass-root DIR (the folder holding the AMASS "
                             "sub-datasets), or set it once with `musclekit config set "
                             "amass-root DIR` (or $MUSCLEKIT_AMASS_ROOT)")
        sources = amass_sources(amass, root)
    else:
        sources = trc_sources(trc, subject)
        missing = [p for p in c3d if not Path(p).is_file()]
        if missing:
            raise InputError(f"--c3d file not found: {missing[0]}")
        if static:
            from musclekit.pipelines.simulate.opensim_model import default_model_path

            model = model or default_model_path()
        # A static trial's marker set (--marker-set / --scale-setup) replaces the model's.
        input_warnings = check_trc_inputs(
            [p for p in trc if Path(p).suffix.lower() != ".c3d"],  # a C3D is read by c3d.py
            None if (marker_set or scale_setup) else model)
    check_writable(out)
    console.print(f"dataset: {out}")
    standin = amass and is_standin_body(body_model)

    def verdict(unit_id: str, status: str, value: Any) -> None:
        if status == "ok":
            from musclekit.quality import FLAGGED_WARN_SHARE, IMPLAUSIBLE_IK_RMS_M

            doubtful = (value["frames"] and value["flagged"] / value["frames"]
                        > FLAGGED_WARN_SHARE) or value["rms_mean_m"] > IMPLAUSIBLE_IK_RMS_M
            label = ("[yellow]doubtful[/]" if doubtful else
                     "[yellow]stand-in body[/]" if standin else "[green]ok[/]")
            console.print(
                f"{label} {value['sequence_id']}: {value['frames']} frames, IK marker RMS "
                f"{1000 * value['rms_mean_m']:.1f} mm (max {1000 * value['max_m']:.1f} mm), "
                f"{value['flagged']} flagged, {value['seconds']:.1f} s", soft_wrap=True)
        else:
            console.print(f"[red]failed[/] {unit_id}: {value}", soft_wrap=True)

    report = run_kinematics(out, sources, model_path=model, body_model=body_model, config=cfg,
                            compute=compute, name=name, on_result=verdict,
                            lab=lab if lab.any else None)
    if report.done:
        table = Table(title=f"kinematics: {out}")
        for col in ("sequence", "frames", "IK RMS mm", "IK max mm", "flagged", "s"):
            table.add_column(col)
        for v in report.done.values():
            table.add_row(v["sequence_id"], str(v["frames"]), f"{1000 * v['rms_mean_m']:.1f}",
                          f"{1000 * v['max_m']:.1f}", str(v["flagged"]), f"{v['seconds']:.1f}")
        console.print(table)
    console.print(f"kinematics: {report.summary()}")
    if report.failed and not report.done and not report.skipped:
        first = next(iter(report.failed.values()))
        raise InputError(f"kinematics failed for every sequence; first: {first}")
    code = run_dynamics_hook(
        out, until, compute, method=method, retry_failed=retry_failed, chunk_s=chunk_s,
        buffer_s=buffer_s, mesh_per_s=mesh_per_s, max_iterations=max_iterations,
        tolerance=tolerance, chunk_time_limit_s=chunk_time_limit_s,
        polynomial_paths=polynomial_paths, filter_hz=filter_hz,
        foot_bodies_right=foot_bodies_right, foot_bodies_left=foot_bodies_left,
        sequences=list(sequence) or None,
        upper_model=str(upper_model) if upper_model else None, solver=solver,
        add_foot_contact=add_foot_contact)
    from musclekit.dataset.card import refresh_card

    refresh_card(out)
    print_quality(out, input_warnings)
    console.print(f"dataset: {out}; next: musclekit inspect {out}, musclekit train"
                  + ("" if Path(out) == default_dataset() else f" {out}"))
    if report.failed:
        raise PartialFailure(f"{len(report.failed)} sequence(s) failed in kinematics: "
                             + ", ".join(report.failed))
    return code


def is_standin_body(folder: Path | None) -> bool:
    """True when the body model folder holds musclekit's procedural stand-in (its files carry
    a key the licensed SMPL-H files do not)."""
    import numpy as np

    from musclekit.pipelines.simulate.bodymodel import STANDIN_KEY

    if folder is None:
        return False
    files = [Path(folder)] if Path(folder).is_file() else sorted(Path(folder).rglob("*.npz"))
    for file in files[:3]:
        try:
            with np.load(file, allow_pickle=False) as data:
                if STANDIN_KEY in data.files:
                    return True
        except (OSError, ValueError):
            continue
    return False


def check_name(value: str, flag: str) -> None:
    """Ids become file names and metadata keys: refuse others before any work."""
    import re

    from musclekit.dataset.metadata import NAME_PATTERN

    if not re.fullmatch(NAME_PATTERN, value):
        bad = sorted({c for c in value if not re.fullmatch(r"[A-Za-z0-9_.\-]", c)})
        detail = f" (not allowed: {' '.join(repr(c) for c in bad)})" if bad else ""
        raise InputError(f"{flag} {value!r}: use ASCII letters, digits, '_', '.' and '-', "
                         f"starting with a letter or digit{detail}; nothing was written")


def check_trc_inputs(trcs: list[Path], model: Path | None) -> list[str]:
    """Before any work: refuse marker files whose numbers cannot be a person in the units
    they declare, and say which markers the model has that a file lacks (or the reverse);
    returns those warnings (repeated in the run's summary)."""
    from musclekit.pipelines.simulate.opensim_io import read_trc
    from musclekit.progress import warn
    from musclekit.quality import (
        check_trc_units,
        marker_mismatch,
        model_marker_names,
        trc_declared_units,
    )

    model_names = model_marker_names(model) if model is not None else None
    said: list[str] = []
    for path in trcs:
        data = read_trc(Path(path))
        check_trc_units(Path(path), data.positions, trc_declared_units(Path(path)))
        if model_names is not None:
            mismatch = marker_mismatch(list(data.names), model_names, Path(path), Path(model))
            for message in mismatch.messages(Path(path), Path(model)):
                warn(message)
                said.append(message)
    return said


def print_quality(out: Path, input_warnings: list[str] | None = None) -> None:
    """The run's summary of quality: warnings about its inputs (said before the work, said
    again here) and the dataset's quality warnings (stand-in body, flagged frames,
    implausible IK errors, failed chunks ...), also shown by `inspect` and `validate`."""
    from musclekit.dataset.layout import INFO_PATH
    from musclekit.progress import warn
    from musclekit.quality import dataset_quality

    for message in input_warnings or []:
        warn(message)
    if not (Path(out) / INFO_PATH).is_file():
        return
    for item in dataset_quality(out):
        warn(item.message)


def run_dynamics_hook(out: Path, until: str, compute, **options: Any) -> int:
    """Part 2's entry point: `dynamics.config_from_cli(compute=..., **options)` when the
    dynamics package provides it (else its DynamicsConfig with method/retry_failed), then
    `dynamics.driver.run_dynamics(out, cfg)`; returns its exit code."""
    if until == "ik":
        return int(ExitCode.OK)
    dynamics = importlib.import_module("musclekit.pipelines.simulate.dynamics")
    driver = importlib.import_module("musclekit.pipelines.simulate.dynamics.kernel.run")
    factory = getattr(dynamics, "config_from_cli", None)
    if factory is not None:
        cfg = factory(compute=compute, **options)
    else:
        from musclekit.pipelines.simulate.dynamics.config import DynamicsConfig

        cfg = DynamicsConfig(compute=compute, retry_failed=bool(options.get("retry_failed")))
        if options.get("method"):
            cfg.method = options["method"]
        cfg.validate()
    report = driver.run_dynamics(out, cfg)  # prints its own summary
    return int(report.exit_code()) if hasattr(report, "exit_code") else int(ExitCode.OK)


def simulate_synthetic(
    out: Path = typer.Argument(..., help="Folder to write: body/ (stand-in body model) and "
                               "amass/Synthetic/S01/*.npz."),
    motions: list[str] = typer.Option(["walking", "squat", "jumping_jack"], "--motion",
                                      help="Synthetic motion(s)."),
    duration_s: float = typer.Option(1.0, "--duration-s", help="Length of each motion."),
    rate_hz: float = typer.Option(60.0, "--rate-hz", help="Frame rate."),
) -> int:
    """Write a procedural stand-in SMPL-H body and synthetic AMASS-layout motions (no
    licensed files needed), to try `musclekit simulate --amass`."""
    from musclekit.pipelines.simulate.standin import write_standin_body
    from musclekit.pipelines.simulate.synthetic import write_synthetic_sequence

    if duration_s <= 0 or rate_hz <= 0:
        raise InputError("--duration-s and --rate-hz must be > 0")
    body = write_standin_body(out / "body")
    for m in motions:
        p = write_synthetic_sequence(out / "amass" / "Synthetic" / "S01" / f"{m}_poses.npz", m,
                                     body, duration_s=duration_s, rate_hz=rate_hz)
        console.print(f"wrote {p}")
    console.print(f"stand-in body: {body}; try: musclekit simulate --amass Synthetic "
                  f"--amass-root {out / 'amass'} --body-model {body} --until ik (or set them "
                  f"once: musclekit config set amass-root {out / 'amass'}; musclekit config "
                  f"set body-model {body})")
    return int(ExitCode.OK)
