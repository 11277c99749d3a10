"""Small synthetic datasets holding every family, for tests, the demo and benchmarks.

The signals are smooth functions of time with a known gap, so round trips can be checked
value for value. They carry no physiology: stages produce the real thing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musclekit.dataset.metadata import Provenance, SequenceInfo, StreamSpec, SubjectInfo
from musclekit.dataset.writer import DatasetWriter

MIA_EMG_CHANNELS = ["l_quad", "l_ham", "l_lat", "l_bicep", "r_quad", "r_ham", "r_lat", "r_bicep"]
GRF_CHANNELS = [
    f"ground_{kind}_{side}_{axis}"
    for side in ("right", "left")
    for kind, axes in (("force", ("vx", "vy", "vz", "px", "py", "pz")), ("torque", ("x", "y", "z")))
    for axis in axes
]
GRF_UNITS = ["m" if c.split("_")[-1].startswith("p") else "N m" if "torque" in c else "N"
             for c in GRF_CHANNELS]


def all_family_streams(rate_hz: float = 50.0) -> list[StreamSpec]:
    """One stream of every family, small channel counts."""
    return [
        StreamSpec(name="emg", family="semg", rate_hz=10.0, channels=MIA_EMG_CHANNELS,
                   units="a.u.", clock="emg"),
        StreamSpec(name="activations", family="activations", rate_hz=rate_hz,
                   channels=["soleus_r", "gasmed_r", "tibant_r"]),
        StreamSpec(name="muscle_forces", family="muscle_forces", rate_hz=rate_hz,
                   channels=["soleus_r", "gasmed_r", "tibant_r"]),
        StreamSpec(name="joint_torques", family="joint_torques", rate_hz=rate_hz,
                   channels=["hip_flexion_r", "knee_angle_r"]),
        StreamSpec(name="grf", family="grf", rate_hz=rate_hz, channels=GRF_CHANNELS, units=GRF_UNITS),
        StreamSpec(name="markers", family="markers", rate_hz=rate_hz, channels=["LASI", "RASI", "C7"]),
        StreamSpec(name="keypoints3d", family="keypoints3d", rate_hz=10.0,
                   channels=["Nose", "Neck", "RShoulder"], units="m", clock="video"),
        StreamSpec(name="keypoints2d", family="keypoints2d", rate_hz=10.0,
                   channels=["Nose", "Neck", "RShoulder"], clock="video"),
        StreamSpec(name="joint_angles", family="joint_angles", rate_hz=rate_hz,
                   channels=["pelvis_ty", "hip_flexion_r", "knee_angle_r"], units=["m", "rad", "rad"]),
        StreamSpec(name="smpl", family="smpl", rate_hz=rate_hz,
                   channels=["pose_0", "pose_1", "beta_0", "trans_x"], units=["rad", "rad", "1", "m"]),
        StreamSpec(name="residuals", family="residuals", rate_hz=rate_hz,
                   channels=["pelvis_tx", "pelvis_tilt"], units=["N", "N m"]),
        StreamSpec(name="ik_error", family="metrics", rate_hz=rate_hz,
                   channels=["rms_m", "max_m"], units=["m", "m"]),
        StreamSpec(name="frames", family="frames", rate_hz=10.0, clock="video",
                   aux={"source_frame": "int64", "source_pts_s": "float64"}),
        StreamSpec(name="emg_raw", family="semg_raw", rate_hz=200.0, channels=MIA_EMG_CHANNELS[:2],
                   units="V", clock="emg"),
        StreamSpec(name="imu", family="imu", rate_hz=rate_hz, channels=["acc_x", "gyro_x"],
                   units=["m/s^2", "rad/s"], clock="emg"),
        StreamSpec(name="analog", family="analog", rate_hz=rate_hz, channels=["footswitch"], clock="emg"),
    ]


def synthetic_values(spec: StreamSpec, time_s: np.ndarray, phase: float) -> np.ndarray | None:
    """Deterministic smooth values of the right shape (and range) for `spec`."""
    n_ch, comps = len(spec.channels), spec.components
    if n_ch == 0:
        return None
    k = max(1, len(comps))
    idx = np.arange(n_ch * k, dtype=np.float64).reshape(1, n_ch, k)
    wave = np.sin(2 * np.pi * 0.5 * time_s.reshape(-1, 1, 1) + phase + 0.3 * idx)
    if spec.family == "activations":
        wave = 0.5 + 0.45 * wave
    if "confidence" in comps:
        wave[..., comps.index("confidence")] = 0.9
    return wave if comps else wave[..., 0]


def make_synthetic_dataset(
    path: str | Path,
    n_subjects: int = 2,
    sequences_per_subject: int = 2,
    duration_s: float = 4.0,
    streams: list[StreamSpec] | None = None,
    gap_s: tuple[float, float] | None = (1.0, 1.5),
) -> Path:
    """Write a dataset with every family (or `streams`), one unit per subject.

    gap_s: a (start, end) interval in seconds that is MISSING in every stream of the first
    sequence of each subject, so gaps are exercised everywhere.
    """
    streams = streams or all_family_streams()
    writer = DatasetWriter.create_or_open(path, name="synthetic", streams=streams,
                                          description="synthetic dataset with every family")
    labels = ["Squat", "Running", "JumpingJack"]
    for s in range(n_subjects):
        subject = SubjectInfo(id=f"S{s + 1:02d}", sex="FM"[s % 2], mass_kg=60.0 + 5 * s,
                              height_m=1.6 + 0.05 * s)
        unit_id = f"subject-{subject.id}"
        if writer.is_done(unit_id):
            continue
        with writer.unit(unit_id, Provenance.for_stage("synthetic", {"duration_s": duration_s})) as u:
            u.add_subject(subject)
            for q in range(sequences_per_subject):
                seq = SequenceInfo(id=f"{subject.id}_seq{q:02d}", subject_id=subject.id,
                                   source="synthetic", label=labels[q % len(labels)],
                                   start_time_ns=1_700_000_000_000_000_000 + q * 10**10)
                for spec in streams:
                    rate = spec.rate_hz or 10.0
                    time_s = np.arange(int(round(duration_s * rate))) / rate
                    values = synthetic_values(spec, time_s, phase=0.7 * s + 0.2 * q)
                    flags = np.zeros(time_s.size, dtype=np.uint8)
                    if gap_s is not None and q == 0:
                        flags[(time_s >= gap_s[0]) & (time_s < gap_s[1])] = 1
                    aux = {}
                    if "source_frame" in spec.aux:
                        aux["source_frame"] = np.where(flags == 1, -1, np.arange(time_s.size) * 3)
                        aux["source_pts_s"] = np.where(flags == 1, np.nan, time_s)
                    u.write_sequence(spec.name, seq, time_s, values, flags=flags,
                                     timestamp_ns=seq.start_time_ns + (time_s * 1e9).astype(np.int64),
                                     aux=aux)
    return Path(path)
