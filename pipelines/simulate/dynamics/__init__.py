"""simulate, part 2: chunked muscle-driven trajectory optimisation (issue 7).

From per-sequence kinematics (scaled .osim + IK .mot) to muscle activations, muscle forces,
ground reaction forces, solved joint angles and residuals at 50 fps, chunk by chunk on Dask.
See docs/dynamics.md. The `simulate` command calls `run_dynamics(dataset, DynamicsConfig(...))`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .chunks import Chunk, ChunkPlan, plan_chunks
    from .config import METHODS, DynamicsConfig, config_from_cli
    from .driver import DynamicsReport, run_dynamics
    from .inverse import SolveSettings
    from .prep import PrepSettings
    from .stitch import ChunkSeries, Stitched

# name -> submodule, loaded on first use: the solver child processes import track_nlp or
# redundancy once per round, and the driver would bring the dataset layer with it. (The
# function `stitch` is not exported here: that name is its module's.)
_HOME = {
    "Chunk": "chunks", "ChunkPlan": "chunks", "plan_chunks": "chunks",
    "METHODS": "config", "DynamicsConfig": "config", "config_from_cli": "config",
    "DynamicsReport": "driver", "run_dynamics": "driver", "SolveSettings": "inverse",
    "PrepSettings": "prep", "ChunkSeries": "stitch", "Stitched": "stitch",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
]
