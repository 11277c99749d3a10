"""Benchmark of `musclekit simulate` part 1 (kinematics).

A 10 s synthetic walking sequence (60 Hz, 600 frames) on the stand-in body: virtual
markers, ScaleTool, IK. Prints IK frames per second, seconds of motion per second, the
end-to-end time per sequence, and the ratio to the reference IK cost measured for
Rajagopal2015 on this kind of machine (~23 ms per frame, REFERENCE.md section 6).

    python benchmarks/bench_simulate_kinematics.py [--duration-s 10] [--rate-hz 60]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

REFERENCE_IK_S_PER_FRAME = 0.023


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration-s", type=float, default=10.0)
    ap.add_argument("--rate-hz", type=float, default=60.0)
    ap.add_argument("--motion", default="walking")
    ap.add_argument("--ik-accuracy", type=float, default=1e-6)
    args = ap.parse_args()
    from musclekit.pipelines.simulate.kinematics.quality import (
        generating_coordinates,
        joint_angle_errors_deg,
    )
    from musclekit.pipelines.simulate.kinematics.sequence import (
        KinematicsConfig,
        kinematics_from_amass,
    )
    from musclekit.pipelines.simulate.kinematics.standin import write_standin_body
    from musclekit.pipelines.simulate.kinematics.synthetic import write_synthetic_sequence

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        body = write_standin_body(tmp / "body", genders=("neutral",))
        npz = write_synthetic_sequence(tmp / "S01" / "bench_poses.npz", args.motion, body,
                                       betas=np.array([0.5, 0.3, -0.5]),
                                       duration_s=args.duration_s, rate_hz=args.rate_hz)
        start = time.perf_counter()
        r = kinematics_from_amass(npz, body, tmp / "out", None, KinematicsConfig(ik_accuracy=args.ik_accuracy))
        total = time.perf_counter() - start
        errors = joint_angle_errors_deg(generating_coordinates(npz), r.coordinates,
                                        r.joint_angles)
    n = len(r.time_s)
    t = r.extra["timings"]
    ik_fps = n / t["ik_s"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"IK accuracy (tolerance) {args.ik_accuracy:g}")
    print(f"sequence: {args.motion}, {args.duration_s:g} s at {args.rate_hz:g} Hz = {n} frames")
    print(f"virtual markers (skinning, mass) {t['markers_s']:.2f} s; scaling (ScaleTool) "
          f"{t['scale_s']:.2f} s; IK {t['ik_s']:.2f} s")
    print(f"IK: {ik_fps:.1f} frames/s = {ik_fps / args.rate_hz:.2f} s of motion per s "
          f"({1000 / ik_fps:.1f} ms/frame); ratio to the 23 ms/frame reference "
          f"{REFERENCE_IK_S_PER_FRAME * ik_fps:.2f}")
    print(f"end to end: {total:.1f} s per sequence ({total / args.duration_s:.2f} s per s of "
          "motion)")
    print(f"IK marker RMS mean {1000 * r.rms_m.mean():.2f} mm, max {1000 * r.rms_m.max():.2f} "
          f"mm; largest joint error {max(errors.values()):.2f} deg "
          f"({max(errors, key=errors.get)}); flagged {int(r.flags.sum())}")


if __name__ == "__main__":
    main()
