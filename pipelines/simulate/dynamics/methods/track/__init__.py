"""The `track` method (MinT-faithful): muscle-driven tracking of the IK coordinates with foot
contact spheres, by sequential linearisation (setup.py evaluates OpenSim along the
trajectory, nlp/track.py solves each round, solve.py drives the rounds and checks the result
with OpenSim); moco.py is MocoTrack."""

from musclekit.pipelines.simulate.dynamics.methods import Method
from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings

METHOD = Method(
    name="track", settings=TrackSettings, solver_module=f"{__name__}.solve", contact=True,
    summary="muscle-driven tracking with foot contact spheres (MinT's method)",
    model_edit=f"{__name__}.foot_spheres:add_foot_contact", warm_start_from="inverse",
)
