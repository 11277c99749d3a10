"""Shared helpers of the dynamics tests: a tiny dataset that looks like simulate part 1's
output (scaled model + IK motion per sequence), built from the project's test model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, SubjectInfo
from musclekit.pipelines.simulate.dynamics.motion import write_mot
from musclekit.pipelines.simulate.dynamics.testmodel import (
    COORDINATES,
    build_test_model,
    squat_motion,
)

FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}


def make_kinematics_dataset(root: Path, duration_s: float = 1.6, sequences=("S01_squat",)) -> Path:
    """A dataset with `joint_angles` and extra['opensim'] per sequence, as part 1 writes."""
    spec = StreamSpec(name="joint_angles", family="joint_angles", rate_hz=100.0,
                      channels=list(COORDINATES),
                      units=["m" if c in ("pelvis_tx", "pelvis_ty", "pelvis_tz") else "rad"
                             for c in COORDINATES])
    w = DatasetWriter.create_or_open(root, name="dyn-test", streams=[spec])
    for seq_id in sequences:
        folder = root / "opensim" / seq_id
        folder.mkdir(parents=True, exist_ok=True)
        build_test_model(folder / "scaled.osim")
        motion = squat_motion(duration_s, period_s=duration_s)
        write_mot(folder / "ik.mot", motion)
        with w.unit(f"kin-{seq_id}", provenance=Provenance.for_stage("simulate")) as u:
            u.add_subject(SubjectInfo(id="S01", mass_kg=32.0, height_m=1.0))
            u.write_sequence(
                "joint_angles",
                SequenceInfo(id=seq_id, subject_id="S01", source="test", label="Squat",
                             extra={"opensim": {"scaled_model": f"opensim/{seq_id}/scaled.osim",
                                                "ik_mot": f"opensim/{seq_id}/ik.mot"}}),
                time_s=motion.time_s, values=motion.values.astype(np.float64),
            )
    return root
