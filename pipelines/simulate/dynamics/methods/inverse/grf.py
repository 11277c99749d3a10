"""Ground reaction forces estimated from kinematics alone (the `inverse` method's loads).

The whole-body equations of motion give the total external wrench exactly: inverse dynamics
with every model force switched off yields, at the 6 root coordinates, the generalized forces
the environment must supply; mapping them through the root body's Jacobian gives the force F
and the moment about the root origin, in ground. The rule that splits this wrench between the
feet (documented in docs/dynamics.md):

1. When the vertical force is upward, the foot with the lowest contact point is in contact
   (the ground is the only external agent), and so is the other foot if its lowest point is
   within `contact_height_m` of it. Heights are compared between the feet of the same frame,
   not against a fixed floor, so a model whose segment lengths do not quite match the
   kinematics (feet drifting up or down during a squat) is still handled. The centre of
   pressure lies on the horizontal plane through the lowest contact point of the frame.
2. One foot in contact: it carries everything. Both: the total centre of pressure (COP) is
   projected onto the segment between the two feet's contact centres; its position s (0 at
   the left foot, 1 at the right) is the right foot's share of force and free torque.
3. Both feet's COPs are shifted by the same horizontal offset so that the two forces and the
   free torques reproduce the total wrench exactly (no moment is lost in the split).
4. A centre of pressure must lie under its foot: each COP is moved to the nearest point of its
   foot's support area (the horizontal convex hull of the foot's contact points, widened by
   `cop_margin_m`). Kinematics that are not consistent with the model (segment lengths that
   differ from the subject's, marker noise) otherwise put the COP tens of centimetres outside
   the foot, and the muscles would have to produce impossible ankle moments to match. The
   moment that clamping removes is not lost silently: the pelvis residual actuators carry it,
   and it is returned as `unexplained_moment_nm` and reported.
5. No foot in contact (flight) or no upward force: zero ground forces; the residual actuators
   at the pelvis then carry what the kinematics demand, and are reported.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from musclekit.dataset.atomic import file_sha256
from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.filtering import finite_difference
from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import (
    ContactRule,
    contact_levels,
    detect_contact,
    floor_height,
    ground_velocity,
    phases,
    place_cops,
    point_velocities,
    runs,
)
from musclekit.pipelines.simulate.opensim.evaluate import mobility_index, root_joint
from musclekit.pipelines.simulate.opensim.external_loads import (
    DEFAULT_FEET,
    GRF_CHANNELS,
    SIDES,
    centre_of_pressure,
)
from musclekit.pipelines.simulate.opensim.files import Motion
from musclekit.pipelines.simulate.opensim.pose import Poser


@dataclass
class GrfEstimate:
    """time_s (T,); values (T, 18) in GRF_CHANNELS order; total_force_n (T, 3) and
    total_moment_nm (T, 3) about the ground origin; contact (T, 2) bool (right, left)."""

    time_s: np.ndarray
    values: np.ndarray
    total_force_n: np.ndarray
    total_moment_nm: np.ndarray
    contact: np.ndarray
    # (T, 3) part of the total moment the clamped COPs do not reproduce (N m, about the
    # ground origin); the pelvis residuals must supply it.
    unexplained_moment_nm: np.ndarray | None = None
    floor_m: float = 0.0  # the floor's height estimated for the sequence
    transition: np.ndarray | None = None  # (T,) frames split by a heel-strike hand-over
    orphan: np.ndarray | None = None  # (T,) loaded frames no foot's kinematics claimed
    ground_velocity_m_s: np.ndarray | None = None  # (3,) 0 overground, a treadmill's belt
    # the height above the floor the hand-overs' forces point at (pivot_height_m); None:
    # at the centre of mass (no single support to fit it on, or the rule's force_aim "com")
    pivot_height_m: float | None = None

    def side(self, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(force (T,3) N, COP (T,3) m, torque (T,3) N m) of one side, in ground."""
        idx = {n: i for i, n in enumerate(GRF_CHANNELS)}
        f = self.values[:, [idx[f"ground_force_{side}_v{a}"] for a in "xyz"]]
        p = self.values[:, [idx[f"ground_force_{side}_p{a}"] for a in "xyz"]]
        m = self.values[:, [idx[f"ground_torque_{side}_{a}"] for a in "xyz"]]
        return f, p, m


def foot_points(model, feet: dict[str, tuple[str, ...]]
                ) -> dict[str, list[tuple[object, np.ndarray, float]]]:
    """Per side, the contact points as (frame, location in frame, radius): the contact spheres
    on the foot bodies when the model has them, else the foot bodies' origins."""
    bodies = model.getBodySet()
    names = {b for side in feet.values() for b in side}
    present = {n for n in names if bodies.contains(n)}
    out: dict[str, list] = {}
    geoms = model.getContactGeometrySet()
    for side, body_names in feet.items():
        side_bodies = [n for n in body_names if n in present]
        if not side_bodies:
            raise InputError(
                f"model {model.getName()}: none of the {side} foot bodies {list(body_names)} "
                f"exist; name the model's foot bodies (e.g. --foot-bodies-{side} calcn_r,toes_r)"
            )
        pts = []
        for i in range(geoms.getSize()):
            g = geoms.get(i)
            if g.getConcreteClassName() != "ContactSphere":
                continue
            body = g.getFrame().findBaseFrame().getName()
            if body in side_bodies:
                sphere = g  # location is in the geometry's frame; offset frames are resolved below
                loc = np.array(sphere.get_location().to_numpy())
                radius = float(sphere.getPropertyByName("radius").toString())
                frame = g.getFrame()
                pts.append((frame, loc, radius))
        if not pts:
            pts = [(bodies.get(n), np.zeros(3), 0.0) for n in side_bodies]
        out[side] = pts
    return out


