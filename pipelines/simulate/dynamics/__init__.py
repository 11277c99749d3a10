"""simulate, part 2: chunked muscle-driven trajectory optimisation.

From per-sequence kinematics (scaled .osim + IK .mot) to muscle activations, muscle forces,
ground reaction forces, solved joint angles and residuals at 50 fps, chunk by chunk on Dask.
The `simulate` command calls `run_dynamics(dataset, DynamicsConfig(...))`.

Layout (docs/dynamics.md, docs/architecture.md):
- `kernel/`: what every method uses: chunk plan, model preparation, the OpenSim evaluations,
  method-independent physics (ground-force estimation, contact law, filtering), the worker,
  the result store, stitching, the run over a dataset;
- `nlp/`: the optimisation problems in CasADi, solved in child processes; never imports opensim;
- `methods/`: one package per method (`inverse`, `track`) behind a registry;
- `payloads.py`: the typed payloads between driver, worker and chunk process;
- `upper.py` + `upper_stage.py`: the upper body by static optimisation after the lower body.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk, ChunkPlan, plan_chunks
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings
    from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings
    from musclekit.pipelines.simulate.dynamics.kernel.stitch import ChunkSeries, Stitched
    from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
    from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings
    from musclekit.pipelines.simulate.dynamics.stage.config import (
        METHODS,
        DynamicsConfig,
        config_from_cli,
    )
    from musclekit.pipelines.simulate.dynamics.stage.report import DynamicsReport
    from musclekit.pipelines.simulate.dynamics.stage.run import run_dynamics

# name -> submodule, loaded on first use: the solver child processes import nlp modules once
# per round, and the driver would bring the dataset layer with it.
_HOME = {
    "Chunk": "kernel.chunks", "ChunkPlan": "kernel.chunks", "plan_chunks": "kernel.chunks",
    "METHODS": "stage.config", "DynamicsConfig": "stage.config", "config_from_cli": "stage.config",
    "DynamicsReport": "stage.report", "run_dynamics": "stage.run",
    "SolveSettings": "kernel.settings", "InverseSettings": "methods.inverse.settings",
    "TrackSettings": "methods.track.settings",
    "PrepSettings": "kernel.prep", "ChunkSeries": "kernel.stitch", "Stitched": "kernel.stitch",
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
    "InverseSettings",
    "TrackSettings",
    "PrepSettings",
    "SolveSettings",
    "Stitched",
    "plan_chunks",
    "run_dynamics",
    "config_from_cli",
]
