"""The `inverse` method: ground forces estimated from the kinematics (kernel/grf.py), then the
muscle redundancy problem with the motion prescribed (setup.py states it from OpenSim,
nlp/inverse.py solves it; moco.py is MocoInverse)."""

from .. import Method
from .settings import InverseSettings

METHOD = Method(
    name="inverse", settings=InverseSettings, solver_module=f"{__name__}.solve", contact=False,
    summary="estimated ground forces, then the muscle redundancy problem (default)",
)
