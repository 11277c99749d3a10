"""`musclekit demo` part for simulate (kinematics): synthetic AMASS motions on the stand-in
body -> virtual markers -> scaled Rajagopal2015 -> IK -> a dataset."""

from __future__ import annotations

import time
from pathlib import Path

from musclekit.compute import ComputeConfig
from musclekit.dataset import open_dataset
from musclekit.errors import UnitFailedError
from musclekit.pipelines.simulate.kinematics.quality import (
    generating_coordinates,
    joint_angle_errors_deg,
)
from musclekit.pipelines.simulate.kinematics.run import amass_sources, run_kinematics
from musclekit.pipelines.simulate.kinematics.standin import write_standin_body
from musclekit.pipelines.simulate.kinematics.synthetic import write_synthetic_sequence

MOTIONS = ("walking", "squat", "jumping_jack")


def run_demo(workdir: Path, motions: tuple[str, ...] = MOTIONS, duration_s: float = 0.8,
             rate_hz: float = 30.0, workers: int = 0) -> dict:
    """Returns the dataset path and, per sequence, IK marker RMS (mm) and the largest joint
    angle error against the generating motion (deg)."""
    start = time.perf_counter()
    workdir = Path(workdir)
    body = write_standin_body(workdir / "body", genders=("neutral",))
    amass = workdir / "amass" / "Synthetic" / "S01"
    for m in motions:
        write_synthetic_sequence(amass / f"{m}_poses.npz", m, body, betas=[0.5, 0.3, -0.5],
                                 duration_s=duration_s, rate_hz=rate_hz)
    out = workdir / "simulate-kinematics"
    report = run_kinematics(out, amass_sources([str(amass)]), body_model=body,
                            compute=ComputeConfig(workers=workers), name="demo-kinematics")
    if report.failed:
        raise UnitFailedError("simulate demo: kinematics failed for "
                              + "; ".join(f"{k}: {v}" for k, v in report.failed.items()))
    ds = open_dataset(out)
    sequences = {}
    for seq_id in sorted(ds.sequences):
        err = ds.sequence_array("ik_error", seq_id)
        angles = ds.sequence_array("joint_angles", seq_id)
        motion = seq_id.split("_poses")[0].removeprefix("S01_")
        errors = joint_angle_errors_deg(generating_coordinates(amass / f"{motion}_poses.npz"),
                                        angles.channels, angles.values)
        sequences[seq_id] = {
            "frames": int(len(err.time_s)),
            "ik_rms_mean_mm": round(1000 * float(err.values[:, 0].mean()), 2),
            "ik_rms_max_mm": round(1000 * float(err.values[:, 0].max()), 2),
            "max_joint_error_deg": round(max(errors.values()), 2),
            "worst_joint": max(errors, key=errors.get),
        }
    return {"dataset": str(out), "body_model": str(body), "sequences": sequences,
            "failed": dict(report.failed), "seconds": round(time.perf_counter() - start, 1)}
