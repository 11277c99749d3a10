"""Chunk planning, seam blending, trimming and gaps (pure numpy, fast)."""

from __future__ import annotations

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan, plan_chunks
from musclekit.pipelines.simulate.dynamics.kernel.stitch import ChunkSeries, chunk_weight, stitch


def grid(duration_s: float, rate_hz: float = 100.0) -> np.ndarray:
    return np.round(np.arange(int(round(duration_s * rate_hz)) + 1) / rate_hz, 10)


def test_cores_tile_the_sequence_and_buffers_overlap() -> None:
    t = grid(5.0)
    chunks = plan_chunks("S", t)
    # 5.0 s = 3 x 1.4 s + 0.8 s remainder (>= 0.35 s): a short last chunk.
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    assert chunks[0].core_start_s == 0.0 and chunks[-1].core_end_s == 5.0
    for a, b in zip(chunks[:-1], chunks[1:], strict=True):
        assert a.core_end_s == b.core_start_s
        assert a.solve_end_s == pytest.approx(a.core_end_s + (0.28 if a.first else 0.14))
        assert b.solve_start_s == pytest.approx(b.core_start_s - (0.88 if b.last else 0.14))
    assert chunks[-1].core_end_s - chunks[-1].core_start_s == pytest.approx(0.8)
    # Every window has the same length: the ends' windows reach into the sequence instead.
    assert [c.solve_duration_s for c in chunks] == pytest.approx([1.68] * 4)
    # The sequence ends carry no buffer outside the data.
    assert chunks[0].solve_start_s == 0.0 and chunks[-1].solve_end_s == 5.0
    assert chunks[0].first and chunks[-1].last and not chunks[1].first
    # Every window edge is a sample of the input grid (Moco requires it).
    for c in chunks:
        for v in (c.core_start_s, c.core_end_s, c.solve_start_s, c.solve_end_s):
            assert np.min(np.abs(t - v)) < 1e-12
    assert chunks[2].id == "S/chunk0002"


def test_windows_keep_their_own_length_when_asked() -> None:
    chunks = plan_chunks("S", grid(5.0), ChunkPlan(full_windows=False))
    assert [c.solve_duration_s for c in chunks] == pytest.approx([1.54, 1.68, 1.68, 0.94])


def test_sequence_shorter_than_a_window_is_solved_whole() -> None:
    chunks = plan_chunks("S", grid(1.6))  # 1.4 s core + 0.2 s merged remainder
    assert len(chunks) == 1
    assert (chunks[0].solve_start_s, chunks[0].solve_end_s) == (0.0, 1.6)
    two = plan_chunks("S", grid(2.0))  # 1.4 + 0.6 s: two full windows, overlapping widely
    assert [(c.solve_start_s, c.solve_end_s) for c in two] == [(0.0, 1.68), (0.32, 2.0)]


def test_short_remainder_merges_into_previous_chunk() -> None:
    chunks = plan_chunks("S", grid(3.0))  # 2 x 1.4 + 0.2 s
    assert len(chunks) == 2
    assert chunks[-1].core_end_s == 3.0
    assert chunks[-1].core_end_s - chunks[-1].core_start_s == pytest.approx(1.6)


def test_sequence_shorter_than_a_chunk_is_one_chunk() -> None:
    chunks = plan_chunks("S", grid(1.0))
    assert len(chunks) == 1 and chunks[0].first and chunks[0].last


def test_off_grid_times_snap_outwards() -> None:
    t = grid(4.0, rate_hz=30.0)  # 1.4 s is not a multiple of 1/30 s
    chunks = plan_chunks("S", t)
    for c in chunks:
        assert np.min(np.abs(t - c.solve_start_s)) < 1e-12
        assert c.solve_start_s <= c.core_start_s - 0.14 + 1e-9 or c.first
        assert c.solve_end_s >= c.core_end_s + 0.14 - 1e-9 or c.last


def test_chunk_shorter_than_buffers_is_refused() -> None:
    with pytest.raises(InputError, match="not longer than its two buffers"):
        plan_chunks("S", grid(5.0), ChunkPlan(chunk_s=0.2, buffer_s=0.14))


