"""`musclekit simulate`: motion -> virtual markers -> OpenSim scaling + IK (part 1), then,
unless `--until ik`, muscle-driven simulation (part 2, `pipelines/simulate/dynamics`).

Every option is declared once (musclekit/options.py): the dynamics options next to the
dynamics config they set (`dynamics/stage/config.py`), the others below; the command's
parameters, the `--until ik` refusal and the configs are built from those declarations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from musclekit.errors import ExitCode, InputError, PartialFailure
from musclekit.options import Option, given_options
from musclekit.pipelines.simulate.dynamics.stage.options import OPTIONS as DYNAMICS_OPTIONS
from musclekit.progress import console

from .options import command

UNTIL = ("ik", "dynamics")
INPUT_PANEL = "Inputs"
LAB_PANEL = "A lab's own files (marker input)"
KINEMATICS_PANEL = "Kinematics (part 1)"
# Where units run, for any command that runs units on Dask (align's sessions too).
COMPUTE_PANEL = "Compute: local Dask workers (default), a running scheduler, or SLURM/PBS jobs"


def _group(panel: str, stage: str = "") -> Callable[..., Option]:
    """A declaration maker for one group of options (its --help panel and stage)."""
    def declare(name: str, flags: str, type_: Any, help_: str, **kw: Any) -> Option:
        return Option(name=name, flags=(flags,), type=type_, help=help_, panel=panel,
                      stage=stage, **kw)
    return declare


_in = _group(INPUT_PANEL)
_lab = _group(LAB_PANEL, "lab")
_compute = _group(COMPUTE_PANEL, "compute")


def _kin(name: str, flags: str, help_: str, attr: str) -> Option:
    return _group(KINEMATICS_PANEL, "kinematics")(
        name, flags, float, help_, apply=lambda cfg, v: setattr(cfg, attr, v))


INPUT_OPTIONS = (
    _in("out", "--out", Path, "Dataset folder to write (created or resumed; default: the "
        "default dataset folder, ./musclekit-data, which `musclekit train` reads; see "
        "`musclekit config show`)."),
    _in("amass", "--amass", str, "AMASS input (repeatable): a sub-dataset name under "
        "--amass-root (e.g. BMLmovi), a folder, a glob or an .npz file.", multiple=True),
    _in("amass_root", "--amass-root", Path, "Folder holding the AMASS sub-datasets (or "
        "MUSCLEKIT_AMASS_ROOT, or once: `musclekit config set amass-root DIR`)."),
    _in("body_model", "--body-model", Path, "SMPL-H model folder "
        "(<dir>/{male,female,neutral}/model.npz; or MUSCLEKIT_BODY_MODEL, or once: "
        "`musclekit config set body-model DIR`)."),
    _in("trc", "--trc", Path, "Marker file(s) to run IK on instead of AMASS (needs --model "
        "with matching markers; repeatable).", multiple=True),
    _in("c3d", "--c3d", Path, "C3D trial(s): markers, force plates (assigned to the feet "
        "after IK) and analog EMG (stream emg_raw) from one file; like --trc otherwise.",
        multiple=True),
    _in("model", "--model", Path, "OpenSim model (.osim). Default: Rajagopal2015 from "
        "nimblephysics. With --trc: a model already scaled to the subject."),
    _in("subject", "--subject", str, "Subject id for --trc input.", default="subject"),
    _in("name", "--name", str, "Dataset name (new datasets)."),
    _in("until", "--until", str, "Last stage to run: dynamics (muscle-driven optimisation, "
        "docs/dynamics.md) or ik (stop after inverse kinematics).", default="dynamics"),
)
LAB_OPTIONS = (
    _lab("static", "--static", Path, "Static trial (.trc or .c3d) to scale --model (generic; "
         "default Rajagopal2015) to the subject; needs --mass (a C3D's stored body mass counts). "
         "`--static auto`: scale from the motion trial itself."),
    _lab("mass", "--mass", str, "Subject mass (kg) for --static (default: the one stored in "
         "the --static or --c3d C3D, when it has one), or `plates`: the mass the measured "
         "plates (--c3d, --grf) weigh. A mass more than 5 % off the plates' is warned about.",
         metavar="KG|plates"),
    _lab("height", "--height", float, "Subject height (m)."),
    _lab("scale_setup", "--scale-setup", Path, "The lab's OpenSim scale setup XML "
         "(measurements, marker pairs, weights); default: automatic (docs/simulate.md)."),
    _lab("marker_set", "--marker-set", Path, "The lab's marker set, put on the generic model "
         "before scaling: a preset (plug-in-gait, helen-hayes, uw-lenhart; docs/simulate.md) "
         "or an OpenSim MarkerSet XML."),
    _lab("max_static_error_mm", "--max-static-error-mm", float, "Stop a sequence whose "
         "scaling leaves a static marker RMS error above this (default 25 mm)."),
    _lab("ik_setup", "--ik-setup", Path, "The lab's OpenSim IK setup XML, run exactly as "
         "OpenSim's IK tool runs it (its marker weights, coordinate tasks, time range); only "
         "markers named by --marker-weights are changed."),
    _lab("marker_weights", "--marker-weights", Path, "Marker weights for IK and marker "
         "placement: CSV name,weight or TOML name = weight (with --ik-setup: overrides for "
         "the markers it names)."),
    _lab("drop_outlier_markers", "--drop-outlier-markers", bool, "Leave out markers IK cannot "
         "follow (median error above 4 cm and 4x the others') and rerun IK once; without it "
         "they are only reported.", default=False),
    _lab("drop_dead_markers", "--drop-dead-markers", bool, "Leave out dead markers (at the "
         "origin, or not moving) that the --ik-setup applies; without it the setup is run as "
         "written (dead markers are always left out without a setup).", default=False),
    _lab("grf", "--grf", Path, "Measured ground reaction forces (.mot/.sto), applied by the "
         "inverse method instead of estimated ones; with --c3d, `--grf c3d` requires the "
         "C3D's own force plates."),
    _lab("grf_setup", "--grf-setup", Path, "OpenSim ExternalLoads XML: which force columns "
         "act on which foot body (with --grf)."),
    _lab("plates", "--plates", str, "What the measured forces (a --c3d's plates, --grf) are "
         "for: apply (the dynamics apply them; default) or compare (kept beside as plates.mot, "
         "recorded as the sequence's `plates`; the dynamics estimate the forces, as without "
         "plates).", metavar="apply|compare"),
)
KINEMATICS_OPTIONS = (
    _kin("foot_height_m", "--foot-height-m", "Height of the lowest marker of each sequence "
         "above the ground (default 0.02 m).", "foot_height_m"),
    _kin("flag_rms_m", "--flag-rms-m", "Flag frames whose IK marker RMS error exceeds this "
         "(default 0.02 m).", "flag_rms_m"),
    _kin("flag_max_m", "--flag-max-m", "Flag frames whose largest IK marker error exceeds "
         "this (default 0.04 m).", "flag_max_m"),
    _kin("density_kg_m3", "--density-kg-m3", "Body density for the mass from the mesh volume "
         "(default 985).", "body_density_kg_m3"),
    _group(KINEMATICS_PANEL, "kinematics")(
        "ik_solver", "--ik-solver", str, "IK solver: gauss-newton (default: OpenSim's IK "
        "problem, same setup and objective, solved per frame by Gauss-Newton, ~10x faster) or "
        "opensim (OpenSim's InverseKinematicsTool itself).", metavar="gauss-newton|opensim",
        apply=lambda cfg, v: setattr(cfg, "ik_solver", v)),
)
COMPUTE_OPTIONS = (
    _compute("workers", "--workers", int, "Dask worker processes (default: one per core; 0 = "
             "in this process; more than the cores is capped). With --slurm/--pbs: worker "
             "processes across all jobs, rounded up to whole jobs (default 1)."),
    _compute("scheduler", "--scheduler", str, "Address of a running Dask scheduler "
             "(tcp://host:8786) instead of a local one."),
    _compute("slurm", "--slurm", bool, "Run the workers as SLURM batch jobs (dask-jobqueue); "
             "run the command on a login node. Needs the job size: --job-cores and "
             "--job-memory, or --jobqueue-config.", default=False),
    _compute("pbs", "--pbs", bool, "Run the workers as PBS batch jobs (as --slurm).",
             default=False),
    _compute("queue", "--queue", str, "Batch jobs: partition (SLURM) or queue (PBS)."),
    _compute("account", "--account", str, "Batch jobs: account to charge."),
    _compute("walltime", "--walltime", str, "Batch jobs: time limit of each job, HH:MM:SS; "
             "workers leave before it and are replaced by new jobs."),
    _compute("job_cores", "--job-cores", int, "Batch jobs: CPU cores per job."),
    _compute("job_memory", "--job-memory", str, "Batch jobs: memory per job, e.g. 32GB."),
    _compute("job_processes", "--job-processes", int, "Batch jobs: single-threaded worker "
             "processes per job (default: one per core)."),
    _compute("jobqueue_config", "--jobqueue-config", str, "Batch jobs: section NAME of "
             "~/.config/dask/jobqueue.yaml for what the options above leave unset.",
             metavar="NAME"),
    _compute("job_extra", "--job-extra", str, "Batch jobs: extra #SBATCH/#PBS directive "
             "without the prefix, e.g. --job-extra=--constraint=skylake (repeatable).",
             multiple=True),
)
SIMULATE_OPTIONS = (INPUT_OPTIONS + LAB_OPTIONS + KINEMATICS_OPTIONS + COMPUTE_OPTIONS
                    + DYNAMICS_OPTIONS)


def register(app: typer.Typer) -> None:
    app.command("simulate")(command(simulate, SIMULATE_OPTIONS, SIMULATE_DOC))
    app.command("simulate-synthetic")(simulate_synthetic)


SIMULATE_DOC = ("Simulate: AMASS (or TRC) -> virtual markers -> OpenSim scaling and IK "
                "[-> dynamics].")


def values_of(options: tuple[Option, ...], values: dict[str, Any]) -> dict[str, Any]:
    return {o.name: values.get(o.name, [] if o.multiple else o.default) for o in options}


def simulate(values: dict[str, Any]) -> int:
    """The command: check every flag before any work, run part 1, then part 2."""
    from musclekit.config import check_writable, default_dataset
    from musclekit.dataset.card import refresh_card

    values = values_of(SIMULATE_OPTIONS, values)
    out = values["out"] if values["out"] is not None else default_dataset()
    check_flags(values)
    lab = lab_inputs(values)
    compute = compute_config(values)
    kin_cfg = kinematics_config(values)
    sources, model, body_model, input_warnings = motion_sources(values, lab, out)
    dynamics = (dynamics_config(compute, values_of(DYNAMICS_OPTIONS, values))
                if values["until"] == "dynamics" else None)
    check_writable(out)
    console.print(f"dataset: {out}")
    result = run_stages(out, values, sources, model, body_model, kin_cfg, compute, lab,
                        dynamics)
    report = result.kinematics
    code = int(result.dynamics.exit_code()) if result.dynamics is not None else int(ExitCode.OK)
    refresh_card(out)
    print_quality(out, input_warnings)
    console.print(f"dataset: {out}; next: musclekit inspect {out}, musclekit train"
                  + ("" if Path(out) == default_dataset() else f" {out}"))
    if report.failed:
        raise PartialFailure(f"{len(report.failed)} sequence(s) failed in kinematics: "
                             + ", ".join(report.failed))
    return code


def check_flags(values: dict[str, Any]) -> None:
    """Refuse flags that contradict each other, before any work."""
    if values["until"] not in UNTIL:
        raise InputError(f"--until {values['until']!r}: choose ik or dynamics")
    check_name(values["subject"], "--subject")
    if values["name"] is not None:
        check_name(values["name"], "--name")
    if values["until"] == "ik":
        given = given_options(DYNAMICS_OPTIONS, values, "dynamics")
        if given:
            # Refused before any work: silently ignoring them would cost a user hours.
            raise InputError(f"{', '.join(given)} only apply to the dynamics stage, which "
                             "--until ik skips: leave out --until ik")
    markers = list(values["trc"]) + list(values["c3d"])
    if bool(values["amass"]) == bool(markers):
        raise InputError("give either --amass (with --body-model) or --trc (with --model)")
    lab_given = given_options(LAB_OPTIONS, values, "lab")
    if lab_given and not markers:
        raise InputError(f"{', '.join(lab_given)} apply to marker input: give --trc or --c3d")
    if values["grf"] is not None and str(values["grf"]) == "c3d" and not values["c3d"]:
        raise InputError("--grf c3d takes the force plates of the --c3d file: give --c3d")
    if markers and values["model"] is None and not values["static"]:
        raise InputError("--trc needs a model: --model (scaled to the subject, markers named as "
                         "in the TRC) or a static trial to scale the generic one (--static "
                         "static.trc --mass KG)")


def lab_inputs(values: dict[str, Any]):
    """The lab's files as LabInputs, checked."""
    from musclekit.pipelines.simulate.kinematics.lab import (
        LabInputs,
        check_plates,
        read_marker_weights,
    )

    grf, c3d = values["grf"], values["c3d"]
    c3d_plates = grf is not None and str(grf) == "c3d"
    if c3d_plates:
        if not c3d:
            raise InputError("--grf c3d takes the force plates of the --c3d file: give --c3d")
        grf = None
    check_plates(values["plates"], marker_files=[*values["trc"], *c3d],
                 grf_given=grf is not None, grf_c3d=c3d_plates)
    if values["plates"] == "compare" and values.get("track_grf") == "measured":
        raise InputError("--track-grf measured tracks the plates and --plates compare leaves "
                         "them out of the dynamics: use --track-grf estimated, or drop "
                         "--plates compare")

    def text(path: Path | None) -> str | None:
        return str(path) if path is not None else None

    from musclekit.pipelines.simulate.kinematics.c3d import subject_from_c3d

    mass, mass_from = typed_mass(values["mass"], c3d, grf, values["grf_setup"])
    mass, height, stored_from = subject_from_c3d(mass, values["height"],
                                                 [values["static"], *values["c3d"]])
    mass_from = mass_from or stored_from
    lab = LabInputs(static_trc=text(values["static"]), c3d_require_plates=c3d_plates,
                    marker_set=text(values["marker_set"]), mass_kg=mass, mass_from=mass_from,
                    height_m=height, scale_setup=text(values["scale_setup"]),
                    max_static_error_mm=values["max_static_error_mm"],
                    ik_setup=text(values["ik_setup"]), grf_file=text(grf),
                    grf_setup=text(values["grf_setup"]),
                    drop_outlier_markers=bool(values["drop_outlier_markers"]),
                    drop_dead_markers=bool(values["drop_dead_markers"]),
                    plates=values["plates"],
                    marker_weights=(read_marker_weights(values["marker_weights"])
                                    if values["marker_weights"] else None))
    lab.validate()
    return lab


