"""Did a converged tracking solution follow the motion? (both solvers ask)"""

from __future__ import annotations

import numpy as np

from musclekit.pipelines.simulate.dynamics.kernel.result import ChunkReport
from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings


def tracking_check(report: ChunkReport, q: np.ndarray, q_ref: np.ndarray,
                   translational: np.ndarray, settings: TrackSettings) -> bool:
    """Record the RMS tracking errors (rad over rotations, m over translations) in the
    report; False, with the reason, when they exceed the settings' limits."""
    rot = ~np.asarray(translational, dtype=bool)
    err = q - q_ref
    report.tracking_error_rad = float(np.sqrt(np.mean(err[:, rot] ** 2))) if rot.any() else 0.0
    error_m = float(np.sqrt(np.mean(err[:, ~rot] ** 2))) if (~rot).any() else 0.0
    report.diagnostics.tracking_error_m = error_m
    if report.tracking_error_rad > settings.max_error_rad or error_m > settings.max_error_m:
        report.reason = (
            f"converged but does not track the motion: RMS error "
            f"{report.tracking_error_rad:.3f} rad (limit {settings.max_error_rad}), "
            f"{error_m:.3f} m (limit {settings.max_error_m})")
        return False
    return True
