"""Solver settings every method shares; each method extends them with its own
(`methods/<name>/settings.py`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SolveSettings:
    """MinT: 50 mesh points per second, tolerance 1e-3, <= 2500 iterations.

    filter_hz: zero-lag low-pass of the IK coordinates before they are differentiated
        (OpenCap: 6 Hz); it must lie below the motion's Nyquist frequency.
    solver: "casadi" (the problem stated from OpenSim evaluations, exact derivatives, solved
        in a child process) or "moco" (MocoInverse / MocoTrack: finite differences through
        OpenSim on every iteration).
    keep_unconverged: debugging: also return the arrays of a solve that did not converge
        (the chunk's status stays failed).
    """

    mesh_per_s: float = 50.0
    tolerance: float = 1e-3
    max_iterations: int = 2500
    filter_hz: float = 6.0
    solver: str = "casadi"
    keep_unconverged: bool = False
