"""The frames of many sequences stacked on one regular grid: what windows are cut from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Clip:
    """A span of a sequence assigned to a split by the producer (align's extra["clips"])."""

    start_s: float
    end_s: float
    split: str  # "train" | "val" | "test"


@dataclass
class FrameTable:
    """All sequences resampled to `rate_hz` and stacked.

    inputs (N, F) float32 and targets (N, M) float32 (None when only inputs were loaded),
    NaN where a frame is missing; valid (N,) is True where every input and target value of
    the frame is present. sequence_index (N,) says which sequence a frame belongs to; the
    frames of sequence i are rows offsets[i]:offsets[i+1]. time_s (N,) is the stream clock
    time of each frame from the start of its sequence.
    """

    inputs: np.ndarray
    targets: np.ndarray | None
    valid: np.ndarray
    sequence_index: np.ndarray
    time_s: np.ndarray
    offsets: np.ndarray
    rate_hz: float
    input_features: list[str]
    target_features: list[str]
    sequence_ids: list[str]
    subject_ids: list[str]
    labels: list[str]
    clips: list[list[Clip]] = field(default_factory=list)
    # per sequence: its source dataset (SequenceInfo.source, else the dataset folder name;
    # the dataset folder name when several datasets are trained together)
    sources: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return int(self.valid.shape[0])

    def sequence_slice(self, i: int) -> slice:
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))