def _carried(model, state, marker, chain: list) -> tuple[object, np.ndarray, float]:
    """(body, location in it, 0) of a foot marker, carried by the foot body it lies over: the
    most distal body of `chain` (heel to toes) whose origin lies behind the marker along the
    foot. Labs often attach the toe marker to the calcaneus; fixed there, it would dip below
    the floor as the heel rises over the bending toes."""
    import opensim as osim

    model.realizePosition(state)
    p = marker.getLocationInGround(state)
    origins = [_vec3(b.getPositionInGround(state)) for b in chain]
    axis = origins[-1] - origins[0]
    carrier = chain[0]
    for b, o in zip(chain, origins, strict=True):
        if float((_vec3(p) - o) @ axis) >= 0.0:
            carrier = b
    loc = model.getGround().findStationLocationInAnotherFrame(state, osim.Vec3(p), carrier)
    return carrier, _vec3(loc), 0.0


def sole_ends(model, state, feet: dict[str, tuple[str, ...]],
              points: dict[str, list[tuple[object, np.ndarray, float]]]
              ) -> dict[str, tuple[tuple[object, np.ndarray], tuple[object, np.ndarray]]]:
    """Per side, the two ends of the foot's sole line as (frame, location in it): the heel
    end and the toe end, the rearmost and foremost along the foot (from its first body's
    origin to its last one's, in the default pose) of the foot's markers and contact points.
    A centre of pressure travels between them through a stance (split_wrench). Markers are
    carried by the body they lie over (_carried), so a toe marker bends with the toes."""
    import opensim as osim

    bodies = model.getBodySet()
    model.realizePosition(state)
    out = {}
    ms = model.getMarkerSet()
    for side, names in feet.items():
        chain = [bodies.get(n) for n in names if bodies.contains(n)]
        origins = [_vec3(b.getPositionInGround(state)) for b in chain]
        axis = origins[-1] - origins[0]
        axis = axis / max(float(np.linalg.norm(axis)), 1e-9)
        cands = [(frame, np.asarray(loc, dtype=float)) for frame, loc, _ in points[side]]
        for i in range(ms.getSize()):
            mk = ms.get(i)
            if mk.getParentFrame().findBaseFrame().getName() in names:
                frame, loc, _ = _carried(model, state, mk, chain)
                cands.append((frame, loc))
        along = [float(_vec3(f.findStationLocationInGround(state, osim.Vec3(*loc))) @ axis)
                 for f, loc in cands]
        out[side] = (cands[int(np.argmin(along))], cands[int(np.argmax(along))])
    return out


def _vec3(v) -> np.ndarray:
    return v.to_numpy()


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b of two 3-vectors: np.cross's products and differences in its order (the same
    numbers) without its per-call overhead, which the per-frame loops paid thousands of times."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


@dataclass
class BodyWrench:
    """What the kinematics alone say about the ground's action, frame by frame (T frames):
    force_n (T, 3) and moment_nm (T, 3, about the ground origin) the environment must supply;
    heights (T, P) of each foot point's lowest point and points (T, P, 3) their positions, per
    side; standing (P,) each point's height above the sole in the model's standing pose;
    com (T, 3) the centre of mass; mass_kg the model's."""

    time_s: np.ndarray
    force_n: np.ndarray
    moment_nm: np.ndarray
    heights: dict[str, np.ndarray]
    points: dict[str, np.ndarray]
    standing: dict[str, np.ndarray]
    com: np.ndarray
    mass_kg: float
    radii: list[float]
    # per side (T, 2, 3): the heel end and the toe end of the foot's sole line, in ground
    sole_line: dict[str, np.ndarray] | None = None


def estimate_grf(
    model_path: str,
    motion: Motion,
    feet: dict[str, tuple[str, ...]] | None = None,
    cop_margin_m: float | None = None,
    rule: ContactRule | None = None,
) -> GrfEstimate:
    """Estimate both feet's ground reaction forces for a smooth motion.

    Args:
        model_path: .osim file; every force element is switched off (muscles, contact).
        motion: coordinates in SI units (filtered: accelerations come from differences).
        feet: foot body names per side ("right", "left").
        rule: contact detection thresholds (foot_contact_phases.ContactRule).
        cop_margin_m: how far beyond the hull of a foot's contact points its COP may lie.
            Default: the largest contact sphere radius + 1 cm, or 5 cm when the foot's points
            are body origins (heel and toe joint: the toe tips and foot edges lie beyond them).
    """
    return split_body_wrench(body_wrench(model_path, motion, feet), cop_margin_m, rule)


