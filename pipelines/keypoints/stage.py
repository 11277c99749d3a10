"""`musclekit keypoints`: keypoints on the aligned frames of every sequence of a dataset.

One unit of work per sequence (`keypoints.<sequence id>`): read the `frames` stream align
wrote, decode the source video once and keep exactly the chosen frames, run the backend
(or import VIBE output), map to BODY_25 and write `keypoints2d`, `keypoints3d` and
`keypoints3d_norm` on the same grid (row i of every keypoint stream is row i of `frames`).
Rerunning the command skips finished sequences.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musclekit.compute import ComputeConfig, RunReport, Unit, run_units
from musclekit.dataset import (
    Dataset,
    DatasetWriter,
    Flag,
    Provenance,
    SequenceArray,
    SequenceInfo,
    StreamSpec,
    open_dataset,
)
from musclekit.errors import FormatError, InputError, UnitFailedError
from musclekit.pipelines.keypoints.backend import PoseOutput, to_body25
from musclekit.pipelines.keypoints.config import KeypointsConfig
from musclekit.pipelines.keypoints.frames import read_frames
from musclekit.pipelines.keypoints.joints import BODY25_JOINTS, ROOT_JOINT
from musclekit.pipelines.keypoints.normalise import clip_windows, normalise_by_clip_box

FRAMES_STREAM = "frames"
KEYPOINT_STREAMS = ("keypoints2d", "keypoints3d", "keypoints3d_norm")
TRACK_POLICY = {
    "mediapipe": "one person per frame: MediaPipe Pose keeps the most confident detection "
                 "in each frame independently (no identity across frames)",
    "vibe": "longest VIBE track (ties: smallest id) unless --track",
    "vibe-output": "longest VIBE track (ties: smallest id) unless --track",
}


def keypoint_streams(frames: StreamSpec) -> list[StreamSpec]:
    """The three keypoint streams, on the clock and rate of the aligned frames."""
    joints = list(BODY25_JOINTS)
    common = {"rate_hz": frames.rate_hz, "clock": frames.clock, "channels": joints}
    return [
        StreamSpec(name="keypoints2d", family="keypoints2d", units="px", **common,
                   description="BODY_25 2D keypoints in absolute pixels of the upright "
                   "(rotation-applied) video frame; row i = row i of `frames`"),
        StreamSpec(name="keypoints3d", family="keypoints3d", units="m", **common,
                   description="BODY_25 3D keypoints in metres relative to MidHip, "
                   "camera-aligned (x right, y down, z away); row i = row i of `frames`"),
        StreamSpec(name="keypoints3d_norm", family="keypoints3d", units="1", **common,
                   description="keypoints3d normalised by one bounding box per clip "
                   "(centre subtracted, divided by the longest side; see docs/keypoints.md)"),
    ]


def unit_id_for(sequence_id: str) -> str:
    return f"keypoints.{sequence_id}"


def plan_sequences(dataset: Path, config: KeypointsConfig) -> list[str]:
    """Sequence ids to process; raises when the dataset has no aligned frames."""
    ds = open_dataset(dataset)
    if FRAMES_STREAM not in ds.streams or not ds.sequence_ids(FRAMES_STREAM):
        raise InputError(
            f"{dataset} has no aligned frames (no `{FRAMES_STREAM}` stream with sequences): "
            "run `musclekit align --emg ... --video ... --out "
            f"{dataset}` first, then `musclekit keypoints {dataset}`"
        )
    available = ds.sequence_ids(FRAMES_STREAM)
    if config.sequences:
        unknown = [s for s in config.sequences if s not in available]
        if unknown:
            raise InputError(
                f"--sequence {', '.join(unknown)}: not in {dataset}; sequences with aligned "
                f"frames: {', '.join(available)}"
            )
        chosen = list(config.sequences)
    else:
        chosen = available
    if config.vibe_output is not None and len(chosen) != 1:
        raise InputError(
            f"--vibe-output holds the VIBE result of one video, but {len(chosen)} sequences "
            f"are selected ({', '.join(chosen[:5])}{' ...' if len(chosen) > 5 else ''}); "
            "name the one it belongs to with --sequence ID"
        )
    return chosen


def check_source(config: KeypointsConfig) -> None:
    """Fail once, before any unit starts, when the keypoint source cannot work at all."""
    if config.source == "vibe-output":
        from musclekit.pipelines.keypoints import vibe_output as vo

        vo.choose_track(vo.load_vibe_output(Path(config.vibe_output)), config.track)
    elif config.source == "vibe":
        from musclekit.pipelines.keypoints.vibe_runner import check_vibe_install

        check_vibe_install(config.vibe_root, config.vibe_python)
    else:
        from musclekit.pipelines.keypoints.mediapipe_backend import import_mediapipe

        import_mediapipe()


def run_keypoints(dataset: Path, config: KeypointsConfig,
                  on_result: Callable[[str, str, Any], None] | None = None) -> RunReport:
    """Extract keypoints for every selected sequence; finished sequences are skipped."""
    dataset = Path(dataset)
    chosen = plan_sequences(dataset, config)
    check_source(config)
    ds = open_dataset(dataset)
    writer = DatasetWriter.create_or_open(dataset, streams=keypoint_streams(ds.streams[FRAMES_STREAM]))
    units = [Unit(id=unit_id_for(s), payload={"dataset": str(dataset), "sequence_id": s,
                                              "config": config}) for s in chosen]
    return run_units(
        units, extract_sequence, ComputeConfig(workers=config.workers),
        description=f"keypoints ({config.source})",
        skip=lambda u: writer.is_done(u.id), on_result=on_result,
    )


# -- one sequence ------------------------------------------------------------------------

@dataclass
class VideoRef:
    """The source video of a sequence, as align recorded it."""

    path: Path
    n_frames: int | None
    sha256: str | None


def locate_video(dataset: Path, sequence: SequenceInfo, video_root: Path | None) -> VideoRef:
    video = sequence.extra.get("video")
    if not isinstance(video, dict) or not video.get("path"):
        raise FormatError(
            f"{dataset}: sequence {sequence.id!r} has aligned frames but no "
            "extra['video']['path'] telling which video they come from; rerun `musclekit align`"
        )
    recorded = Path(video["path"])
    candidates = [recorded if recorded.is_absolute() else dataset / recorded]
    if video_root is not None:
        candidates.insert(0, Path(video_root) / recorded.name)
    for path in candidates:
        if path.is_file():
            n = video.get("n_frames")
            return VideoRef(path=path, n_frames=int(n) if n is not None else None,
                            sha256=video.get("sha256"))
    raise InputError(
        f"sequence {sequence.id!r}: its video is not at {recorded}"
        + (f" nor in --video-root {video_root}" if video_root else "")
        + "; pass --video-root DIR with the folder that now holds "
        f"{recorded.name}"
    )


def _grid_frames(ds: Dataset, seq_id: str) -> tuple[SequenceArray, np.ndarray]:
    """The frames stream of one sequence and its per-row source frame (-1 = none)."""
    dataset = ds.root
    frames = ds.sequence_array(FRAMES_STREAM, seq_id)
    if "source_frame" not in frames.aux:
        raise FormatError(
            f"{dataset}: the `{FRAMES_STREAM}` stream has no `source_frame` column; it was "
            "not written by `musclekit align`"
        )
    source = np.asarray(frames.aux["source_frame"], dtype=np.int64).copy()
    source[(frames.flags & np.uint8(Flag.MISSING)).astype(bool)] = -1
    return frames, source


def _check_frame_range(video: VideoRef, source: np.ndarray, seq_id: str) -> None:
    if video.n_frames is not None and source.size and source.max() >= video.n_frames:
        raise InputError(
            f"sequence {seq_id!r}: aligned frames refer to video frame {int(source.max())}, but "
            f"align recorded only {video.n_frames} frames in {video.path}; the dataset and the "
            "video do not belong together: rerun `musclekit align`"
        )


def _prefetch(items: Iterator[Any], depth: int = 4) -> Iterator[Any]:
    """Run a generator in a background thread, so decoding overlaps pose inference."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(("end", done))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, re-raised there
            box.put(("error", err))

    thread = threading.Thread(target=produce, name="keypoints-decode", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = box.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _rows_from_unique(unique_out: PoseOutput, unique_ids: np.ndarray, source: np.ndarray
                      ) -> PoseOutput:
    """Expand results computed once per distinct source frame onto the grid rows."""
    rows = PoseOutput.empty(source.shape[0], unique_out.confidence.shape[1], unique_out.joint_set)
    pos = np.searchsorted(unique_ids, source)
    has = source >= 0
    take = pos[has]
    rows.keypoints2d_px[has] = unique_out.keypoints2d_px[take]
    rows.keypoints3d_m[has] = unique_out.keypoints3d_m[take]
    rows.confidence[has] = unique_out.confidence[take]
    rows.detected[has] = unique_out.detected[take]
    return rows


def _run_mediapipe(video: VideoRef, source: np.ndarray, config: KeypointsConfig
                   ) -> tuple[PoseOutput, dict]:
    from musclekit.pipelines.keypoints.joints import MEDIAPIPE33_LANDMARKS
    from musclekit.pipelines.keypoints.mediapipe_backend import MediaPipeBackend, MediaPipeConfig

    unique_ids = np.unique(source[source >= 0])
    out = PoseOutput.empty(unique_ids.size, len(MEDIAPIPE33_LANDMARKS), "mediapipe33")
    backend = MediaPipeBackend(MediaPipeConfig(
        min_detection_confidence=config.min_detection_confidence))
    infer_s = 0.0
    with backend:
        for i, (_, frame) in enumerate(_prefetch(read_frames(video.path, unique_ids))):
            start = time.perf_counter()
            backend.fill(out, i, frame)
            infer_s += time.perf_counter() - start
    info = {"backend": "mediapipe", "backend_version": backend.version,
            "mode": "static_image_mode (each frame detected on its own)",
            "model_complexity": backend.config.model_complexity, "smoothing": "off",
            "inference_s": round(infer_s, 3)}
    return _rows_from_unique(out, unique_ids, source), info


def _run_vibe_output(video: VideoRef, source: np.ndarray, config: KeypointsConfig
                     ) -> tuple[PoseOutput, dict]:
    from musclekit.pipelines.keypoints import vibe_output as vo

    path = Path(config.vibe_output)
    tracks = vo.load_vibe_output(path)
    n_frames = video.n_frames
    if n_frames is None:
        raise FormatError(f"align did not record the frame count of {video.path}; rerun align")
    vo.check_frame_ids(path, tracks, n_frames)
    track = vo.choose_track(tracks, config.track)
    info = {"backend": "vibe-output", "backend_version": "unknown (imported)",
            "vibe_output": str(path), "track": str(track.track_id),
            "tracks": {str(k): len(v) for k, v in tracks.items()},
            "track_policy": "--track" if config.track is not None else "longest"}
    return vo.track_on_rows(track, source), info


def _run_vibe(video: VideoRef, source: np.ndarray, config: KeypointsConfig, seq_id: str
              ) -> tuple[PoseOutput, dict]:
    from musclekit.pipelines.keypoints import vibe_output as vo
    from musclekit.pipelines.keypoints import vibe_runner as vr

    install = vr.check_vibe_install(config.vibe_root, config.vibe_python)
    unique_ids = np.unique(source[source >= 0])
    if unique_ids.size < vr.VIBE_MIN_TRACK_FRAMES:
        raise UnitFailedError(
            f"sequence {seq_id!r} has only {unique_ids.size} aligned frames with video, and VIBE "
            f"drops every track shorter than {vr.VIBE_MIN_TRACK_FRAMES} frames "
            f"({vr.VIBE_MIN_TRACK_FRAMES / 10:.1f} s at 10 fps): use --backend mediapipe for it"
        )
    with tempfile.TemporaryDirectory(prefix="musclekit-vibe-") as tmp:
        clip = Path(tmp) / f"{seq_id}.mp4"
        frames = (frame for _, frame in read_frames(video.path, unique_ids))
        vr.write_frames_clip(frames, clip)
        result = vr.run_vibe(install, clip, Path(tmp))
        tracks = vo.load_vibe_output(result)
    info = {"backend": "vibe", "backend_version": install.version(),
            "vibe_root": str(install.root), "track_policy":
            "--track" if config.track is not None else "longest"}
    if not tracks:
        info["note"] = (f"VIBE kept no track of >= {vr.VIBE_MIN_TRACK_FRAMES} frames: at 10 fps "
                        "a person must be tracked 2.5 s without a break")
        return PoseOutput.empty(source.shape[0], 49, "spin49"), info
    vo.check_frame_ids(result, tracks, int(unique_ids.size))
    track = vo.choose_track(tracks, config.track)
    info["track"] = str(track.track_id)
    info["tracks"] = {str(k): len(v) for k, v in tracks.items()}
    # VIBE's frame ids index the clip we wrote: position p is source frame unique_ids[p].
    pos_by_row = np.full(source.shape[0], -1, dtype=np.int64)
    has = source >= 0
    pos_by_row[has] = np.searchsorted(unique_ids, source[has])
    return vo.track_on_rows(track, pos_by_row), info


def extract_sequence(payload: dict) -> dict:
    """Unit of work: keypoints for one sequence, written as one unit. Returns a summary."""
    dataset = Path(payload["dataset"])
    seq_id: str = payload["sequence_id"]
    config: KeypointsConfig = payload["config"]
    start = time.perf_counter()
    ds = open_dataset(dataset)
    sequence = ds.sequences[seq_id]
    frames, source = _grid_frames(ds, seq_id)
    video = locate_video(dataset, sequence, config.video_root)
    _check_frame_range(video, source, seq_id)

    inputs: list[str | Path] = [video.path]
    if config.source == "vibe-output":
        inputs.append(Path(config.vibe_output))
    # Hash the inputs before the expensive part: a replaced video fails fast.
    provenance = Provenance.for_stage("keypoints", config=config.as_dict(), inputs=inputs)
    recorded_sha = video.sha256
    measured_sha = provenance.inputs[0].sha256
    if recorded_sha and measured_sha and recorded_sha != measured_sha:
        raise InputError(
            f"sequence {seq_id!r}: {video.path} is not the video align read (SHA-256 "
            f"{measured_sha[:12]}... instead of {recorded_sha[:12]}...): rerun `musclekit align`"
        )

    if config.source == "vibe-output":
        pose, info = _run_vibe_output(video, source, config)
    elif config.source == "vibe":
        pose, info = _run_vibe(video, source, config, seq_id)
    else:
        pose, info = _run_mediapipe(video, source, config)
    provenance.config = {**provenance.config, **info}

    body = to_body25(pose)
    windows = clip_windows(len(source), sequence.extra.get("clips"))
    norm, boxes = normalise_by_clip_box(body.keypoints3d, windows)
    missing = ~body.detected
    flags = np.where(missing, np.uint8(Flag.MISSING), np.uint8(0)).astype(np.uint8)

    n_detected = int(body.detected.sum())
    meta = {
        **info,
        "joint_set": "BODY_25", "root_joint": ROOT_JOINT,
        "missing_joints": body.missing_joints, "derived_joints": body.derived_joints,
        "track_policy_text": TRACK_POLICY[config.source],
        "n_rows": int(len(source)), "n_detected": n_detected,
        "n_no_video_frame": int((source < 0).sum()),
        "n_no_person": int(((source >= 0) & missing).sum()),
        "normalisation": {"method": "per-clip bounding box, centre removed, divided by the "
                          "longest side", "boxes": [b.as_dict() for b in boxes]},
    }
    seq_out = SequenceInfo(id=sequence.id, subject_id=sequence.subject_id, source=sequence.source,
                           label=sequence.label, start_time_ns=sequence.start_time_ns,
                           extra={"keypoints": meta})
    writer = DatasetWriter.create_or_open(dataset, streams=keypoint_streams(ds.streams[FRAMES_STREAM]))
    with writer.unit(unit_id_for(seq_id), provenance) as unit:
        for name, values in (("keypoints2d", body.keypoints2d), ("keypoints3d", body.keypoints3d),
                             ("keypoints3d_norm", norm)):
            unit.write_sequence(name, seq_out, time_s=frames.time_s, values=values, flags=flags,
                                timestamp_ns=frames.timestamp_ns)
    seconds = time.perf_counter() - start
    return {"sequence_id": seq_id, "rows": int(len(source)), "detected": n_detected,
            "no_video_frame": meta["n_no_video_frame"], "no_person": meta["n_no_person"],
            "backend": info["backend"], "seconds": round(seconds, 2),
            "fps": round(int((source >= 0).sum()) / seconds, 2) if seconds > 0 else None}
