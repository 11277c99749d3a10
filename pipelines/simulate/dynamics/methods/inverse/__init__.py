"""The `inverse` method: ground forces estimated from the kinematics (methods/inverse/grf.py), then the
muscle redundancy problem with the motion prescribed (setup.py states it from OpenSim,
nlp/inverse.py solves it; moco.py is MocoInverse)."""

from musclekit.pipelines.simulate.dynamics.methods import Method
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings

METHOD = Method(
    name="inverse", settings=InverseSettings, solver_module=f"{__name__}.solve", contact=False,
    summary="estimated ground forces, then the muscle redundancy problem (default)",
)
