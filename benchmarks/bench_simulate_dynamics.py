"""Benchmark of `musclekit simulate` dynamics per chunk, on real motion, through the worker
path a run takes (`stage.worker.solve_chunk_unit`: the chunk's process, its NLP child).

Motions:
- `squats`, `walking` (default `squats`): OpenCap's real trials (Apache-2.0) on OpenCap's
  LaiUhlrich2022 (80 muscles), scaled so that the squat's feet stay planted
  (opencap_planted_feet.py: the subject's own scaled model is not released); `--generic`
  for the generic model. With `--method track` OpenCap's contact variant
  (LaiArnoldModified2017_contacts, 12 foot spheres) instead.
- `rajagopal-walk`, `rajagopal-run`: the Rajagopal 2016 lab trials on the lab's scaled
  model (92 muscles after preparation) from the lab's own IK (rajagopal_lab.lab_pipeline:
  scaling and IK are done once into `--work`).

The model is prepared once (welds, polynomial muscle paths fitted around the motion); then
chunks are solved one at a time, one worker, as `musclekit simulate --workers 1` would.
Per chunk it prints the wall seconds and the CPU seconds of this process and every process
it started (the chunk process and the NLP child, alive or finished), and at the end their
medians and the ratio to the per-chunk goal (issue 24: inverse <= 3 s, track <= 30 s).
`--fresh-process` stops the chunk process after every chunk (what every chunk cost when
each had a process of its own). Chunk outputs stay under `--work`/out-<label> for
benchmarks/compare_chunk_outputs.py.

    python benchmarks/bench_simulate_dynamics.py [--method inverse|track]
        [--motion squats|walking|rajagopal-walk|rajagopal-run] [--chunks 4]
        [--mesh-per-s 50] [--solver casadi|moco] [--generic] [--max-iterations 2500]
        [--fresh-process] [--label NAME] [--work /tmp/musclekit-bench-dyn]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "opencap"
GOAL_S = {"inverse": 3.0, "track": 30.0}  # per 1.4 s chunk, one worker (issue 24)


def cpu_seconds() -> float:
    """CPU seconds of this process, its finished children and its live descendants."""
    import psutil

    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.Error:
            continue
        total += c.user + c.system
    return total


def _max_reserve(out) -> dict | None:
    """The three largest reserve actuator peaks (N m) of a chunk."""
    if out is None:
        return None
    names = out.channels["residuals"]
    peaks = {n: float(abs(out.values["residuals"][:, i]).max())
             for i, n in enumerate(names) if n.startswith("reserve_")}
    top = sorted(peaks.items(), key=lambda kv: -kv[1])[:3]
    return {n: round(v, 1) for n, v in top}


def _saturated(out) -> int | None:
    """How many muscles reach full activation somewhere in the chunk."""
    if out is None:
        return None
    return int((out.values["activations"].max(axis=0) > 0.99).sum())


def opencap_inputs(args, work: Path) -> tuple[Path, Path, dict]:
    """(model, motion, PrepSettings keywords) of an OpenCap trial."""
    mot = DATA / f"{args.motion}1_videoAndMocap.mot"
    model = DATA / "LaiUhlrich2022.osim"
    if not mot.is_file() or not model.is_file():
        raise SystemExit(f"OpenCap data not found under {DATA}")
    if args.method == "track":
        # OpenCap's contact variant (12 foot spheres). Its generic segments already fit this
        # subject's squat (heel drift 1.2 cm; the fit below only reaches 1.1 cm), so it is
        # used as released.
        model = DATA / "LaiArnoldModified2017_contacts.osim"
    elif not args.generic:
        from opencap_planted_feet import fit, scaled_model

        # Fitted on the squat, where both feet stay planted throughout; the walking trial
        # comes from the same OpenCap session's subject and uses the same model.
        planted = work / "planted_squats.osim"
        if not planted.is_file():
            t = time.perf_counter()
            result = fit(model, DATA / "squats1_videoAndMocap.mot")
            work.mkdir(parents=True, exist_ok=True)
            scaled_model(model, result["factors"]).printToXML(str(planted))
            print(f"planted-feet scaling {time.perf_counter() - t:.1f} s: {json.dumps(result)}",
                  flush=True)
        model = planted
    return model, mot, {}


def rajagopal_inputs(args, work: Path) -> tuple[Path, Path, dict]:
    """(the lab's scaled model, the lab's IK motion, PrepSettings keywords) of a trial."""
    from rajagopal_lab import DEFAULT_DATA, FEET, lab_pipeline

    lab = lab_pipeline(DEFAULT_DATA, work, args.motion.split("-", 1)[1])
    return lab["model"], lab["motion"], {"feet": FEET}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--motion", default="squats",
                    choices=["squats", "walking", "rajagopal-walk", "rajagopal-run"])
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--method", default="inverse", choices=["inverse", "track"])
    ap.add_argument("--solver", default="casadi", choices=["casadi", "moco"])
    ap.add_argument("--mesh-per-s", type=float, default=50.0)
    ap.add_argument("--generic", action="store_true", help="the generic model, unscaled")
    ap.add_argument("--max-iterations", type=int, default=2500)
    ap.add_argument("--fresh-process", action="store_true",
                    help="a new chunk process for every chunk")
    ap.add_argument("--label", default="bench", help="names the output folder out-<label>")
    ap.add_argument("--work", default="/tmp/musclekit-bench-dyn")
    ap.add_argument("--no-polynomial-paths", action="store_true")
    args = ap.parse_args()

    from musclekit.pipelines.simulate.dynamics.kernel.chunks import plan_chunks
    from musclekit.pipelines.simulate.dynamics.kernel.prep import (
        PreparedModel,
        PrepSettings,
        prepare_model,
    )
    from musclekit.pipelines.simulate.dynamics.kernel.result import load_output
    from musclekit.pipelines.simulate.dynamics.methods import get_method
    from musclekit.pipelines.simulate.dynamics.stage import worker
    from musclekit.pipelines.simulate.dynamics.stage.payloads import ChunkTask
    from musclekit.pipelines.simulate.opensim.files import read_mot

    work = Path(args.work)
    inputs = rajagopal_inputs if args.motion.startswith("rajagopal") else opencap_inputs
    model, mot, prep_kw = inputs(args, work)
    t = time.perf_counter()
    folder = prepare_model(
        model, work / "models",
        PrepSettings(method=args.method, contact=args.method == "track",
                     polynomial_paths=not args.no_polynomial_paths, **prep_kw),
        mot,
    )
    prep_s = time.perf_counter() - t
    prep = PreparedModel.load(folder)
    print(f"model preparation {prep_s:.1f} s (cached: {prep.seconds:.1f} s when built); "
          f"{len(prep.muscles)} muscles; load average {os.getloadavg()[0]:.1f}", flush=True)
    motion = read_mot(mot)
    chunks = plan_chunks(args.motion, motion.time_s)
    # Interior chunks first: they are full 1.68 s windows.
    order = [c for c in chunks if not c.first and not c.last] + [c for c in chunks if c.first or c.last]
    out_dir = work / f"out-{args.label}"
    shutil.rmtree(out_dir, ignore_errors=True)
    method = get_method(args.method)
    settings = method.settings(max_iterations=args.max_iterations, solver=args.solver,
                               mesh_per_s=args.mesh_per_s)
    rows = []
    for chunk in order[: args.chunks]:
        task = ChunkTask(chunk=chunk, method=args.method, settings=settings,
                         prep_folder=str(folder), motion_path=str(mot), out_dir=str(out_dir),
                         time_limit_s=1800.0)
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        rep = worker.solve_chunk_unit(task)
        if args.fresh_process and hasattr(worker, "stop_chunk_servers"):
            worker.stop_chunk_servers()  # its CPU is counted once it has exited
        cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
        name = worker.chunk_name(chunk)
        timing_file = out_dir / f"{name}_work" / "redundancy_timing.json"
        phases = json.loads(timing_file.read_text()) if timing_file.is_file() else None
        out = load_output(out_dir, name)
        rows.append((rep, cpu, wall))
        print(json.dumps({"chunk": chunk.index, "window_s": round(chunk.solve_duration_s, 3),
                          "status": rep.status, "reason": rep.reason,
                          "iterations": rep.iterations, "cpu_s": round(cpu, 2),
                          "wall_s": round(wall, 2), "phases_wall_s": phases,
                          "load_average": round(os.getloadavg()[0], 1),
                          "max_residual_moment_nm": rep.max_residual_moment_nm,
                          "max_reserve_nm": _max_reserve(out),
                          "saturated_muscles": _saturated(out)}), flush=True)
    if hasattr(worker, "stop_chunk_servers"):
        worker.stop_chunk_servers()
    cpu_med = statistics.median(r[1] for r in rows)
    wall_med = statistics.median(r[2] for r in rows)
    conv = sum(r[0].status == "converged" for r in rows) / len(rows)
    goal = GOAL_S[args.method]
    print(f"{args.method} ({args.solver}), {args.motion}, {len(rows)} chunks"
          f"{', a fresh process per chunk' if args.fresh_process else ''}: median "
          f"{cpu_med:.2f} s CPU, {wall_med:.2f} s wall per chunk; converged {conv:.0%}; "
          f"ratio to the {goal:.0f} s goal {cpu_med / goal:.2f} (CPU), {wall_med / goal:.2f} "
          f"(wall); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