def test_blend_wider_than_buffer_is_refused() -> None:
    with pytest.raises(InputError, match="exceeds the buffer"):
        plan_chunks("S", grid(5.0), ChunkPlan(buffer_s=0.05, blend_s=0.1))


def test_too_short_sequence_is_refused() -> None:
    with pytest.raises(InputError, match="nothing is left after trimming"):
        plan_chunks("S07", grid(0.3))


def test_non_increasing_times_are_refused() -> None:
    t = grid(3.0)
    t[50] = t[49]
    with pytest.raises(InputError, match="not increasing at row 50"):
        plan_chunks("S", t)


def test_neighbour_weights_sum_to_one() -> None:
    chunks = plan_chunks("S", grid(5.0))
    t = np.linspace(0, 5, 2001)
    total = sum(chunk_weight(c, t, 0.07) for c in chunks)
    assert np.allclose(total, 1.0)


def _series(chunk, fn, rate_hz=50.0):
    ts = np.arange(chunk.solve_start_s, chunk.solve_end_s + 1e-9, 1 / rate_hz)
    ts[-1] = min(ts[-1], chunk.solve_end_s)
    return ChunkSeries(ts, fn(ts, chunk))


def test_stitch_reproduces_a_signal_all_chunks_agree_on() -> None:
    t_in = grid(5.0)
    chunks = plan_chunks("S", t_in)
    f = lambda ts, c: np.stack([np.sin(ts), np.cos(2 * ts)], axis=1)  # noqa: E731
    out = stitch(chunks, [_series(c, f) for c in chunks], 0.0, 5.0, 2)
    # Trimmed by 0.14 s at both ends, on a 50 fps grid.
    assert out.time_s[0] == pytest.approx(0.14) and out.time_s[-1] == pytest.approx(4.86)
    assert np.allclose(np.diff(out.time_s), 0.02)
    assert not out.missing.any()
    assert np.allclose(out.values[:, 0], np.sin(out.time_s), atol=1e-3)
    assert out.seams_s == pytest.approx([1.4, 2.8, 4.2])


def test_seams_are_continuous_when_neighbours_disagree() -> None:
    chunks = plan_chunks("S", grid(5.0))
    # Each chunk is offset by a different constant (as neighbouring solutions differ).
    f = lambda ts, c: np.full((len(ts), 1), 0.2 * c.index)  # noqa: E731
    out = stitch(chunks, [_series(c, f) for c in chunks], 0.0, 5.0, 1)
    steps = np.abs(np.diff(out.values[:, 0]))
    # A hard cut would jump by 0.2 at each seam; the cosine blend over 2 x 0.07 s spreads it
    # over 7 samples, the largest step being about 0.2 * pi/2 * 0.02/0.14.
    assert steps.max() < 0.06
    # Away from the seams every chunk keeps its own value.
    mid = np.argmin(np.abs(out.time_s - 2.1))
    assert out.values[mid, 0] == pytest.approx(0.2)


def test_failed_chunk_becomes_a_gap() -> None:
    chunks = plan_chunks("S", grid(5.0))
    f = lambda ts, c: np.ones((len(ts), 3))  # noqa: E731
    results = [_series(c, f) for c in chunks]
    results[1] = None
    out = stitch(chunks, results, 0.0, 5.0, 3)
    in_gap = (out.time_s >= 1.4 - 1e-9) & (out.time_s < 2.8 - 1e-9)
    assert np.array_equal(out.missing, in_gap)
    assert np.isnan(out.values[in_gap]).all()
    assert np.allclose(out.values[~in_gap], 1.0)
    assert out.gaps_s == [(1.4, 2.8)]
    assert out.seams_s == pytest.approx([4.2])


def test_every_chunk_failed_gives_all_missing() -> None:
    chunks = plan_chunks("S", grid(3.0))
    out = stitch(chunks, [None] * len(chunks), 0.0, 3.0, 2)
    assert out.missing.all() and np.isnan(out.values).all()
    assert out.gaps_s == [(0.0, 3.0)]