def split_body_wrench(bw: BodyWrench, cop_margin_m: float | None = None,
                      rule: ContactRule | None = None) -> GrfEstimate:
    """split_wrench on what body_wrench found, with estimate_grf's default margin."""
    if cop_margin_m is None:
        cop_margin_m = max(bw.radii) + 0.01 if max(bw.radii) > 0 else 0.05
    return split_wrench(bw.time_s, bw.force_n, bw.moment_nm, bw.heights, bw.points, bw.mass_kg,
                        cop_margin_m=cop_margin_m, rule=rule, standing=bw.standing, com=bw.com,
                        sole_line=bw.sole_line)


def body_wrench(model_path: str, motion: Motion,
                feet: dict[str, tuple[str, ...]] | None = None) -> BodyWrench:
    """The external wrench the motion demands and the feet's points, by OpenSim (every force
    element switched off: inverse dynamics then returns, at the root, what the ground gives)."""
    import opensim as osim

    feet = feet or DEFAULT_FEET
    model = osim.Model(model_path)
    forces = model.updForceSet()
    for i in range(forces.getSize()):
        forces.get(i).set_appliesForce(False)
    state = model.initSystem()
    coords = model.getCoordinateSet()
    names = [coords.get(i).getName() for i in range(coords.getSize())]
    missing = [n for n in names if n not in motion.names and not coords.get(n).getLocked(state)]
    if missing:
        raise InputError(
            f"kinematics lack coordinates of model {model.getName()}: {missing[:8]}"
            f"{' ...' if len(missing) > 8 else ''}"
        )
    root = root_joint(model)
    root_coords = [root.get_coordinates(i).getName() for i in range(6)]
    root_body = root.getChildFrame().findBaseFrame()
    body = model.getBodySet().get(root_body.getName())
    points = foot_points(model, feet)
    ends = sole_ends(model, state, feet, points)

    # Each point's height above its foot's lowest point standing (every free joint at zero,
    # or the nearest end of its range): a foot body's origin stands above the sole by that
    # much. Not the model's default pose: a scaled model may keep a static trial's pose as
    # its defaults (a Helen Hayes model stood on one leg, its other heel 17 cm up, and every
    # frame's right foot then seemed to float), and per foot, not over both feet.
    zeroed = osim.State(state)
    for i in range(coords.getSize()):
        c = coords.get(i)
        if not c.getLocked(zeroed):
            c.setValue(zeroed, float(np.clip(0.0, c.getRangeMin(), c.getRangeMax())), False)
    model.assemble(zeroed)
    model.realizePosition(zeroed)
    default = {side: np.array([
        _vec3(frame.findStationLocationInGround(zeroed, osim.Vec3(*loc)))[1] - radius
        for frame, loc, radius in pts]) for side, pts in points.items()}
    standing = {side: v - v.min() for side, v in default.items()}

    nu = state.getNU()
    u_index = mobility_index(model, state, names)
    qd, qdd = finite_difference(motion)
    col = {n: i for i, n in enumerate(motion.names)}
    solver = osim.InverseDynamicsSolver(model)
    mass = model.getTotalMass(state)
    T = len(motion.time_s)
    force = np.zeros((T, 3))
    moment = np.zeros((T, 3))
    heights = {s: np.zeros((T, len(p))) for s, p in points.items()}
    com = np.zeros((T, 3))
    xz = {s: np.zeros((T, len(p), 3)) for s, p in points.items()}
    sole_line = {s: np.zeros((T, 2, 3)) for s in ends}
    # Coordinate objects fetched once: a lookup by name per frame cost more than setting them.
    set_q = [(coords.get(n), col[n]) for n in names if n in col]
    set_u = [(coords.get(n), iu, col[n]) for n, iu in u_index.items() if n in col]
    root_u = [u_index[n] for n in root_coords]
    # Root Jacobian: spatial velocity of the root body (angular, linear at its origin) per
    # unit speed of each root coordinate: the root body's columns of Simbody's frame
    # Jacobian (the same numbers as setting each root speed to 1 and reading the body's
    # velocity, without realising the velocity stage six times per frame).
    matter = model.getMatterSubsystem()
    root_mobod = body.getMobilizedBodyIndex()
    jacobian = osim.Matrix()
    body_origin = osim.Vec3(0.0, 0.0, 0.0)
    # Each foot point as (frame, station, radius), its OpenSim Vec3 made once.
    stations = {side: [(frame, osim.Vec3(*loc), radius) for frame, loc, radius in pts]
                for side, pts in points.items()}
    end_stations = {side: [(frame, osim.Vec3(*loc)) for frame, loc in pair]
                    for side, pair in ends.items()}
    # Each frame's pose as OpenSim's assembler gives it; in closed form for a model whose only
    # constraints are one-to-one couplers (the patellae), checked against the assembler at
    # the first frame (opensim/pose.py): the assembler was ~80 % of the estimate's time.
    poser = Poser(model, state)
    for k in range(T):
        for c, j in set_q:
            c.setValue(state, motion.values[k, j], False)
        poser.assemble(state)
        udot = osim.Vector(nu, 0.0)
        state.setU(osim.Vector(nu, 0.0))
        for c, iu, j in set_u:
            c.setSpeedValue(state, qd[k, j])
            udot.set(iu, qdd[k, j])
        model.realizeVelocity(state)
        tau = solver.solve(state, udot).to_numpy()
        tau_root = tau[root_u]
        matter.calcFrameJacobian(state, root_mobod, body_origin, jacobian)
        J = jacobian.to_numpy()[:, root_u]
        wrench = np.linalg.solve(J.T, tau_root)  # [moment about root origin; force]
        origin = _vec3(body.getPositionInGround(state))
        force[k] = wrench[3:]
        moment[k] = wrench[:3] + _cross(origin, wrench[3:])
        com[k] = _vec3(model.calcMassCenterPosition(state))
        for side, pts in stations.items():
            for i, (frame, loc, radius) in enumerate(pts):
                p = _vec3(frame.findStationLocationInGround(state, loc))
                heights[side][k, i] = p[1] - radius
                xz[side][k, i] = p
        for side, pair in end_stations.items():
            for i, (frame, loc) in enumerate(pair):
                sole_line[side][k, i] = _vec3(frame.findStationLocationInGround(state, loc))
    radii = [r for pts in points.values() for _, _, r in pts]
    return BodyWrench(np.asarray(motion.time_s, dtype=float), force, moment, heights, xz,
                      standing, com, mass, radii, sole_line)


