"""The synthetic motions the demo and benchmarks feed to simulate."""

from __future__ import annotations

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.kinematics.synthetic import motion_coordinates
from musclekit.pipelines.simulate.opensim.model import body_poses, default_model_path


def test_squat_keeps_both_feet_flat_where_they_stand():
    """Dynamics with foot contact can only track a squat whose feet stay on the floor."""
    _, coords = motion_coordinates("squat", duration_s=1.0, rate_hz=20.0)
    rot, pos = body_poses(default_model_path(), coords, ["calcn_r", "calcn_l", "toes_r", "toes_l"])
    for body in pos:
        assert np.abs(pos[body] - pos[body][0]).max() < 1e-4, body
    for foot in ("calcn_r", "calcn_l"):
        # Heel and toes fixed leave only roll about the foot's long axis, which the model's
        # oblique ankle axis ties to dorsiflexion (its subtalar joint is locked): ~2 degrees.
        relative = np.swapaxes(rot[foot][0], 0, 1) @ rot[foot]
        angle = np.arccos(np.clip((np.trace(relative, axis1=1, axis2=2) - 1) / 2, -1, 1))
        assert angle.max() < 0.05, foot
    # ...while the body really squats: the pelvis drops by more than 20 cm at the bottom.
    assert coords["pelvis_ty"][0] - coords["pelvis_ty"].min() > 0.2
    assert coords["knee_angle_r"].max() > 1.4


def test_unknown_motion_names_the_choices():
    with pytest.raises(InputError, match="unknown synthetic motion 'hop'; choose from walking, squat"):
        motion_coordinates("hop", duration_s=1.0, rate_hz=20.0)
