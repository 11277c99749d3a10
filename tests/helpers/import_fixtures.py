"""Small files in each importable format, built from the formats' public descriptions
(musint 0.3.0's reader, MIA's clip release, OpenCap's session download, nimblephysics'
B3D writer). Nothing is downloaded."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

OPENCAP_DATA = Path(__file__).resolve().parents[3] / "shared/data/opencap"
LU_MUSCLES = [f"LU_{m}_{s}" for m in ("glmed1", "glmax2", "recfem", "bflh", "soleus", "tibant")
              for s in ("r", "l")]
GRF = ([f"ground_force_{s}_v{a}" for s in ("right", "left") for a in "xyz"]
       + [f"ground_force_{s}_p{a}" for s in ("right", "left") for a in "xyz"]
       + [f"ground_torque_{s}_{a}" for s in ("right", "left") for a in "xyz"])


def mint_folder(root: Path, n_sequences: int = 3, seconds: float = 4.0,
                gap_in: int | None = 1) -> Path:
    """MinT as musint reads it: metadata CSV + per-sequence pickles at 50 fps, time index
    from 0.14 s; sequence `gap_in` has a failed chunk (missing index times)."""
    rows = []
    rng = np.random.default_rng(0)
    for q in range(n_sequences):
        data_path = f"TotalCapture/TotalCapture/s{q % 2 + 1}/walking{q}_poses"
        folder = root / data_path
        folder.mkdir(parents=True)
        t = np.round(0.14 + np.arange(int(seconds * 50)) / 50.0, 2)
        keep = np.ones(t.size, bool)
        if gap_in == q:
            keep[60:90] = False
        t = t[keep]
        phase = 2 * np.pi * 1.0 * t[:, None] + np.arange(len(LU_MUSCLES))[None, :]
        act = 0.3 + 0.25 * np.sin(phase) + 0.01 * rng.standard_normal(phase.shape)
        pd.DataFrame(np.clip(act, 0, 1), index=t, columns=LU_MUSCLES).to_pickle(
            folder / "muscle_activations.pkl")
        pd.DataFrame(1000 * np.clip(act, 0, 1), index=t, columns=LU_MUSCLES).to_pickle(
            folder / "muscle_forces.pkl")
        grf = np.column_stack([400 + 300 * np.sin(2 * np.pi * t + k) for k in range(len(GRF))])
        pd.DataFrame(grf, index=t, columns=GRF).to_pickle(folder / "grf.pkl")
        rows.append({"data_path": data_path, "weight_kg": 70 + q, "height_cm": 175.0,
                     "amass_dur": seconds + 0.3, "babel_sid": 100 + q,
                     "subject": f"s{q % 2 + 1}", "sequence": f"walking{q}_poses",
                     "dataset": "TotalCapture", "gender": "male" if q % 2 else "female",
                     "analysed_dur": seconds, "analysed_%": 95.0,
                     "gap": str(gap_in == q)})
    pd.DataFrame(rows).to_csv(root / "TotalCapture.csv", index=False)
    return root


def mia_folder(root: Path, subjects=("Subject0", "Subject1"), exercises=("Squat", "Running"),
               clips: int = 3, frames: int = 30) -> Path:
    """MIA's released clips: {train,val}/SubjectN/Exercise/clip/*.npy."""
    rng = np.random.default_rng(1)
    for split in ("train", "val"):
        for s in subjects:
            for e in exercises:
                for c in range(clips if split == "train" else 1):
                    folder = root / split / s / e / str(c)
                    folder.mkdir(parents=True)
                    t = np.arange(frames) / 10.0
                    j3 = 0.3 * np.sin(t[:, None, None] * 3 + np.arange(49)[None, :, None]
                                      + np.arange(3)[None, None, :]) + 0.01 * rng.standard_normal((frames, 49, 3))
                    emg = 20 + 10 * np.sin(t[:, None] * 3 + np.arange(8)) + j3[:, :8, 0] * 5
                    np.save(folder / "emgvalues.npy", emg.astype(np.float32))
                    np.save(folder / "joints3d.npy", j3.astype(np.float32))
                    np.save(folder / "joints2d.npy", (500 + 100 * j3[:, :, :2]).astype(np.float32))
                    np.save(folder / "pose.npy", (0.1 * rng.standard_normal((frames, 72))).astype(np.float32))
                    np.save(folder / "betas.npy", np.zeros((frames, 10), np.float32))
    return root


