"""Tiny datasets for the score and view tests: a standing squat with planted feet, and the
same squat made to slide, float or sink; optionally posed OpenSim model files."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec
from musclekit.dataset.metadata import SubjectInfo

MASS_KG = 70.0
RATE_HZ = 50.0
# Marker: (x forward, y up, z right) when standing, metres.
_MARKERS = {
    "C7": (-0.05, 1.45, 0.0), "LSHO": (0.0, 1.40, -0.18), "RSHO": (0.0, 1.40, 0.18),
    "LASI": (0.08, 1.0, -0.12), "RASI": (0.08, 1.0, 0.12), "LPSI": (-0.1, 1.02, -0.05),
    "RPSI": (-0.1, 1.02, 0.05), "LKNE": (0.02, 0.5, -0.12), "RKNE": (0.02, 0.5, 0.12),
    "LANK": (-0.02, 0.08, -0.12), "RANK": (-0.02, 0.08, 0.12), "LHEE": (-0.07, 0.03, -0.1),
    "RHEE": (-0.07, 0.03, 0.1), "LTOE": (0.15, 0.02, -0.12), "RTOE": (0.15, 0.02, 0.12),
}
MUSCLES = ["tibant_r", "soleus_r", "vasint_r", "bflh_r", "tibant_l", "soleus_l", "vasint_l",
           "bflh_l"]


def squat_markers(n: int, variant: str = "planted") -> tuple[np.ndarray, np.ndarray]:
    """time (n,), positions (n, M, 3) of a slow squat: upper markers go down 20 cm and back."""
    t = np.arange(n) / RATE_HZ
    base = np.array(list(_MARKERS.values()))
    pos = np.repeat(base[None], n, axis=0)
    depth = 0.1 * (1 - np.cos(2 * np.pi * t / t[-1]))
    upper = base[:, 1] > 0.3
    pos[:, upper, 1] -= depth[:, None]
    if variant == "slide":
        pos[:, :, 0] += 0.5 * t[:, None]  # the whole body glides forward at 0.5 m/s
    elif variant == "float":
        pos[:, :, 1] += 0.15
    elif variant == "sink":
        pos[:, :, 1] -= 0.08
    return t, pos


def write_squat_dataset(root: Path, variants: tuple[str, ...] = ("planted",), n: int = 100,
                        with_model: bool = False, streams: tuple[str, ...] = (
                            "markers", "joint_angles", "activations", "grf", "residuals")
                        ) -> Path:
    """One sequence per variant, id `S01_<variant>`; with_model copies the Rajagopal2015 model
    (nimblephysics) and writes an IK .mot per sequence under opensim/<sequence>/."""
    specs = {
        "markers": StreamSpec(name="markers", family="markers", rate_hz=RATE_HZ,
                              channels=list(_MARKERS), units=["m"] * len(_MARKERS)),
        "joint_angles": StreamSpec(name="joint_angles", family="joint_angles", rate_hz=RATE_HZ,
                                   channels=["hip_flexion_r", "hip_flexion_l", "knee_angle_r",
                                             "knee_angle_l"], units=["rad"] * 4),
        "activations": StreamSpec(name="activations", family="activations", rate_hz=RATE_HZ,
                                  channels=MUSCLES, units=["1"] * len(MUSCLES)),
        "grf": StreamSpec(name="grf", family="grf", rate_hz=RATE_HZ, channels=[
            f"ground_force_{s}_{c}" for s in ("right", "left")
            for c in ("vx", "vy", "vz", "px", "py", "pz")],
            units=["N", "N", "N", "m", "m", "m"] * 2),
        "residuals": StreamSpec(name="residuals", family="residuals", rate_hz=RATE_HZ,
                                channels=["residual_pelvis_tx", "residual_pelvis_ty",
                                          "residual_pelvis_tz"], units=["N"] * 3),
    }
    writer = DatasetWriter.create_or_open(root, name="score-test",
                                          streams=[specs[s] for s in streams])
    with writer.unit("u0", Provenance.for_stage("test")) as unit:
        unit.add_subject(SubjectInfo(id="S01", mass_kg=MASS_KG, height_m=1.75))
        for variant in variants:
            seq_id = f"S01_{variant}"
            t, pos = squat_markers(n, variant)
            depth = 0.1 * (1 - np.cos(2 * np.pi * t / t[-1]))
            extra = {}
            if with_model:
                extra["opensim"] = _model_files(root, seq_id, t, depth)
            seq = SequenceInfo(id=seq_id, subject_id="S01", label="squat", extra=extra)
            knee = 4.0 * depth
            data = {
                "markers": pos,
                "joint_angles": np.stack([knee / 2, knee / 2, knee, knee], axis=1),
                "activations": np.clip(np.stack(
                    [0.1 + 0.0 * t, 0.2 + depth, 0.1 + 3 * depth, 0.05 + depth] * 2, axis=1),
                    0, 1),
                "grf": np.stack([f(t) for _ in ("right", "left") for f in (
                    lambda t: 0 * t, lambda t: MASS_KG * 9.81 / 2 + 0 * t, lambda t: 0 * t,
                    lambda t: 0.05 + 0 * t, lambda t: 0 * t, lambda t: 0.1 + 0 * t)], axis=1),
                "residuals": np.stack([2 + 0 * t, 5 * np.sin(t), 0 * t], axis=1),
            }
            for name in streams:
                unit.write_sequence(name, seq, t, data[name])
    return root


def rajagopal_model() -> Path | None:
    spec = importlib.util.find_spec("nimblephysics")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "models" / "rajagopal_data" / "Rajagopal2015.osim"
    return path if path.is_file() else None


def _model_files(root: Path, seq_id: str, t: np.ndarray, depth: np.ndarray) -> dict:
    model = rajagopal_model()
    if model is None:
        raise RuntimeError("nimblephysics (Rajagopal2015.osim) is not installed")
    folder = root / "opensim" / seq_id
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(model, folder / "scaled.osim")
    knee = np.degrees(4.0 * depth)
    cols = {"pelvis_ty": 0.93 - 0.6 * depth, "hip_flexion_r": knee / 2, "hip_flexion_l": knee / 2,
            "knee_angle_r": knee, "knee_angle_l": knee, "ankle_angle_r": knee / 3,
            "ankle_angle_l": knee / 3}
    lines = ["ik", "inDegrees=yes", f"nRows={len(t)}", f"nColumns={len(cols) + 1}", "endheader",
             "\t".join(["time", *cols])]
    lines += ["\t".join(f"{v:.6f}" for v in [t[i], *(c[i] for c in cols.values())])
              for i in range(len(t))]
    (folder / "ik.mot").write_text("\n".join(lines) + "\n")
    return {"scaled_model": f"opensim/{seq_id}/scaled.osim", "ik_mot": f"opensim/{seq_id}/ik.mot"}
