"""The Muscles-in-Action style normalisation of 3D keypoints by a per-clip bounding box.

MIA fed its models VIBE 3D joints "normalised with respect to a pre-computed bounding
box"; the exact recipe is unpublished. Ours, fixed and documented (docs/keypoints.md):

1. The 3D keypoints are root-relative (MidHip at the origin), in metres.
2. Per clip (each `extra["clips"]` window written by `align --clip-frames`, or the whole
   sequence when there are no clips), the box is the per-axis min and max over every
   finite joint coordinate of every frame in the clip: computed once, before any frame
   is normalised, so all frames of a clip share one box.
3. p_norm = (p - box_centre) / box_size, with box_size the longest side of the box: the
   aspect ratio is kept (a squat stays a squat) and every coordinate lies in [-0.5, 0.5].

Confidence is passed through unchanged. A clip without any detected frame keeps NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClipBox:
    """The box of one clip: rows [start_row, start_row + n_rows), lower/upper corners in m."""

    start_row: int
    n_rows: int
    lower_m: tuple[float, float, float] | None
    upper_m: tuple[float, float, float] | None

    @property
    def size_m(self) -> float | None:
        if self.lower_m is None or self.upper_m is None:
            return None
        return float(max(u - lo for u, lo in zip(self.upper_m, self.lower_m, strict=True)))

    def as_dict(self) -> dict:
        return {"start_row": self.start_row, "n_rows": self.n_rows,
                "lower_m": self.lower_m, "upper_m": self.upper_m, "size_m": self.size_m}


def clip_windows(n_rows: int, clips: list[dict] | None) -> list[tuple[int, int]]:
    """(start_row, n_rows) windows: align's clips when given, else the whole sequence.

    Rows outside every clip (the tail align does not cut into a full clip) get a window of
    their own, so every row is normalised by some box.
    """
    if not clips:
        return [(0, n_rows)] if n_rows else []
    windows = sorted((int(c["start_frame"]), int(c["n_frames"])) for c in clips)
    covered = np.zeros(n_rows, dtype=bool)
    for start, n in windows:
        covered[start : start + n] = True
    rest = np.flatnonzero(~covered)
    if rest.size:
        # Split the uncovered rows into contiguous runs.
        breaks = np.flatnonzero(np.diff(rest) > 1) + 1
        for run in np.split(rest, breaks):
            windows.append((int(run[0]), int(run.size)))
    return sorted(windows)


def normalise_by_clip_box(keypoints3d: np.ndarray,
                          windows: list[tuple[int, int]]) -> tuple[np.ndarray, list[ClipBox]]:
    """keypoints3d (T, J, 4) = x, y, z (m, root-relative), confidence -> same shape, unitless."""
    out = np.full_like(keypoints3d, np.nan, dtype=np.float64)
    boxes: list[ClipBox] = []
    for start, n in windows:
        clip = keypoints3d[start : start + n, :, :3].reshape(-1, 3)
        finite = clip[np.isfinite(clip).all(axis=1)]
        if finite.size == 0:
            boxes.append(ClipBox(start, n, None, None))
            continue
        lower = finite.min(axis=0)
        upper = finite.max(axis=0)
        size = float((upper - lower).max())
        centre = (lower + upper) / 2.0
        # A single point (size 0) cannot be scaled: keep it at the centre.
        scale = size if size > 0 else 1.0
        out[start : start + n, :, :3] = (keypoints3d[start : start + n, :, :3] - centre) / scale
        out[start : start + n, :, 3] = keypoints3d[start : start + n, :, 3]
        boxes.append(ClipBox(start, n, tuple(map(float, lower)), tuple(map(float, upper))))
    return out, boxes
