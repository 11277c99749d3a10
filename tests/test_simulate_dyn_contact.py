"""contact_law.sphere_force against OpenSim's own SmoothSphereHalfSpaceForce, read_spheres on
OpenCap's model, and the same function evaluated and differentiated by CasADi."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.contact_law import (
    ContactSphere,
    sphere_force,
)
from musclekit.pipelines.simulate.dynamics.methods.track.setup import read_spheres

# Never import casadi in this process: opensim bundles an ABI-incompatible CasADi, and the
# rest of the suite needs opensim. The CasADi check runs in a child process.

OPENCAP_MODEL = (Path(__file__).resolve().parents[2]
                 / "shared/data/opencap/LaiArnoldModified2017_contacts.osim")
RADIUS = 0.03
OPENCAP = dict(stiffness=1e6, dissipation=2.0, static_friction=0.8, dynamic_friction=0.8,
               viscous_friction=0.5, transition_velocity=0.2)
# Not OpenSim's defaults (cf 1e-5, hertz 300, hunt-crossley 50) and unequal friction
# coefficients, so that every term of the formula is exercised.
OTHER = dict(stiffness=3e5, dissipation=1.0, static_friction=0.9, dynamic_friction=0.6,
             viscous_friction=0.2, transition_velocity=0.1, constant_contact_force=1e-3,
             hertz_smoothing=120.0, hunt_crossley_smoothing=20.0)


def _osim():
    import opensim

    return opensim


def _offset():
    """The sphere's offset frame on the body: rotated and translated."""
    osim = _osim()
    rotation = osim.Rotation()
    rotation.setRotationToBodyFixedXYZ(osim.Vec3(0.3, -0.4, 0.2))
    return osim.Transform(rotation, osim.Vec3(0.05, -0.02, 0.01))


def _build(params: dict, *, floor_location=(0.0, 0.0, 0.0),
           floor_orientation=(0.0, 0.0, -math.pi / 2), offset_frame: bool = False,
           floor_on_body: bool = False):
    """One 1 kg body on a FreeJoint with one contact sphere over a half-space."""
    osim = _osim()
    model = osim.Model()
    model.setName("contact_test")
    body = osim.Body("block", 1.0, osim.Vec3(0.0), osim.Inertia(0.01, 0.02, 0.015))
    model.addBody(body)
    model.addJoint(osim.FreeJoint("free", model.getGround(), body))
    frame = body
    if offset_frame:
        frame = osim.PhysicalOffsetFrame("foot_frame", body, _offset())
        body.addComponent(frame)
    sphere = osim.ContactSphere(RADIUS, osim.Vec3(0.04, -0.06, 0.02), frame, "ball")
    floor_frame = body if floor_on_body else model.getGround()
    floor = osim.ContactHalfSpace(osim.Vec3(*floor_location), osim.Vec3(*floor_orientation),
                                  floor_frame, "floor")
    model.addContactGeometry(sphere)
    model.addContactGeometry(floor)
    force = osim.SmoothSphereHalfSpaceForce("contact_ball", sphere, floor)
    for key, value in params.items():
        getattr(force, f"set_{key}")(value)
    model.addForce(force)
    return model


def _free_coordinates(model):
    coords = model.getJointSet().get("free").numCoordinates()
    return [model.getJointSet().get("free").get_coordinates(i) for i in range(coords)]


def _set_state(model, state, sphere: ContactSphere, depth: float, angles, speeds):
    """Put the sphere `depth` into the floor (negative: above it) with the given FreeJoint
    rotations and speeds (3 rotational then 3 translational)."""
    osim = _osim()
    coords = _free_coordinates(model)
    for c, a in zip(coords[:3], angles, strict=True):
        c.setValue(state, a, False)
    for c in coords[3:]:
        c.setValue(state, 0.0, False)
    model.realizePosition(state)
    body = model.getBodySet().get(sphere.body)
    centre = np.array(_vec(body.findStationLocationInGround(state, osim.Vec3(*sphere.location_m))))
    n, p0 = np.array(sphere.plane_normal), np.array(sphere.plane_point)
    now = RADIUS - (centre - p0) @ n
    # FreeJoint translations are in ground; moving by t along y changes the depth by -t n_y.
    coords[4].setValue(state, (now - depth) / n[1], False)
    for c, s in zip(coords, speeds, strict=True):
        c.setSpeedValue(state, s)
    model.realizeDynamics(state)


def _vec(v) -> tuple[float, float, float]:
    return (v.get(0), v.get(1), v.get(2))


