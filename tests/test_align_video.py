"""Video probing: frame times, creation time (sub-second, Apple tag), rotation, bad files."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.align.synthetic import _bursts, write_video
from musclekit.pipelines.align.timeparse import parse_iso_ns
from musclekit.pipelines.align.video import decode_pass, probe_video
from tests.helpers.align_fixtures import DROPPED

START = parse_iso_ns("2026-11-22T10:00:00.250Z")[0]


@pytest.fixture(scope="module")
def vfr_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mov"
    bursts = _bursts(4.0, np.random.default_rng(1))
    pts = write_video(path, duration_s=4.0, bursts=bursts, dropped=DROPPED[:8], creation_ns=START,
                      rotation_deg=-90)
    return path, pts


def test_probe_reads_vfr_pts_subsecond_creation_and_rotation(vfr_video):
    path, pts = vfr_video
    info = probe_video(path)
    assert info.frame_pts.tolist() == pts.tolist()
    assert info.n_frames == 119 - 8
    assert info.time_base == Fraction(1, 30000)
    # Frame 12 (two dropped before it) is at exactly 12 * 1001 / 30000 s.
    assert info.frame_time_ns[10] == round(12 * 1001 / 30000 * 1e9)
    assert info.creation_ns == START  # the .250 s survive with use_metadata_tags
    assert info.creation_source == "format:com.apple.quicktime.creationdate"
    assert info.rotation_deg == -90
    assert info.nominal_fps == pytest.approx(30000 / 1001)


def test_decode_pass_checks_frames_and_yields_motion(vfr_video):
    path, _ = vfr_video
    info = probe_video(path)
    seen = []
    wanted = np.zeros(info.n_frames, bool)
    wanted[[0, 5, 50]] = True
    motion = decode_pass(info, sink=lambda i, f: seen.append(i), wanted=wanted)
    assert seen == [0, 5, 50]
    assert motion.energy.shape == (info.n_frames - 1,)
    assert motion.energy.max() > 0 and np.all(motion.energy >= 0)


def test_missing_empty_and_garbage_video(tmp_path):
    with pytest.raises(InputError, match=r"video .*nope.mov does not exist"):
        probe_video(tmp_path / "nope.mov")
    (tmp_path / "empty.mov").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty.mov is empty \(0 bytes\)"):
        probe_video(tmp_path / "empty.mov")
    (tmp_path / "junk.mov").write_bytes(b"this is not a video" * 100)
    with pytest.raises(InputError, match=r"cannot read video .*junk.mov.*damaged, truncated"):
        probe_video(tmp_path / "junk.mov")


def test_truncated_video_index_at_end(vfr_video, tmp_path):
    data = vfr_video[0].read_bytes()
    cut = tmp_path / "cut.mov"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(InputError, match=r"cannot read video .*cut.mov.*truncated"):
        probe_video(cut)


def test_truncated_video_index_at_start(vfr_video, tmp_path):
    # faststart puts the index first: the index survives, the frames at the end do not.
    src = av.open(str(vfr_video[0]))
    fast = tmp_path / "fast.mov"
    out = av.open(str(fast), "w", format="mov", options={"movflags": "faststart"})
    stream = out.add_stream_from_template(src.streams.video[0])
    for packet in src.demux(src.streams.video[0]):
        if packet.dts is not None:
            packet.stream = stream
            out.mux(packet)
    out.close()
    src.close()
    data = fast.read_bytes()
    cut = tmp_path / "fast_cut.mov"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(InputError, match=r"fast_cut.mov is truncated: its index lists 111 frames but the file holds only \d+"):
        probe_video(cut)


def test_hevc_10_bit(tmp_path):
    path = tmp_path / "hevc.mov"
    container = av.open(str(path), "w", format="mov")
    stream = container.add_stream("libx265", rate=Fraction(30000, 1001))
    stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p10le"
    stream.options = {"preset": "ultrafast", "x265-params": "log-level=error"}
    for i in range(30):
        rgb = np.full((120, 160, 3), 40, np.uint8)
        rgb[40:80, 4 * i : 4 * i + 30] = 220
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p10le")
        frame.pts, frame.time_base = i * 1001, Fraction(1, 30000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    info = probe_video(path)
    assert (info.codec, info.pix_fmt, info.n_frames) == ("hevc", "yuv420p10le", 30)
    assert info.creation_ns is None
    motion = decode_pass(info)
    # The square moves 4 px per frame: every frame difference shows motion on the 8-bit scale.
    assert 0.5 < float(np.median(motion.energy)) < 50