# Bumped whenever the estimate's rule changes: a cached estimate of an older rule is redone.
ESTIMATE_RULE_VERSION = 10  # 10: force_aim 'leading share' (9: 'com')


def sequence_estimate(cache: Path, model_file: str, motion: Motion,
                      feet: dict[str, tuple[str, ...]], cop_margin_m: float | None,
                      rule: ContactRule) -> GrfEstimate:
    """The estimate over the whole sequence, computed once and kept in `cache` (.npz).

    Contact phases, the floor and the heel-strike hand-overs are properties of the whole
    sequence: estimated inside one chunk's window they would depend on where the window
    starts. The first chunk to need the estimate computes it; the others load it (a key of
    the model, the motion and the settings guards against a stale file)."""
    data = hashlib.sha256(np.ascontiguousarray(motion.time_s).tobytes()
                          + np.ascontiguousarray(motion.values).tobytes()).hexdigest()
    key = hashlib.sha256(json.dumps(
        [ESTIMATE_RULE_VERSION, file_sha256(model_file), data, motion.names,
         sorted(feet.items()), cop_margin_m, asdict(rule)], default=str).encode()).hexdigest()
    if cache.is_file():
        with np.load(cache) as z:
            if str(z["key"]) == key:
                pivot = float(z["pivot_height_m"])
                return GrfEstimate(z["time_s"], z["values"], z["total_force_n"],
                                   z["total_moment_nm"], z["contact"], z["unexplained"],
                                   float(z["floor_m"]), z["transition"], z["orphan"],
                                   z["ground_velocity_m_s"],
                                   None if np.isnan(pivot) else pivot)
    est = estimate_grf(model_file, motion, feet=feet, cop_margin_m=cop_margin_m, rule=rule)
    tmp = cache.with_name(f".{cache.stem}.{os.getpid()}.npz")
    np.savez(tmp, key=key, time_s=est.time_s, values=est.values,
             total_force_n=est.total_force_n, total_moment_nm=est.total_moment_nm,
             contact=est.contact, unexplained=est.unexplained_moment_nm, floor_m=est.floor_m,
             transition=est.transition, orphan=est.orphan,
             ground_velocity_m_s=est.ground_velocity_m_s,
             pivot_height_m=np.nan if est.pivot_height_m is None else est.pivot_height_m)
    os.replace(tmp, cache)
    return est


def window(est: GrfEstimate, start_s: float, end_s: float) -> GrfEstimate:
    """The rows of an estimate with start_s <= t <= end_s."""
    keep = (est.time_s >= start_s - 1e-9) & (est.time_s <= end_s + 1e-9)
    return GrfEstimate(est.time_s[keep], est.values[keep], est.total_force_n[keep],
                       est.total_moment_nm[keep], est.contact[keep],
                       est.unexplained_moment_nm[keep], est.floor_m, est.transition[keep],
                       est.orphan[keep], est.ground_velocity_m_s, est.pivot_height_m)


def _nearest_in_region(p: np.ndarray, hull: np.ndarray, margin: float) -> np.ndarray:
    """The point nearest to `p` (x, z) within `margin` of the convex hull of `hull` (N, 2)."""
    ring = hull
    if len(hull) >= 3:
        from scipy.spatial import ConvexHull, QhullError

        try:
            ring = hull[ConvexHull(hull).vertices]  # counter-clockwise
        except QhullError:
            pass  # collinear points: no area, only the segments below
        else:
            edges = np.roll(ring, -1, axis=0) - ring
            rel = p - ring
            if np.all(edges[:, 0] * rel[:, 1] - edges[:, 1] * rel[:, 0] >= 0):
                return p  # left of every edge: inside
    # Nearest point on the boundary (a cycle through the points; one point is its own edge).
    best, best_d = ring[0], np.inf
    for i in range(len(ring)):
        a, ab = ring[i], ring[(i + 1) % len(ring)] - ring[i]
        denom = float(ab @ ab)
        t = float(np.clip((p - a) @ ab / denom, 0.0, 1.0)) if denom > 1e-12 else 0.0
        d = float(np.linalg.norm(p - (a + t * ab)))
        if d < best_d:
            best, best_d = a + t * ab, d
    if best_d <= margin:
        return p
    return best + (p - best) * (margin / best_d)


