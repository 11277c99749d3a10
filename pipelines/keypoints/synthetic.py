"""Captures the project makes itself: a real photo of a person moving through a video.

Pose models need a real person; a procedural stick figure is not one. The photos come from
packages musclekit already installs or tests with, under permissive terms:
- "grace_hopper": matplotlib's sample data (`grace_hopper.jpg`, a US Navy photograph in
  the public domain), head and shoulders, frontal. Always available (matplotlib is a
  dependency), so the demo and the benchmark use it.
- "astronaut": scikit-image's `data.astronaut()` (NASA, public domain), upper body
  with arms, frontal. Used by the tests when scikit-image is installed.

`make_aligned_capture` writes such a video plus a dataset with exactly the `emg` and
`frames` streams that `musclekit align` writes (docs/keypoints.md, the align -> keypoints
contract), so the keypoint stage can be tested and demonstrated without align.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from musclekit.dataset import (
    DatasetWriter,
    Provenance,
    SequenceInfo,
    StreamSpec,
    SubjectInfo,
    file_sha256,
)
from musclekit.errors import MissingDependencyError
from musclekit.pipelines.keypoints.joints import MEDIAPIPE33_LANDMARKS

IPHONE_FPS = Fraction(30000, 1001)


def person_photo(name: str = "grace_hopper") -> np.ndarray:
    """(H, W, 3) uint8 RGB photo of a real person, frontal."""
    if name == "grace_hopper":
        import matplotlib.cbook
        from PIL import Image

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
            return np.asarray(Image.open(fh).convert("RGB"))
    if name == "astronaut":
        try:
            from skimage import data
        except ImportError as err:
            raise MissingDependencyError(
                "the 'astronaut' photo comes from scikit-image: pip install scikit-image"
            ) from err
        return np.ascontiguousarray(data.astronaut())
    raise ValueError(f"unknown photo {name!r}; use 'grace_hopper' or 'astronaut'")


def scale_to_height(photo: np.ndarray, height: int) -> np.ndarray:
    from PIL import Image

    width = int(round(photo.shape[1] * height / photo.shape[0]))
    return np.asarray(Image.fromarray(photo).resize((width, height), Image.BILINEAR))


BACKGROUND_RGB = (92, 104, 96)


def compose_frame(scaled_photo: np.ndarray, width: int, height: int, shift_px: float | None,
                  background: np.ndarray | None = None
                  ) -> tuple[np.ndarray, tuple[int, int] | None]:
    """An upright (height, width, 3) frame with the photo standing on the bottom edge,
    centred and moved `shift_px` sideways (None: background only); returns it and the
    photo's top-left corner (x, y)."""
    if background is not None:
        canvas = background.copy()
    else:
        canvas = np.full((height, width, 3), BACKGROUND_RGB, dtype=np.uint8)
    if shift_px is None:
        return canvas, None
    ph, pw = scaled_photo.shape[:2]
    x0 = int(round((width - pw) / 2 + shift_px))
    y0 = height - ph
    xa, xb = max(x0, 0), min(x0 + pw, width)
    canvas[y0:, xa:xb] = scaled_photo[:, xa - x0 : xb - x0]
    return canvas, (x0, y0)


def reference_joint_px(clip: PersonClip, landmark: str = "nose") -> np.ndarray:
    """Where MediaPipe finds a landmark (a MediaPipe name, default the nose) in the photo itself, in pixels
    relative to the photo's top-left corner: measured on the centred, unshifted frame, so
    corner + this is the expected position in any frame of the clip."""
    from musclekit.pipelines.keypoints.mediapipe_backend import MediaPipeBackend

    scaled = scale_to_height(person_photo(clip.photo), clip.photo_height)
    canvas, corner = compose_frame(scaled, clip.width, clip.height, 0.0)
    with MediaPipeBackend() as backend:
        ref = backend.process([canvas])
    index = MEDIAPIPE33_LANDMARKS.index(landmark)
    return ref.keypoints2d_px[0, index] - np.asarray(corner, dtype=np.float64)


@dataclass
class PersonClip:
    """What was drawn: per native frame the photo's top-left corner (x, y) in the upright
    frame, or None when the frame is empty (no person)."""

    path: Path
    width: int
    height: int
    n_frames: int
    fps: Fraction
    rotation_deg: int
    photo: str
    photo_height: int
    corners: list[tuple[int, int] | None] = field(default_factory=list)


