"""Typed configuration of the keypoint stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

BackendName = Literal["mediapipe", "vibe"]


@dataclass
class KeypointsConfig:
    """What `musclekit keypoints` runs.

    backend: "mediapipe" (offline default) or "vibe" (the user's VIBE install).
    vibe_output: an existing VIBE result to import instead of running a backend; a pickle,
        so it is only loaded when given explicitly. Needs exactly one sequence.
    track: the VIBE track id to use; default the longest track.
    vibe_root / vibe_python: the user's VIBE checkout and the Python of its environment.
    sequences: sequence ids to process (default: every sequence with aligned frames).
    video_root: folder to look in by file name when a video moved since align ran.
    min_detection_confidence: MediaPipe's person-detection threshold in [0, 1].
    workers: parallel sequences (0 = in this process, the default: the pose model already
        uses native threads).
    """

    backend: BackendName = "mediapipe"
    vibe_output: Path | None = None
    track: str | None = None
    vibe_root: Path | None = None
    vibe_python: Path | None = None
    sequences: list[str] = field(default_factory=list)
    video_root: Path | None = None
    min_detection_confidence: float = 0.5
    workers: int = 0

    @property
    def source(self) -> str:
        """What produces the keypoints: "mediapipe", "vibe" or "vibe-output"."""
        return "vibe-output" if self.vibe_output is not None else self.backend

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
