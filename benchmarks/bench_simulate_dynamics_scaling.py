"""Speed-up of the dynamics stage from 1 to 2 Dask workers (issue 7 goal: >= 1.8x).

Solves the same synthetic squat (the project's 12-muscle test model, method `inverse`,
coarse mesh) in 0.8 s chunks once with one worker and once with two, each into a fresh
dataset, and prints wall time per run, seconds per chunk and the speed-up. The model
preparation (polynomial paths) is done once beforehand and shared, so the runs time the
chunk solves, which is what parallelism speeds up.

    python benchmarks/bench_simulate_dynamics_scaling.py [--duration-s 4.8]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from musclekit.compute import ComputeConfig
from musclekit.pipelines.simulate.dynamics.chunks import ChunkPlan
from musclekit.pipelines.simulate.dynamics.config import DynamicsConfig
from musclekit.pipelines.simulate.dynamics.demo import FEET, make_kinematics_dataset
from musclekit.pipelines.simulate.dynamics.driver import run_dynamics
from musclekit.pipelines.simulate.dynamics.inverse import SolveSettings
from musclekit.pipelines.simulate.dynamics.prep import PrepSettings

GOAL = 1.8


def config(workers: int, cache: Path) -> DynamicsConfig:
    return DynamicsConfig(
        chunk=ChunkPlan(chunk_s=0.8, buffer_s=0.1, blend_s=0.05, trim_s=0.1, min_last_chunk_s=0.3),
        solve=SolveSettings(mesh_per_s=25, max_iterations=500),
        prep=PrepSettings(feet=FEET), compute=ComputeConfig(workers=workers),
        cache_dir=str(cache),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration-s", type=float, default=4.8)
    ap.add_argument("--work", type=Path, default=Path("/tmp/musclekit-bench-dyn-scaling"))
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    cache = args.work / "models"
    # Warm-up run: prepares (and caches) the model, so both timed runs only solve chunks.
    warm = make_kinematics_dataset(args.work / "warm", duration_s=1.6)
    run_dynamics(warm, config(0, cache))
    walls, chunks = {}, {}
    for workers in (1, 2):
        root = make_kinematics_dataset(args.work / f"w{workers}", duration_s=args.duration_s)
        start = time.perf_counter()
        report = run_dynamics(root, config(workers, cache))
        walls[workers] = time.perf_counter() - start
        chunks[workers] = report
    n = len(chunks[1].chunk_seconds) if hasattr(chunks[1], "chunk_seconds") else None
    for workers, wall in walls.items():
        print(f"{workers} worker(s): {wall:.1f} s wall for a {args.duration_s:g} s squat"
              + (f" ({n} chunks)" if n else "") + f"; {chunks[workers].summary()}")
    speedup = walls[1] / walls[2]
    print(f"speed-up 1 -> 2 workers: {speedup:.2f}x (goal >= {GOAL}x), ratio to goal "
          f"{speedup / GOAL:.2f}")
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
