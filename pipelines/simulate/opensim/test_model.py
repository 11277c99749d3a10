"""A small musculoskeletal model built by the project, for tests and the demo.

Two sagittal legs (hip, knee, ankle pin joints) under a pelvis with OpenCap's 6-DOF root
(`pelvis_tilt/list/rotation`, `pelvis_tx/ty/tz`), 6 DeGroote-Fregly muscles per leg (named
as in the Lai-Uhlrich model where the role matches), a knee wrap cylinder so the knee
extensor keeps its moment arm when flexed, and 2 contact spheres per foot (heel, toe) on a
ground half-space. Y is up, X forward, Z to the right. About 12 coordinates: Moco solves it
in seconds, so the real solver runs in the test suite.

The "upper" variant (`build_test_model(..., upper=True)`) adds a torso on a lumbar pin joint
(`lumbar_extension`, positive = extension) and 6 trunk muscles crossing it (erector spinae,
rectus abdominis, external obliques analogues): the model the upper-body static optimisation is
tested on. It splits the pelvis's 12 kg into pelvis and torso so that mass and centre of mass
with an upright trunk are those of the default model: a squat's ground forces are then the
same for both variants.

Also generates a squat whose ground reaction forces are known by construction: both feet stay
flat on the floor, so the total external force is body mass x (centre-of-mass acceleration
minus gravity), shared equally by the two feet of the symmetric motion.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from musclekit.pipelines.simulate.opensim.files import Motion

THIGH_M = 0.4
SHANK_M = 0.4
HIP_DROP_M = 0.05
HIP_HALF_WIDTH_M = 0.1
FOOT_DROP_M = 0.05  # ankle to sphere centres
SPHERE_RADIUS_M = 0.02
# Pelvis height with straight legs and the spheres touching y = 0.
STANDING_PELVIS_TY_M = HIP_DROP_M + THIGH_M + SHANK_M + FOOT_DROP_M + SPHERE_RADIUS_M

COORDINATES = [
    "pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_ty", "pelvis_tz",
    "hip_flexion_r", "knee_angle_r", "ankle_angle_r",
    "hip_flexion_l", "knee_angle_l", "ankle_angle_l",
]  # fmt: skip
UPPER_COORDINATES = [*COORDINATES, "lumbar_extension"]
TRUNK_MUSCLES = ["ercspn_r", "ercspn_l", "rectabd_r", "rectabd_l", "extobl_r", "extobl_l"]
LUMBAR_HEIGHT_M = 0.05  # lumbar joint above the pelvis origin (upper variant)
TORSO_COM_M = 0.1  # torso centre of mass above the lumbar joint


def _inertia(mass: float, length: float) -> object:
    import opensim as osim

    i_long = mass * 0.01**2
    i_tr = mass * length**2 / 12
    return osim.Inertia(i_tr, i_long, i_tr)


def _root_joint(ground, pelvis):
    import opensim as osim

    st = osim.SpatialTransform()
    axes = [
        ("pelvis_tilt", (0, 0, 1)),
        ("pelvis_list", (1, 0, 0)),
        ("pelvis_rotation", (0, 1, 0)),
        ("pelvis_tx", (1, 0, 0)),
        ("pelvis_ty", (0, 1, 0)),
        ("pelvis_tz", (0, 0, 1)),
    ]
    for i, (name, axis) in enumerate(axes):
        ta = st.updTransformAxis(i)
        names = osim.ArrayStr()
        names.append(name)
        ta.setCoordinateNames(names)
        ta.setAxis(osim.Vec3(*axis))
        ta.set_function(osim.LinearFunction())
    return osim.CustomJoint(
        "ground_pelvis", ground, osim.Vec3(0), osim.Vec3(0), pelvis, osim.Vec3(0), osim.Vec3(0), st
    )


def _add_trunk(model, pelvis, with_muscles: bool) -> None:
    """Torso on a lumbar pin joint and (with_muscles) 6 trunk muscles crossing it."""
    import opensim as osim

    torso = osim.Body("torso", 6.0, osim.Vec3(0, TORSO_COM_M, 0), osim.Inertia(0.05, 0.02, 0.05))
    model.addBody(torso)
    lumbar = osim.PinJoint("back", pelvis, osim.Vec3(0, LUMBAR_HEIGHT_M, 0), osim.Vec3(0),
                           torso, osim.Vec3(0), osim.Vec3(0))
    c = lumbar.updCoordinate()
    c.setName("lumbar_extension")
    c.setRangeMin(-1.2)
    c.setRangeMax(0.6)
    model.addJoint(lumbar)
    if not with_muscles:
        return
    trunk = [
        # name, max force N, origin on the pelvis, insertion on the torso (z for the right side)
        ("ercspn", 400.0, (-0.06, 0.0, 0.03), (-0.05, 0.12, 0.03)),  # behind: extends
        ("rectabd", 300.0, (0.06, 0.0, 0.03), (0.07, 0.14, 0.03)),  # in front: flexes
        ("extobl", 300.0, (0.04, 0.02, 0.08), (0.05, 0.12, -0.02)),  # in front, oblique
    ]
    for base, fmax, origin, insertion in trunk:
        for side, zs in (("r", 1.0), ("l", -1.0)):
            m = osim.DeGrooteFregly2016Muscle()
            m.setName(f"{base}_{side}")
            m.set_max_isometric_force(fmax)
            m.set_optimal_fiber_length(0.10)
            m.set_tendon_slack_length(0.05)  # set from the path length in build_test_model
            m.set_pennation_angle_at_optimal(0.0)
            for k, (body, (x, y, z)) in enumerate(((pelvis, origin), (torso, insertion))):
                m.addNewPathPoint(f"{m.getName()}_p{k}", body, osim.Vec3(x, y, zs * z))
            model.addForce(m)


def build_test_model(path: str | Path, with_contact: bool = True, with_muscles: bool = True,
                     upper: bool = False) -> Path:
    """Build and print the test model to `path` (.osim); returns the path.

    Masses: pelvis 12 kg, thigh 6 kg, shank 3 kg, foot 1 kg (32 kg in all).
    upper: add the torso (lumbar_extension) and 6 trunk muscles; the pelvis's 12 kg are then
        split into pelvis 6 kg and torso 6 kg with the same centre of mass when upright.
    """
    import opensim as osim

    model = osim.Model()
    model.setName("musclekit_twoleg_upper" if upper else "musclekit_twoleg")
    model.setGravity(osim.Vec3(0, -9.80665, 0))
    ground = model.getGround()

    if upper:
        # (6 kg x pelvis COM + 6 kg x torso COM) / 12 kg = 0.05 m, the default pelvis COM.
        pelvis_com = 2 * 0.05 - (LUMBAR_HEIGHT_M + TORSO_COM_M)
        pelvis = osim.Body("pelvis", 6.0, osim.Vec3(0, pelvis_com, 0), osim.Inertia(0.05, 0.05, 0.05))
    else:
        pelvis = osim.Body("pelvis", 12.0, osim.Vec3(0, 0.05, 0), osim.Inertia(0.1, 0.1, 0.1))
    model.addBody(pelvis)
    root = _root_joint(ground, pelvis)
    model.addJoint(root)
    if upper:
        _add_trunk(model, pelvis, with_muscles)

    spheres: dict[str, object] = {}
    flip = osim.Vec3(math.pi, 0, 0)  # knee frames turned so that positive = flexion
    for side, zs in (("r", 1.0), ("l", -1.0)):
        femur = osim.Body(f"femur_{side}", 6.0, osim.Vec3(0, -0.17, 0), _inertia(6.0, THIGH_M))
        tibia = osim.Body(f"tibia_{side}", 3.0, osim.Vec3(0, -0.18, 0), _inertia(3.0, SHANK_M))
        calcn = osim.Body(f"calcn_{side}", 1.0, osim.Vec3(0.05, -0.03, 0), osim.Inertia(0.002, 0.004, 0.004))
        for b in (femur, tibia, calcn):
            model.addBody(b)
        hip = osim.PinJoint(
            f"hip_{side}", pelvis, osim.Vec3(0, -HIP_DROP_M, zs * HIP_HALF_WIDTH_M), osim.Vec3(0),
            femur, osim.Vec3(0), osim.Vec3(0),
        )
        knee = osim.PinJoint(
            f"knee_{side}", femur, osim.Vec3(0, -THIGH_M, 0), flip, tibia, osim.Vec3(0), flip
        )
        ankle = osim.PinJoint(
            f"ankle_{side}", tibia, osim.Vec3(0, -SHANK_M, 0), osim.Vec3(0), calcn, osim.Vec3(0),
            osim.Vec3(0),
        )
        for joint, coord, lo, hi in (
            (hip, f"hip_flexion_{side}", -0.5, 2.0),
            (knee, f"knee_angle_{side}", -0.1, 2.4),
            (ankle, f"ankle_angle_{side}", -0.9, 0.8),
        ):
            c = joint.updCoordinate()
            c.setName(coord)
            c.setRangeMin(lo)
            c.setRangeMax(hi)
            model.addJoint(joint)

        if with_contact:
            for name, loc in (("heel", (-0.05, -FOOT_DROP_M, 0)), ("toe", (0.15, -FOOT_DROP_M, 0))):
                sphere = osim.ContactSphere(SPHERE_RADIUS_M, osim.Vec3(*loc), calcn, f"{name}_{side}")
                model.addContactGeometry(sphere)
                spheres[f"{name}_{side}"] = sphere

        if with_muscles:
            cyl = osim.WrapCylinder()
            cyl.setName(f"knee_wrap_{side}")
            cyl.set_radius(0.045)
            cyl.set_length(0.12)
            cyl.set_translation(osim.Vec3(0, -THIGH_M, 0))
            cyl.set_quadrant("+x")
            femur.addWrapObject(cyl)
            muscles = [
                # name, max force N, (body, point) ..., wrap
                ("glmax_r", 1500.0, [(pelvis, (-0.08, 0.0, zs * 0.1)), (femur, (-0.03, -0.1, 0))], None),
                ("iliacus_r", 1000.0, [(pelvis, (0.06, 0.02, zs * 0.1)), (femur, (0.03, -0.08, 0))], None),
                ("vasint_r", 3000.0, [(femur, (0.04, -0.2, 0)), (tibia, (0.05, -0.06, 0))], cyl),
                ("bflh_r", 1500.0, [(pelvis, (-0.07, -0.02, zs * 0.1)), (tibia, (-0.03, -0.06, 0))], None),
                ("soleus_r", 3000.0, [(tibia, (-0.02, -0.15, 0)), (calcn, (-0.06, -0.02, 0))], None),
                ("tibant_r", 800.0, [(tibia, (0.03, -0.15, 0)), (calcn, (0.08, -0.03, 0))], None),
            ]
            for base, fmax, points, wrap in muscles:
                m = osim.DeGrooteFregly2016Muscle()
                m.setName(base[:-2] + "_" + side)
                m.set_max_isometric_force(fmax)
                m.set_optimal_fiber_length(0.10)
                m.set_tendon_slack_length(0.10)  # set from the path length below
                m.set_pennation_angle_at_optimal(0.0)
                for k, (body, loc) in enumerate(points):
                    m.addNewPathPoint(f"{m.getName()}_p{k}", body, osim.Vec3(*loc))
                if wrap is not None:
                    m.updGeometryPath().addPathWrap(wrap)
                model.addForce(m)

    if with_contact:
        floor = osim.ContactHalfSpace(osim.Vec3(0), osim.Vec3(0, 0, -math.pi / 2), ground, "floor")
        model.addContactGeometry(floor)
        for side in ("r", "l"):
            for name in ("heel", "toe"):
                f = osim.SmoothSphereHalfSpaceForce(
                    f"contact_{name}_{side}",
                    spheres[f"{name}_{side}"],
                    floor,
                )
                # OpenCap's parameters (REFERENCE.md section 5).
                f.set_stiffness(1.0e6)
                f.set_dissipation(2.0)
                f.set_static_friction(0.8)
                f.set_dynamic_friction(0.8)
                f.set_viscous_friction(0.5)
                f.set_transition_velocity(0.2)
                f.set_hertz_smoothing(300.0)
                f.set_hunt_crossley_smoothing(50.0)
                model.addForce(f)

    model.finalizeConnections()
    state = model.initSystem()
    model.updCoordinateSet().get("pelvis_ty").setValue(state, STANDING_PELVIS_TY_M)
    model.updCoordinateSet().get("pelvis_ty").setDefaultValue(STANDING_PELVIS_TY_M)
    if with_muscles:
        # Slack length: fibres at optimal length in a slightly flexed stance.
        state = model.initSystem()
        for name, val in (("hip_flexion", 0.3), ("knee_angle", 0.6), ("ankle_angle", 0.3)):
            for side in ("r", "l"):
                model.updCoordinateSet().get(f"{name}_{side}").setValue(state, val)
        model.realizePosition(state)
        ms = model.getMuscles()
        for i in range(ms.getSize()):
            m = ms.get(i)
            length = m.getGeometryPath().getLength(state)
            m.set_tendon_slack_length(max(length - 0.10, 0.02))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.printToXML(str(path))
    return path


def squat_motion(
    duration_s: float = 2.0,
    rate_hz: float = 100.0,
    knee_amplitude_rad: float = 1.0,
    period_s: float = 2.0,
    trunk_lean_rad: float | None = None,
) -> Motion:
    """A symmetric squat with both feet flat and fixed on the floor.

    Knee flexion k(t) = A (1 - cos(2 pi t / period)) / 2; hip = ankle = k / 2 keeps the ankle
    under the hip and the foot flat; the pelvis height follows so the spheres touch y = 0.
    trunk_lean_rad: when given, a `lumbar_extension` column (for the upper model) holding a
        constant forward lean of the trunk (lumbar_extension = -trunk_lean_rad).
    """
    t = np.round(np.arange(int(round(duration_s * rate_hz)) + 1) / rate_hz, 10)
    k = knee_amplitude_rad * (1 - np.cos(2 * np.pi * t / period_s)) / 2
    values = np.zeros((len(t), len(COORDINATES)))
    col = {n: i for i, n in enumerate(COORDINATES)}
    values[:, col["pelvis_ty"]] = (
        HIP_DROP_M + (THIGH_M + SHANK_M) * np.cos(k / 2) + FOOT_DROP_M + SPHERE_RADIUS_M
    )
    for side in ("r", "l"):
        values[:, col[f"hip_flexion_{side}"]] = k / 2
        values[:, col[f"knee_angle_{side}"]] = k
        values[:, col[f"ankle_angle_{side}"]] = k / 2
    if trunk_lean_rad is None:
        return Motion(t, list(COORDINATES), values)
    lumbar = np.full((len(t), 1), -float(trunk_lean_rad))
    return Motion(t, list(UPPER_COORDINATES), np.hstack([values, lumbar]))