def typed_mass(typed: str | None, c3d: list[Path], grf: Path | None, grf_setup: Path | None
               ) -> tuple[float | None, str | None]:
    """--mass: a number of kg, or `plates` (the mass the measured plates weigh,
    plate_mass.mass_from_plates); anything else is refused with what to type."""
    if typed is None:
        return None, None
    if typed.strip().lower() == "plates":
        from musclekit.pipelines.simulate.kinematics.plate_mass import mass_from_plates

        return mass_from_plates(c3d[0] if c3d else None, grf, grf_setup)
    try:
        return float(typed.strip().lower().removesuffix("kg")), None
    except ValueError:
        raise InputError(f"--mass {typed}: give the subject's mass in kg (e.g. --mass 72.5) "
                         "or --mass plates (the mass the force plates weigh)") from None


def compute_config(values: dict[str, Any]):
    from musclekit.compute import ComputeConfig
    from musclekit.jobqueue import config_from_cli

    batch = {o.name: values[o.name] for o in COMPUTE_OPTIONS if o.name != "workers"}
    jobqueue = config_from_cli(**batch, workers=values["workers"] if values["workers"]
                               is not None else 1)
    return ComputeConfig(workers=values["workers"], scheduler=values["scheduler"],
                         jobqueue=jobqueue)


