"""Compare IK joint angles with the coordinates that generated a synthetic motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Rotational coordinates the stand-in body and the default model move by the same joint
# (pelvis, hips, knees, ankles, lumbar, shoulders, elbows, forearms).
SHARED_COORDINATES = [
    "pelvis_tilt", "pelvis_list", "pelvis_rotation",
    *[f"{c}_{s}" for s in ("r", "l") for c in ("hip_flexion", "hip_adduction", "hip_rotation",
                                             "knee_angle", "ankle_angle")],
    "lumbar_extension", "lumbar_bending", "lumbar_rotation",
    *[f"{c}_{s}" for s in ("r", "l") for c in ("arm_flex", "arm_add", "arm_rot", "elbow_flex",
                                             "pro_sup")],
]


def generating_coordinates(npz: Path) -> dict[str, np.ndarray]:
    """The coordinates a synthetic sequence was generated from (name -> (T,))."""
    with np.load(npz) as d:
        if "musclekit_coordinates" not in d.files:
            return {}
        names = [str(n) for n in d["musclekit_coordinate_names"]]
        return dict(zip(names, d["musclekit_coordinates"].T, strict=True))


def joint_angle_errors_deg(truth: dict[str, np.ndarray], coordinates: list[str],
                           values: np.ndarray) -> dict[str, float]:
    """Largest |IK - truth| in degrees per shared coordinate (absent truth = 0)."""
    out = {}
    for name in SHARED_COORDINATES:
        if name not in coordinates:
            continue
        got = np.asarray(values[:, coordinates.index(name)], dtype=float)
        want = truth.get(name, np.zeros_like(got))
        out[name] = float(np.rad2deg(np.abs(got - want)).max())
    return out
