"""Phone video: probing (frame times, creation time, rotation) and the single decode pass.

Frame times come from the container's packet timestamps (a demux, no decoding), so bad inputs
fail before any expensive work. The decode pass then runs once, sequentially (seeking per frame
is 5-8x slower), computes the frame-difference motion energy on a subsampled luma plane
(skipping the deblocking filter unless frames are written out: motion energy does not need it)
and, when asked, hands the frames chosen for the grid to a clip writer. It checks that the decoder
produced exactly the frames the container announced, in order, so that `source_frame`
indices (frame i = the i-th frame the decoder yields) are valid for every later reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.align.timeparse import parse_iso_ns

# Tried in this order: Apple's capture-start tag (local time with zone, survives edits),
# then the QuickTime/MP4 header time (UTC, often whole seconds), then the stream's own.
CREATION_KEYS: tuple[str, ...] = ("com.apple.quicktime.creationdate", "creation_time")

# 8-bit planar YUV formats whose first plane is the luma we use for motion energy.
_LUMA8 = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"}
_LUMA16 = {"yuv420p10le", "yuv422p10le", "yuv444p10le", "p010le"}


@dataclass
class VideoInfo:
    """What align needs to know about a video before decoding it.

    `frame_pts` (N,) int64 presentation timestamps in `time_base` units, in the order the
    decoder yields frames; `frame_time_ns` (N,) int64 the same as ns after the first frame.
    `rotation_deg`: the display-matrix angle as PyAV's `VideoFrame.rotation` reports it
    (counter-clockwise degrees; an iPhone portrait clip reads -90, i.e. turn the decoded
    pixels 90 degrees clockwise to show them upright). PyAV does not rotate pixels itself.
    `creation_ns`: epoch ns of the first frame from the container metadata, or None.
    """

    path: Path
    width: int
    height: int
    rotation_deg: int
    codec: str
    pix_fmt: str
    time_base: Fraction
    avg_fps: float
    nominal_fps: float
    frame_pts: np.ndarray
    frame_time_ns: np.ndarray
    creation_ns: int | None
    creation_source: str | None
    creation_text: str | None

    @property
    def n_frames(self) -> int:
        return int(self.frame_pts.size)

    @property
    def duration_s(self) -> float:
        return float(self.frame_time_ns[-1]) / 1e9 if self.n_frames else 0.0

    @property
    def creation_is_whole_seconds(self) -> bool:
        return self.creation_ns is not None and self.creation_ns % 10**9 == 0

    @property
    def median_frame_interval_s(self) -> float:
        if self.n_frames < 2:
            return 1.0 / self.nominal_fps
        return float(np.median(np.diff(self.frame_time_ns))) / 1e9


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise InputError(f"video {path} does not exist")
    if path.stat().st_size == 0:
        raise InputError(f"video {path} is empty (0 bytes): copy it from the phone again")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as err:
        raise InputError(
            f"cannot read video {path}: {err}. The file is damaged, truncated (an interrupted "
            "copy loses the index at its end) or not a video"
        ) from err
    if not container.streams.video:
        container.close()
        raise InputError(f"{path} has no video stream")
    return container


def read_creation_time(metadata: dict[str, str], stream_metadata: dict[str, str]) -> tuple[int, str, str] | None:
    """(epoch ns, key, text) of the first parseable creation time, or None."""
    for source, meta in (("format", metadata), ("stream", stream_metadata)):
        for key in CREATION_KEYS:
            text = meta.get(key)
            if not text:
                continue
            parsed = parse_iso_ns(text)
            if parsed is not None:
                return parsed[0], f"{source}:{key}", text
    return None


def _ns(pts: np.ndarray, time_base: Fraction) -> np.ndarray:
    """Exact rounding of pts * time_base to integer ns (Python ints avoid int64 overflow)."""
    num, den = time_base.numerator * 10**9, time_base.denominator
    return np.array([(int(p) * num * 2 + den) // (2 * den) for p in pts], dtype=np.int64)


def probe_video(path: Path) -> VideoInfo:
    """Read frame times (demux only), size, rotation and creation time of a video.

    Raises:
        InputError: missing, empty, unreadable or truncated file; no video stream; no frames;
            frames without timestamps.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        pts_list: list[int] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the flush packet at the end
                if packet.is_discard:
                    continue  # cut by an edit list: the decoder drops its frame too
                if packet.pts is None:
                    raise InputError(
                        f"{path}: a video packet has no presentation timestamp (at byte "
                        f"{packet.pos}); remux the file (ffmpeg -i in -c copy out.mov)"
                    )
                pts_list.append(int(packet.pts))
        except av.error.FFmpegError as err:
            raise InputError(
                f"video {path} is truncated or damaged: reading stopped after "
                f"{len(pts_list)} frames ({err})"
            ) from err
        if not pts_list:
            raise InputError(f"video {path} has no frames")
        listed = int(stream.frames or 0)
        if listed and len(pts_list) < listed:
            # The index (moov) survived but the data after some point did not.
            raise InputError(
                f"video {path} is truncated: its index lists {listed} frames but the file holds "
                f"only {len(pts_list)}; copy the file from the phone again"
            )
        pts = np.sort(np.asarray(pts_list, dtype=np.int64))
        if np.any(np.diff(pts) == 0):
            raise InputError(f"{path}: two frames share one timestamp; remux the file")
        time_base = Fraction(stream.time_base)
        cc = stream.codec_context
        created = read_creation_time(dict(container.metadata), dict(stream.metadata))
        nominal = stream.guessed_rate or stream.average_rate or stream.base_rate
        frame_ns = _ns(pts - pts[0], time_base)
        span_s = frame_ns[-1] / 1e9
        avg_fps = (pts.size - 1) / span_s if span_s > 0 else float(nominal or 0)
        width, height, codec, pix_fmt = cc.width, cc.height, cc.name, str(cc.pix_fmt)
    finally:
        container.close()
    rotation = _first_frame_rotation(path)
    return VideoInfo(
        path=path.resolve(),
        width=int(width),
        height=int(height),
        rotation_deg=rotation,
        codec=codec,
        pix_fmt=pix_fmt,
        time_base=time_base,
        avg_fps=float(avg_fps),
        nominal_fps=float(nominal) if nominal else float(avg_fps),
        frame_pts=pts,
        frame_time_ns=frame_ns,
        creation_ns=None if created is None else created[0],
        creation_source=None if created is None else created[1],
        creation_text=None if created is None else created[2],
    )