def kinematics_config(values: dict[str, Any]):
    from musclekit.options import apply_options
    from musclekit.pipelines.simulate.kinematics.sequence import KinematicsConfig

    cfg = apply_options(KinematicsConfig(), KINEMATICS_OPTIONS,
                        {o.name: values[o.name] for o in KINEMATICS_OPTIONS})
    cfg.validate()
    return cfg


def motion_sources(values: dict[str, Any], lab, out: Path
                   ) -> tuple[list, Path | None, Path | None, list[str]]:
    """The sequences to run (AMASS files or marker files), the model, the body model and the
    warnings said about the inputs before any work."""
    from musclekit.config import resolve_path
    from musclekit.pipelines.simulate.kinematics.run import (
        amass_sources,
        read_marker_files,
        trc_sources,
    )

    model, markers = values["model"], list(values["trc"]) + list(values["c3d"])
    if values["amass"]:
        body_model = resolve_path("body-model", values["body_model"])
        if body_model is None:
            from musclekit.pipelines.simulate.kinematics.bodymodel import WHERE_FROM

            raise InputError(f"AMASS input needs the SMPL-H body model: --body-model DIR. "
                             f"{WHERE_FROM}")
        root = resolve_path("amass-root", values["amass_root"])
        named = [a for a in values["amass"]
                 if not Path(a).exists() and not any(c in a for c in "*?[")]
        if root is None and named:
            raise InputError(f"--amass {named[0]}: not a file or folder here, and no AMASS root "
                             "is set: give --amass-root DIR (the folder holding the AMASS "
                             "sub-datasets), or set it once with `musclekit config set "
                             "amass-root DIR` (or $MUSCLEKIT_AMASS_ROOT)")
        sources = amass_sources(values["amass"], root, exclude=out)
        if not sources:
            raise InputError(f"--amass {' '.join(values['amass'])}: no AMASS .npz sequences "
                             f"outside the dataset being written ({out})")
        return sources, model, body_model, []
    trcs = [Path(p) for p in values["trc"] if Path(p).suffix.lower() != ".c3d"]  # c3d.py: C3Ds
    read = read_marker_files(trcs)  # each marker file read once, here
    sources = trc_sources(markers, values["subject"], read)
    missing = [p for p in values["c3d"] if not Path(p).is_file()]
    if missing:
        raise InputError(f"--c3d file not found: {missing[0]}")
    if values["static"]:
        from musclekit.pipelines.simulate.opensim.model import default_model_path

        model = model or default_model_path()
    # A static trial's marker set (--marker-set / --scale-setup) replaces the model's.
    warnings = check_trc_inputs(
        trcs, None if (values["marker_set"] or values["scale_setup"]) else model, read)
    return sources, model, None, warnings


