"""CPU seconds of the `inverse` method's whole-sequence ground-force estimate (grf.py), and its
arrays saved for a before/after comparison (issue 24; docs/benchmarks.md "inverse per chunk").

The estimate is what a sequence's first chunk pays (`sequence_estimate`): the model's
inverse dynamics and foot points at every frame, then the split between the feet. Runs it
on a model and an IK motion low-passed as a chunk does (6 Hz, degrees converted by OpenSim's
rule), `--repeat` times in this process, prints CPU and wall seconds of each run (the first
includes loading the model), optionally the top of a cProfile of one run, and saves the
arrays. `--compare OTHER.npz` prints the largest absolute difference per array.

    python benchmarks/profile_grf_estimate.py MODEL.osim MOTION.mot --save OUT.npz
        [--feet calcn_r,toes_r:calcn_l,toes_l] [--repeat 2] [--profile 25]
        [--compare BEFORE.npz]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time

import numpy as np

ARRAYS = ("values", "total_force_n", "total_moment_nm", "contact", "unexplained_moment_nm",
          "transition", "orphan", "ground_velocity_m_s", "floor_m")


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("motion")
    ap.add_argument("--feet", default="calcn_r,toes_r:calcn_l,toes_l",
                    help="right bodies:left bodies (comma-separated)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--profile", type=int, default=0, help="print this many cProfile rows")
    ap.add_argument("--save", help="save the estimate's arrays (.npz)")
    ap.add_argument("--compare", help="an earlier --save file to compare with")
    args = ap.parse_args()

    import opensim as osim

    osim.Logger.setLevelString("error")  # the model's missing geometry files: noise here
    from musclekit.pipelines.simulate.dynamics.kernel.filtering import lowpass
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import estimate_grf
    from musclekit.pipelines.simulate.opensim.files import read_mot, rotational_coordinates

    right, left = args.feet.split(":")
    feet = {"right": tuple(right.split(",")), "left": tuple(left.split(","))}
    motion = lowpass(read_mot(args.motion,
                              rotational=rotational_coordinates(osim.Model(args.model))), 6.0)
    print(f"{len(motion.time_s)} frames, {motion.time_s[-1] - motion.time_s[0]:.2f} s; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    est = None
    for i in range(args.repeat):
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        est = estimate_grf(args.model, motion, feet=feet)
        print(f"run {i}: {cpu_seconds() - cpu0:.2f} s CPU, {time.perf_counter() - wall0:.2f} s "
              f"wall; load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.profile:
        prof = cProfile.Profile(time.process_time)  # CPU seconds: the machine is shared
        prof.runcall(estimate_grf, args.model, motion, feet=feet)
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
    arrays = {n: np.asarray(getattr(est, n), dtype=float) for n in ARRAYS}
    if args.save:
        np.savez(args.save, **arrays)
    if args.compare:
        with np.load(args.compare) as ref:
            worst = 0.0
            for n in ARRAYS:
                d = float(np.max(np.abs(arrays[n] - ref[n]), initial=0.0))
                worst = max(worst, d)
                print(f"  {n}: max abs difference {d:.3e}")
            print(f"largest difference {worst:.3e}")


if __name__ == "__main__":
    main()
