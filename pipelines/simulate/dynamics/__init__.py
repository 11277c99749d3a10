"""simulate, part 2: chunked muscle-driven trajectory optimisation (issue 7).

From per-sequence kinematics (scaled .osim + IK .mot) to muscle activations, muscle forces,
ground reaction forces, solved joint angles and residuals at 50 fps, chunk by chunk on Dask.
See docs/dynamics.md. The `simulate` command calls `run_dynamics(dataset, DynamicsConfig(...))`.
"""

from __future__ import annotations

from .chunks import Chunk, ChunkPlan, plan_chunks
from .config import METHODS, DynamicsConfig, config_from_cli
from .driver import DynamicsReport, run_dynamics
from .inverse import SolveSettings
from .prep import PrepSettings
from .stitch import ChunkSeries, Stitched, stitch

__all__ = [
    "METHODS",
    "Chunk",
    "ChunkPlan",
    "ChunkSeries",
    "DynamicsConfig",
    "DynamicsReport",
    "PrepSettings",
    "SolveSettings",
    "Stitched",
    "plan_chunks",
    "run_dynamics",
    "config_from_cli",
    "stitch",
]