# A sole line shorter than this (horizontally) gives no heel-to-toe direction: a foot of one
# body with no markers, or a foot standing on its toes tip-down; its stances keep the
# whole-body centre of pressure.
MIN_SOLE_LINE_M = 0.02


def _rolling_lines(time_s: np.ndarray, force: np.ndarray, moment: np.ndarray, floor: float,
                   ph, sole_line: dict[str, np.ndarray], hold_heel: bool = False
                   ) -> dict[str, np.ndarray]:
    """Per side (T, 2): where along the sole line (0 heel end, 1 toe end) the centre of
    pressure lies, and how far beside it (m, positive to the left of the heel-to-toe
    direction seen from above); NaN off the ground or in a stance cut by the sequence's ends.

    The centre of pressure rolls from the heel towards the toes through a stance (the heel,
    ankle and forefoot rockers, Perry and Burnfield 2010, Gait Analysis ch. 3) at a pace close
    to uniform: a straight line in the stance's progress. Its start and end are fitted, per
    stance, to the whole-body centre of pressure of the stance's single-support frames
    (least squares, weighted by the vertical force): the moment the kinematics demand decides
    where the foot rolls, the line removes the frame-to-frame noise of that moment (the
    kinematics' accelerations, the segments' inertias) which otherwise moves the centre of
    pressure back and forth by centimetres.

    With `hold_heel`, before the stance's first single-support frame (the loading double
    support after heel strike) the point stays where the line is at that frame instead of
    following the line's extrapolation backwards: through the heel rocker the foot turns
    about its heel and the centre of pressure stays under it (Perry and Burnfield 2010); the
    extrapolated line put it behind the plates' there on the Rajagopal walk (fore-aft RMS
    1.9 / 2.6 cm, 1.4 / 2.0 held; docs/validation.md, section 3)."""
    out = {}
    for j, side in enumerate(SIDES):
        s = np.full((len(time_s), 2), np.nan)
        x = ph.progress[:, j]
        heel, toe = sole_line[side][:, 0], sole_line[side][:, 1]
        axis = (toe - heel)[:, [0, 2]]
        length2 = np.sum(axis ** 2, axis=1)
        for a, b in runs(np.isfinite(x)):
            if length2[a:b + 1].min() < MIN_SOLE_LINE_M ** 2:
                continue  # no heel-to-toe direction (one foot body, no markers): no line
            single = np.zeros(len(time_s), dtype=bool)
            single[a:b + 1] = ph.contact[a:b + 1, j] & ~ph.contact[a:b + 1, 1 - j]
            single &= force[:, 1] > 0
            idx = np.flatnonzero(single)
            if len(idx) < 5:
                continue  # too little of the stance alone on this foot to say where it rolls
            cop = np.array([centre_of_pressure(force[k], moment[k], floor)[0] for k in idx])
            along = np.sum((cop[:, [0, 2]] - heel[idx][:, [0, 2]]) * axis[idx], axis=1) / length2[idx]
            w = np.sqrt(force[idx, 1])
            design = np.column_stack([np.ones(len(idx)), x[idx]])
            coef, *_ = np.linalg.lstsq(design * w[:, None], along * w, rcond=None)
            progress = x[a:b + 1]
            if hold_heel:
                progress = np.maximum(progress, x[idx].min())
            s[a:b + 1, 0] = coef[0] + coef[1] * progress
            # and its side-to-side offset from the line, one per stance (m, to the left of
            # the heel-to-toe direction)
            normal = np.column_stack([-axis[idx, 1], axis[idx, 0]]) / np.sqrt(length2[idx])[:, None]
            s[a:b + 1, 1] = np.sum((cop[:, [0, 2]] - heel[idx][:, [0, 2]]) * normal, axis=1) @ w / w.sum()
        out[side] = s
    return out


# How far a measured hand-over's share lies from the linear ramp between the leading foot's
# heel strike and the trailing foot's toe-off (RMS, fraction of the load): 0.04-0.12 on the
# corpus' plates, 0.08 their mean (docs/validation.md, "Ground forces estimated on the
# corpus trials"). The prior's spread in _handover_weight.
HANDOVER_RAMP_SPREAD = 0.08


def _foot_cops(k: int, ph, above: dict, points: dict, floor: float, rule: ContactRule,
               line: dict | None, sole_line: dict | None) -> tuple[dict, dict]:
    """Frame k's centre of pressure per foot in contact: (priors, rolling); priors the
    centroid of the foot's points near the floor, or its rolling line's point where the
    stance has one (then also in rolling)."""
    priors, rolling = {}, {}
    for j in range(2):
        if not ph.contact[k, j]:
            continue
        side = SIDES[j]
        near = above[side][k] < rule.height_off_m
        if not near.any():
            near = above[side][k] == above[side][k].min()
        c = points[side][k][near].mean(axis=0)
        priors[side] = np.array([c[0], floor, c[2]])
        if line is not None and np.isfinite(line[side][k, 0]):
            heel, toe = sole_line[side][k]
            along, beside = line[side][k]
            d = (toe - heel)[[0, 2]]
            n = np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-9)
            c = heel + along * (toe - heel) + beside * np.array([n[0], 0.0, n[1]])
            priors[side] = rolling[side] = np.array([c[0], floor, c[2]])
    return priors, rolling


