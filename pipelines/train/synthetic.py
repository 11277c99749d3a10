"""Procedural motion/muscle datasets with a known answer, for tests, the demo and benchmarks.

Inputs are joint angles (rad) made of a few sinusoids per sequence; muscle activations are a
fixed nonlinear function of the angles and their velocities, plus noise, so a model that
learns the function beats retrieval and a constant. Gaps (missing frames) are cut into both
streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, SubjectInfo


@dataclass(frozen=True)
class SyntheticSpec:
    n_subjects: int = 3
    labels: tuple[str, ...] = ("Squat", "Running")
    sequences_per_pair: int = 1
    seconds: float = 30.0
    input_rate_hz: float = 40.0
    target_rate_hz: float = 20.0
    n_joints: int = 6
    n_muscles: int = 4
    noise: float = 0.02
    gaps_per_sequence: int = 2
    gap_seconds: float = 1.0
    seed: int = 0


def muscle_function(angles: np.ndarray, velocity: np.ndarray, n_muscles: int,
                    seed: int = 1234) -> np.ndarray:
    """Activations (T, M) in (0, 1) from angles (T, J) rad and velocities (T, J) rad/s."""
    rng = np.random.default_rng(seed)
    j = angles.shape[1]
    w_sin = rng.normal(0, 1.2, (j, n_muscles))
    w_sq = rng.normal(0, 0.8, (j, n_muscles))
    w_vel = rng.normal(0, 0.25, (j, n_muscles))
    drive = np.sin(angles) @ w_sin + (angles**2) @ w_sq + velocity @ w_vel - 0.5
    return 1.0 / (1.0 + np.exp(-drive))


def _angles(t: np.ndarray, rng: np.random.Generator, n_joints: int, speed: float) -> np.ndarray:
    freq = rng.uniform(0.3, 1.2, (3, n_joints)) * speed
    phase = rng.uniform(0, 2 * np.pi, (3, n_joints))
    amp = rng.uniform(0.2, 0.7, (3, n_joints))
    return (amp[None] * np.sin(2 * np.pi * freq[None] * t[:, None, None] + phase[None])).sum(1)


def write_synthetic_dataset(path: str | Path, spec: SyntheticSpec = SyntheticSpec()) -> Path:
    """Write a dataset with streams `joint_angles` and `activations` at `path`."""
    rng = np.random.default_rng(spec.seed)
    joints = [f"q{i}" for i in range(spec.n_joints)]
    muscles = ["glmed1_r", "recfem_r", "bflh_r", "gasmed_r", "glmax2_r", "tibant_r",
               "glmed1_l", "recfem_l"][: spec.n_muscles]
    muscles += [f"m{i}" for i in range(len(muscles), spec.n_muscles)]
    streams = [
        StreamSpec(name="joint_angles", family="joint_angles", rate_hz=spec.input_rate_hz,
                   channels=joints, units="rad", description="synthetic sinusoidal angles"),
        StreamSpec(name="activations", family="activations", rate_hz=spec.target_rate_hz,
                   channels=muscles, description="known nonlinear function of the angles"),
    ]
    writer = DatasetWriter.create_or_open(path, name="synthetic-motion-muscle", streams=streams)
    unit = "synthetic"
    if writer.is_done(unit):
        return Path(path)
    with writer.unit(unit, provenance=Provenance.for_stage("synthetic", config=vars(spec))) as u:
        for s in range(spec.n_subjects):
            subject = f"S{s + 1:02d}"
            u.add_subject(SubjectInfo(id=subject, mass_kg=60.0 + 5 * s, height_m=1.7))
            for li, label in enumerate(spec.labels):
                for k in range(spec.sequences_per_pair):
                    seq = SequenceInfo(id=f"{subject}_{label}_{k:03d}", subject_id=subject,
                                       source="synthetic", label=label)
                    speed = 1.0 + 0.5 * li
                    t_in = np.arange(int(spec.seconds * spec.input_rate_hz)) / spec.input_rate_hz
                    t_out = np.arange(int(spec.seconds * spec.target_rate_hz)) / spec.target_rate_hz
                    seq_rng = np.random.default_rng(rng.integers(1 << 31))
                    q_in = _angles(t_in, np.random.default_rng(seq_rng.integers(1 << 31)),
                                   spec.n_joints, speed)
                    # The target is computed from the same continuous motion, sampled on
                    # its own (slower) clock.
                    q_out = np.stack([np.interp(t_out, t_in, q_in[:, j])
                                      for j in range(spec.n_joints)], axis=1)
                    vel = np.gradient(q_out, t_out, axis=0)
                    act = muscle_function(q_out, vel, spec.n_muscles)
                    act = np.clip(act + seq_rng.normal(0, spec.noise, act.shape), 0.0, 1.0)
                    q_in = q_in.astype(np.float32)
                    act = act.astype(np.float32)
                    for _ in range(spec.gaps_per_sequence):
                        g0 = seq_rng.uniform(0.1, 0.9) * spec.seconds
                        q_in[(t_in >= g0) & (t_in < g0 + spec.gap_seconds)] = np.nan
                        g1 = seq_rng.uniform(0.1, 0.9) * spec.seconds
                        act[(t_out >= g1) & (t_out < g1 + spec.gap_seconds)] = np.nan
                    u.write_sequence("joint_angles", seq, time_s=t_in, values=q_in)
                    u.write_sequence("activations", seq, time_s=t_out, values=act)
    return Path(path)
