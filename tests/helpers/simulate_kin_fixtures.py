"""Shared helpers for the simulate-kinematics tests: a stand-in body and short synthetic
AMASS-layout motions, built once per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.pipelines.simulate.kinematics.standin import write_standin_body
from musclekit.pipelines.simulate.kinematics.synthetic import write_synthetic_sequence

# Rotational coordinates both the stand-in body and the model move by the same joint
LOWER_BODY = ["pelvis_tilt", "pelvis_list", "pelvis_rotation", "hip_flexion_r",
              "hip_adduction_r", "hip_rotation_r", "knee_angle_r", "ankle_angle_r",
              "hip_flexion_l", "hip_adduction_l", "hip_rotation_l", "knee_angle_l",
              "ankle_angle_l", "lumbar_extension", "lumbar_bending", "lumbar_rotation"]


@pytest.fixture(scope="session")
def standin_body(tmp_path_factory) -> Path:
    return write_standin_body(tmp_path_factory.mktemp("body"), genders=("neutral", "female"))


@pytest.fixture(scope="session")
def walking_npz(tmp_path_factory, standin_body) -> Path:
    root = tmp_path_factory.mktemp("amass")
    return write_synthetic_sequence(root / "Synthetic" / "S01" / "walking_poses.npz", "walking",
                                    standin_body, betas=np.array([0.5, 0.3, -0.5]),
                                    duration_s=0.5, rate_hz=30.0)


def write_npz(path: Path, **arrays) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def amass_arrays(n: int = 5, width: int = 156, gender: str = "neutral") -> dict:
    return {"poses": np.zeros((n, width)), "trans": np.zeros((n, 3)), "betas": np.zeros(16),
            "gender": np.array(gender), "mocap_framerate": np.array(60.0)}


def ground_truth(npz: Path) -> dict[str, np.ndarray]:
    with np.load(npz) as d:
        names = [str(n) for n in d["musclekit_coordinate_names"]]
        return dict(zip(names, d["musclekit_coordinates"].T, strict=True))
