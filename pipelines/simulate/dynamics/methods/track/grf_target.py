"""Ground forces beside the contact spheres': the plates or `inverse`'s per-foot estimate of
the same chunk, as a tracking target (`--track-grf`) and as the yardstick every track chunk
reports its contact forces against (`ChunkDiagnostics.grf_vs_estimate`).

The estimate is the method `track` warm-starts from (`METHOD.warm_start_from`, `inverse`):
its sequence-wide estimate (contact phases, floor and hand-overs are the sequence's), reached
through the method registry as the warm start is, never by importing another method.
"""

from __future__ import annotations

from importlib import import_module

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.solution import (
    ChunkContext,
    measured_on_times,
)
from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS, SIDES

GRF_MODES = ("none", "measured", "estimated")
ESTIMATE_SOURCE = "inverse"
_IDX = {c: i for i, c in enumerate(GRF_CHANNELS)}


def check_mode(settings: TrackSettings) -> None:
    """Refuse a `--track-grf` the chunk cannot honour, saying what to pass."""
    if settings.track_grf not in GRF_MODES:
        raise InputError(f"--track-grf {settings.track_grf!r} is not one of "
                         f"{', '.join(GRF_MODES)}")
    if settings.track_grf == "measured" and not (settings.grf_file or settings.grf_setup):
        raise InputError("--track-grf measured needs force plates: pass the lab's forces with "
                         "--grf FILE (and --grf-setup XML), or a --c3d with force plates; "
                         "without plates use --track-grf estimated (inverse's per-foot estimate)")


def per_foot(values: np.ndarray) -> np.ndarray:
    """(N, 2, 3) force per foot (right, left) from (N, 18) GRF_CHANNELS rows."""
    return np.stack([values[:, [_IDX[f"ground_force_{s}_v{a}"] for a in "xyz"]]
                     for s in SIDES], axis=1)


def estimate_on_mesh(ctx: ChunkContext, mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`inverse`'s per-foot estimate of the sequence at the mesh times, (N, 18), computed
    once per sequence folder and shared by its chunks (`sequence_estimate`'s own cache), and
    the ground's velocity it found (3,): 0 overground, a treadmill's belt."""
    from musclekit.pipelines.simulate.dynamics.methods import get_method

    source = get_method(ESTIMATE_SOURCE)
    grf = import_module(source.solver_module.rsplit(".", 1)[0] + ".grf")
    inv = source.settings()
    est = grf.sequence_estimate(
        ctx.work.parent / "grf_estimate.npz", ctx.model_file, ctx.motion,
        feet={s: tuple(b) for s, b in ctx.prep.feet.items()},
        cop_margin_m=inv.cop_margin_m, rule=inv.contact_rule())
    w = grf.window(est, float(mesh[0]) - 0.05, float(mesh[-1]) + 0.05)
    values = np.column_stack([np.interp(mesh, w.time_s, w.values[:, j])
                              for j in range(w.values.shape[1])])
    belt = est.ground_velocity_m_s
    return values, (np.zeros(3) if belt is None else np.asarray(belt, dtype=float))


def measured_on_mesh(ctx: ChunkContext, settings: TrackSettings, mesh: np.ndarray) -> np.ndarray:
    """The plates at the mesh times (N, 18), low-passed like the kinematics."""
    return np.nan_to_num(measured_on_times(ctx, settings.grf_file, settings.grf_setup, mesh,
                                           settings.filter_hz))


def agreement(time_s: np.ndarray, grf: np.ndarray, reference: np.ndarray,
              core: tuple[float, float], body_weight_n: float) -> dict:
    """Per-foot vertical RMSE (% body weight) and PCC of `grf` against `reference` (both
    (N, 18) at `time_s`) over the chunk's core."""
    w = (time_s >= core[0] - 1e-9) & (time_s <= core[1] + 1e-9)
    out: dict = {}
    for side in SIDES:
        a = grf[w, _IDX[f"ground_force_{side}_vy"]]
        b = reference[w, _IDX[f"ground_force_{side}_vy"]]
        out[f"{side}_rmse_bw_pct"] = round(
            100.0 * float(np.sqrt(np.mean((a - b) ** 2))) / body_weight_n, 2)
        out[f"{side}_pcc"] = (round(float(np.corrcoef(a, b)[0, 1]), 3)
                              if a.std() > 1e-9 and b.std() > 1e-9 else None)
    return out
