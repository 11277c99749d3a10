"""A model's pose from its coordinates' values, in closed form where OpenSim's assembler would
only solve a trivial problem.

`Model.assemble` keeps every free coordinate at its goal (its value in the state) while it
satisfies the constraints. Where the model's only constraints are couplers of one
independent coordinate each (the patellae's `knee_angle_*_beta` of the gait models), that
problem has a closed form: each dependent coordinate (which gets no goal of its own) is its
coupling function of its independent one, and nothing else moves. Computing it costs a
fraction of the assembler's iterations (on an 80-muscle gait model ~19 ms of CPU per
assembly against well under 1 ms). Used by the `inverse` method's evaluations at the mesh
points (methods/inverse/setup.py) and by its whole-sequence ground-force estimate
(methods/inverse/grf.py).

The closed form is checked against the assembler at the first pose and stands in for it
only where the two agree to `ASSEMBLY_MATCH`; another kind of constraint, a dependent the
assembler may not move freely (locked, or clamped to a range) or a scaled coupler fall back to
assembling every pose.
"""

from __future__ import annotations

import numpy as np

from musclekit.pipelines.simulate.opensim.evaluate import couplers as all_couplers
from musclekit.pipelines.simulate.opensim.evaluate import single_couplers

# The largest difference (rad or m) between the closed-form pose and OpenSim's assembler for
# which the closed form stands in for it (the assembler's own accuracy is ~1e-9).
ASSEMBLY_MATCH = 1e-8


def coupled_coordinates(model, couplers: dict | None = None) -> list[tuple]:
    """(dependent Coordinate, independent Coordinate, coupling Function) per coupler, in the
    order of `single_couplers` (or of the given `couplers`: dependent -> (independent,
    function))."""
    couplers = single_couplers(model) if couplers is None else couplers
    cset = model.getCoordinateSet()
    return [(cset.get(dep), cset.get(indep), fn) for dep, (indep, fn) in couplers.items()]


def pose_coupled(model, state, dep_coords: list[tuple]) -> None:
    """Set each coupled coordinate to its coupling function of its independent coordinate
    (both already set: the latter to its goal) and realise the pose."""
    import opensim as osim

    for dep, indep, fn in dep_coords:
        dep.setValue(state, fn.calcValue(osim.Vector(1, indep.getValue(state))), False)
    model.realizePosition(state)


class Poser:
    """Poses states of one model as `Model.assemble` does, in closed form where it applies.

    `assemble(state)` with the free coordinates already set: the first call assembles with
    OpenSim and compares with the closed form (the state keeps the assembler's pose); every
    later call takes the closed form if they agreed, the assembler otherwise. `closed_form`
    tells which (False before the first call where the closed form is not even tried)."""

    def __init__(self, model, state, couplers: dict | None = None, allowed: bool = True):
        self.model = model
        if couplers is None:
            # Couplers of one independent coordinate; one of several has no closed form here
            # (it is then missing from `couplers`, and the count below refuses the model).
            couplers = {dep: (c.independents[0], c.function)
                        for dep, c in all_couplers(model).items() if len(c.independents) == 1}
        cset = model.getCoordinateSet()
        # A dependent the assembler may not move freely (locked, or clamped to a range the
        # coupling function may leave) makes the assembler move its independent coordinate
        # off its goal instead: no closed form. Locked or clamped independents are fine
        # (setValue clamps; a locked coordinate stays where it is either way).
        free_dependents = all(not cset.get(dep).getLocked(state)
                              and not cset.get(dep).getClamped(state) for dep in couplers)
        self.closed_form = (allowed and free_dependents
                            and model.getConstraintSet().getSize() == len(couplers))
        self.dep_coords = coupled_coordinates(model, couplers)
        self.checked = False
        # The largest difference between the closed form and the assembler at the first pose
        # (NaN until compared).
        self.first_difference = float("nan")

    def assemble(self, state) -> None:
        if not self.closed_form:
            self.model.assemble(state)
            return
        pose_coupled(self.model, state, self.dep_coords)
        if not self.checked:
            closed = state.getQ().to_numpy()
            self.model.assemble(state)
            self.first_difference = float(np.abs(state.getQ().to_numpy() - closed).max())
            self.closed_form = self.first_difference <= ASSEMBLY_MATCH
            self.checked = True
