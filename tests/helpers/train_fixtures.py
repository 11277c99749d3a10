"""Shared helpers of the train tests: tiny synthetic datasets and fast configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, SubjectInfo
from musclekit.pipelines.train.config import TrainConfig
from musclekit.pipelines.train.synthetic import SyntheticSpec, write_synthetic_dataset
from musclekit.pipelines.train.table import FrameTable

TINY = SyntheticSpec(n_subjects=3, labels=("Squat", "Running"), seconds=30.0,
                     input_rate_hz=40.0, target_rate_hz=20.0, n_joints=6, n_muscles=4)


def tiny_dataset(path: Path) -> Path:
    return write_synthetic_dataset(path, TINY)


def fast_config(dataset: Path, **kw: object) -> TrainConfig:
    """A config that trains a small MinT for a few seconds on CPU."""
    values: dict = dict(dataset=str(dataset), model="mint", width=32, layers=1, heads=4,
                        window_frames=20, lr=3e-3, batch_size=32, max_steps=250,
                        eval_every_steps=50, time_budget_s=20.0, device="cpu", seed=0)
    values.update(kw)
    return TrainConfig(**values)


def motion_only_dataset(path: Path) -> Path:
    """A dataset with markers only (no muscle family)."""
    spec = StreamSpec(name="markers", family="markers", rate_hz=10.0, channels=["LASI", "RASI"])
    w = DatasetWriter.create_or_open(path, name="markers-only", streams=[spec])
    with w.unit("u", provenance=Provenance.for_stage("test")) as u:
        u.add_subject(SubjectInfo(id="S01"))
        t = np.arange(50) / 10.0
        u.write_sequence("markers", SequenceInfo(id="S01_a", subject_id="S01", label="Squat"),
                         time_s=t, values=np.random.default_rng(0).normal(size=(50, 2, 3)))
    return path


def table_from_arrays(lengths: list[int], subjects: list[str], labels: list[str],
                      valid: np.ndarray | None = None, rate_hz: float = 10.0) -> FrameTable:
    """A FrameTable of random frames for split and window tests."""
    n = int(sum(lengths))
    rng = np.random.default_rng(0)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return FrameTable(
        inputs=rng.normal(size=(n, 3)).astype(np.float32),
        targets=rng.uniform(size=(n, 2)).astype(np.float32),
        valid=np.ones(n, bool) if valid is None else valid,
        sequence_index=np.repeat(np.arange(len(lengths), dtype=np.int32), lengths),
        time_s=np.concatenate([np.arange(k) / rate_hz for k in lengths]),
        offsets=offsets, rate_hz=rate_hz, input_features=["a", "b", "c"],
        target_features=["m1", "m2"], sequence_ids=[f"seq{i}" for i in range(len(lengths))],
        subject_ids=subjects, labels=labels, clips=[[] for _ in lengths])
