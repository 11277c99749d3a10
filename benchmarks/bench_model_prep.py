"""Benchmark of model preparation for the dynamics (issue 24): seconds per model, per phase.

Each model is prepared from scratch (a fresh cache folder) with the numpy path fitter
(kernel/path_fit.py), one after the other in one process; printed per model: muscles, wall
and CPU seconds (this process, all threads, and its children), the ratio to the 30 s goal
per subject model, and the phases recorded in prep.json (load: reading and checking the
model; edit: welds, actuators; sample: the poses and the path lengths OpenSim evaluates at
them; fit: the least squares; map: the mapping of a template's paths; write: the path set
and the prepared model).

    python benchmarks/bench_model_prep.py [--suite] [--model X.osim --motion X.mot]...
        [--fitter numpy|opensim|both] [--check] [--map] [--fresh-process] [--work DIR]
        [--json out.json]

--suite: the shared models: OpenCap's LaiUhlrich2022 (squat) and LaiArnoldModified2017_contacts
(walking), the Rajagopal2016 lab model generic and scaled for its walking and its running
subject by the lab's own ScaleTool setups (benchmarks/rajagopal_lab.py), each around its
trial's IK. --model/--motion (repeatable, in pairs): any others. Default: LaiUhlrich2022.

--fitter both: OpenSim's PolynomialPathFitter too (minutes per model). --check: both fits'
path length and moment-arm errors against OpenSim's own geometric paths on held-out poses (the
IK frames half way between the fitted ones, each with samples of another seed in the same
+-range).

--map: the mapping of one scaling's paths onto another (kernel/path_map.py): the generic
Rajagopal2016 fitted around the walking trial is the template; each subject (the lab's
walking and running subjects, and the generic model rescaled by fixed factors) is prepared
afresh and mapped from the template, and both are measured on the subject's held-out poses
against its geometric paths, per muscle: how many muscles were mapped and refitted, the
seconds saved, and the largest held-out error of a mapped muscle next to its fresh fit's.

Wall-clock seconds on a shared machine are noisy: the load average is printed, and the goal
is judged on CPU seconds too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
OPENCAP = Path(__file__).resolve().parents[2] / "shared" / "data" / "opencap"
RAJAGOPAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "rajagopal2016"
GOAL_S = 30.0
FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}
PHASES = ("load", "edit", "sample", "map", "fit", "write")
# Rescalings of the generic Rajagopal2016 for --map: (name, {body: factor}, default factor).
RESCALINGS = [
    ("uniform-0.90", {}, 0.90),
    ("long-legs", {"femur_r": 1.12, "femur_l": 1.12, "tibia_r": 1.08, "tibia_l": 1.08,
                   "pelvis": 0.95}, 1.0),
]


def _settings(fitter: str = "numpy"):
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings

    return PrepSettings(path_fitter=fitter, feet=FEET)


def prepare(model: Path, motion: Path, cache: Path, fitter: str = "numpy",
            template: Path | None = None) -> dict:
    """One preparation from scratch into `cache` (emptied first): seconds and phases."""
    import opensim  # noqa: F401  imported before the clock starts, as in a busy worker

    from musclekit.pipelines.simulate.dynamics.kernel.phases import cpu_seconds
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PreparedModel, prepare_model

    shutil.rmtree(cache, ignore_errors=True)
    wall, cpu = time.perf_counter(), cpu_seconds()
    folder = prepare_model(model, cache, _settings(fitter), motion, template=template)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    prep = PreparedModel.load(folder)
    return {"model": model.name, "motion": motion.name, "fitter": fitter, "wall_s": wall,
            "cpu_s": cpu, "folder": str(folder), "file": str(folder / prep.path_fit["file"]),
            "muscles": len(prep.muscles), "phases": prep.phases,
            "mapping": prep.path_fit.get("mapping"), "load_average": os.getloadavg()[0]}


def _print_run(run: dict) -> None:
    phases = " ".join(f"{p} {run['phases'][p]['cpu_s']:.2f}" for p in PHASES
                      if p in run["phases"])
    print(f"{run['model']:34s} {run['fitter']:7s} {run['muscles']:3d} muscles: "
          f"{run['wall_s']:6.1f} s wall, {run['cpu_s']:6.1f} s CPU, ratio to {GOAL_S:.0f} s "
          f"{run['cpu_s'] / GOAL_S:.2f} CPU / {run['wall_s'] / GOAL_S:.2f} wall "
          f"(load {run['load_average']:.1f}); CPU s per phase: {phases}", flush=True)


def rajagopal_subjects(work: Path) -> dict[str, tuple[Path, Path]]:
    """The lab's walking and running subjects, scaled and IK'd by its own setups."""
    from rajagopal_lab import lab_pipeline

    out = {}
    for trial in ("walk", "run"):
        lab = lab_pipeline(RAJAGOPAL, work / "lab", trial)
        out[trial] = (Path(lab["model"]), Path(lab["motion"]))
    return out


def suite(work: Path) -> list[tuple[Path, Path]]:
    subjects = rajagopal_subjects(work)
    return [(OPENCAP / "LaiUhlrich2022.osim", OPENCAP / "squats1_videoAndMocap.mot"),
            (OPENCAP / "LaiArnoldModified2017_contacts.osim", OPENCAP / "walking1_videoAndMocap.mot"),
            (RAJAGOPAL / "Rajagopal2016.osim", subjects["walk"][1]),
            subjects["walk"], subjects["run"]]


def rescaled(generic: Path, name: str, factors: dict[str, float], default: float,
             out: Path) -> Path:
    """`generic` scaled per body (`factors`, else `default`, on all three axes), as the
    ScaleTool's model scaler does (mass distribution kept)."""
    import opensim as osim

    model = osim.Model(str(generic))
    state = model.initSystem()
    scales = osim.ScaleSet()
    bodies = model.getBodySet()
    for i in range(bodies.getSize()):
        body = bodies.get(i).getName()
        f = factors.get(body, default)
        scale = osim.Scale()
        scale.setSegmentName(body)
        scale.setScaleFactors(osim.Vec3(f, f, f))
        scale.setApply(True)
        scales.cloneAndAppend(scale)
    model.scale(state, scales, True, -1.0)
    model.setName(f"{model.getName()}_{name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.printToXML(str(out))
    return out


def held_out(model_path: Path, motion_path: Path, per_frame: int = 3):
    """The muscles-only model (nothing welded), its unlocked coordinates and held-out poses:
    the IK frames half way between the fitted ones, `per_frame` samples of another seed."""
    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.kernel.prep import sample_poses
    from musclekit.pipelines.simulate.opensim.files import read_mot
    from musclekit.pipelines.simulate.opensim.model import coordinate_units

    settings = _settings()
    model = osim.Model(str(model_path))
    forces = model.updForceSet()
    for i in reversed(range(forces.getSize())):
        if osim.Muscle.safeDownCast(forces.get(i)) is None:
            forces.remove(i)
    model.finalizeConnections()
    state = model.initSystem()
    cset = model.getCoordinateSet()
    cols = [cset.get(i).getName() for i in range(cset.getSize()) if not cset.get(i).getLocked(state)]
    rotational = {c for c, u in coordinate_units(model).items() if u == "rad"}
    motion = read_mot(motion_path, rotational=rotational)
    n = len(motion.time_s)
    fitted = np.unique(np.linspace(0, n - 1, min(n, settings.path_fit_max_frames)).round().astype(int))
    between = np.unique((fitted[:-1] + fitted[1:]) // 2)
    between = between[~np.isin(between, fitted)]
    frames = np.array([[float(motion.values[k, motion.names.index(c)]) if c in motion.names
                        else cset.get(c).getDefaultValue() for c in cols] for k in between])
    poses = sample_poses(frames, [c in rotational for c in cols],
                         np.deg2rad(settings.path_fit_range_deg), per_frame,
                         settings.path_fit_seed + 1)
    return model, cols, poses


def _summary(errors: dict) -> dict:
    keys = sorted({k for e in errors.values() for k in e if k.endswith("_m")})
    return {k: {"median": float(np.median([e[k] for e in errors.values()])),
                "max": float(max(e[k] for e in errors.values()))} for k in keys}


def check(runs: list[dict], model: Path, motion: Path, solver_arms: bool = True) -> None:
    """Held-out errors of each run's path set (same model and motion) into run["errors"]."""
    from musclekit.pipelines.simulate.dynamics.kernel.path_fit import held_out_errors, read_path_set

    m, cols, poses = held_out(model, motion)
    errors = held_out_errors(m, cols, poses, [read_path_set(r["file"]) for r in runs],
                             solver_arms=solver_arms)
    for run, err in zip(runs, errors, strict=True):
        run["errors"] = err
        run["summary"] = _summary(err)
        run["held_out_poses"] = len(poses)


def map_study(work: Path) -> list[dict]:
    """Template: generic Rajagopal2016 around the walking trial; subjects: the lab's walking
    and running subjects and two rescalings of the generic model."""
    subjects = rajagopal_subjects(work)
    walk_motion = subjects["walk"][1]
    template = prepare(RAJAGOPAL / "Rajagopal2016.osim", walk_motion, work / "map-template")
    _print_run(template)
    cases = [("lab walking subject", *subjects["walk"]), ("lab running subject", *subjects["run"])]
    for name, factors, default in RESCALINGS:
        cases.append((f"generic x {name}", rescaled(RAJAGOPAL / "Rajagopal2016.osim", name,
                                                    factors, default,
                                                    work / "rescaled" / f"{name}.osim"),
                       walk_motion))
    out = []
    for name, model, motion in cases:
        fresh = prepare(model, motion, work / "map-fresh")
        shutil.copytree(fresh["folder"], work / "map-fresh-kept", dirs_exist_ok=True)
        fresh["file"] = str(work / "map-fresh-kept" / Path(fresh["file"]).relative_to(fresh["folder"]))
        mapped = prepare(model, motion, work / "map-mapped", template=Path(template["folder"]))
        check([fresh, mapped], model, motion, solver_arms=False)
        mapped_names = [n for n, v in json.loads(
            (Path(mapped["folder"]) / "prep.json").read_text())["path_fit"]["muscles"].items()
            if v.get("mapped")]
        row = {"subject": name, "model": model.name, "motion": motion.name,
               "mapped": len(mapped_names), "refitted": len(mapped["mapping"]["refitted"]),
               "fresh_cpu_s": fresh["cpu_s"], "mapped_cpu_s": mapped["cpu_s"],
               "fresh_wall_s": fresh["wall_s"], "mapped_wall_s": mapped["wall_s"],
               "fresh_phases": fresh["phases"], "mapped_phases": mapped["phases"]}
        for key in ("length_rms_m", "moment_arm_dl_rms_m"):
            new = np.array([mapped["errors"][n][key] for n in mapped_names])
            old = np.array([fresh["errors"][n][key] for n in mapped_names])
            row[key] = {"mapped_max": float(new.max(initial=0)), "fresh_max": float(old.max(initial=0)),
                        "mapped_median": float(np.median(new)) if len(new) else 0.0,
                        "fresh_median": float(np.median(old)) if len(old) else 0.0,
                        "largest_increase": float((new - old).max(initial=0))}
        row["all_muscles"] = {"mapped": mapped["summary"], "fresh": fresh["summary"]}
        out.append(row)
        print(f"{name:22s} mapped {row['mapped']:2d}, refitted {row['refitted']:2d}; CPU "
              f"{row['fresh_cpu_s']:.1f} s fresh -> {row['mapped_cpu_s']:.1f} s mapped; held-out "
              f"RMS of the mapped muscles, worst (median) mm: length "
              f"{1e3 * row['length_rms_m']['mapped_max']:.3f} ({1e3 * row['length_rms_m']['mapped_median']:.3f})"
              f" vs fresh {1e3 * row['length_rms_m']['fresh_max']:.3f} ({1e3 * row['length_rms_m']['fresh_median']:.3f}), "
              f"moment arm {1e3 * row['moment_arm_dl_rms_m']['mapped_max']:.3f} "
              f"({1e3 * row['moment_arm_dl_rms_m']['mapped_median']:.3f}) vs fresh "
              f"{1e3 * row['moment_arm_dl_rms_m']['fresh_max']:.3f} "
              f"({1e3 * row['moment_arm_dl_rms_m']['fresh_median']:.3f}); largest increase "
              f"{1e3 * row['length_rms_m']['largest_increase']:.3f} / "
              f"{1e3 * row['moment_arm_dl_rms_m']['largest_increase']:.3f} mm", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", action="store_true", help="the shared models")
    ap.add_argument("--model", action="append", default=[])
    ap.add_argument("--motion", action="append", default=[])
    ap.add_argument("--fitter", default="numpy", choices=["numpy", "opensim", "both"])
    ap.add_argument("--check", action="store_true", help="errors on held-out poses")
    ap.add_argument("--map", action="store_true", help="the mapping study")
    ap.add_argument("--fresh-process", action="store_true",
                    help="each preparation in its own Python process (what docs/benchmarks.md "
                         "compares before/after with)")
    ap.add_argument("--work", default="/tmp/musclekit-bench-prep")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if len(args.model) != len(args.motion):
        ap.error("give one --motion per --model")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    pairs = [(Path(m), Path(t)) for m, t in zip(args.model, args.motion, strict=True)]
    if args.suite:
        pairs = suite(work) + pairs
    if not pairs and not args.map:
        pairs = [(OPENCAP / "LaiUhlrich2022.osim", OPENCAP / "squats1_videoAndMocap.mot")]
    fitters = ["numpy", "opensim"] if args.fitter == "both" else [args.fitter]
    result: dict = {"runs": [], "map": []}
    for model, motion in pairs:
        runs = []
        for fitter in fitters:
            cache = work / f"cache-{fitter}-{len(result['runs'])}"
            if args.fresh_process:
                import subprocess

                out = work / "fresh-process.json"
                subprocess.run([sys.executable, __file__, "--model", str(model), "--motion",
                                str(motion), "--fitter", fitter, "--work", str(work),
                                "--json", str(out)], check=True, stdout=subprocess.DEVNULL)
                run = json.loads(out.read_text())["runs"][0]
            else:
                run = prepare(model, motion, cache, fitter)
            runs.append(run)
            _print_run(run)
        if args.check:
            check(runs, model, motion)
            for run in runs:
                print(f"    {run['fitter']} held-out errors on {run['held_out_poses']} poses "
                      "(mm; median / worst muscle): " + "; ".join(
                          f"{k[:-2]} {1e3 * v['median']:.3f} / {1e3 * v['max']:.3f}"
                          for k, v in run["summary"].items()), flush=True)
        result["runs"].extend(runs)
    if args.map:
        result["map"] = map_study(work)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
