"""Demo of the keypoint stage: a real person (a public-domain photo) swaying in a 29.97 fps
clip, aligned to a 10 fps grid the way `musclekit align` writes it, then keypoints.

The moving square of align's synthetic capture holds no person, so keypoints on it are all
(correctly) missing; to show the stage doing its job the demo makes its own capture with a
person in it and measures the 2D error against where the photo was drawn. When an aligned
dataset is passed, the stage also runs on it and its detection counts are reported.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from musclekit.dataset import open_dataset
from musclekit.pipelines.keypoints.config import KeypointsConfig
from musclekit.pipelines.keypoints.joints import BODY25_JOINTS
from musclekit.pipelines.keypoints.stage import run_keypoints
from musclekit.pipelines.keypoints.synthetic import (
    grid_source_frames,
    make_aligned_capture,
    reference_joint_px,
    write_person_video,
)
from musclekit.progress import console

DEMO_SEQUENCE = "demo_S01_Squat_000"


def _summary(dataset: Path) -> dict:
    ds = open_dataset(dataset)
    out = {}
    for seq_id in ds.sequence_ids("keypoints2d"):
        meta = ds.sequences[seq_id].extra.get("keypoints", {})
        out[seq_id] = {k: meta.get(k) for k in ("backend", "n_rows", "n_detected", "n_no_person",
                                                "n_no_video_frame")}
    return out


def run_demo(workdir: Path, aligned_dataset: Path | None = None, duration_s: float = 6.0) -> dict:
    """Make a person capture in `workdir`, extract keypoints, check them; returns key results.

    aligned_dataset: optionally also run on this dataset (e.g. the align demo's output).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    n_native = int(duration_s * 30000 / 1001)
    empty = range(int(n_native * 0.45), int(n_native * 0.55))  # the person steps out
    clip = write_person_video(workdir / "keypoints_person.mp4", n_native, size=(640, 480),
                              sway_px=90, period_frames=60, empty_frames=empty)
    dataset = workdir / "keypoints_demo"
    if not (dataset / "meta").exists():
        make_aligned_capture(dataset, clip, sequence_id=DEMO_SEQUENCE, clip_frames=30)
    report = run_keypoints(dataset, KeypointsConfig())
    if report.failed:
        raise RuntimeError(f"keypoints demo failed: {report.failed}")

    kp2 = open_dataset(dataset).sequence_array("keypoints2d", DEMO_SEQUENCE)
    _, source = grid_source_frames(clip.n_frames, clip.fps, 10.0)
    nose = reference_joint_px(clip, "nose")
    errors = []
    for row, frame in enumerate(source):
        corner = clip.corners[frame]
        found = np.isfinite(kp2.values[row, BODY25_JOINTS.index("Nose"), 0])
        if corner is not None and found:
            errors.append(float(np.abs(kp2.values[row, BODY25_JOINTS.index("Nose"), :2] - (nose + corner)).max()))
    person_rows = sum(clip.corners[f] is not None for f in source)
    result = {
        "dataset": str(dataset),
        "rows": int(source.size),
        "rows_with_person_drawn": int(person_rows),
        "rows_detected": len(errors),
        "nose_error_px_median": round(float(np.median(errors)), 2) if errors else None,
        "nose_error_px_max": round(float(np.max(errors)), 2) if errors else None,
        "stage": next(iter(report.done.values()), None),
    }
    if aligned_dataset is not None:
        align_report = run_keypoints(Path(aligned_dataset), KeypointsConfig())
        result["aligned_dataset"] = {"path": str(aligned_dataset),
                                     "failed": align_report.failed,
                                     "sequences": _summary(Path(aligned_dataset))}
    result["seconds"] = round(time.perf_counter() - start, 1)
    console.print(
        f"keypoints demo: person found in {result['rows_detected']}/{person_rows} rows where it "
        f"was drawn ({source.size - person_rows} rows show nobody and stay missing); nose "
        f"error median {result['nose_error_px_median']} px, max {result['nose_error_px_max']} "
        f"px; {result['seconds']} s"
    )
    return result
