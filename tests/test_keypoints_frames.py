"""Frame reading: exactly the decode-order indices align chose, rotation applied."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.keypoints.frames import read_frames, rotate_to_display


def _indexed_video(path: Path, n: int, rotation_deg: int = 0) -> None:
    """Lossless clip whose frame i shows the number i in its pixels (and a corner mark)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(30000, 1001))
        stream.width, stream.height = 48, 32
        stream.pix_fmt = "yuv444p"
        stream.options = {"qp": "0"}
        if rotation_deg:
            stream.set_display_rotation(rotation_deg)
        for i in range(n):
            img = np.full((32, 48, 3), 4 * i, dtype=np.uint8)
            img[:4, :4] = 255  # top-left marker in the stored frame
            for p in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)


def _index_of(frame: np.ndarray) -> int:
    return int(round(float(np.median(frame[..., 0])) / 4))


def test_reads_exactly_the_requested_indices(tmp_path: Path) -> None:
    video = tmp_path / "indexed.mp4"
    _indexed_video(video, 40)
    wanted = np.array([3, 0, 17, 17, 39, 10])
    got = list(read_frames(video, wanted))
    assert [i for i, _ in got] == [0, 3, 10, 17, 39]
    assert [_index_of(f) for _, f in got] == [0, 3, 10, 17, 39]


def test_rotation_is_applied(tmp_path: Path) -> None:
    video = tmp_path / "portrait.mp4"
    _indexed_video(video, 3, rotation_deg=-90)
    (_, frame), = list(read_frames(video, np.array([1])))
    # Stored 48x32 landscape; -90 (iPhone portrait) displays it turned clockwise: 32 wide, 48 high.
    assert frame.shape == (48, 32, 3)
    # The stored top-left marker lands top-right after a clockwise quarter turn.
    assert frame[:4, -4:].min() == 255 and frame[-4:, :4].max() < 255


def test_rotate_to_display_directions() -> None:
    img = np.zeros((2, 3, 3), dtype=np.uint8)
    img[0, 0] = 255
    assert rotate_to_display(img, 0) is img
    assert rotate_to_display(img, -90)[0, -1, 0] == 255  # clockwise
    assert rotate_to_display(img, 90)[-1, 0, 0] == 255  # counter-clockwise
    assert rotate_to_display(img, 180)[-1, -1, 0] == 255
    with pytest.raises(InputError, match="not a multiple of 90"):
        rotate_to_display(img, 45)


def test_index_past_the_end_says_so(tmp_path: Path) -> None:
    video = tmp_path / "short.mp4"
    _indexed_video(video, 10)
    with pytest.raises(InputError, match=r"frame index 12 is outside the video, which decodes "
                                         r"to only 10 frames \(indices 0\.\.9\)"):
        list(read_frames(video, np.array([2, 12])))


def test_missing_and_unreadable_video(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="video not found"):
        list(read_frames(tmp_path / "nope.mp4", np.array([0])))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video")
    with pytest.raises(InputError, match="cannot open the video"):
        list(read_frames(bad, np.array([0])))