def _kinematics(model, state, sphere: ContactSphere):
    osim = _osim()
    body = model.getBodySet().get(sphere.body)
    loc = osim.Vec3(*sphere.location_m)
    centre = np.array(_vec(body.findStationLocationInGround(state, loc)))
    velocity = np.array(_vec(body.findStationVelocityInGround(state, loc)))
    omega = np.array(_vec(body.getVelocityInGround(state).get(0)))
    origin = np.array(_vec(body.getPositionInGround(state)))
    return centre, velocity, omega, origin


# depth (m), FreeJoint rotations (rad), FreeJoint speeds (3 rotational, 3 translational).
STATES = [
    (0.0, (0, 0, 0), (0, 0, 0, 0, 0, 0)),
    (0.002, (0, 0, 0), (0, 0, 0, 0, 0, 0)),
    (0.005, (0, 0, 0), (0, 0, 0, 0.5, 0, 0)),            # sliding in x, above v_t
    (0.01, (0, 0, 0), (0, 0, 0, 0, 0, -1.2)),            # sliding in z, fast
    (0.004, (0, 0, 0), (0, 0, 0, 0.05, 0, 0.03)),        # slow slip, below v_t
    (0.006, (0, 0, 0), (0, 0, 0, 0.1, -0.3, 0)),         # moving down while sliding
    (0.006, (0, 0, 0), (0, 0, 0, 0, 0.2, 0.1)),          # moving up, still pressing
    (0.006, (0, 0, 0), (0, 0, 0, 0, 0.5, 0)),            # leaving faster than 2/(3d)
    (-0.01, (0, 0, 0), (0, 0, 0, 0.3, -0.2, 0)),         # 1 cm above the floor
    (-0.0005, (0, 0, 0), (0, 0, 0, 0, 0, 0)),            # just above
    (0.007, (0.3, -0.5, 0.8), (0, 0, 0, 0.2, -0.1, 0.4)),        # rotated body
    (0.008, (-0.2, 0.4, 0.1), (1.5, -2.0, 3.0, 0.1, 0.05, -0.2)),  # rotated and spinning
]


def _compare(params: dict, **build) -> None:
    model = _build(params, **build)
    state = model.initSystem()
    (sphere,) = read_spheres(model)
    force = model.getForceSet().get(sphere.force_name)
    for depth, angles, speeds in STATES:
        _set_state(model, state, sphere, depth, angles, speeds)
        centre, velocity, omega, origin = _kinematics(model, state, sphere)
        assert RADIUS - (centre - sphere.plane_point) @ np.array(sphere.plane_normal) \
            == pytest.approx(depth, abs=1e-12)
        rec = np.array([force.getRecordValues(state).get(i) for i in range(12)])
        f, p = sphere_force(np, sphere, centre, velocity, omega)
        f, p = np.array(f, dtype=float), np.array(p, dtype=float)
        where = f"state depth={depth} angles={angles} speeds={speeds}"
        # Record values: sphere force, sphere torque (about its body's origin), then the same
        # for the half-space (about ground's origin); all in ground.
        np.testing.assert_allclose(f, rec[0:3], rtol=1e-6, atol=1e-6, err_msg=where)
        np.testing.assert_allclose(np.cross(p - origin, f), rec[3:6], rtol=1e-6, atol=1e-6,
                                   err_msg=where)
        np.testing.assert_allclose(-f, rec[6:9], rtol=1e-6, atol=1e-6, err_msg=where)
        np.testing.assert_allclose(np.cross(p, -f), rec[9:12], rtol=1e-6, atol=1e-6,
                                   err_msg=where)
        if not np.any(omega):
            # Without rotation the angular velocity makes no difference.
            f0, _ = sphere_force(np, sphere, centre, velocity)
            np.testing.assert_allclose(f0, f, rtol=1e-12, atol=1e-12)
        if depth >= 0.005 and speeds[4] <= 0:
            assert f @ np.array(sphere.plane_normal) > 5.0, where  # really in contact


def test_matches_opensim_with_opencaps_parameters() -> None:
    _compare(OPENCAP)


def test_matches_opensim_with_other_smoothing_offset_frame_and_tilted_floor() -> None:
    _compare(OTHER, floor_location=(0.1, -0.02, 0.3), floor_orientation=(0.1, -0.15, -1.4),
             offset_frame=True)


