"""OpenCap's foot contact spheres, added to a model that has none (`--add-foot-contact`).

The `track` method needs smooth contact spheres under the feet; simulate's default model
(Rajagopal2015) has none. OpenCap's contact model (LaiArnoldModified2017_contacts, Apache-2.0,
see ../shared/data/opencap) puts 6 spheres of radius 3.2 cm under each foot, 4 on the
calcaneus and 2 on the toes, with one set of SmoothSphereHalfSpaceForce parameters
(REFERENCE.md section 5). The same layout is placed here on the model's `calcn_*` and
`toes_*` bodies, stretched along the foot (x and z in the calcaneus frame) by the ratio of
the model's calcaneus-to-toes joint offset to OpenCap's (0.1799 m), so that a scaled foot
gets proportionally placed and sized spheres (radius and height scale too). The floor is the half-space y <= 0 of ground.

`sole_lifts` is a rule for the motion at hand: each sphere raised or lowered so that all of
them reach the floor in stance (solve.py `_foot_lifts` applies it; docs/validation.md,
"The spheres' placement", measures it).
"""

from __future__ import annotations

import math

import numpy as np

from musclekit.errors import InputError

# (name, body kind, x, y, z) of the right foot in OpenCap's generic model (m, body frame);
# the left foot mirrors z.
SPHERES = (
    ("s1", "calcn", 0.0021, -0.01, -0.0042),
    ("s2", "calcn", 0.1633, -0.01, -0.0316),
    ("s3", "calcn", 0.1464, -0.01, 0.0568),
    ("s4", "calcn", 0.0729, -0.01, 0.0290),
    ("s5", "toes", 0.0660, -0.01, -0.0206),
    ("s6", "toes", 0.0495, -0.01, 0.0681),
)
RADIUS_M = 0.032
OPENCAP_FOOT_LENGTH_M = 0.179869  # calcn -> mtp joint offset along x in OpenCap's model
# The contact law's parameters as OpenCap's models and Falisse et al. 2019 (J R Soc Interface
# 16: 20190402, "Rapid predictive simulations with complex musculoskeletal models suggest
# that diverse healthy and pathological human gaits can emerge from similar control
# strategies", the smooth Hunt-Crossley model): stiffness 1e6 N/m^2, dissipation 2 s/m,
# friction 0.8 static / 0.8 dynamic / 0.5 viscous, transition velocity 0.2 m/s; the
# smoothing constants are OpenSim's defaults (Hertz 300, Hunt-Crossley 50, constant
# contact force 1e-5 N), as OpenCap's LaiArnoldModified2017_contacts.osim leaves them.
PARAMETERS = {"stiffness": 1e6, "dissipation": 2.0, "static_friction": 0.8,
              "dynamic_friction": 0.8, "viscous_friction": 0.5, "transition_velocity": 0.2}


def _foot_scale(model, side: str) -> float:
    """Model foot length over OpenCap's, from the calcaneus-to-toes joint (1 without one)."""
    joints = model.getJointSet()
    for i in range(joints.getSize()):
        j = joints.get(i)
        if (j.getParentFrame().findBaseFrame().getName() == f"calcn_{side}"
                and j.getChildFrame().findBaseFrame().getName() == f"toes_{side}"):
            x = j.getParentFrame().findTransformInBaseFrame().p().get(0)
            return float(x) / OPENCAP_FOOT_LENGTH_M
    return 1.0


def add_foot_contact(model) -> list[str]:
    """Add the floor and 12 foot spheres with their contact forces to `model` (in place);
    returns the new forces' names. The model needs calcn_r/l and toes_r/l bodies."""
    import opensim as osim

    bodies = model.getBodySet()
    missing = [f"{kind}_{s}" for kind in ("calcn", "toes") for s in "rl"
               if not bodies.contains(f"{kind}_{s}")]
    if missing:
        raise InputError(f"cannot add foot contact spheres: the model has no {missing} bodies "
                         "(OpenCap's layout needs calcn_r/l and toes_r/l)")
    model.finalizeConnections()
    floor = osim.ContactHalfSpace(osim.Vec3(0), osim.Vec3(0, 0, -math.pi / 2),
                                  model.getGround(), "floor")
    model.addContactGeometry(floor)
    names = []
    for side, mirror in (("r", 1.0), ("l", -1.0)):
        k = _foot_scale(model, side)
        for name, kind, x, y, z in SPHERES:
            # The whole layout scales with the foot: positions and the spheres' size.
            sphere = osim.ContactSphere(k * RADIUS_M, osim.Vec3(k * x, k * y, mirror * k * z),
                                        bodies.get(f"{kind}_{side}"), f"{name}_{side}")
            model.addContactGeometry(sphere)
            force = osim.SmoothSphereHalfSpaceForce(f"SmoothSphereHalfSpaceForce_{name}_{side}",
                                                    sphere, floor)
            for prop, value in PARAMETERS.items():
                getattr(force, f"set_{prop}")(value)
            model.addForce(force)
            names.append(force.getName())
    model.finalizeConnections()
    return names


# The share of a foot's loaded frames below which a sphere's bottom counts as reached in
# stance (`sole_lifts`): the 5 % lowest, so that one noisy frame does not decide.
SOLE_QUANTILE = 0.05


def sole_lifts(bottoms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """How far to raise each sphere (m, along its frame's y) so that every sphere of a foot
    reaches the same height over the frames the foot carries the body.

    bottoms: per foot, the heights (m, ground y) of its spheres' lowest points, shape
    (frames, spheres), over the frames that foot is loaded (the motion as IK gives it).
    Returns per foot the lifts (spheres,): each sphere's low quantile (`SOLE_QUANTILE`)
    over its foot's loaded frames against the mean of those over both feet.

    Why: OpenCap's layout puts every sphere on one plane of the calcaneus frame; a lab's
    IK does not hold that plane on the floor in stance (the foot's frame is set by markers on
    a shoe, the sole's thickness and drop are not in the model, the toes are rigid with a
    locked mtp). On the Rajagopal run (benchmarks/track_spheres.py) the calcaneus frame is
    pitched ~10 deg toes down in mid-stance: the heel spheres stay 20-40 mm above the toe
    spheres and never touch, the toes sink 30-40 mm. A sole touches the floor everywhere
    at some time in stance (heel at strike, forefoot and toes at push-off), so each sphere
    is moved to the height its own lowest stance point shares with the others.
    """
    if not bottoms:
        raise InputError("sole_lifts needs at least one foot's sphere heights")
    lows = {}
    for side, h in bottoms.items():
        h = np.asarray(h, dtype=float)
        if h.ndim != 2 or h.shape[0] < 3 or h.shape[1] < 1 or not np.isfinite(h).all():
            raise InputError(f"sole_lifts: foot {side!r} needs finite sphere heights over at "
                             f"least 3 loaded frames, shape (frames, spheres); got {h.shape}")
        lows[side] = np.quantile(h, SOLE_QUANTILE, axis=0)
    level = float(np.mean(np.concatenate(list(lows.values()))))
    return {side: level - low for side, low in lows.items()}
