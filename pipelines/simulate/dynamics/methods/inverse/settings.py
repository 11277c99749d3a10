"""Settings of the `inverse` method."""

from __future__ import annotations

from dataclasses import dataclass

from ...kernel.settings import SolveSettings


@dataclass
class InverseSettings(SolveSettings):
    """contact_height_m: a foot whose lowest point is within this of the other foot's is in
        contact too (kernel/grf.py).
    cop_margin_m: how far beyond the hull of a foot's contact points its centre of pressure
        may lie; None: from the foot's contact spheres (kernel/grf.py)."""

    contact_height_m: float = 0.04
    cop_margin_m: float | None = None