def _handover_weight(force: np.ndarray, moment: np.ndarray, floor: float, ph,
                     feet_cops: list[tuple[dict, dict]], rule: ContactRule,
                     points: dict[str, np.ndarray] | None = None,
                     cop_margin_m: float = np.inf) -> float:
    """How much of a hand-over's share comes from statics (0..1), the rest from the linear
    ramp, for the whole sequence.

    Statics puts the right foot's share where the whole-body centre of pressure (from the
    kinematics' moment) lies between the two feet's rolling centres of pressure. That is
    exact for exact kinematics, and as noisy as the moment: on the Rajagopal walk the
    whole-body COP follows the plates' to 2 cm and statics beats any fixed shape, while on the
    Plug-in-Gait walks it runs 10-20 cm ahead of the plates' through every double support
    (the torso's fore-aft acceleration, docs/validation.md), and statics hands the whole load
    over in half the double support. Both are estimates of one share: combined by their
    variances (the minimum-variance weighting of two independent estimates), the ramp's the
    spread of measured hand-overs about it (HANDOVER_RAMP_SPREAD), statics' the moment's
    noise in share units, the larger of what two checks see:

    - in single support, where the truth is known to lie under the stance foot: the RMS
      horizontal distance of the whole-body COP from the foot's rolling point (kept inside
      the foot's support area), over the distance between the two feet's rolling points in
      the hand-overs (a COP error d moves the share by d / that distance). It needs no
      assumption on the hand-over's shape;
    - in the hand-overs: statics' RMS difference from the ramp less the ramp's own spread
      (what exceeds it is the moment's noise), which sees an error of the double supports
      alone but cannot tell it from a hand-over that truly departs from the ramp."""
    if rule.handover != "combined":
        return 1.0 if rule.handover == "statics" else 0.0
    diffs, gaps = [], []
    for k in np.flatnonzero(ph.transition):
        priors, rolling = feet_cops[k]
        if len(rolling) != 2 or force[k, 1] <= 0:
            continue
        cr, cl = rolling["right"], rolling["left"]
        d = cr - cl
        denom = float(d @ d)
        if denom <= MIN_SOLE_LINE_M ** 2:
            continue
        p, _ = centre_of_pressure(force[k], moment[k], floor)
        diffs.append(float((p - cl) @ d / denom) - float(ph.ramp[k, 0]))
        gaps.append(np.sqrt(d[0] ** 2 + d[2] ** 2))
    if len(diffs) < 3:
        return 1.0  # too few frames to judge the moment: statics, as before
    spread2 = HANDOVER_RAMP_SPREAD ** 2
    noise2 = max(float(np.mean(np.square(diffs))) - spread2, 0.0)
    off = []
    for k in np.flatnonzero(ph.contact.sum(axis=1) == 1):
        side = SIDES[int(np.flatnonzero(ph.contact[k])[0])]
        rolling = feet_cops[k][1]
        if side not in rolling or force[k, 1] <= 0:
            continue
        p, _ = centre_of_pressure(force[k], moment[k], floor)
        q = rolling[side][[0, 2]]
        if points is not None and np.isfinite(cop_margin_m):
            q = _nearest_in_region(q, points[side][k][:, [0, 2]], cop_margin_m)
        off.append(float(np.sum((p[[0, 2]] - q) ** 2)))
    if len(off) >= 3:
        noise2 = max(noise2, float(np.mean(off)) / float(np.median(gaps)) ** 2)
    return spread2 / (spread2 + noise2)


def pivot_height_m(force: np.ndarray, com: np.ndarray, contact: np.ndarray,
                   cops: np.ndarray, floor: float, min_frames: int = 5) -> float | None:
    """The height above the floor at which the single-support ground-force lines cross the
    vertical through the centre of mass (the virtual pivot point: in walking the ground
    force points at a point above the centre of mass, not at it; Maus et al. 2010, Gruben and
    Boehm 2012), fitted over the sequence: the total force `force` (T, 3) is exact there, the
    centre of pressure `cops` (T, 3) the stance foot's, `contact` (T, 2). A force aimed
    from p at the point (com_x, floor + H, com_z) has horizontal part F_y (com - p)_h / H,
    so 1/H is the least-squares slope of F_h on F_y (com - p)_h. None with fewer than
    `min_frames` single-support frames or a slope that is not positive (forces that point
    away from the centre of mass: nothing to aim at)."""
    one = (contact.sum(axis=1) == 1) & (force[:, 1] > 0) & np.isfinite(cops).all(axis=1)
    if one.sum() < min_frames:
        return None
    lever = (com[one] - cops[one])[:, [0, 2]] * force[one, 1][:, None]
    slope = float(np.sum(lever * force[one][:, [0, 2]])) / max(float(np.sum(lever ** 2)), 1e-12)
    if slope <= 0:
        return None
    return 1.0 / slope


