"""Planning a sequence into overlapping chunks for trajectory optimisation.

A sequence of motion is cut into *cores* of `chunk_s` seconds that tile it without overlap.
Each chunk is solved on its core widened by `buffer_s` on both sides (the *solve window*), so
the optimiser's end effects fall into the buffers, which are dropped when the chunks are
stitched back together. Neighbouring solve windows overlap by twice the buffer; the seam
between two cores is blended over `blend_s` on either side (see `stitch.py`). The first and
the last chunk have a buffer on one side only; their windows reach further into the sequence
so that every window has the same length (`ChunkPlan.full_windows`).

All times are seconds on the motion's own clock and every window edge lies exactly on a
sample of the input grid: Moco refuses a time window whose end is off its data grid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from musclekit.errors import InputError


@dataclass
class ChunkPlan:
    """Settings that decide how a sequence is cut (MinT: 1.4 s cores, 0.14 s buffers)."""

    chunk_s: float = 1.4
    buffer_s: float = 0.14
    blend_s: float = 0.07
    # A remainder shorter than this is merged into the previous chunk instead of being
    # solved on its own: a very short problem wastes a solver start for little motion.
    min_last_chunk_s: float = 0.35
    # Cut from both ends of every sequence: there the solution has no buffer (MinT: 0.14 s).
    trim_s: float = 0.14
    # Solve every window at full length (chunk_s + 2 buffer_s) where the sequence allows: a
    # short last chunk's window reaches further back, the first chunk's further forward.
    # The optimum depends on the window's length: on the default model's squat a 0.73 s
    # window settled on a 2 cm floor offset and plantarflexors, its 1.73 s neighbours on 1 cm
    # and dorsiflexors, a step in the activations at their seam; a 1.73 s window over the
    # same last 0.73 s agreed with the neighbours.
    full_windows: bool = True

    def validate(self) -> None:
        """Raise InputError when the settings cannot give valid chunks."""
        if self.buffer_s < 0 or self.blend_s < 0 or self.trim_s < 0:
            raise InputError(
                f"chunk settings must not be negative (buffer {self.buffer_s} s, blend "
                f"{self.blend_s} s, trim {self.trim_s} s)"
            )
        if self.chunk_s <= 2 * self.buffer_s:
            raise InputError(
                f"chunk length {self.chunk_s} s is not longer than its two buffers "
                f"(2 x {self.buffer_s} s): choose --chunk-s > {2 * self.buffer_s:g} or a "
                "smaller --buffer-s"
            )
        if self.blend_s > self.buffer_s:
            raise InputError(
                f"seam blend half-width {self.blend_s} s exceeds the buffer {self.buffer_s} s: "
                "the blend must lie inside the overlap of neighbouring chunks"
            )
        if 2 * self.blend_s >= self.min_last_chunk_s:
            raise InputError(
                f"min_last_chunk_s {self.min_last_chunk_s} s must exceed twice the blend "
                f"half-width ({2 * self.blend_s:g} s)"
            )


@dataclass(frozen=True)
class Chunk:
    """One chunk of one sequence; times in seconds on the motion clock, on its sample grid."""

    sequence_id: str
    index: int
    core_start_s: float
    core_end_s: float
    solve_start_s: float
    solve_end_s: float
    first: bool
    last: bool

    @property
    def id(self) -> str:
        """Unit id used for resuming: stable for the same sequence and plan."""
        return f"{self.sequence_id}/chunk{self.index:04d}"

    @property
    def solve_duration_s(self) -> float:
        return self.solve_end_s - self.solve_start_s

    def to_dict(self) -> dict:
        return asdict(self)


def _snap(time_s: np.ndarray, t: float, side: str) -> float:
    """The grid sample nearest to `t`, rounding outwards (`side` 'down' or 'up') when `t`
    falls between samples by more than a rounding error."""
    tol = 1e-9 * max(1.0, abs(t))
    if side == "down":
        i = int(np.searchsorted(time_s, t + tol, side="right")) - 1
        i = max(i, 0)
    else:
        i = int(np.searchsorted(time_s, t - tol, side="left"))
        i = min(i, len(time_s) - 1)
    return float(time_s[i])


def plan_chunks(sequence_id: str, time_s: np.ndarray, plan: ChunkPlan | None = None) -> list[Chunk]:
    """Cut one sequence into chunks.

    Args:
        sequence_id: id of the sequence (goes into each chunk's id).
        time_s: (T,) increasing sample times of the input kinematics, seconds.
        plan: chunk settings; MinT's defaults when None.

    Returns:
        The chunks in time order. Cores tile [time_s[0], time_s[-1]] exactly; a short
        remainder becomes a short last chunk, or is merged into the previous chunk when it is
        shorter than `plan.min_last_chunk_s`.

    Raises:
        InputError: bad settings, a grid that is not increasing, or a sequence too short to
            keep anything after trimming `plan.trim_s` from both ends.
    """
    plan = plan or ChunkPlan()
    plan.validate()
    time_s = np.asarray(time_s, dtype=float)
    if time_s.ndim != 1 or len(time_s) < 2:
        raise InputError(f"sequence {sequence_id}: needs at least 2 kinematics samples, got {time_s.shape}")
    if not np.all(np.diff(time_s) > 0):
        bad = int(np.argmin(np.diff(time_s)))
        raise InputError(
            f"sequence {sequence_id}: kinematics times are not increasing at row {bad + 1} "
            f"({time_s[bad]} s then {time_s[bad + 1]} s)"
        )
    t0, t1 = float(time_s[0]), float(time_s[-1])
    duration = t1 - t0
    if duration <= 2 * plan.trim_s + 2 * plan.blend_s:
        raise InputError(
            f"sequence {sequence_id} lasts {duration:.3f} s: nothing is left after trimming "
            f"{plan.trim_s} s from both ends; it needs more than "
            f"{2 * plan.trim_s + 2 * plan.blend_s:.3f} s"
        )

    # Core boundaries on the grid.
    n_full = int(np.floor(duration / plan.chunk_s + 1e-9))
    bounds = [t0 + k * plan.chunk_s for k in range(n_full + 1)]
    remainder = t1 - bounds[-1]
    if remainder > 1e-9:
        if remainder < plan.min_last_chunk_s and len(bounds) > 1:
            bounds[-1] = t1
        else:
            bounds.append(t1)
    bounds = [_snap(time_s, b, "down") for b in bounds]
    bounds[-1] = t1
    # Snapping may merge two boundaries on a coarse grid: keep them strictly increasing.
    bounds = sorted(set(bounds))

    chunks: list[Chunk] = []
    n = len(bounds) - 1
    window = plan.chunk_s + 2 * plan.buffer_s
    for k in range(n):
        core_start, core_end = bounds[k], bounds[k + 1]
        lo = max(t0, core_start - plan.buffer_s)
        hi = min(t1, core_end + plan.buffer_s)
        if plan.full_windows and hi - lo < window - 1e-9:
            if k == n - 1:
                lo = max(t0, hi - window)
            if k == 0:
                hi = min(t1, lo + window)
        solve_start = _snap(time_s, lo, "down")
        solve_end = _snap(time_s, hi, "up")
        chunks.append(
            Chunk(
                sequence_id=sequence_id,
                index=k,
                core_start_s=core_start,
                core_end_s=core_end,
                solve_start_s=solve_start,
                solve_end_s=solve_end,
                first=k == 0,
                last=k == n - 1,
            )
        )
    return chunks
