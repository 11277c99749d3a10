"""Automatic scaling (kinematics/autoscale.py) and marker-set presets (kinematics/presets/):
the linear step is exact against OpenSim's own scaling, known factors are recovered from
markers the scaled model generates, an untrusted scaling stops naming the worst markers, the
presets are named in --help and an unknown one is refused with the list."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import opensim as osim
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.kinematics import autoscale as A
from musclekit.pipelines.simulate.kinematics.lab import LabInputs
from musclekit.pipelines.simulate.kinematics.presets import (
    load_preset,
    preset_names,
    resolve_marker_set,
)
from musclekit.pipelines.simulate.opensim.model import default_model_path

TRUE_FACTORS = {"pelvis": 1.06, "femur": 1.12, "tibia": 0.94, "foot": 1.02, "torso": 1.05,
                "humerus": 1.0, "forearm": 1.0, "hand": 1.0}
LOWER = ["pelvis", "femur_r", "femur_l", "tibia_r", "tibia_l", "calcn_r", "calcn_l"]


def _truth(body: str) -> float:
    return TRUE_FACTORS[A.body_group(body).removesuffix("_r").removesuffix("_l")]


@pytest.fixture(scope="module")
def generic_pig(tmp_path_factory) -> Path:
    """Rajagopal2015 carrying the plug-in-gait preset (lower body, medial markers, upper)."""
    out = tmp_path_factory.mktemp("autoscale")
    xml, _ = resolve_marker_set("plug-in-gait", out, default_model_path())
    model = osim.Model(str(default_model_path()))
    model.updateMarkerSet(osim.MarkerSet(str(xml)))
    path = out / "generic_pig.osim"
    model.printToXML(str(path))
    return path


def _poses(model, n: int) -> tuple[list[str], np.ndarray]:
    """n walking-like poses (hips, knees, ankles, pelvis turned and moved)."""
    cs = model.getCoordinateSet()
    names = [cs.get(i).getName() for i in range(cs.getSize())]
    q = np.tile([cs.get(i).getDefaultValue() for i in range(cs.getSize())], (n, 1))
    phase = np.linspace(0, 2 * np.pi, n, endpoint=False)
    set_ = {"pelvis_rotation": 0.4 + 0.1 * np.sin(phase), "pelvis_tx": 0.5 + 0.3 * phase,
            "pelvis_ty": 0.95 + 0.01 * np.cos(phase), "pelvis_tz": 0.2 + 0.0 * phase,
            "hip_flexion_r": 0.4 * np.sin(phase), "hip_flexion_l": -0.4 * np.sin(phase),
            "knee_angle_r": 0.6 * (1 + np.cos(phase)) / 2,
            "knee_angle_l": 0.6 * (1 - np.cos(phase)) / 2,
            "ankle_angle_r": 0.2 * np.sin(phase), "ankle_angle_l": -0.2 * np.sin(phase),
            "hip_adduction_r": 0.05 * np.cos(phase), "arm_flex_r": 0.3 * np.sin(phase),
            "elbow_flex_r": 0.5 + 0.2 * phase / 6, "elbow_flex_l": 0.6 + 0 * phase}
    for k, v in set_.items():
        q[:, names.index(k)] = v
    return names, q


def _scaled_markers(generic: Path, factors: dict[str, float], poses) -> tuple[list, np.ndarray]:
    gm = osim.Model(str(generic))
    tree = A._Tree(gm)
    ms = gm.getMarkerSet()
    markers = {ms.get(i).getName(): (ms.get(i).getParentFrame().findBaseFrame().getName(),
                                     ms.get(i).get_location().to_numpy() * factors[
                                         ms.get(i).getParentFrame().findBaseFrame().getName()])
               for i in range(ms.getSize())}
    model = A.build_model(generic, factors, markers, 70.0)
    state = model.initSystem()
    names, q = poses
    out = np.zeros((len(q), len(markers), 3))
    for f in range(len(q)):
        A._set_pose(model, state, names, q[f])
        for j, n in enumerate(markers):
            out[f, j] = model.getMarkerSet().get(n).getLocationInGround(state).to_numpy()
    del tree
    return list(markers), out


def test_linear_step_is_exact_against_opensim_scaling(generic_pig: Path) -> None:
    """With the pose fixed, a marker's place is linear in the factors: the vectors read off
    the generic model, multiplied by the factors, give exactly OpenSim's scaled model."""
    gm = osim.Model(str(generic_pig))
    tree = A._Tree(gm)
    factors = {b: _truth(b) for b in tree.bodies}
    names, q = _poses(gm, 3)
    markers, truth = _scaled_markers(generic_pig, factors, (names, q))
    gstate = gm.initSystem()
    ms = gm.getMarkerSet()
    gf = {A.body_group(b): f for b, f in factors.items()}
    for f in range(len(q)):
        A._set_pose(gm, gstate, names, q[f])
        rot, terms = A._body_vectors(gm, gstate, tree)
        root = gm.getBodySet().get(tree.root).getPositionInGround(gstate).to_numpy()
        for j, n in enumerate(markers):
            body = ms.get(n).getParentFrame().findBaseFrame().getName()
            p = root + sum(gf[g] * v for g, v in terms[body].items()) + \
                gf[A.body_group(body)] * rot[body] @ ms.get(n).get_location().to_numpy()
            assert np.linalg.norm(p - truth[f, j]) < 1e-6, (n, f)