def write_person_video(path: Path, n_frames: int, size: tuple[int, int] = (640, 480),
                       photo: str = "grace_hopper", photo_height: int | None = None,
                       sway_px: float = 60.0, period_frames: float = 45.0,
                       empty_frames: Sequence[int] = (), still: bool = False,
                       rotation_deg: int = 0, lossless: bool = False,
                       fps: Fraction = IPHONE_FPS, textured: bool = False) -> PersonClip:
    """Write an H.264 clip (upright size `size` = (width, height)) of a photo swaying sideways.

    empty_frames: native frame indices that show only the background.
    still: the photo does not move (every frame with a person is the same image).
    rotation_deg: display rotation stored in the file (PyAV's convention, e.g. -90 for an
        iPhone portrait clip); pixels are stored turned the other way, as a phone does.
    lossless: qp=0, so identical frames decode to identical pixels.
    textured: a static random-texture background, which costs the decoder about what a
        real scene does (a flat background decodes unrealistically fast).
    """
    width, height = size
    picture = person_photo(photo)
    target_h = photo_height or int(height * 0.85)
    scaled = scale_to_height(picture, target_h)
    background = None
    if textured:
        rng = np.random.default_rng(7)
        background = rng.integers(40, 140, size=(height, width, 3), dtype=np.uint8)
    empty = set(int(i) for i in empty_frames)
    clip = PersonClip(path=Path(path), width=width, height=height, n_frames=n_frames, fps=fps,
                      rotation_deg=rotation_deg, photo=photo, photo_height=target_h)
    quarter = int(round(rotation_deg / 90)) % 4
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stored_w, stored_h = (height, width) if quarter % 2 else (width, height)
        stream.width, stream.height = stored_w, stored_h
        stream.pix_fmt = "yuv444p" if lossless else "yuv420p"
        stream.options = {"qp": "0"} if lossless else {"crf": "20", "preset": "veryfast"}
        if rotation_deg:
            stream.set_display_rotation(rotation_deg)
        for i in range(n_frames):
            if i in empty:
                canvas = compose_frame(scaled, width, height, None, background)[0]
                clip.corners.append(None)
            else:
                shift = 0.0 if still else sway_px * np.sin(2 * np.pi * i / period_frames)
                canvas, corner = compose_frame(scaled, width, height, shift, background)
                clip.corners.append(corner)
            # Store the frame turned against the display rotation, as a phone does.
            stored = np.rot90(canvas, k=-quarter) if quarter else canvas
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return clip


def grid_source_frames(n_native: int, fps: Fraction, grid_hz: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Grid times (s) and the nearest native frame for each, as align picks them."""
    duration_s = n_native / float(fps)
    n_grid = int(np.floor(duration_s * grid_hz - 1e-9)) + 1
    time_s = np.arange(n_grid) / grid_hz
    source = np.minimum(np.rint(time_s * float(fps)).astype(np.int64), n_native - 1)
    return time_s, source


def make_aligned_capture(dataset: Path, clip: PersonClip, sequence_id: str = "S01_squat_000",
                         subject_id: str = "S01", grid_hz: float = 10.0,
                         missing_rows: Sequence[int] = (), clip_frames: int | None = None,
                         video_path_in_extra: Path | None = None,
                         n_frames_in_extra: int | None = None) -> Path:
    """Write the `emg` and `frames` streams align would write for `clip` into `dataset`.

    missing_rows: grid rows align found no video frame for (source_frame -1, MISSING).
    clip_frames: cut the grid into windows of this many rows in extra["clips"].
    video_path_in_extra / n_frames_in_extra: record these instead of the clip's (to build
        datasets that disagree with their video, for tests of bad input).
    """
    time_s, source = grid_source_frames(clip.n_frames, clip.fps, grid_hz)
    n = time_s.shape[0]
    flags = np.zeros(n, dtype=np.uint8)
    pts = source / float(clip.fps)
    for row in missing_rows:
        source[row] = -1
        pts[row] = np.nan
        flags[row] = 1
    channels = ["l_quad", "l_ham", "l_lat", "l_bicep", "r_quad", "r_ham", "r_lat", "r_bicep"]
    streams = [
        StreamSpec(name="emg", family="semg", rate_hz=grid_hz, channels=channels, clock="emg",
                   description="sEMG envelope on the 10 fps grid (synthetic)"),
        StreamSpec(name="frames", family="frames", rate_hz=grid_hz, clock="emg",
                   aux={"source_frame": "int64", "source_pts_s": "float64"},
                   description="chosen video frame per grid row (synthetic)"),
    ]
    writer = DatasetWriter.create_or_open(dataset, name="keypoints-capture", streams=streams)
    video_path = Path(video_path_in_extra or clip.path).resolve()
    extra = {
        "video": {"path": str(video_path), "sha256": file_sha256(clip.path),
                  "width": clip.width, "height": clip.height,
                  "rotation_deg": clip.rotation_deg, "avg_fps": float(clip.fps),
                  "n_frames": n_frames_in_extra or clip.n_frames},
        "alignment": {"offset_s": 0.0, "offset_source": "synthetic", "score": None,
                      "drift_s_per_s": 0.0},
    }
    if clip_frames:
        extra["clips"] = [{"start_frame": s, "n_frames": clip_frames,
                           "split": "test" if k % 5 == 4 else "train"}
                          for k, s in enumerate(range(0, n - clip_frames + 1, clip_frames))]
    seq = SequenceInfo(id=sequence_id, subject_id=subject_id, source="synthetic-capture",
                       label="Squat", start_time_ns=1_763_780_000_000_000_000, extra=extra)
    rng = np.random.default_rng(0)
    emg = np.abs(np.sin(time_s[:, None] * 2 + np.arange(8)) + 0.05 * rng.standard_normal((n, 8)))
    with writer.unit(f"align.{sequence_id}",
                     Provenance.for_stage("synthetic-align", config={"grid_hz": grid_hz})) as u:
        u.add_subject(SubjectInfo(id=subject_id, sex="F", mass_kg=61.0, height_m=1.68))
        ts = seq.start_time_ns + np.rint(time_s * 1e9).astype(np.int64)
        u.write_sequence("emg", seq, time_s=time_s, values=emg, timestamp_ns=ts)
        u.write_sequence("frames", seq, time_s=time_s, flags=flags, timestamp_ns=ts,
                         aux={"source_frame": source, "source_pts_s": pts})
    return Path(dataset)