def run_stages(out: Path, values: dict[str, Any], sources: list, model, body_model, cfg,
               compute, lab, dynamics):
    """Scaling and IK of every sequence (a line per sequence, a table when the last is
    done), and with `dynamics` each sequence's dynamics as soon as its own IK and its
    model are ready (pipelines/simulate/flow.py: one cluster for the whole command)."""
    from musclekit.pipelines.simulate import flow

    standin = bool(values["amass"]) and is_standin_body(body_model)
    return flow.run_simulate(
        out, sources, model_path=model, body_model=body_model, kinematics=cfg,
        compute=compute, dynamics=dynamics, name=values["name"],
        lab=lab if lab.any else None,
        on_kinematics=lambda uid, status, value: say_sequence(uid, status, value, standin),
        on_kinematics_done=lambda report: print_kinematics(out, report))


def print_kinematics(out: Path, report) -> None:
    """The kinematics stage's table and summary; refuses a run whose every sequence failed."""
    if report.done:
        table = Table(title=f"kinematics: {out}")
        for col in ("sequence", "frames", "IK RMS mm", "IK max mm", "flagged", "s"):
            table.add_column(col, overflow="fold")
        for v in report.done.values():
            table.add_row(v["sequence_id"], str(v["frames"]), f"{1000 * v['rms_mean_m']:.1f}",
                          f"{1000 * v['max_m']:.1f}", str(v["flagged"]), f"{v['seconds']:.1f}")
        console.print(table)
    console.print(f"kinematics: {report.summary()}")
    if report.failed and not report.done and not report.skipped:
        first = next(iter(report.failed.values()))
        raise InputError(f"kinematics failed for every sequence; first: {first}")


