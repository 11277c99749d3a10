"""Demo of the dynamics stage on the project's own small model (offline, about a minute on
2 cores): a synthetic squat written as simulate part 1 would write it, solved in chunks with
the inverse method, stitched, and plotted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musclekit.compute import ComputeConfig

FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}


def make_kinematics_dataset(root: Path, duration_s: float = 1.6,
                            sequences: tuple[str, ...] = ("S01_squat",),
                            start_s: float = 0.0) -> Path:
    """A dataset holding, per sequence, `joint_angles` and its KinematicsRecord (scaled model and
    IK motion paths) exactly as simulate part 1 writes them, from the test model's squat;
    its clock starts at `start_s` (a marker file need not start at 0)."""
    from musclekit.dataset import (
        DatasetWriter,
        Provenance,
        SequenceInfo,
        StreamSpec,
        SubjectInfo,
    )
    from musclekit.pipelines.simulate.kinematics.record import KinematicsRecord
    from musclekit.pipelines.simulate.opensim.files import write_mot
    from musclekit.pipelines.simulate.opensim.test_model import (
        COORDINATES,
        build_test_model,
        squat_motion,
    )

    spec = StreamSpec(name="joint_angles", family="joint_angles", rate_hz=100.0,
                      channels=list(COORDINATES),
                      units=["m" if c in ("pelvis_tx", "pelvis_ty", "pelvis_tz") else "rad"
                             for c in COORDINATES])
    w = DatasetWriter.create_or_open(root, name="dynamics-demo", streams=[spec])
    for seq_id in sequences:
        folder = root / "opensim" / seq_id
        folder.mkdir(parents=True, exist_ok=True)
        build_test_model(folder / "scaled.osim")
        motion = squat_motion(duration_s, period_s=duration_s)
        motion.time_s = motion.time_s + start_s
        write_mot(folder / "ik.mot", motion)
        if w.is_done(f"kin-{seq_id}"):
            continue
        with w.unit(f"kin-{seq_id}", provenance=Provenance.for_stage("simulate")) as u:
            u.add_subject(SubjectInfo(id="S01", mass_kg=32.0, height_m=1.0))
            u.write_sequence(
                "joint_angles",
                SequenceInfo(id=seq_id, subject_id="S01", source="musclekit-testmodel",
                             label="Squat",
                             extra=KinematicsRecord({
                                 "scaled_model": f"opensim/{seq_id}/scaled.osim",
                                 "ik_mot": f"opensim/{seq_id}/ik.mot"}).to_extra()),
                time_s=motion.time_s, values=motion.values.astype(np.float64),
            )
    return root


def run_demo(workdir: Path) -> dict:
    """Simulate a 2.4 s synthetic squat in 3 chunks (coarse mesh) and plot it."""
    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings
    from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
    from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
    from musclekit.pipelines.simulate.dynamics.stage.plot import plot_sequence
    from musclekit.pipelines.simulate.dynamics.stage.run import run_dynamics

    root = make_kinematics_dataset(Path(workdir) / "dynamics-demo", duration_s=2.4)
    cfg = DynamicsConfig(
        chunk=ChunkPlan(chunk_s=0.8, buffer_s=0.1, blend_s=0.05, trim_s=0.1, min_last_chunk_s=0.3),
        solve=InverseSettings(mesh_per_s=25, max_iterations=500),
        prep=PrepSettings(feet=FEET), compute=ComputeConfig(workers=0),
    )
    report = run_dynamics(root, cfg)
    ds = open_dataset(root)
    table = ds.read_table("chunks")
    png = plot_sequence(root, "S01_squat", Path(workdir) / "dynamics-demo.png")
    return {
        "dataset": str(root),
        "plot": str(png),
        "chunks_converged": int((table["status"] == "converged").sum()),
        "chunks_total": int(table.height),
        # What can fail in the inverse method (its root residual forces are ~0 by
        # construction): residual moments, reserves, saturated muscles.
        "max_residual_moment_nm": float(table["max_residual_moment_nm"].max()),
        "max_reserve_nm": float(table["max_reserve_nm"].max()),
        "saturated_muscles": sorted({m for row in table["saturated_muscles"].to_list()
                                     for m in (row.split(",") if row else [])}),
        "median_solve_s": float(table["solve_time_s"].median()),
        "exit_code": int(report.exit_code()),
    }