def test_read_spheres_resolves_offset_frame_and_floor() -> None:
    osim = _osim()
    model = _build(OTHER, floor_location=(0.1, -0.02, 0.3), offset_frame=True)
    (s,) = read_spheres(model)  # before initSystem: sockets are connected on demand
    assert (s.name, s.body, s.force_name) == ("ball", "block", "contact_ball")
    expected = _vec(_offset().shiftFrameStationToBase(osim.Vec3(0.04, -0.06, 0.02)))
    assert s.location_m == pytest.approx(expected, abs=1e-15)
    assert s.radius_m == RADIUS
    assert s.plane_normal == pytest.approx((0.0, 1.0, 0.0), abs=1e-15)
    assert s.plane_point == pytest.approx((0.1, -0.02, 0.3))
    for key, value in OTHER.items():
        assert getattr(s, key) == value


def test_read_spheres_on_opencaps_model() -> None:
    osim = _osim()
    if not OPENCAP_MODEL.is_file():
        pytest.skip(f"{OPENCAP_MODEL} is not present")
    spheres = read_spheres(osim.Model(str(OPENCAP_MODEL)))
    assert len(spheres) == 12
    for side in "rl":
        mine = [s for s in spheres if s.name.endswith("_" + side)]
        assert [s.body for s in mine] == [f"calcn_{side}"] * 4 + [f"toes_{side}"] * 2
    for s in spheres:
        assert s.force_name == f"SmoothSphereHalfSpaceForce_{s.name}"
        assert s.radius_m == pytest.approx(0.032)
        assert s.plane_normal == pytest.approx((0.0, 1.0, 0.0), abs=1e-12)
        assert s.plane_point == (0.0, 0.0, 0.0)
        assert (s.stiffness, s.dissipation, s.viscous_friction) == (1e6, 2.0, 0.5)
        assert s.static_friction == s.dynamic_friction == pytest.approx(0.8)
        assert s.transition_velocity == pytest.approx(0.2)
        assert (s.constant_contact_force, s.hertz_smoothing, s.hunt_crossley_smoothing) \
            == (1e-5, 300.0, 50.0)
        assert s.location_m[1] == pytest.approx(-0.01)


def test_half_space_not_on_ground_is_an_input_error() -> None:
    model = _build(OPENCAP, floor_on_body=True)
    with pytest.raises(InputError, match="contact_ball.*not to ground"):
        read_spheres(model)


def _sphere() -> ContactSphere:
    return ContactSphere(
        name="s", body="calcn_r", location_m=(0.0, 0.0, 0.0), radius_m=0.032,
        stiffness=1e6, dissipation=2.0, static_friction=0.8, dynamic_friction=0.6,
        viscous_friction=0.5, transition_velocity=0.2, constant_contact_force=1e-5,
        hertz_smoothing=300.0, hunt_crossley_smoothing=50.0,
        plane_normal=(0.0, 1.0, 0.0), plane_point=(0.0, 0.0, 0.0), force_name="f")


_CHILD = """
import json, sys
import casadi as ca
from musclekit.pipelines.simulate.dynamics.kernel.contact_law import ContactSphere, sphere_force
job = json.loads(sys.stdin.read())
out = {"opensim_loaded": "opensim" in sys.modules, "cases": []}
for case in job:
    sphere = ContactSphere(**case["sphere"])
    c, v, w = ca.SX.sym("c", 3), ca.SX.sym("v", 3), ca.SX.sym("w", 3)
    f, p = sphere_force(ca, sphere, [c[i] for i in range(3)], [v[i] for i in range(3)],
                        [w[i] for i in range(3)])
    f, p = ca.vertcat(*f), ca.vertcat(*p)
    fun = ca.Function("contact", [c, v, w], [f, p, ca.jacobian(f, c), ca.jacobian(f, v)])
    res = fun(case["centre"], case["velocity"], case["omega"])
    out["cases"].append([ca.DM(r).full().tolist() for r in res])
print(json.dumps(out))
"""


