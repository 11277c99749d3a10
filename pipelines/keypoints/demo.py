"""Demo of the keypoint stage on a capture that goes through `musclekit align` first.

A public-domain photo of a person (Grace Hopper, matplotlib's sample data) sways through an
iPhone-like clip (29.97 fps, portrait, stored rotated with a -90 degree display matrix) and
steps out of the frame for a moment; an sEMG CSV at ~10 Hz follows the sway. align puts both
on the 10 fps grid, then keypoints runs on exactly the frames align chose, and the 2D nose
is compared with where the photo was drawn in each chosen frame (the truth is known).

align's own synthetic capture (a moving square) holds no person, so keypoints on it are all,
correctly, missing; pass it as `aligned_dataset` to run the stage on it as well.
"""

from __future__ import annotations

import csv
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from musclekit.dataset import open_dataset
from musclekit.errors import UnitFailedError
from musclekit.pipelines.keypoints.config import KeypointsConfig
from musclekit.pipelines.keypoints.joints import BODY25_JOINTS
from musclekit.pipelines.keypoints.stage import run_keypoints
from musclekit.pipelines.keypoints.synthetic import (
    IPHONE_FPS,
    PersonClip,
    reference_joint_px,
    write_person_video,
)
from musclekit.progress import console

DEMO_SEQUENCE = "demo_S01_Squat_000"
MIA_CHANNELS = ("l_quad", "l_ham", "l_lat", "l_bicep", "r_quad", "r_ham", "r_lat", "r_bicep")
VIDEO_START = datetime(2026, 11, 22, 9, 30, 0, 250000, tzinfo=UTC)


def _write_emg_csv(path: Path, clip: PersonClip, sway_px: float, period_frames: float) -> None:
    """~10 Hz sEMG-like envelopes following the sway speed, from 1 s before to 1 s after."""
    rng = np.random.default_rng(3)
    duration_s = clip.n_frames / float(IPHONE_FPS)
    t = np.arange(-1.0, duration_s + 1.0, 0.1) + rng.normal(0, 0.01, size=1)
    omega = 2 * np.pi * float(IPHONE_FPS) / period_frames
    speed = np.abs(np.cos(omega * t)) * sway_px * omega / 100.0
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["time", *MIA_CHANNELS])
        for k, tk in enumerate(t):
            stamp = (VIDEO_START + timedelta(seconds=float(tk))).isoformat()
            gains = 1.0 + 0.2 * np.arange(len(MIA_CHANNELS))
            row = speed[k] * gains + rng.uniform(0, 0.05, len(MIA_CHANNELS))
            writer.writerow([stamp, *(f"{v:.4f}" for v in row)])


def _summary(dataset: Path) -> dict:
    ds = open_dataset(dataset)
    out = {}
    for seq_id in ds.sequence_ids("keypoints2d"):
        meta = ds.sequences[seq_id].extra.get("keypoints", {})
        out[seq_id] = {k: meta.get(k) for k in ("backend", "n_rows", "n_detected", "n_no_person",
                                                "n_no_video_frame")}
    return out


def run_demo(workdir: Path, aligned_dataset: Path | None = None, duration_s: float = 6.0) -> dict:
    """Capture -> align -> keypoints in `workdir`; returns paths and the 2D nose error (px).

    aligned_dataset: optionally also run the stage on this dataset (e.g. align's demo output).
    """
    from musclekit.pipelines.align.config import AlignConfig, Capture
    from musclekit.pipelines.align.run import align_capture

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    n_native = int(duration_s * float(IPHONE_FPS))
    sway_px, period = 70.0, 60.0
    empty = range(int(n_native * 0.45), int(n_native * 0.55))  # the person steps out
    video = workdir / "keypoints_person.mov"
    clip = write_person_video(video, n_native, size=(360, 480), sway_px=sway_px,
                              period_frames=period, empty_frames=empty, rotation_deg=-90)
    emg_csv = workdir / "keypoints_person_emg.csv"
    _write_emg_csv(emg_csv, clip, sway_px, period)

    dataset = workdir / "keypoints-dataset"
    capture = Capture(emg_csv, video, subject="S01", exercise="Squat", sequence_id=DEMO_SEQUENCE,
                      video_start=VIDEO_START.isoformat())
    # MIA's 3 s clips (30 rows) when the capture is long enough to hold one.
    clip_frames = 30 if duration_s >= 3.0 else None
    align_capture(capture, AlignConfig(clip_frames=clip_frames, clip_max_missing=30, qc=False),
                  dataset)
    report = run_keypoints(dataset, KeypointsConfig())
    if report.failed:
        raise UnitFailedError(f"keypoints demo failed: {report.failed}")

    ds = open_dataset(dataset)
    kp2 = ds.sequence_array("keypoints2d", DEMO_SEQUENCE)
    source = ds.sequence_array("frames", DEMO_SEQUENCE).aux["source_frame"]
    nose_joint = BODY25_JOINTS.index("Nose")
    nose = reference_joint_px(clip, "nose")
    errors, person_rows = [], 0
    for row, frame in enumerate(source):
        corner = clip.corners[frame] if frame >= 0 else None
        person_rows += corner is not None
        if corner is not None and np.isfinite(kp2.values[row, nose_joint, 0]):
            errors.append(float(np.abs(kp2.values[row, nose_joint, :2] - (nose + corner)).max()))
    result = {
        "dataset": str(dataset),
        "video": str(video),
        "rows": int(source.size),
        "rows_with_person_drawn": int(person_rows),
        "rows_detected": len(errors),
        "nose_error_px_median": round(float(np.median(errors)), 2) if errors else None,
        "nose_error_px_max": round(float(np.max(errors)), 2) if errors else None,
        "stage": next(iter(report.done.values()), None),
    }
    if aligned_dataset is not None:
        other = run_keypoints(Path(aligned_dataset), KeypointsConfig())
        result["aligned_dataset"] = {"path": str(aligned_dataset), "failed": other.failed,
                                     "sequences": _summary(Path(aligned_dataset))}
    result["seconds"] = round(time.perf_counter() - start, 1)
    console.print(
        f"keypoints demo: person found in {result['rows_detected']}/{person_rows} rows where it "
        f"was drawn ({source.size - person_rows} rows without a person or frame stay missing); "
        f"nose error median {result['nose_error_px_median']} px, max "
        f"{result['nose_error_px_max']} px; {result['seconds']} s"
    )
    return result
