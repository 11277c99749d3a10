"""`musclekit demo` part: generate a capture with known truth and align it."""

from __future__ import annotations

import pathlib
import time

from musclekit.pipelines.align.config import AlignConfig, Capture
from musclekit.pipelines.align.run import align_capture
from musclekit.pipelines.align.synthetic import MIA_CHANNELS, make_capture


def run_demo(workdir: pathlib.Path) -> dict:
    """Generate a 30 s phone-like capture (8 sEMG channels, whole-second creation time, dropped
    frames, jitter, batching, a dropout) and align it into `<workdir>/align-dataset`.

    Returns paths and the measured offset error (the truth is known).
    """
    workdir = pathlib.Path(workdir)
    start = time.perf_counter()
    cap = make_capture(
        workdir / "capture", name="S01_squat", duration_s=30.0, width=320, height=240,
        creation="whole", channels=MIA_CHANNELS, dropout_s=(12.0, 14.5), rotation_deg=-90,
        dropped_frames=[50, 51, 300, 301, 302, 303, 304, 305, 600], seed=7,
    )
    dataset = workdir / "align-dataset"
    result = align_capture(
        Capture(cap.emg_path, cap.video_path, subject="S01", exercise="Squat", sequence_id="S01_Squat_000"),
        AlignConfig(clip_frames=30, clip_max_missing=3, write_video=True),
        dataset,
    )
    return {
        "dataset": str(dataset),
        "sequence_id": result.sequence_id,
        "video": str(cap.video_path),
        "emg_csv": str(cap.emg_path),
        "qc_png": result.qc_png,
        "qc_json": result.qc_json,
        "video_clip": result.video_clip,
        "rows": result.rows,
        "clips": result.clips,
        "offset_s": result.offset_s,
        "true_offset_s": cap.true_offset_s,
        "offset_error_ms": abs(result.offset_s - cap.true_offset_s) * 1e3,
        "offset_source": result.offset_source,
        "verdict": result.verdict,
        "seconds": time.perf_counter() - start,
    }