def say_sequence(unit_id: str, status: str, value: Any, standin: bool) -> None:
    """One line per finished sequence: its IK error and whether to trust it."""
    if status != "ok":
        console.print(f"[red]failed[/] {unit_id}: {value}", soft_wrap=True)
        return
    from musclekit.quality import FLAGGED_WARN_SHARE, IMPLAUSIBLE_IK_RMS_M

    doubtful = (value["frames"] and value["flagged"] / value["frames"]
                > FLAGGED_WARN_SHARE) or value["rms_mean_m"] > IMPLAUSIBLE_IK_RMS_M
    label = ("[yellow]doubtful[/]" if doubtful else
             "[yellow]stand-in body[/]" if standin else "[green]ok[/]")
    console.print(
        f"{label} {value['sequence_id']}: {value['frames']} frames, IK marker RMS "
        f"{1000 * value['rms_mean_m']:.1f} mm (max {1000 * value['max_m']:.1f} mm), "
        f"{value['flagged']} flagged, {value['seconds']:.1f} s", soft_wrap=True)
    from musclekit.progress import warn

    for message in value.get("warnings") or []:  # dead or bad markers, changes to a setup
        warn(f"{value['sequence_id']}: {message}")


def dynamics_config(compute, values: dict[str, Any]):
    """Part 2's config from the declared dynamics options (None = default), checked before
    any work."""
    from musclekit.pipelines.simulate.dynamics.stage.config import config_from_cli

    return config_from_cli(compute=compute, **values)


