"""opensim/pose.py: a coupler-only model (OpenCap's LaiUhlrich2022, its patellae) is posed in
closed form, with OpenSim's assembler called once (the check at the first pose), and the
poses are the assembler's; a coupler the closed form does not describe falls back to the
assembler at every pose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "opencap"
MODEL = DATA / "LaiUhlrich2022.osim"
MOTION = DATA / "squats1_videoAndMocap.mot"
pytestmark = pytest.mark.skipif(not (MODEL.is_file() and MOTION.is_file()),
                                reason="../shared/data/opencap absent")

# The assembler stops at its own accuracy: on this squat its pose lies up to ~2e-8 (rad) from
# the exact one (the closed form satisfies the couplers to rounding).
ASSEMBLER_ACCURACY = 1e-7


class _Counting:
    """The model as Poser uses it, counting OpenSim assemblies."""

    def __init__(self, model):
        self.model, self.assemblies = model, 0

    def assemble(self, state) -> None:
        self.assemblies += 1
        self.model.assemble(state)

    def realizePosition(self, state) -> None:  # noqa: N802 (OpenSim's name)
        self.model.realizePosition(state)


def _poses(scale_factor: float | None = None, frames: int = 12):
    """(poser, counting model, [(closed-form or fallback Q, assembler's Q)] per frame)."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.files import read_mot, rotational_coordinates
    from musclekit.pipelines.simulate.opensim.pose import Poser

    osim.Logger.setLevelString("error")
    model = osim.Model(str(MODEL))
    if scale_factor is not None:
        cset = model.updConstraintSet()
        for i in range(cset.getSize()):
            prop = cset.get(i).updPropertyByName("scale_factor")
            osim.PropertyHelper.setValueDouble(scale_factor, prop)
    state = model.initSystem()
    motion = read_mot(MOTION, rotational=rotational_coordinates(model))
    coords = model.getCoordinateSet()
    poser = Poser(model, state)
    counting = poser.model = _Counting(model)
    names = {coords.get(i).getName() for i in range(coords.getSize())}
    out = []
    # Frames through the squat's descent and rise (knees from straight to ~100 degrees).
    for k in np.linspace(0, len(motion.time_s) - 1, frames).astype(int):
        for j, n in enumerate(motion.names):
            if n in names:
                coords.get(n).setValue(state, float(motion.values[k, j]), False)
        # The IK already satisfies the couplers: the dependents start away from their coupled
        # values, so that only a pose that computes them matches the assembler.
        for dep, _, _ in poser.dep_coords:
            dep.setValue(state, 0.0, False)
        reference = osim.State(state)
        model.assemble(reference)
        poser.assemble(state)
        out.append((state.getQ().to_numpy(), reference.getQ().to_numpy()))
    return poser, counting, out


def test_coupler_only_model_is_posed_in_closed_form_as_the_assembler_poses_it():
    poser, counting, poses = _poses()
    assert poser.closed_form and poser.checked
    assert counting.assemblies == 1  # the check at the first pose only
    assert poser.first_difference < 1e-8
    worst = max(float(np.abs(q - ref).max()) for q, ref in poses)
    assert worst < ASSEMBLER_ACCURACY, worst
    # and the knees really moved: the patellae's coupling was exercised
    knee = [float(np.ptp([q[i] for q, _ in poses])) for i in range(len(poses[0][0]))]
    assert max(knee) > 1.0


def test_coupler_the_closed_form_does_not_describe_falls_back_to_the_assembler():
    # A scaled coupler (dependent = 1.5 f(independent)): the closed form ignores the scale,
    # the check at the first pose sees it and every pose is assembled.
    poser, counting, poses = _poses(scale_factor=1.5, frames=4)
    assert poser.checked and not poser.closed_form
    assert poser.first_difference > 1e-6
    assert counting.assemblies == len(poses)
    worst = max(float(np.abs(q - ref).max()) for q, ref in poses)
    assert worst < ASSEMBLER_ACCURACY, worst


def test_coupler_of_several_independents_is_assembled_not_refused():
    # The ground-force estimate takes any model OpenSim can assemble: a coupler of two
    # independent coordinates has no closed form here, so every pose is assembled.
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.pose import Poser

    osim.Logger.setLevelString("error")
    model = osim.Model(str(MODEL))
    coupler = osim.CoordinateCouplerConstraint.safeDownCast(model.updConstraintSet().get(0))
    names = osim.ArrayStr()
    names.append(coupler.getIndependentCoordinateNames().get(0))
    names.append("hip_flexion_r")
    coupler.setIndependentCoordinateNames(names)
    coupler.setFunction(osim.MultivariatePolynomialFunction(osim.Vector([0.0, 1.0, 0.0]), 2, 1))
    state = model.initSystem()
    poser = Poser(model, state)
    counting = poser.model = _Counting(model)
    assert not poser.closed_form
    model.getCoordinateSet().get("knee_angle_r").setValue(state, 0.5, False)
    poser.assemble(state)
    assert counting.assemblies == 1
