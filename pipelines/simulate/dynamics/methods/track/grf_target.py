"""Ground forces beside the contact spheres': the plates or `inverse`'s per-foot estimate of
the same chunk, as a tracking target (`--track-grf`) and as the yardstick every track chunk
reports its contact forces against (`ChunkDiagnostics.grf_vs_estimate`).

The estimate is the method `track` warm-starts from (`METHOD.warm_start_from`, `inverse`):
its sequence-wide estimate (contact phases, floor and hand-overs are the sequence's), reached
through the method registry as the warm start is, never by importing another method.
"""

from __future__ import annotations

import sys
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
    for name in ("grf_weight", "grf_first_weight"):
        w = getattr(settings, name)
        if w is not None and not (np.isfinite(w) and w > 0):
            raise InputError(f"track's {name} must be a positive finite weight, got {w!r}"
                             + (" (None: the full weight from the first round)"
                                if name == "grf_first_weight" else ""))


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


# A mesh point where the plates' summed vertical force falls short of the body's (inverse's
# estimate from the kinematics) by more than this share of body weight has a foot on the
# floor beside the plates. A foot off the plates leaves 0.7-1.2 BW missing in its stance;
# inverse's estimate is 3 % BW from complete plates walking, and complete plates fall up
# to 0.21 BW short of it around a running touch-down (the Rajagopal trials, at the
# estimate's frames: walking's plates miss 0.6-1.1 BW
# before 0.36 s and after 2.04 s, where a foot stands beside them; the treadmill run's
# complete plates fall short by more only at the recording's last 0.05 s).
PLATES_MISS_BW = 0.25
# ...and so do the points this close to such a point (s): a foot's force onto the floor
# beside the plates rises over ~0.1 s and the filter spreads it, so the plates already miss
# part of the body before the shortfall crosses the threshold.
PLATES_MISS_MARGIN_S = 0.05


def measured_on_mesh(ctx: ChunkContext, settings: TrackSettings, mesh: np.ndarray) -> np.ndarray:
    """The plates at the mesh times (N, 18), low-passed like the kinematics; where they miss
    a foot (`plates_or_estimate`), `inverse`'s estimate of the same times instead."""
    plates = np.nan_to_num(measured_on_times(ctx, settings.grf_file, settings.grf_setup, mesh,
                                             settings.filter_hz))
    try:
        estimate, _ = estimate_on_mesh(ctx, mesh)
    except InputError as exc:
        print(f"track: the plates are the target as they are (no estimate to tell where they "
              f"miss a foot: {exc})", file=sys.stderr)
        return plates
    target, missed = plates_or_estimate(plates, estimate, mesh, ctx.body_weight_n)
    if missed.any():
        print(f"track: the plates miss a foot at {int(missed.sum())} of {len(mesh)} mesh points "
              f"({mesh[missed][0]:.3f}-{mesh[missed][-1]:.3f} s): inverse's estimate is the "
              "target there", file=sys.stderr)
    return target


def plates_or_estimate(plates: np.ndarray, estimate: np.ndarray, time_s: np.ndarray,
                       body_weight_n: float) -> tuple[np.ndarray, np.ndarray]:
    """The plates (N, 18) where they carry the body, the estimate (N, 18) where they miss a
    foot; returns (target, missed (N,) bool).

    Plates cover part of a lab's floor: a walk's first and last steps often land beside
    them, where the plates read zero. As a target that zero asks the spheres to hold a
    standing foot off the floor (on the Rajagopal walk's first chunk 15 / 28 % BW from the
    estimate over the chunk, 4 / 4 inside the plates' window, and the equations of motion
    missed by 7.0 N of the 8.3 allowed). A point is missed where the plates' summed
    vertical force falls short of the estimate's by more than `PLATES_MISS_BW` body
    weights, and so is every point within `PLATES_MISS_MARGIN_S` of one."""
    plates, estimate = np.asarray(plates, dtype=float), np.asarray(estimate, dtype=float)
    time_s = np.asarray(time_s, dtype=float)
    if (plates.shape != estimate.shape or plates.ndim != 2 or plates.shape[1] != len(GRF_CHANNELS)
            or time_s.shape != (plates.shape[0],)):
        raise InputError(f"plates_or_estimate needs plates and estimate of shape (N, "
                         f"{len(GRF_CHANNELS)}) at N times; got {plates.shape}, "
                         f"{estimate.shape} at {time_s.shape}")
    if not body_weight_n > 0:
        raise InputError(f"plates_or_estimate needs a positive body weight, got {body_weight_n}")
    cols = [_IDX[f"ground_force_{s}_vy"] for s in SIDES]
    short = (estimate[:, cols].sum(1) - plates[:, cols].sum(1)) > PLATES_MISS_BW * body_weight_n
    missed = np.zeros(len(time_s), dtype=bool)
    for t in time_s[short]:
        missed |= np.abs(time_s - t) <= PLATES_MISS_MARGIN_S + 1e-9
    return np.where(missed[:, None], estimate, plates), missed


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
