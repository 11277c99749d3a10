"""Import a VIBE result file (`vibe_output.pkl`) and put it on the aligned grid.

The file is a joblib pickle written by VIBE's demo.py: a dict keyed by track id, each
track a dict with `joints3d` (N, 49, 3), `joints2d_img_coord` (N, 49, 2), `bboxes` (N, 4),
`frame_ids` (N,), `pose` (N, 72), `betas` (N, 10) (plus `pred_cam`, `orig_cam`, `verts`).
Unpickling runs code stored in the file, so this module is only ever called on a path
the user passed explicitly (`--vibe-output`); musclekit never looks for such files.

Track policy: the longest track (most frames) is the subject; ties go to the smallest
track id. `--track ID` overrides it. Other tracks are ignored and listed in the summary.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.keypoints.backend import PoseOutput
from musclekit.pipelines.keypoints.joints import SPIN49_N_JOINTS

REQUIRED_KEYS = ("joints3d", "joints2d_img_coord", "frame_ids")


@dataclass
class VibeTrack:
    """One VIBE tracklet: frame_ids (N,) index the frames VIBE was fed, in order."""

    track_id: int | str
    frame_ids: np.ndarray
    joints3d: np.ndarray
    joints2d_img_coord: np.ndarray
    bboxes: np.ndarray | None = None
    pose: np.ndarray | None = None
    betas: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.frame_ids.shape[0])


def load_vibe_output(path: Path) -> dict[int | str, VibeTrack]:
    """Load and validate a VIBE output pickle. Runs code from the file: explicit paths only."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--vibe-output {path}: no such file")
    import joblib

    try:
        raw = joblib.load(path)
    except (pickle.UnpicklingError, EOFError, ImportError, AttributeError, ValueError,
            KeyError, IndexError, TypeError) as err:
        raise InputError(
            f"--vibe-output {path}: cannot be read as a joblib/pickle file "
            f"({type(err).__name__}: {err}); pass the vibe_output.pkl written by VIBE's demo.py"
        ) from err
    if not isinstance(raw, dict) or not raw:
        raise InputError(
            f"--vibe-output {path}: expected a dict of tracks keyed by track id, got "
            f"{type(raw).__name__}{' (empty)' if isinstance(raw, dict) else ''}"
        )
    tracks = {}
    for track_id, data in raw.items():
        tracks[track_id] = _validate_track(path, track_id, data)
    return tracks


def _validate_track(path: Path, track_id: object, data: object) -> VibeTrack:
    where = f"--vibe-output {path}, track {track_id!r}"
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a dict of arrays, got {type(data).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in data or data[k] is None]
    if missing:
        hint = ""
        if "joints3d" in missing and "verts" in data:
            hint = (" (VIBE's demo.py before mid-2020 did not save joints3d and "
                    "joints2d_img_coord: rerun a current VIBE demo.py)")
        raise InputError(
            f"{where}: missing keys {missing}; it has {sorted(map(str, data))}. A VIBE output "
            f"track needs {list(REQUIRED_KEYS)}{hint}"
        )
    frame_ids = np.asarray(data["frame_ids"])
    if frame_ids.ndim != 1 or not np.issubdtype(frame_ids.dtype, np.integer):
        raise InputError(f"{where}: frame_ids must be a 1-D integer array, got shape "
                         f"{frame_ids.shape} dtype {frame_ids.dtype}")
    n = frame_ids.shape[0]
    joints3d = np.asarray(data["joints3d"], dtype=np.float64)
    joints2d = np.asarray(data["joints2d_img_coord"], dtype=np.float64)
    for key, arr, dims in (("joints3d", joints3d, 3), ("joints2d_img_coord", joints2d, 2)):
        if arr.shape != (n, SPIN49_N_JOINTS, dims):
            raise InputError(
                f"{where}: {key} has shape {arr.shape}, expected ({n}, {SPIN49_N_JOINTS}, "
                f"{dims}) for {n} frame_ids (VIBE's 49 SPIN joints)"
            )
    if np.unique(frame_ids).size != n:
        raise InputError(f"{where}: frame_ids repeat a frame; a track holds each frame once")

    def optional(key: str) -> np.ndarray | None:
        return None if data.get(key) is None else np.asarray(data[key])

    return VibeTrack(track_id=track_id, frame_ids=frame_ids.astype(np.int64),
                     joints3d=joints3d, joints2d_img_coord=joints2d,
                     bboxes=optional("bboxes"), pose=optional("pose"), betas=optional("betas"))


def choose_track(tracks: dict[int | str, VibeTrack], track: int | str | None = None
                 ) -> VibeTrack:
    """The subject's track: `track` if given, else the longest (ties: smallest id)."""
    if track is not None:
        for key, value in tracks.items():
            if key == track or str(key) == str(track):
                return value
        raise InputError(
            f"--track {track}: no such track; the VIBE output has "
            + ", ".join(f"{k} ({len(v)} frames)" for k, v in tracks.items())
        )
    return sorted(tracks.values(), key=lambda t: (-len(t), str(t.track_id)))[0]


def check_frame_ids(path: Path, tracks: dict[int | str, VibeTrack], n_frames: int) -> None:
    """Every frame id must index a frame of the video (0..n_frames-1)."""
    for t in tracks.values():
        if len(t) and (t.frame_ids.min() < 0 or t.frame_ids.max() >= n_frames):
            raise InputError(
                f"--vibe-output {path}, track {t.track_id!r}: frame ids "
                f"{int(t.frame_ids.min())}..{int(t.frame_ids.max())} are outside the video, "
                f"which has {n_frames} frames (0..{n_frames - 1}); this VIBE output was made "
                "from a different video (or a trimmed one)"
            )


def track_on_rows(track: VibeTrack, row_frame_ids: np.ndarray) -> PoseOutput:
    """Place a track on grid rows: row i takes the track's frame `row_frame_ids[i]` (-1: none).

    VIBE has no per-joint confidence: it regresses every joint of a tracked person, so the
    confidence is 1 where the track covers the frame and NaN elsewhere.
    """
    rows = np.asarray(row_frame_ids, dtype=np.int64)
    out = PoseOutput.empty(rows.shape[0], SPIN49_N_JOINTS, "spin49")
    position = {int(f): i for i, f in enumerate(track.frame_ids)}
    for row, frame_id in enumerate(rows):
        i = position.get(int(frame_id)) if frame_id >= 0 else None
        if i is None:
            continue
        out.keypoints2d_px[row] = track.joints2d_img_coord[i]
        out.keypoints3d_m[row] = track.joints3d[i]
        out.confidence[row] = 1.0
        out.detected[row] = True
    return out
