"""A model scaled from the motion itself (`--static auto`, kinematics/autoscale.py) stands in
the generic model's default pose, not in the walking frame the fit started from: later stages
read the default pose as the subject's stance (the inverse method's sole heights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opensim as osim
import pytest

from musclekit.pipelines.simulate.kinematics import autoscale as A
from musclekit.pipelines.simulate.kinematics.presets import resolve_marker_set
from musclekit.pipelines.simulate.opensim.files import MarkerData
from musclekit.pipelines.simulate.opensim.model import default_model_path

FACTOR = 1.05  # every body: a subject 5 % larger than the model


def _walking_trial(generic: Path, frames: int) -> MarkerData:
    """The preset's markers on the model scaled by FACTOR over `frames` walking-like poses:
    the first frame has a bent left knee and the pelvis turned and away from the origin."""
    gm = osim.Model(str(generic))
    cs = gm.getCoordinateSet()
    names = [cs.get(i).getName() for i in range(cs.getSize())]
    q = np.tile([cs.get(i).getDefaultValue() for i in range(cs.getSize())], (frames, 1))
    phase = np.linspace(0.3, 0.3 + 2 * np.pi, frames, endpoint=False)
    motion = {"pelvis_rotation": 0.4 + 0.1 * np.sin(phase), "pelvis_tx": 1.5 + 0.3 * phase,
              "pelvis_ty": 0.98 + 0.01 * np.cos(phase), "pelvis_tz": 0.2 + 0.0 * phase,
              "hip_flexion_r": 0.4 * np.sin(phase), "hip_flexion_l": -0.4 * np.sin(phase),
              "knee_angle_r": 0.6 * (1 + np.cos(phase)) / 2 + 0.05,
              "knee_angle_l": 0.6 * (1 - np.cos(phase)) / 2 + 0.05,
              "ankle_angle_r": 0.2 * np.sin(phase), "ankle_angle_l": -0.2 * np.sin(phase)}
    for k, v in motion.items():
        q[:, names.index(k)] = v
    ms = gm.getMarkerSet()
    markers = {}
    for i in range(ms.getSize()):
        body = ms.get(i).getParentFrame().findBaseFrame().getName()
        markers[ms.get(i).getName()] = (body, FACTOR * ms.get(i).get_location().to_numpy())
    bodies = [gm.getBodySet().get(i).getName() for i in range(gm.getBodySet().getSize())]
    model = A.build_model(generic, {b: FACTOR for b in bodies}, markers, 70.0)
    state = model.initSystem()
    pos = np.zeros((frames, len(markers), 3))
    for f in range(frames):
        A._set_pose(model, state, names, q[f])
        for j, n in enumerate(markers):
            pos[f, j] = model.getMarkerSet().get(n).getLocationInGround(state).to_numpy()
    return MarkerData(np.arange(frames) * 0.1, list(markers), pos, 10.0)


def test_static_auto_model_stands_in_the_generic_default_pose(tmp_path: Path) -> None:
    xml, tracking = resolve_marker_set("plug-in-gait", tmp_path, default_model_path())
    generic_model = osim.Model(str(default_model_path()))
    generic_model.updateMarkerSet(osim.MarkerSet(str(xml)))
    generic = tmp_path / "generic_pig.osim"
    generic_model.printToXML(str(generic))
    trial = _walking_trial(generic, 4)
    out = A.scale_automatic(generic, trial, "walk.trc (auto)", tmp_path / "scale", 70.0, None,
                            None, motion=True, tracking=tracking)
    # the fit itself met the trial (so the test is about the pose, not a failed fit)
    assert all(abs(f[0] - FACTOR) < 0.08 for f in out["scale_factors"].values())
    # the fitted poses stay on record (static_pose.mot), not in the model
    assert (tmp_path / "scale" / "static_pose.mot").stat().st_size > 0
    scaled_model = osim.Model(str(out["model_path"]))  # held: its sets die with it
    scaled = scaled_model.getCoordinateSet()
    gcs = generic_model.getCoordinateSet()
    for i in range(gcs.getSize()):
        name = gcs.get(i).getName()
        assert scaled.get(name).getDefaultValue() == pytest.approx(
            gcs.get(i).getDefaultValue(), abs=1e-12), name
    # the registered markers stay on their bodies where the subject carries them (within
    # 2 cm: four frames, the fit's priors on each marker's offset)
    ms = scaled_model.getMarkerSet()
    gms = generic_model.getMarkerSet()
    off = [np.linalg.norm(ms.get(n).get_location().to_numpy()
                          - FACTOR * gms.get(n).get_location().to_numpy()) for n in trial.names]
    assert max(off) < 0.02, max(off)

def test_default_pose_is_copied_from_the_generic_model(tmp_path: Path) -> None:
    """standing_default_pose names what it changed and leaves the generic values."""
    path = tmp_path / "generic.osim"
    osim.Model(str(default_model_path())).printToXML(str(path))
    model = osim.Model(str(path))
    cs = model.getCoordinateSet()
    cs.get("knee_angle_l").setDefaultValue(1.13)
    cs.get("pelvis_tx").setDefaultValue(2.0)
    assert sorted(A.standing_default_pose(model, path)) == ["knee_angle_l", "pelvis_tx"]
    assert cs.get("knee_angle_l").getDefaultValue() == 0.0
    assert cs.get("pelvis_tx").getDefaultValue() == 0.0
