"""What either solver of the `inverse` method returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class InverseSolution:
    time_s: np.ndarray
    activations: np.ndarray  # (N, muscles) in prep.muscles order
    forces: np.ndarray  # tendon forces (N, muscles)
    residuals: np.ndarray  # (N, residual + reserve actuators), N or N m
    residual_names: list[str]
    converged: bool
    status: str
    iterations: int
    objective: float
    seconds: float
    # The generalized forces the motion needs with these ground forces (N m / N per
    # coordinate: the root's, then each muscled or actuated one), where the solver states them.
    joint_moments: np.ndarray | None = None
    moment_names: list[str] | None = None
