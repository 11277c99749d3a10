"""Benchmark of model preparation for the dynamics (issue 24): seconds per model with the numpy
path fitter (kernel/path_fit.py) and, with `--fitter both`, OpenSim's PolynomialPathFitter, each
from scratch (a fresh cache folder), back to back in one process; the ratio to the 30 s goal
per subject model on one core; with `--check`, both fits' path length and moment-arm errors
against OpenSim's own geometric paths on held-out poses (the IK frames half way between the
fitted ones, each with samples of another seed in the same +-range).

    python benchmarks/bench_model_prep.py [--model X.osim --motion X.mot]
        [--fitter numpy|opensim|both] [--check] [--held-out-per-frame 3]
        [--work /tmp/musclekit-bench-prep] [--json out.json]

Default: OpenCap's LaiUhlrich2022 (80 muscles) around the squat trial (Apache-2.0 data in
../shared/data/opencap). Wall-clock seconds on a shared machine are noisy: the CPU seconds of
this process (all its threads) are printed too; the goal is judged on both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "opencap"
GOAL_S = 30.0


def _prepare(model: Path, motion: Path, work: Path, fitter: str) -> dict:
    from musclekit.pipelines.simulate.dynamics.kernel.prep import (
        PreparedModel,
        PrepSettings,
        prepare_model,
    )

    cache = work / f"cache-{fitter}"
    shutil.rmtree(cache, ignore_errors=True)
    wall, cpu = time.perf_counter(), time.process_time()
    folder = prepare_model(model, cache, PrepSettings(path_fitter=fitter), motion)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    prep = PreparedModel.load(folder)
    return {"fitter": fitter, "wall_s": wall, "cpu_s": cpu, "folder": str(folder),
            "file": str(folder / prep.path_fit["file"]), "muscles": len(prep.muscles),
            "fit_s": prep.path_fit.get("seconds")}


def _held_out(model_path: Path, motion_path: Path, per_frame: int):
    """The muscles-only model (nothing welded) and held-out poses of all its coordinates."""
    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings, sample_poses
    from musclekit.pipelines.simulate.opensim.files import read_mot
    from musclekit.pipelines.simulate.opensim.model import coordinate_units

    settings = PrepSettings()
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(DATA / "LaiUhlrich2022.osim"))
    ap.add_argument("--motion", default=str(DATA / "squats1_videoAndMocap.mot"))
    ap.add_argument("--fitter", default="both", choices=["numpy", "opensim", "both"])
    ap.add_argument("--check", action="store_true", help="errors on held-out poses")
    ap.add_argument("--held-out-per-frame", type=int, default=3)
    ap.add_argument("--work", default="/tmp/musclekit-bench-prep")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    fitters = ["numpy", "opensim"] if args.fitter == "both" else [args.fitter]
    print(f"model {Path(args.model).name}, motion {Path(args.motion).name}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    runs = []
    for fitter in fitters:
        run = _prepare(Path(args.model), Path(args.motion), work, fitter)
        runs.append(run)
        print(f"{fitter:8s} preparation: {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU "
              f"({run['muscles']} muscles); ratio to the {GOAL_S:.0f} s goal: wall "
              f"{run['wall_s'] / GOAL_S:.2f}, CPU {run['cpu_s'] / GOAL_S:.2f}", flush=True)
    if len(runs) == 2:
        print(f"speed-up numpy vs opensim: wall {runs[1]['wall_s'] / runs[0]['wall_s']:.1f}x, "
              f"CPU {runs[1]['cpu_s'] / runs[0]['cpu_s']:.1f}x")
    if args.check:
        from musclekit.pipelines.simulate.dynamics.kernel.path_fit import (
            held_out_errors,
            read_path_set,
        )

        model, cols, poses = _held_out(Path(args.model), Path(args.motion), args.held_out_per_frame)
        print(f"held-out poses: {len(poses)}", flush=True)
        t = time.perf_counter()
        errors = held_out_errors(model, cols, poses, [read_path_set(r["file"]) for r in runs])
        print(f"references and errors in {time.perf_counter() - t:.0f} s")
        for run, err in zip(runs, errors, strict=True):
            run["errors"] = err
            run["summary"] = _summary(run["errors"])
            print(f"{run['fitter']:8s} held-out errors (mm; median / worst muscle):")
            for k, v in run["summary"].items():
                print(f"    {k[:-2]:24s} {1e3 * v['median']:7.3f} / {1e3 * v['max']:7.3f}")
        if len(runs) == 2:
            new, old = runs[0]["errors"], runs[1]["errors"]
            for k in sorted(runs[0]["summary"]):
                worse = [m for m in new if m in old and new[m][k] > old[m][k] * 1.05 + 1e-5]
                print(f"    {k[:-2]:24s} numpy worse than opensim on {len(worse)} muscles"
                      + (f": {', '.join(worse[:6])}" if worse else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
