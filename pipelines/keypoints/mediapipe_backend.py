"""Offline default backend: MediaPipe Pose (BlazePose GHUM, 33 landmarks) from mediapipe 0.10.14.

Why these settings (measured on this project's test photos, see docs/keypoints.md):
- `static_image_mode=True`: every aligned frame is detected on its own. In video mode the
  person's region comes from the previous frame's landmarks; on six identical frames that
  moved joints by up to 60 px (median 5-10 px) while static mode gave identical output,
  and at 10 fps people move three times further between frames than the 30 fps tracking
  assumes. Static mode costs ~25 % more time per frame.
- `smooth_landmarks=False`: MediaPipe's landmark filter is tuned for 30 fps streams; it
  is only active in video mode anyway, and we keep per-frame estimates unsmoothed.
- `model_complexity=1`: the only pose model shipped inside the 0.10.14 wheel; the others
  are downloaded at run time, which musclekit never does.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from musclekit.errors import MissingDependencyError
from musclekit.pipelines.keypoints.backend import PoseOutput
from musclekit.pipelines.keypoints.joints import MEDIAPIPE33_LANDMARKS

SUPPORTED_VERSION = "0.10.14"


@dataclass(frozen=True)
class MediaPipeConfig:
    """min_detection_confidence: person-detector score below which a frame counts as empty."""

    min_detection_confidence: float = 0.5
    model_complexity: int = 1
    static_image_mode: bool = True


@contextlib.contextmanager
def _native_stderr_captured() -> Iterator[None]:
    """Keep MediaPipe's C++ start-up chatter (TFLite/absl INFO and feedback-manager
    warnings, written straight to file descriptor 2) off the user's terminal. What it
    wrote is re-attached to any exception raised meanwhile, so nothing useful is lost."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except Exception as err:
            os.dup2(saved, 2)
            sink.seek(0)
            native = sink.read().decode(errors="replace").strip()
            if native:
                err.add_note(f"MediaPipe's native log:\n{native[-2000:]}")
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_mediapipe():  # noqa: ANN202 - returns the module
    # Keep MediaPipe's C++ logging (glog/absl INFO lines) out of the user's terminal.
    os.environ.setdefault("GLOG_minloglevel", "2")
    try:
        import mediapipe as mp
    except ImportError as err:
        raise MissingDependencyError(
            "the MediaPipe backend needs mediapipe==0.10.14 (it ships its pose model inside "
            "the wheel; newer releases download models at run time). Install it with "
            "`pip install 'musclekit[keypoints]'` (Python 3.11 or 3.12), or use "
            f"--backend vibe / --vibe-output. Import error: {err}"
        ) from err
    return mp


class MediaPipeBackend:
    """MediaPipe Pose, one frame at a time; finds at most one person per frame."""

    name = "mediapipe"
    joint_set = "mediapipe33"

    def __init__(self, config: MediaPipeConfig | None = None) -> None:
        self.config = config or MediaPipeConfig()
        mp = import_mediapipe()
        self.version = str(mp.__version__)
        if self.config.model_complexity != 1:
            raise MissingDependencyError(
                f"MediaPipe model_complexity={self.config.model_complexity} needs a model "
                "that mediapipe downloads at run time; only model_complexity=1 is offline"
            )
        with _native_stderr_captured():
            self._pose = mp.solutions.pose.Pose(
                static_image_mode=self.config.static_image_mode,
                model_complexity=self.config.model_complexity,
                smooth_landmarks=False,
                enable_segmentation=False,
                min_detection_confidence=self.config.min_detection_confidence,
            )
            # The graph loads its models on the first frame; that is when it logs.
            self._pose.process(np.zeros((64, 64, 3), dtype=np.uint8))

    def process_one(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(33, 2) px, (33, 3) m, (33,) confidence for one RGB frame, or None if nobody."""
        height, width = frame_rgb.shape[:2]
        with warnings.catch_warnings():
            # mediapipe 0.10.14 calls a protobuf API deprecated upstream on every frame.
            warnings.filterwarnings("ignore", message=".*GetPrototype.*", category=UserWarning)
            result = self._pose.process(frame_rgb)
        if result.pose_landmarks is None or result.pose_world_landmarks is None:
            return None
        image = np.array([(lm.x, lm.y, lm.visibility) for lm in result.pose_landmarks.landmark])
        world = np.array([(lm.x, lm.y, lm.z) for lm in result.pose_world_landmarks.landmark])
        xy = image[:, :2] * np.array([width, height], dtype=np.float64)
        return xy, world, np.clip(image[:, 2], 0.0, 1.0)

    def process(self, frames_rgb: Iterable[np.ndarray]) -> PoseOutput:
        frames = list(frames_rgb)
        out = PoseOutput.empty(len(frames), len(MEDIAPIPE33_LANDMARKS), self.joint_set)
        for i, frame in enumerate(frames):
            self.fill(out, i, frame)
        return out

    def fill(self, out: PoseOutput, row: int, frame_rgb: np.ndarray) -> None:
        """Run on one frame and write its result into row `row` of `out`."""
        found = self.process_one(frame_rgb)
        if found is None:
            return
        out.keypoints2d_px[row], out.keypoints3d_m[row], out.confidence[row] = found
        out.detected[row] = True

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> MediaPipeBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