def _first_frame_rotation(path: Path) -> int:
    """Display-matrix rotation of the first frame (decoding one frame also proves that the
    codec can decode the file)."""
    container = _open(path)
    try:
        try:
            frame = next(container.decode(video=0))
        except (av.error.FFmpegError, StopIteration) as err:
            raise InputError(f"cannot decode video {path}: {err or 'no frame decodes'}") from err
        return int(round(float(getattr(frame, "rotation", 0) or 0)))
    finally:
        container.close()


@dataclass
class MotionEnergy:
    """Frame-difference motion energy: `time_ns` (N-1,) video-clock ns at the midpoint between
    consecutive frames, `energy` (N-1,) mean absolute luma change per nominal frame interval
    (0..255 scale), from a luma plane subsampled to about `width` pixels across."""

    time_ns: np.ndarray
    energy: np.ndarray


FrameSink = Callable[[int, "av.VideoFrame"], None]


def _luma(frame: av.VideoFrame, step: int) -> np.ndarray:
    """Subsampled luma as float32 without converting the whole picture."""
    fmt = frame.format.name
    if fmt in _LUMA8 or fmt in _LUMA16:
        plane = frame.planes[0]
        dtype = np.uint8 if fmt in _LUMA8 else np.uint16
        itemsize = np.dtype(dtype).itemsize
        buf = np.frombuffer(plane, dtype=dtype)
        rows = buf.reshape(plane.height, plane.line_size // itemsize)
        sub = rows[::step, : plane.width : step].astype(np.float32)
        return sub if dtype is np.uint8 else sub / 4.0  # 10-bit to the 8-bit scale
    gray = frame.reformat(width=max(1, frame.width // step), height=max(1, frame.height // step), format="gray")
    return gray.to_ndarray().astype(np.float32)


def decode_pass(
    info: VideoInfo,
    *,
    motion_width: int = 96,
    sink: FrameSink | None = None,
    wanted: np.ndarray | None = None,
    threads: bool = True,
) -> MotionEnergy:
    """Decode every frame once, in order; return motion energy.

    Args:
        info: from `probe_video` (its frame list is checked against what the decoder yields).
        motion_width: approximate width in pixels of the subsampled luma.
        sink: called as sink(frame_index, frame) for frames where `wanted[frame_index]` is True.
        wanted: (N,) bool mask of frames the sink wants.
        threads: let FFmpeg decode with frame and slice threads.

    Raises:
        InputError: the decoder fails, or yields other frames than the container announced
            (a truncated or damaged file).
    """
    container = _open(info.path)
    energy = np.empty(max(info.n_frames - 1, 0), dtype=np.float64)
    interval_ns = 1e9 / info.nominal_fps
    step = max(1, info.width // motion_width)
    index = 0
    previous: np.ndarray | None = None
    previous_pts = 0
    try:
        stream = container.streams.video[0]
        if threads:
            stream.thread_type = "AUTO"
        if sink is None:
            # Motion energy does not need the deblocking filter (~20% of H.264 decode time);
            # frames handed to a sink (the written clip) keep it.
            stream.codec_context.options = {"skip_loop_filter": "all"}
        try:
            for frame in container.decode(stream):
                if index >= info.n_frames or frame.pts != info.frame_pts[index]:
                    expected = "no more frames" if index >= info.n_frames else f"pts {info.frame_pts[index]}"
                    raise InputError(
                        f"video {info.path}: decoded frame {index} has pts {frame.pts}, the "
                        f"container announced {expected}; the file is damaged. Remux or "
                        "re-encode it (ffmpeg -i in.mov -c copy out.mov)"
                    )
                luma = _luma(frame, step)
                if previous is not None:
                    dt_ns = float(frame.pts - previous_pts) * float(info.time_base) * 1e9
                    # A dropped frame doubles the interval and roughly the change; normalise.
                    energy[index - 1] = float(np.abs(luma - previous).mean()) * interval_ns / dt_ns
                if sink is not None and wanted is not None and wanted[index]:
                    sink(index, frame)
                previous, previous_pts = luma, frame.pts
                index += 1
        except av.error.FFmpegError as err:
            raise InputError(
                f"video {info.path} is truncated or damaged: decoding failed after {index} of "
                f"{info.n_frames} frames ({err})"
            ) from err
    finally:
        container.close()
    if index != info.n_frames:
        last = info.frame_time_ns[index - 1] / 1e9 if index else 0.0
        raise InputError(
            f"video {info.path} is truncated: the container lists {info.n_frames} frames but only "
            f"{index} decode (the last at {last:.3f} s); copy the file again"
        )
    mid_ns = (info.frame_time_ns[:-1] + info.frame_time_ns[1:]) // 2
    return MotionEnergy(time_ns=mid_ns, energy=energy)
