"""Shared helpers of the dynamics tests (the dataset builder lives in the package's demo)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from musclekit.compute import ComputeConfig
from musclekit.pipelines.simulate.dynamics import (
    ChunkPlan,
    DynamicsConfig,
    PrepSettings,
    SolveSettings,
)
from musclekit.pipelines.simulate.dynamics.stage.demo import FEET, make_kinematics_dataset


def small_dynamics_config(**kw) -> DynamicsConfig:
    """The tiny run of the driver tests: 0.6 s chunks, a coarse mesh, inline (no Dask)."""
    base = dict(
        chunk=ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1, min_last_chunk_s=0.3),
        solve=SolveSettings(mesh_per_s=25, max_iterations=300),
        prep=PrepSettings(feet=FEET),
        compute=ComputeConfig(workers=0),
    )
    base.update(kw)
    return DynamicsConfig(**base)


@contextlib.contextmanager
def failing_chunks(chunk_ids: list[str], reason: str = "forced to fail (test)") -> Iterator[None]:
    """Within the block, the dynamics stage treats these chunks as unsolvable: each becomes a
    failed report with `reason`, the gap path every real failure takes."""
    from musclekit.pipelines.simulate.dynamics.stage import units

    real = units.unsolvable

    def unsolvable(chunk, sequence_reason: str) -> str:
        return reason if chunk.id in chunk_ids else real(chunk, sequence_reason)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(units, "unsolvable", unsolvable)
        yield


__all__ = ["FEET", "failing_chunks", "make_kinematics_dataset", "small_dynamics_config"]