@pytest.mark.slow  # ~1-2 min on 2 cores: about 8 rounds of IK over 6 poses
def test_known_factors_are_recovered(generic_pig: Path) -> None:
    """Scale the default model by known factors, generate its preset markers over a few
    poses, fit from the unscaled model: lower-body factors within 4 % (the priors that keep a
    real fit sane pull a femur of 1.12 next to a tibia of 0.94 about 2 % towards the
    whole-body factor), markers within 2 mm."""
    gm = osim.Model(str(generic_pig))
    tree = A._Tree(gm)
    factors = {b: _truth(b) for b in tree.bodies}
    poses = _poses(gm, 6)
    names, data = _scaled_markers(generic_pig, factors, poses)
    fit = A.fit_scale(generic_pig, names, np.arange(len(data)) * 0.1, data, height_m=None,
                      mass_kg=70.0, frames=6, standing=False)
    for body in LOWER:
        assert abs(fit.body_factors[body] - factors[body]) < 0.04 * factors[body], \
            (body, fit.body_factors[body], factors[body])
    assert fit.static_rms_m < 0.002
    assert fit.iterations[0]["iteration"] == 0  # deterministic: no random starts
    again = A.fit_scale(generic_pig, names, np.arange(len(data)) * 0.1, data, mass_kg=70.0,
                        frames=6, standing=False, max_iterations=2)
    first = A.fit_scale(generic_pig, names, np.arange(len(data)) * 0.1, data, mass_kg=70.0,
                        frames=6, standing=False, max_iterations=2)
    assert again.group_factors == first.group_factors


def test_absurd_factor_stops_naming_worst_markers() -> None:
    errors = {"RASI": 0.004, "LKNE": 0.031, "RTOE": 0.052, "LHEE": 0.006}
    with pytest.raises(InputError, match=r"scale factors outside 0.6-1.6 \(femur_r 2.04\).*"
                                         r"worst markers: RTOE 52 mm, LKNE 31 mm"):
        A.check_scaling({"pelvis": [1.0] * 3, "femur_r": [2.04] * 3}, errors, "static.trc")


def test_static_error_above_bound_stops_naming_worst_markers() -> None:
    errors = {"RASI": 0.012, "LKNE": 0.082, "RTOE": 0.04, "LHEE": 0.01}
    with pytest.raises(InputError, match=r"static marker error RMS 46.3 mm is above the 25 mm "
                                         r"bound; worst markers: LKNE 82 mm, RTOE 40 mm"):
        A.check_scaling({"pelvis": [1.0] * 3}, errors, "static.trc")
    A.check_scaling({"pelvis": [1.0] * 3}, errors, "static.trc", max_static_rms_m=0.05)
    A.check_scaling({"pelvis": [1.1] * 3}, {"RASI": 0.01, "LKNE": 0.02}, "static.trc")


def test_presets_sit_on_the_default_model_bodies() -> None:
    model = osim.Model(str(default_model_path()))
    bodies = {model.getBodySet().get(i).getName() for i in range(model.getBodySet().getSize())}
    assert set(preset_names()) >= {"plug-in-gait", "helen-hayes", "uw-lenhart"}
    for name in preset_names():
        markers = load_preset(name)
        assert {m.body for m in markers} <= bodies, name
        by = {m.name: m for m in markers}
        assert len(by) == len(markers), f"{name}: a name twice"
        for m in markers:  # left places mirror right ones
            if m.name[:1] == "R" and "L" + m.name[1:] in by:
                assert np.allclose(by["L" + m.name[1:]].location, m.location * [1, 1, -1])
    pig = {m.name for m in load_preset("plug-in-gait")}
    assert {"LASI", "RPSI", "RKNE", "LANK", "RHEE", "LTOE", "LKNEin", "RANKin", "C7", "LWRA",
            "RightHipCenter"} <= pig
    assert {"R.ASIS", "L.Knee", "R.MT5", "S2"} <= {m.name for m in load_preset("uw-lenhart")}
    assert {"VSAC", "RTHI", "LSHA", "IJ", "PX"} <= {m.name for m in load_preset("helen-hayes")}


def test_unknown_preset_lists_the_presets(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"--marker-set vicon-full: no such preset and no "
                                         r"such file; presets: helen-hayes, plug-in-gait, "
                                         r"uw-lenhart"):
        LabInputs(marker_set="vicon-full").validate()
    with pytest.raises(InputError, match="--marker-set file not found: nowhere/m.xml"):
        LabInputs(marker_set="nowhere/m.xml").validate()
    LabInputs(marker_set="plug-in-gait").validate()
    LabInputs(marker_set="PiG").validate()  # an alias
    xml, tracking = resolve_marker_set("helen-hayes", tmp_path)
    assert xml.is_file() and "RTHI" in tracking and "RKNE" not in tracking
    with pytest.raises(InputError, match="--max-static-error-mm 0"):
        LabInputs(max_static_error_mm=0).validate()


def test_static_auto_is_accepted() -> None:
    LabInputs(static_trc="auto", mass_kg=70.0).validate()


def test_help_names_the_presets() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "musclekit.cli.main", "simulate", "--help"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    for name in preset_names():
        assert name in text, name
    assert "--static auto" in text and "--max-static-error-mm" in text