def write_trc(file: Path, names: list[str], time_s: np.ndarray, xyz_m: np.ndarray,
              units: str = "mm") -> None:
    """A TRC (PathFileType 4) as OpenCap writes it; blank cells where xyz is NaN."""
    scale = 1000.0 if units == "mm" else 1.0
    rate = 1.0 / float(np.median(np.diff(time_s)))
    n = len(time_s)
    lines = [f"PathFileType\t4\t(X/Y/Z)\t{file.name}",
             "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\t"
             "OrigDataStartFrame\tOrigNumFrames",
             f"{rate:g}\t{rate:g}\t{n}\t{len(names)}\t{units}\t{rate:g}\t1\t{n}",
             "Frame#\tTime\t" + "\t\t\t".join(names),
             "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(len(names))), ""]
    for k in range(n):
        cells = ["" if not np.isfinite(v) else f"{v * scale:.5f}" for v in xyz_m[k].ravel()]
        lines.append(f"{k + 1}\t{time_s[k]:.5f}\t" + "\t".join(cells))
    file.write_text("\n".join(lines) + "\n")


def opencap_session(root: Path, with_metadata: bool = True) -> Path:
    """An OpenCap session download: sessionMetadata.yaml, MarkerData/*.trc,
    OpenSimData/Model/*.osim, OpenSimData/Kinematics/*.mot. Kinematics and model are the
    real OpenCap files in shared/data/opencap (Apache-2.0) when present; the markers are
    made from the kinematics (a marker per coordinate, moving with it)."""
    (root / "MarkerData").mkdir(parents=True)
    (root / "OpenSimData" / "Kinematics").mkdir(parents=True)
    (root / "OpenSimData" / "Model").mkdir(parents=True)
    if with_metadata:
        (root / "sessionMetadata.yaml").write_text(textwrap.dedent("""\
            subjectID: subj01
            mass_kg: 72.5
            height_m: 1.78
            gender_mf: f
            openSimModel: LaiUhlrich2022
            posemodel: hrnet
            """))
    for trial in ("squats1", "walking1"):
        mot = OPENCAP_DATA / f"{trial}_videoAndMocap.mot"
        shutil.copyfile(mot, root / "OpenSimData" / "Kinematics" / f"{trial}.mot")
        from musclekit.pipelines.importers.opencap import read_mot

        names, t, q = read_mot(mot)
        idx = [names.index(n) for n in ("hip_flexion_r", "knee_angle_r", "ankle_angle_r",
                                        "hip_flexion_l", "knee_angle_l", "ankle_angle_l")]
        base = np.array([[0.1, 0.9, 0.1], [0.1, 0.5, 0.1], [0.1, 0.1, 0.1],
                         [-0.1, 0.9, 0.1], [-0.1, 0.5, 0.1], [-0.1, 0.1, 0.1]])
        xyz = base[None] + 0.2 * np.stack([np.sin(q[:, idx]), np.cos(q[:, idx]),
                                           np.sin(2 * q[:, idx])], axis=2)
        xyz[40:45, 2] = np.nan  # an occluded marker
        write_trc(root / "MarkerData" / f"{trial}.trc",
                  ["r_hip", "r_knee", "r_ankle", "L_hip", "L_knee", "L_ankle"], t, xyz)
    shutil.copyfile(OPENCAP_DATA / "LaiUhlrich2022.osim",
                    root / "OpenSimData" / "Model" / "LaiUhlrich2022_scaled.osim")
    return root


B3D_WRITER = textwrap.dedent('''
    import sys
    import nimblephysics as nimble
    b = nimble.biomechanics
    osim = """<OpenSimDocument Version="40000"><Model name="m"><JointSet><objects>
    <CustomJoint name="ground_pelvis"><coordinates><Coordinate name="pelvis_tilt"/>
    <Coordinate name="pelvis_ty"/></coordinates></CustomJoint>
    <PinJoint name="hip_r"><coordinates><Coordinate name="hip_flexion_r"/></coordinates></PinJoint>
    </objects></JointSet></Model></OpenSimDocument>"""
    h = b.SubjectOnDiskHeader()
    h.setNumDofs(3); h.setNumJoints(2); h.setMassKg(68.0); h.setHeightM(1.71)
    h.setBiologicalSex("female")
    p = h.addProcessingPass()
    p.setProcessingPassType(b.ProcessingPassType.KINEMATICS)
    p.setOpenSimFileText(osim)
    for name, n in (("walk1", 60), ("walk2", 40)):
        t = h.addTrial(); t.setName(name); t.setTimestep(0.01); t.setTrialLength(n)
        t.setMarkerObservations([{} for _ in range(n)])
        tp = t.addPass(); tp.setType(b.ProcessingPassType.KINEMATICS)
    b.SubjectOnDisk.writeB3D(sys.argv[1], h)
''')


def b3d_file(path: Path) -> tuple[Path | None, str]:
    """A small .b3d written by nimblephysics' own writer, in a child process (its bindings
    segfault when handed numpy arrays under numpy 2, so no pose array is passed: the
    trials' structure and header are real, the pose values are whatever nimblephysics
    writes for unset frames). Returns (path or None, why not)."""
    try:
        proc = subprocess.run([sys.executable, "-c", B3D_WRITER, str(path)],
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "nimblephysics' writer hung"
    if proc.returncode != 0 or not path.is_file() or path.stat().st_size == 0:
        return None, (f"nimblephysics could not write a .b3d here (exit {proc.returncode}): "
                      + (proc.stderr.strip().splitlines() or ["no message"])[-1])
    return path, ""
