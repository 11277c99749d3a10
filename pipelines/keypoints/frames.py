"""Read back exactly the video frames `musclekit align` chose, with the rotation applied.

align records for every 10 fps grid row the index of the chosen frame in decode order
(`source_frame`, -1 when none). Decoding the file once, front to back, and keeping only
those indices is 5-8x faster than seeking to each one, and it gives the same frame for the
same index on every run (seeking in a VFR or B-frame file may not).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from musclekit.errors import InputError


def rotate_to_display(frame_rgb: np.ndarray, rotation_deg: float) -> np.ndarray:
    """Turn a stored frame upright: rotate it counter-clockwise by `rotation_deg`.

    `rotation_deg` is the display-matrix angle as PyAV's `VideoFrame.rotation` reports it
    (counter-clockwise degrees; an iPhone portrait clip reads -90, i.e. turn clockwise).
    """
    quarter_turns = int(round(rotation_deg / 90.0)) % 4
    if abs(rotation_deg - 90.0 * round(rotation_deg / 90.0)) > 1.0:
        raise InputError(
            f"video rotation of {rotation_deg} degrees is not a multiple of 90; "
            "re-encode the clip upright (e.g. ffmpeg applies it by default)"
        )
    if quarter_turns == 0:
        return frame_rgb
    return np.ascontiguousarray(np.rot90(frame_rgb, k=quarter_turns))


def read_frames(video_path: Path, indices: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (decode index, upright RGB frame (H, W, 3) uint8) for each wanted index, in order.

    indices: decode-order frame indices (>= 0, any order, duplicates allowed); each frame
    is yielded once. Raises InputError if the video ends before the largest index, which
    means the file is not the one align read (replaced, truncated or re-encoded).
    """
    wanted = np.unique(np.asarray(indices, dtype=np.int64))
    if wanted.size == 0:
        return
    if wanted[0] < 0:
        raise InputError(f"{video_path}: negative frame index {int(wanted[0])} requested")
    try:
        container = av.open(str(video_path))
    except FileNotFoundError as err:
        raise InputError(f"video not found: {video_path}") from err
    except av.FFmpegError as err:
        raise InputError(f"{video_path}: cannot open the video ({err})") from err
    with container:
        if not container.streams.video:
            raise InputError(f"{video_path}: the file holds no video stream")
        stream = container.streams.video[0]
        # FFmpeg's own decoder threads run outside the GIL, beside the pose model.
        stream.thread_type = "AUTO"
        k = 0
        decoded = 0
        try:
            for decoded, frame in enumerate(container.decode(stream), start=1):
                if decoded - 1 != wanted[k]:
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                yield int(wanted[k]), rotate_to_display(rgb, float(frame.rotation or 0.0))
                k += 1
                if k == wanted.size:
                    return
        except av.FFmpegError as err:
            raise InputError(
                f"{video_path}: decoding failed after frame {decoded - 1} ({err}); the file "
                "is damaged or truncated"
            ) from err
    raise InputError(
        f"{video_path}: frame index {int(wanted[k])} is outside the video, which decodes to "
        f"only {decoded} frames (indices 0..{decoded - 1}); the file is not the one "
        "`musclekit align` read (replaced, truncated or re-encoded): rerun align on it"
    )