def test_casadi_values_and_jacobian() -> None:
    if importlib.util.find_spec("casadi") is None:
        pytest.skip("casadi is not installed")
    other = replace(_sphere(), plane_normal=(0.0, 0.8, 0.6), plane_point=(0.1, -0.01, 0.2),
                    constant_contact_force=1e-3, hertz_smoothing=120.0,
                    hunt_crossley_smoothing=20.0)
    cases = [
        (_sphere(), [0.1, 0.027, 0.3], [0.4, -0.1, -0.2], [0.0, 0.0, 0.0]),
        (_sphere(), [0.0, 0.025, 0.0], [0.05, 0.02, 0.03], [1.0, -2.0, 0.5]),
        (other, [0.1, 0.01, 0.21], [0.3, 0.1, -0.5], [0.2, 0.3, -0.4]),
    ]
    job = [dict(sphere=asdict(s), centre=c, velocity=v, omega=w) for s, c, v, w in cases]
    env = dict(os.environ)
    # Importing opensim (elsewhere in the suite) puts its own CasADi's folder first on
    # LD_LIBRARY_PATH; the child must load the casadi wheel's libraries instead.
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep)
        if p and not Path(p, "libosimMoco.so").exists())
    done = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(job),
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["opensim_loaded"] is False
    for (sphere, c, v, w), (f_ca, p_ca, dfdc, dfdv) in zip(cases, out["cases"], strict=True):
        f_np, p_np = sphere_force(np, sphere, c, v, w)
        np.testing.assert_allclose(np.ravel(f_ca), f_np, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(np.ravel(p_ca), p_np, rtol=1e-12, atol=1e-12)
        assert np.linalg.norm(f_np) > 10.0  # in contact: the derivatives are not trivial
        for jac, wrt in ((np.array(dfdc), 0), (np.array(dfdv), 1)):
            fd = np.empty((3, 3))
            h = 1e-7
            for j in range(3):
                args_plus = [np.array(c, float), np.array(v, float)]
                args_minus = [a.copy() for a in args_plus]
                args_plus[wrt][j] += h
                args_minus[wrt][j] -= h
                fp, _ = sphere_force(np, sphere, *args_plus, w)
                fm, _ = sphere_force(np, sphere, *args_minus, w)
                fd[:, j] = (np.array(fp) - np.array(fm)) / (2 * h)
            np.testing.assert_allclose(jac, fd, rtol=1e-5, atol=1e-3 * np.abs(fd).max())


def test_opencap_foot_spheres_are_added_to_a_model_without_contact(tmp_path) -> None:
    """`--add-foot-contact`: OpenCap's 12 spheres on calcn/toes, mirrored left, stretched
    with the foot, plus the floor; a model without toes bodies is refused by name."""
    import math

    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.methods.track.foot_spheres import (
        SPHERES,
        add_foot_contact,
    )
    from musclekit.pipelines.simulate.opensim.test_model import build_test_model

    model = osim.Model()
    ground = model.getGround()
    for side in "rl":
        calcn = osim.Body(f"calcn_{side}", 1.0, osim.Vec3(0), osim.Inertia(0.01, 0.01, 0.01))
        toes = osim.Body(f"toes_{side}", 0.2, osim.Vec3(0), osim.Inertia(0.001, 0.001, 0.001))
        model.addBody(calcn)
        model.addBody(toes)
        model.addJoint(osim.FreeJoint(f"free_{side}", ground, calcn))
        # A foot 10 % longer than OpenCap's generic one.
        model.addJoint(osim.PinJoint(f"mtp_{side}", calcn, osim.Vec3(1.1 * 0.179869, 0, 0),
                                     osim.Vec3(0), toes, osim.Vec3(0), osim.Vec3(0)))
    names = add_foot_contact(model)
    assert len(names) == 12
    model.initSystem()
    spheres = {s.name: s for s in read_spheres(model)}
    assert set(spheres) == {f"{n}_{side}" for n, *_ in SPHERES for side in "rl"}
    _, _, x, y, z = SPHERES[1]
    assert spheres["s2_r"].location_m == pytest.approx((1.1 * x, 1.1 * y, 1.1 * z))
    assert spheres["s2_l"].location_m == pytest.approx((1.1 * x, 1.1 * y, -1.1 * z))
    assert spheres["s5_r"].body == "toes_r" and spheres["s1_l"].body == "calcn_l"
    assert spheres["s1_r"].plane_normal == pytest.approx((0, 1, 0))
    # Sized with the foot: 10 % longer foot, 10 % larger spheres.
    assert spheres["s1_r"].stiffness == 1e6 and spheres["s1_r"].radius_m == pytest.approx(1.1 * 0.032)
    assert not math.isnan(spheres["s3_l"].transition_velocity)

    no_toes = osim.Model(str(build_test_model(tmp_path / "t.osim", with_contact=False)))
    with pytest.raises(InputError, match=r"no \['toes_r', 'toes_l'\] bodies"):
        add_foot_contact(no_toes)


def test_add_foot_contact_is_only_for_track() -> None:
    from musclekit.pipelines.simulate.dynamics.stage.config import config_from_cli

    assert config_from_cli(method="track", add_foot_contact=True).prep.add_foot_contact
    with pytest.raises(InputError, match="--add-foot-contact is for --method track"):
        config_from_cli(add_foot_contact=True)