def split_wrench(
    time_s: np.ndarray,
    force: np.ndarray,
    moment: np.ndarray,
    heights: dict[str, np.ndarray],
    points: dict[str, np.ndarray],
    mass_kg: float,
    cop_margin_m: float = np.inf,
    rule: ContactRule | None = None,
    standing: dict[str, np.ndarray] | None = None,
    com: np.ndarray | None = None,
    sole_line: dict[str, np.ndarray] | None = None,
) -> GrfEstimate:
    """Split the total external wrench (force (T,3), moment about the ground origin (T,3))
    between the feet, from the feet's contact points: `heights` (T, P) of each point's
    lowest point and `points` (T, P, 3) their positions, per side; `standing` (P,) each
    point's height above the sole in the model's standing pose (0 for contact spheres)
    (module docstring)."""
    rule = rule or ContactRule()
    standing = standing or {s: np.zeros(heights[s].shape[1]) for s in SIDES}
    T = len(time_s)
    values = np.zeros((T, len(GRF_CHANNELS)))
    unexplained = np.zeros((T, 3))
    min_fy = 0.01 * mass_kg * 9.81
    idx = {n: i for i, n in enumerate(GRF_CHANNELS)}
    soles = {s: heights[s] - standing[s][None, :] for s in SIDES}
    floor = floor_height([soles[s] for s in SIDES], rule.floor_percentile)
    above = {s: soles[s] - floor for s in SIDES}
    velocity = {s: point_velocities(time_s, points[s]) for s in SIDES}
    ground_v = ground_velocity([velocity[s] for s in SIDES], [above[s] for s in SIDES], rule)
    speeds = {s: np.linalg.norm(velocity[s] - ground_v, axis=2) for s in SIDES}
    # Each point's height above the floor counted from its own level when its foot stands
    # (contact_levels), not from the model's standing pose alone.
    if rule.own_levels:
        above = {s: above[s] - contact_levels(above[s], speeds[s], rule)[None, :] for s in SIDES}
    contact = np.column_stack([detect_contact(above[s], speeds[s], rule) for s in SIDES])
    contact &= (force[:, 1] > min_fy)[:, None]
    # A frame whose load no foot seems to carry (feet that slide or float in the kinematics
    # of a model not scaled to the subject): the lowest foot carries it, as counted below.
    lowest = np.argmin(np.column_stack([above[s].min(axis=1) for s in SIDES]), axis=1)
    orphan = (force[:, 1] > 0.2 * mass_kg * 9.81) & ~contact.any(axis=1)
    loaded = force[:, 1] > 0.2 * mass_kg * 9.81
    # Refused when the feet (almost) never settle; a trial where they settle part of the time
    # goes on, its unclaimed frames given to the lowest foot and counted per chunk.
    if loaded.sum() >= 10 and orphan.sum() > 0.9 * loaded.sum():
        raise InputError(
            f"the feet never settle on a floor: in {100 * orphan.sum() / loaded.sum():.0f} % of "
            f"the frames that carry the body no foot point is within "
            f"{100 * rule.height_on_m:.0f} cm of the floor estimated at {floor:.3f} m while "
            "still (the kinematics float, slide or sink: a model not scaled to the subject, or "
            "a floor that is not level); scale the model to the subject (--static) or give "
            "measured forces (--grf)")
    contact[orphan, lowest[orphan]] = True
    ph = phases(time_s, contact)
    line = held = None
    if rule.cop_path == "rolling" and sole_line is not None:
        line = _rolling_lines(time_s, force, moment, floor, ph, sole_line)
        held = _rolling_lines(time_s, force, moment, floor, ph, sole_line, hold_heel=True)

    # The lines as fitted set the hand-over's share and the feet's force directions; the
    # centres of pressure are placed on the lines held at the heel through loading
    # (_rolling_lines). Held, the share too moved, but not for the better on every corpus
    # trial (UW and Helen Hayes 0.05-0.08 % BW worse, docs/validation.md, section 3).
    feet_cops = [_foot_cops(k, ph, above, points, floor, rule, line, sole_line)
                 for k in range(T)]
    placed_cops = feet_cops if held is None else [
        _foot_cops(k, ph, above, points, floor, rule, held, sole_line) for k in range(T)]
    statics = _handover_weight(force, moment, floor, ph, feet_cops, rule, points, cop_margin_m)
    # With force_aim "pivot" the hand-overs' forces point at the sequence's pivot above the
    # centre of mass (pivot_height_m), fitted on the single-support frames' centres of
    # pressure as they are placed below (the stance's rolling point, else the whole-body one).
    pivot = None
    if com is not None and rule.force_aim == "pivot":
        ss_cops = np.full((T, 3), np.nan)
        for k in np.flatnonzero(ph.contact.sum(axis=1) == 1):
            side = SIDES[int(np.flatnonzero(ph.contact[k])[0])]
            ss_cops[k] = placed_cops[k][1].get(side, centre_of_pressure(force[k], moment[k],
                                                                        floor)[0])
        pivot = pivot_height_m(force, com, ph.contact, ss_cops, floor)

    for k in range(T):
        F, M = force[k], moment[k]
        on = [j for j in range(2) if ph.contact[k, j]]
        if not on:
            continue
        priors, rolling = feet_cops[k]
        on_sole, rolling_held = placed_cops[k]
        p, ty = centre_of_pressure(F, M, floor)
        if len(on) == 1:
            side = SIDES[on[0]]
            shares = {side: 1.0}
            # The rolling point where the stance is whole; the point that balances the
            # whole body's moment otherwise (what the pelvis residuals leave is reported).
            cops = {side: rolling_held.get(side, p)}
            if side in rolling_held:
                unexplained[k] -= _cross(rolling_held[side] - p, F)
        else:
            cr, cl = priors["right"], priors["left"]
            d = cr - cl
            denom = float(d @ d)
            if ph.transition[k] and len(rolling) == 2 and denom > MIN_SOLE_LINE_M ** 2:
                # Both feet's COPs known (their rolling lines): the vertical loads must put
                # the whole-body COP where the moment does, p = s c_r + (1 - s) c_l along
                # the line between them, so statics says the share is where p lies on it;
                # it is trusted as far as the sequence's kinematic moment deserves
                # (_handover_weight), the rest of the share from the linear hand-over.
                ramp = float(ph.ramp[k, 0])
                s = float(np.clip(ramp + statics * ((p - cl) @ d / denom - ramp), 0.0, 1.0))
            elif ph.transition[k]:
                s = float(ph.share[k, 0])
            else:
                # No hand-over to follow (a stance on both feet throughout, or cut by the
                # sequence's ends): the share from where the total COP lies between the feet.
                s = float(np.clip((p - cl) @ d / denom, 0.0, 1.0)) if denom > 1e-12 else 0.5
            shares = {"right": s, "left": 1.0 - s}
            feet_f = [s * F, (1 - s) * F]
            if com is not None and ph.transition[k]:
                # In a hand-over each foot pushes towards the centre of mass (the trailing
                # foot propels while the leading one brakes); what the two leave of the total
                # horizontal force is shared like the vertical one. Aimed fully at the
                # centre of mass (force_aim "com", the rule to version 9) the leading foot
                # over-brakes early in the loading response and takes the hip extensor
                # moment out of it (Rajagopal walk hips 0.195/0.217 N m/kg vs the plates).
                aim = com[k] if pivot is None else np.array([com[k][0], floor + pivot,
                                                             com[k][2]])
                for i, prior in enumerate((cr, cl)):
                    d = aim - prior
                    tilt = 1.0
                    if rule.force_aim == "leading share" and ph.leading[k] == i:
                        # On every corpus walk's plates (six labs) the leading foot's
                        # force is near upright at its heel strike and tilts towards the
                        # centre of mass as the foot takes the load: 0.06-0.60 of the COM
                        # aim's tilt in the first third of loading, 0.72-0.85 in the last
                        # (plate_aim, docs/validation.md, section 3). Scaled by its share
                        # the Rajagopal walk's hips go 0.195/0.217 -> 0.164/0.173 N m/kg;
                        # worse on PiG's left hip (+0.041), Vicon's left hip (+0.019),
                        # Helen Hayes' hips (+0.016/+0.015) and UW's fore-aft (+0.35/+0.40
                        # % BW), where the COM aim ("com") stays selectable.
                        tilt = s if i == 0 else 1.0 - s
                    feet_f[i] = np.array([tilt * feet_f[i][1] * d[0] / d[1], feet_f[i][1],
                                          tilt * feet_f[i][1] * d[2] / d[1]])
                rest = F - feet_f[0] - feet_f[1]
                feet_f = [feet_f[0] + s * rest, feet_f[1] + (1 - s) * rest]
            cr, cl = on_sole["right"], on_sole["left"]
            placed = place_cops(F, M, floor, feet_f, [cr, cl])
            if len(rolling) == 2:
                # Both feet on their rolling lines: the least-squares shift that makes them
                # reproduce the whole-body moment moves both COPs the same way, and the
                # whole-body moment around a hand-over (the fastest change of the body's
                # momentum) is its noisiest; on real walking the shift put the leading heel's
                # COP up to 5 cm behind the heel (docs/validation.md, section 3). What the
                # lines leave of the moment goes to the residuals, as in single support.
                cops = {"right": cr, "left": cl}
                for i, side in enumerate(SIDES):
                    unexplained[k] -= _cross(cops[side] - placed[i], feet_f[i])
            else:
                cops = {"right": placed[0], "left": placed[1]}
        if np.isfinite(cop_margin_m):
            for side in cops:
                foot_xz = points[side][k][:, [0, 2]]
                q = _nearest_in_region(cops[side][[0, 2]], foot_xz, cop_margin_m)
                moved = np.array([q[0], floor, q[1]]) - cops[side]
                f_side = (feet_f[0] if side == "right" else feet_f[1]) if len(on) == 2 else F
                unexplained[k] -= _cross(moved, f_side)
                cops[side] = cops[side] + moved
        side_force = ({"right": feet_f[0], "left": feet_f[1]} if len(on) == 2
                      else {SIDES[on[0]]: F})
        for side, w in shares.items():
            for a, v in zip("xyz", side_force[side], strict=True):
                values[k, idx[f"ground_force_{side}_v{a}"]] = v
            for a, v in zip("xyz", cops[side], strict=True):
                values[k, idx[f"ground_force_{side}_p{a}"]] = v
            values[k, idx[f"ground_torque_{side}_y"]] = w * ty
    return GrfEstimate(time_s, values, force, moment, ph.contact, unexplained,
                       floor_m=floor, transition=ph.transition, orphan=orphan,
                       ground_velocity_m_s=ground_v, pivot_height_m=pivot)
