"""Stitching chunk solutions back into one series per sequence.

Each chunk's solution is resampled onto the output grid (50 fps, MinT's rate) inside its
solve window. Around each seam (the boundary between two cores) the two neighbours are
blended with complementary raised-cosine weights over `blend_s` on either side, so values
and their slopes stay continuous; the rest of each buffer is dropped. Where a chunk failed,
its whole core becomes a gap: rows flagged missing with NaN values, never filled in. The first
and last `trim_s` of the sequence are cut (there the solution has no buffer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk, ChunkPlan


@dataclass
class ChunkSeries:
    """One chunk's solution for one stream: time_s (N,) seconds, values (N, C)."""

    time_s: np.ndarray
    values: np.ndarray


@dataclass
class Stitched:
    """A stitched stream on the output grid.

    time_s: (T,) seconds on the motion clock; values: (T, C), NaN in gaps;
    missing: (T,) bool, True in gaps; seams_s: seam times between two solved chunks;
    gaps_s: (start, end) of each gap in seconds.
    """

    time_s: np.ndarray
    values: np.ndarray
    missing: np.ndarray
    seams_s: list[float]
    gaps_s: list[tuple[float, float]]


def output_grid(t0: float, t1: float, rate_hz: float, trim_s: float) -> np.ndarray:
    """Output sample times: from `t0 + trim_s` to `t1 - trim_s` (inclusive) at `rate_hz`."""
    start, end = t0 + trim_s, t1 - trim_s
    n = int(np.floor((end - start) * rate_hz + 1e-6)) + 1
    return start + np.arange(max(n, 0)) / rate_hz


def chunk_weight(chunk: Chunk, t: np.ndarray, blend_s: float) -> np.ndarray:
    """Blend weight (T,) of `chunk` at times `t`: 1 inside its core away from the seams,
    raised-cosine ramps of half-width `blend_s` across each seam, 0 elsewhere. The ramps of
    two neighbours sum to 1 at every time."""
    w = np.zeros_like(t, dtype=float)
    cs, ce = chunk.core_start_s, chunk.core_end_s
    lo = chunk.solve_start_s if chunk.first else cs - blend_s
    hi = chunk.solve_end_s if chunk.last else ce + blend_s
    inside = (t >= lo - 1e-9) & (t <= hi + 1e-9)
    w[inside] = 1.0
    if blend_s > 0:
        # Ramp arguments are clipped so that rounding at the ramp ends cannot leave a
        # weight of 1 where the neighbour already has 1.
        if not chunk.first:
            r = inside & (t < cs + blend_s)
            x = np.clip((t[r] - (cs - blend_s)) / (2 * blend_s), 0.0, 1.0)
            w[r] = 0.5 - 0.5 * np.cos(np.pi * x)
        if not chunk.last:
            r = inside & (t > ce - blend_s)
            x = np.clip((t[r] - (ce - blend_s)) / (2 * blend_s), 0.0, 1.0)
            w[r] = np.minimum(w[r], 0.5 + 0.5 * np.cos(np.pi * x))
    else:
        # No blending: each time belongs to exactly one core (the later one at the seam).
        w[:] = 0.0
        own = (t >= cs - 1e-9) & ((t < ce - 1e-9) | chunk.last)
        w[own] = 1.0
    return w


def _core_mask(chunk: Chunk, t: np.ndarray) -> np.ndarray:
    upper = (t <= chunk.core_end_s + 1e-9) if chunk.last else (t < chunk.core_end_s - 1e-9)
    return (t >= chunk.core_start_s - 1e-9) & upper


def _resample(series: ChunkSeries, t: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Linear interpolation of the chunk's values at `t`; NaN outside [lo, hi]."""
    out = np.full((len(t), series.values.shape[1]), np.nan)
    ok = (t >= lo - 1e-9) & (t <= hi + 1e-9)
    src_t = np.asarray(series.time_s, dtype=float)
    for c in range(series.values.shape[1]):
        out[ok, c] = np.interp(t[ok], src_t, series.values[:, c])
    return out


def stitch(
    chunks: list[Chunk],
    results: list[ChunkSeries | None],
    t0: float,
    t1: float,
    n_channels: int,
    plan: ChunkPlan | None = None,
    rate_hz: float = 50.0,
) -> Stitched:
    """Join chunk solutions of one sequence and one stream.

    Args:
        chunks: the sequence's chunks, in order (from `plan_chunks`).
        results: per chunk, its solution, or None when the chunk failed (becomes a gap).
        t0, t1: first and last time of the input kinematics, seconds.
        n_channels: number of channels C (needed when every chunk failed).
        plan: the chunk plan the chunks were made with.
        rate_hz: output rate (MinT: 50 fps).
    """
    plan = plan or ChunkPlan()
    if len(chunks) != len(results):
        raise ValueError(f"{len(chunks)} chunks but {len(results)} results")
    t = output_grid(t0, t1, rate_hz, plan.trim_s)
    acc = np.zeros((len(t), n_channels))
    wsum = np.zeros(len(t))
    wtot = np.zeros((len(t), n_channels))  # per channel: NaN values do not take part
    missing = np.zeros(len(t), dtype=bool)
    for chunk, res in zip(chunks, results, strict=True):
        if res is None:
            missing |= _core_mask(chunk, t)
            continue
        if res.values.ndim != 2 or res.values.shape[1] != n_channels:
            raise ValueError(
                f"chunk {chunk.id}: values of shape {res.values.shape}, expected (N, {n_channels})"
            )
        v = _resample(res, t, chunk.solve_start_s, chunk.solve_end_s)
        w = chunk_weight(chunk, t, plan.blend_s)
        # A channel that is NaN at a time (e.g. a solver hiccup) does not take part there.
        finite = np.isfinite(v)
        wc = np.where(finite, w[:, None], 0.0)
        acc += np.where(finite, v, 0.0) * wc
        wtot += wc
        wsum += w
    if not any(r is not None for r in results):
        values = np.full((len(t), n_channels), np.nan)
        missing[:] = True
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            values = acc / wtot
        values[wtot <= 1e-12] = np.nan
        missing |= wsum <= 1e-12
        values[missing] = np.nan
    seams = [
        c.core_end_s
        for c, r, rn in zip(chunks[:-1], results[:-1], results[1:], strict=True)
        if r is not None and rn is not None
    ]
    gaps: list[tuple[float, float]] = []
    for c, r in zip(chunks, results, strict=True):
        if r is None:
            if gaps and abs(gaps[-1][1] - c.core_start_s) < 1e-9:
                gaps[-1] = (gaps[-1][0], c.core_end_s)
            else:
                gaps.append((c.core_start_s, c.core_end_s))
    return Stitched(time_s=t, values=values, missing=missing, seams_s=seams, gaps_s=gaps)