def is_standin_body(folder: Path | None) -> bool:
    """True when the body model folder holds musclekit's procedural stand-in (its files carry
    a key the licensed SMPL-H files do not)."""
    import numpy as np

    from musclekit.pipelines.simulate.kinematics.bodymodel import STANDIN_KEY

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


def check_trc_inputs(trcs: list[Path], model: Path | None, read: dict | None = None
                     ) -> list[str]:
    """Before any work: refuse marker files whose numbers cannot be a person in the units
    they declare, and say which markers the model has that a file lacks (or the reverse);
    returns those warnings (repeated in the run's summary). `read`: the files already read
    (path -> MarkerData), not read again."""
    from musclekit.pipelines.simulate.kinematics.marker_checks import (
        check_trc_units,
        marker_mismatch,
        model_marker_names,
        trc_declared_units,
    )
    from musclekit.pipelines.simulate.opensim.files import read_trc
    from musclekit.progress import warn

    model_names = model_marker_names(model) if model is not None else None
    said: list[str] = []
    for path in trcs:
        data = (read or {}).get(Path(path))
        if data is None:
            data = read_trc(Path(path), allow_missing=True)  # gaps are filled later
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
    import math

    from musclekit.pipelines.simulate.kinematics.standin import write_standin_body
    from musclekit.pipelines.simulate.kinematics.synthetic import write_synthetic_sequence

    for value, flag, most in ((duration_s, "--duration-s", 3600.0), (rate_hz, "--rate-hz", 1000.0)):
        if not (math.isfinite(value) and 0 < value <= most):
            raise InputError(f"{flag} {value}: give a number above 0 and at most {most:g} "
                             "(a stand-in motion is seconds long, sampled like motion capture)")
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
