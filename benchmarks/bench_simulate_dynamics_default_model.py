"""Both dynamics methods on simulate's default model after its own kinematics stage.

The demo's synthetic AMASS-layout squat (stand-in body, no licensed data) goes through
scaling and inverse kinematics on Rajagopal2015 (80 muscles; nimblephysics' model file), then
`inverse` and `track` (with `--add-foot-contact`: OpenCap's 12 foot spheres) in 1.68 s
chunks at the default settings, one worker, and prints seconds per chunk, the share
converged and, for track, the rounds and tracking error. Issue 7 asks for both methods on
the demo motions with the default model.

    python benchmarks/bench_simulate_dynamics_default_model.py [--duration-s 3.0]
        [--work /tmp/musclekit-bench-default] [--methods inverse,track] [--workers 1,2]

With several worker counts each method runs once per count into its own copy of the
kinematics (the model preparation is cached after the first) and the speed-up over one
worker is printed (goal >= 1.8x from 1 to 2).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration-s", type=float, default=3.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/musclekit-bench-default"))
    ap.add_argument("--methods", default="inverse,track")
    ap.add_argument("--workers", default="1", help="comma-separated worker counts")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    from musclekit.pipelines.simulate.kinematics.demo import run_demo

    kin = args.work / "kinematics"
    if not (kin / "simulate-kinematics").is_dir():
        t = time.perf_counter()
        run_demo(kin, motions=("squat",), duration_s=args.duration_s)
        print(f"kinematics (stand-in body -> markers -> scale + IK): {time.perf_counter() - t:.1f} s")
    for method in args.methods.split(","):
        walls = {}
        for workers in counts:
            suffix = "" if counts == [1] else f"-w{workers}"
            walls[workers] = run_method(args.work, kin, method, workers, suffix)
        base = counts[0]
        for workers in counts[1:]:
            print(f"{method}: speed-up {base} -> {workers} workers "
                  f"{walls[base] / walls[workers]:.2f}x (goal >= 1.8x from 1 to 2)")


def run_method(work: Path, kin: Path, method: str, workers: int, suffix: str) -> float:
    """Solve every chunk of the kinematics with one method; prints and returns the wall s."""
    from musclekit.compute import ComputeConfig
    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
    from musclekit.pipelines.simulate.dynamics.stage.jobs import find_jobs
    from musclekit.pipelines.simulate.dynamics.stage.run import prepare_models, run_dynamics

    root = work / f"dyn-{method}{suffix}"
    if not root.exists():
        shutil.copytree(kin / "simulate-kinematics", root)
    cfg = DynamicsConfig(method=method, compute=ComputeConfig(workers=workers),
                         cache_dir=str(work / "models"))
    cfg.prep.add_foot_contact = method == "track"
    cfg.validate()
    # The model is prepared (polynomial paths, minutes, once per model) before the clock
    # starts: a worker-count comparison must time the chunks, not a cache miss in one run.
    t = time.perf_counter()
    prepare_models(root, find_jobs(root, cfg), cfg)
    print(f"{method}: model preparation {time.perf_counter() - t:.1f} s (0 when cached)")
    t = time.perf_counter()
    report = run_dynamics(root, cfg)
    wall = time.perf_counter() - t
    table = open_dataset(root).read_table("chunks")
    rows = table.filter(table["method"] == method)
    times = sorted(rows["solve_time_s"].to_list())
    conv = (rows["status"] == "converged").sum()
    print(f"{method}, {workers} worker(s): {wall:.1f} s wall (model prepared beforehand); "
          f"{report.summary()}")
    print(f"  chunks {len(times)}, converged {conv}/{len(times)}, solve median "
          f"{statistics.median(times):.1f} s, max {max(times):.1f} s; "
          f"tracking error rad {rows['tracking_error_rad'].to_list()}; "
          f"reasons {[r for r in rows['reason'].to_list() if r]}")
    return wall


if __name__ == "__main__":
    main()
