"""One rule decides a coordinate's unit (m or rad), checked on several model families:
Rajagopal2015 (nimblephysics), OpenCap's LaiUhlrich2022 and the Rajagopal2016 lab model
(../shared/data, skipped when absent), and a Gait2392-style model built here with
OpenSim's API, whose pelvis translations OpenSim itself reports as `Coupled`."""

from __future__ import annotations

from pathlib import Path

import pytest

from musclekit.errors import InputError, MissingDependencyError
from musclekit.pipelines.simulate.kinematics.run import stream_specs
from musclekit.pipelines.simulate.opensim.model import (
    coordinate_units,
    default_model_path,
    generalized_force_unit,
    is_translational,
    load_model,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PELVIS_TRANSLATIONS = ("pelvis_tx", "pelvis_ty", "pelvis_tz")
ANGLES = ("pelvis_tilt", "pelvis_list", "pelvis_rotation", "hip_flexion_r", "knee_angle_r")


def _axis(transform, index: int, coord: str | None, axis: tuple[float, float, float], fn):
    import opensim

    ta = transform.updTransformAxis(index)
    names = opensim.ArrayStr()
    if coord:
        names.append(coord)
    ta.setCoordinateNames(names)
    ta.setAxis(opensim.Vec3(*axis))
    ta.set_function(fn)  # copies: the Python object keeps its own


def _spline(points: list[tuple[float, float]]):
    import opensim

    s = opensim.SimmSpline()
    for x, y in points:
        s.addPoint(x, y)
    return s


def _translation_function(kind: str):
    """How Gait2392-family files write a pelvis translation (slope 1 in all cases)."""
    import opensim

    if kind == "linear":  # what OpenSim 4 writes, and Rajagopal's models
        return opensim.LinearFunction(1.0, 0.0)
    if kind == "spline":  # SIMM-converted models: an identity spline
        return _spline([(-10.0, -10.0), (0.0, 0.0), (10.0, 10.0)])
    if kind == "multiplier":  # models scaled by OpenSim 3.x: every translation wrapped
        inner = opensim.LinearFunction(1.0, 0.0)
        inner.thisown = False  # setFunction adopts it
        mf = opensim.MultiplierFunction()
        mf.setFunction(inner)
        mf.setScale(1.0)
        return mf
    raise ValueError(kind)


def gait2392_style_model(path: Path, translations: str) -> Path:
    """Pelvis on a 6-axis CustomJoint (rotations through LinearFunction, translations
    through `translations`), a hip PinJoint, a knee CustomJoint (rotation linear in
    knee_angle_r, translations SimmSplines of it, as gait2392's) and a patella whose
    `knee_angle_r_beta` moves it along splines on a rotation and two translation axes."""
    import opensim

    rot_axes = [(0, 0, 1), (1, 0, 0), (0, 1, 0)]
    tra_axes = [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
    model = opensim.Model()
    model.setName(f"gait2392_style_{translations}")
    bodies = {}
    for name, mass, com in (("pelvis", 11.8, (-0.07, 0, 0)), ("femur_r", 9.3, (0, -0.17, 0)),
                            ("tibia_r", 3.7, (0, -0.19, 0)), ("patella_r", 0.1, (0, 0, 0))):
        bodies[name] = opensim.Body(name, mass, opensim.Vec3(*com),
                                    opensim.Inertia(0.1, 0.05, 0.1))
        model.addBody(bodies[name])
    zero = opensim.Vec3(0)

    pelvis = opensim.SpatialTransform()
    for i, (coord, axis) in enumerate(zip(("pelvis_tilt", "pelvis_list", "pelvis_rotation"),
                                          rot_axes, strict=True)):
        _axis(pelvis, i, coord, axis, opensim.LinearFunction(1.0, 0.0))
    for i, (coord, axis) in enumerate(zip(PELVIS_TRANSLATIONS, tra_axes, strict=True)):
        _axis(pelvis, 3 + i, coord, axis, _translation_function(translations))
    model.addJoint(opensim.CustomJoint("ground_pelvis", model.getGround(), zero, zero,
                                       bodies["pelvis"], zero, zero, pelvis))

    hip = opensim.PinJoint("hip_r", bodies["pelvis"], opensim.Vec3(-0.07, -0.07, 0.08), zero,
                           bodies["femur_r"], zero, zero)
    hip.updCoordinate().setName("hip_flexion_r")
    model.addJoint(hip)

    knee = opensim.SpatialTransform()
    _axis(knee, 0, "knee_angle_r", rot_axes[0], opensim.LinearFunction(1.0, 0.0))
    for i in (1, 2):
        _axis(knee, i, None, rot_axes[i], opensim.Constant(0.0))
    _axis(knee, 3, "knee_angle_r", tra_axes[0],
          _spline([(-2.09, -0.0032), (-1.22, 0.00179), (0.0, -0.0031), (0.17, -0.0041)]))
    _axis(knee, 4, "knee_angle_r", tra_axes[1],
          _spline([(-2.09, -0.4226), (-1.22, -0.4082), (0.0, -0.3960), (0.17, -0.3952)]))
    _axis(knee, 5, None, tra_axes[2], opensim.Constant(0.0))
    model.addJoint(opensim.CustomJoint("knee_r", bodies["femur_r"], zero, zero,
                                       bodies["tibia_r"], zero, zero, knee))

    patella = opensim.SpatialTransform()
    _axis(patella, 0, "knee_angle_r_beta", rot_axes[0],
          _spline([(-2.09, -0.29), (0.0, 0.0), (0.17, 0.01)]))
    for i in (1, 2):
        _axis(patella, i, None, rot_axes[i], opensim.Constant(0.0))
    _axis(patella, 3, "knee_angle_r_beta", tra_axes[0],
          _spline([(-2.09, 0.0155), (0.0, 0.0496), (0.17, 0.0524)]))
    _axis(patella, 4, "knee_angle_r_beta", tra_axes[1],
          _spline([(-2.09, -0.0423), (0.0, -0.0227), (0.17, -0.0219)]))
    _axis(patella, 5, None, tra_axes[2], opensim.Constant(0.0))
    model.addJoint(opensim.CustomJoint("patellofemoral_r", bodies["femur_r"], zero, zero,
                                       bodies["patella_r"], zero, zero, patella))
    model.finalizeConnections()
    model.printToXML(str(path))
    return path


def _assert_lab_model_units(units: dict[str, str]) -> None:
    for name in PELVIS_TRANSLATIONS:
        assert units[name] == "m", (name, units[name])
    for name in ANGLES:
        assert units[name] == "rad", (name, units[name])
    assert set(units.values()) <= {"m", "rad"}
    assert [n for n, u in units.items() if u == "m"] == list(PELVIS_TRANSLATIONS)


@pytest.mark.parametrize("translations", ["spline", "multiplier", "linear"])
def test_gait2392_style_pelvis_translations_are_metres(tmp_path, translations):
    import opensim

    model = load_model(gait2392_style_model(tmp_path / "g.osim", translations))
    cs = model.getCoordinateSet()
    reported = cs.get("pelvis_tx").getMotionType()
    # What the old rule (motion type == Translational, else rad) tripped over:
    expected = (opensim.Coordinate.Translational if translations == "linear"
                else opensim.Coordinate.Coupled)
    assert reported == expected
    assert cs.get("knee_angle_r_beta").getMotionType() == opensim.Coordinate.Coupled
    units = coordinate_units(model)
    _assert_lab_model_units(units)
    assert units["knee_angle_r_beta"] == "rad"  # on a rotation axis: an angle
    assert is_translational(model, "pelvis_ty") and not is_translational(model, "knee_angle_r")
    assert generalized_force_unit(units["pelvis_tx"]) == "N"
    assert generalized_force_unit(units["pelvis_tilt"]) == "N m"


def test_the_rule_needs_no_system(tmp_path):
    """Read from a file, without initSystem (the dynamics code asks before building)."""
    import opensim

    opensim.Logger.setLevelString("off")
    model = opensim.Model(str(gait2392_style_model(tmp_path / "g.osim", "spline")))
    assert coordinate_units(model)["pelvis_tz"] == "m"


def test_joint_angles_stream_units_follow_the_rule(tmp_path):
    path = gait2392_style_model(tmp_path / "g.osim", "multiplier")
    angles = next(s for s in stream_specs(["M1"], path, None) if s.name == "joint_angles")
    units = dict(zip(angles.channels, angles.units, strict=True))
    _assert_lab_model_units(units)


def _rajagopal2015() -> Path:
    try:
        return default_model_path()
    except MissingDependencyError as err:
        pytest.skip(f"Rajagopal2015 comes with nimblephysics, not installed: {err}")


@pytest.mark.parametrize("source", ["nimblephysics/Rajagopal2015",
                                    "opencap/LaiUhlrich2022.osim",
                                    "opencap/LaiArnoldModified2017_contacts.osim",
                                    "rajagopal2016/Rajagopal2016.osim"])
def test_rajagopal_family_models(source):
    if source.startswith("nimblephysics"):
        path = _rajagopal2015()
    else:
        path = SHARED / source
        if not path.is_file():
            pytest.skip(f"{path} absent (the shared data folder is not mounted here)")
    model = load_model(path)
    units = coordinate_units(model)
    for name in PELVIS_TRANSLATIONS:
        assert units[name] == "m", (name, units[name])
    for name in ANGLES:
        assert units[name] == "rad", (name, units[name])
    # the patella's coupled coordinate (OpenSim: Coupled) is an angle
    assert units.get("knee_angle_r_beta", "rad") == "rad"
    assert sorted(n for n, u in units.items() if u == "m") == sorted(PELVIS_TRANSLATIONS)


def test_is_translational_names_an_unknown_coordinate(tmp_path):
    model = load_model(gait2392_style_model(tmp_path / "g.osim", "linear"))
    with pytest.raises(InputError, match="no coordinate 'pelvis_x'"):
        is_translational(model, "pelvis_x")


def test_generalized_force_unit():
    assert generalized_force_unit("m") == "N"
    assert generalized_force_unit("rad") == "N m"
    with pytest.raises(ValueError, match="'deg'"):
        generalized_force_unit("deg")
