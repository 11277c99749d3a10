"""Automatic scaling with marker registration, for any marker set, without a lab setup.

The approach of AddBiomechanics (Werling et al. 2023): the body scales and the markers'
places on the bodies are fitted together with the poses, as one least-squares problem over
several frames (a static trial's window, or with `--static auto` frames spread over the
motion trial itself), by alternating two exact steps until the error stops falling:

1. **Poses** for the current scales and marker places: OpenSim's own IK solver
   (`InverseKinematicsSolver`) on every frame of the fit.
2. **Scales, marker places and root positions** for those poses. With every joint angle
   fixed, a marker's ground position is *linear* in the per-body scale factors, the marker's
   offset from its generic place and the root body's position: each vector from a body's origin
   to the next (a joint's parent frame and its internal translation, the child frame, the
   marker) is scaled by exactly one body's factor, as OpenSim's `Model::scale` does it. So
   the step is one bounded linear least-squares solve (scipy `lsq_linear`), with priors:
   - a marker's offset from the generic (or preset) place: sigma 2 cm for anatomical markers
     (they sit on a named bony landmark), 6 cm for tracking markers (thigh/shank wands,
     clusters, whose place on the segment is arbitrary);
   - each body's factor against the whole-body factor (sigma 0.15), and the whole-body
     factor against `--height` (sigma 0.05; the generic model's stature from its leg length,
     Winter's proportions) when the height is given;
   - left against right (sigma 0.02): symmetric unless the data insist;
   - hard bounds 0.5-2.0 on every factor.
   Bodies that carry no marker follow the whole-body factor; patellae follow their femur,
   talus/calcaneus/toes are one foot, ulna/radius one forearm.

Markers are weighted by their IK weights (sqrt in the least squares). Frames: up to
`STATIC_FRAMES` evenly over a static trial where most markers are seen, up to `MOTION_FRAMES`
over a motion trial. Gaps (NaN) simply drop out. Everything is deterministic (no random
starts): the first pose is the generic model turned about the vertical and shifted onto the
markers (a closed-form 2D Procrustes fit), then IK.

Trust (`check_scaling`): a scaling whose per-marker static RMS error is above
`MAX_STATIC_RMS_M` (25 mm: AddBiomechanics reaches < 20 mm on arbitrary marker sets; OpenSim's
own placer with the Rajagopal lab's hand-made setup reaches 23.5 mm on its static trial), or
with a factor outside `TRUSTED_FACTORS` (0.6-1.6: a 1.0-2.7 m person against a 1.7 m model;
beyond that the markers do not belong to the model's bodies), stops the sequence with the
worst markers named. It never goes on to IK or dynamics.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

FACTOR_BOUNDS = (0.5, 2.0)
TRUSTED_FACTORS = (0.6, 1.6)
MAX_STATIC_RMS_M = 0.025
SIGMA_MARKER_M = 0.01
SIGMA_ANATOMICAL_M = 0.02
SIGMA_TRACKING_M = 0.06
SIGMA_BODY = 0.08
SIGMA_HEIGHT = 0.05
SIGMA_SYMMETRY = 0.02
STATIC_FRAMES = 10
MOTION_FRAMES = 30
# With a static trial, this many frames of the motion trial join the fit: one standing pose
# cannot tell a marker's offset from a joint angle; the motion's joint movements can.
MOTION_WITH_STATIC_FRAMES = 15
MAX_ITERATIONS = 12
RELAXATION = 1.5
# Static trials: the first two pose solves are pulled towards the model's standing pose, so
# that markers far from their generic places are registered instead of bending the joints.
STANDING_PRIOR = 1.0
# Winter (2009), segment lengths as fractions of stature: hip (greater trochanter) 0.530,
# ankle 0.039: hip-to-ankle 0.491 H.
LEG_FRACTION_OF_STATURE = 0.491

_TRACKING = re.compile(r"(TH|SH|TB|UA|FA|TI|FE|SK)\d|THI|TIB|UPA|FRA|BAK|bicep|forearm|"
                       r"scapula|thigh|shank|wand|cluster", re.IGNORECASE)


def is_tracking_marker(name: str) -> bool:
    """A marker whose place on its segment is arbitrary (wand, cluster, mid-segment)."""
    return bool(_TRACKING.search(name))


def body_group(body: str) -> str:
    """The scale group of a body: patella follows femur, the foot bodies and the forearm
    bones are one group each."""
    side = body[-2:] if body[-2:] in ("_r", "_l") else ""
    stem = body[: -2] if side else body
    if stem.startswith("patella"):
        return "femur" + side
    if stem in ("talus", "calcn", "toes", "foot"):
        return "foot" + side
    if stem in ("ulna", "radius"):
        return "forearm" + side
    return body


@dataclass
class FitResult:
    group_factors: dict[str, float]
    body_factors: dict[str, float]
    marker_locations: dict[str, tuple[str, np.ndarray]]  # name -> (body, location in scaled body)
    offsets_m: dict[str, float]  # |registered - generic (scaled)| per marker
    static_error_m: dict[str, float]  # per-marker RMS over the fit's frames
    frame_times: list[float]
    coordinates: list[str]
    poses: np.ndarray  # (F, C) of the final IK
    iterations: list[dict] = field(default_factory=list)
    whole_body_factor: float = 1.0

    @property
    def static_rms_m(self) -> float:
        e = np.array(list(self.static_error_m.values()))
        return float(np.sqrt(np.mean(e ** 2))) if len(e) else float("nan")


# -- the model -----------------------------------------------------------------------------
def _osim():
    import opensim as osim

    return osim


def _mat(rotation) -> np.ndarray:
    m = rotation.asMat33()
    return np.array([[m.get(i, j) for j in range(3)] for i in range(3)])


class _Tree:
    """The generic model's topology: per body its joint, parent and group."""

    def __init__(self, model):
        self.bodies = [model.getBodySet().get(i).getName()
                       for i in range(model.getBodySet().getSize())]
        self.parent: dict[str, str] = {}
        self.joint: dict[str, str] = {}
        js = model.getJointSet()
        for i in range(js.getSize()):
            j = js.get(i)
            child = j.getChildFrame().findBaseFrame().getName()
            self.parent[child] = j.getParentFrame().findBaseFrame().getName()
            self.joint[child] = j.getName()
        roots = [b for b in self.bodies if self.parent.get(b) == "ground"]
        if not roots:
            raise InputError("automatic scaling needs a body jointed to the ground; the model "
                             "has none")
        best: list[str] = []
        for root in roots:  # the body tree hangs from the root with the most bodies
            order = [root]
            grew = True
            while grew:
                grew = False
                for b in self.bodies:
                    if b not in order and self.parent.get(b) in order:
                        order.append(b)
                        grew = True
            if len(order) > len(best):
                best = order
        self.root = best[0]
        self.order: list[str] = best
        self.bodies = list(best)  # bodies welded to the ground apart (load cells, plates)
        self.groups = sorted({body_group(b) for b in self.bodies})


def _body_vectors(model, state, tree: _Tree) -> tuple[dict, dict]:
    """At the model's current pose: per body, its rotation and the vectors from the root's
    origin to its origin, split by the scale group each is multiplied by."""
    js = model.getJointSet()
    bs = model.getBodySet()
    rot, pos, terms = {}, {}, {}
    for b in tree.order:
        body = bs.get(b)
        T = body.getTransformInGround(state)
        rot[b] = _mat(T.R())
        pos[b] = T.p().to_numpy().copy()
        if b == tree.root:
            terms[b] = {}
            continue
        j = js.get(tree.joint[b])
        parent = tree.parent[b]
        p_child_frame = j.getChildFrame().getPositionInGround(state).to_numpy()
        t = dict(terms[parent])
        gp, gb = body_group(parent), body_group(b)
        t[gp] = t.get(gp, 0.0) + (p_child_frame - pos[parent])  # parent frame + joint motion
        t[gb] = t.get(gb, 0.0) + (pos[b] - p_child_frame)  # child frame back to the origin
        terms[b] = t
    return rot, terms


def _set_pose(model, state, names: list[str], q: np.ndarray) -> None:
    cs = model.getCoordinateSet()
    for n, v in zip(names, q, strict=True):
        cs.get(n).setValue(state, float(v), False)
    model.realizePosition(state)


def build_model(generic_path: Path, factors: dict[str, float],
                markers: dict[str, tuple[str, np.ndarray]], mass_kg: float | None):
    """The generic model scaled uniformly per body (OpenSim's Model::scale, mass distribution
    kept) with its markers at `markers` (body, location in the scaled body)."""
    osim = _osim()
    model = osim.Model(str(generic_path))
    state = model.initSystem()
    ss = osim.ScaleSet()
    for b, f in factors.items():
        sc = osim.Scale()
        sc.setSegmentName(b)
        sc.setScaleFactors(osim.Vec3(f, f, f))
        sc.setApply(True)
        ss.cloneAndAppend(sc)
    model.scale(state, ss, True, float(mass_kg) if mass_kg else -1.0)
    ms = model.getMarkerSet()
    for name, (body, loc) in markers.items():
        m = ms.get(name)
        m.setParentFrameName(f"/bodyset/{body}")
        m.set_location(osim.Vec3(*[float(x) for x in loc]))
    model.finalizeConnections()
    return model


# -- poses ---------------------------------------------------------------------------------
def _root_heading_guess(model, state, tree: _Tree, names: list[str], data: np.ndarray) -> None:
    """Turn the model about the vertical and shift it onto the markers of one frame (2D
    Procrustes on the horizontal plane), through the root joint's coordinates."""
    osim = _osim()
    js = model.getJointSet()
    joint = osim.CustomJoint.safeDownCast(js.get(tree.joint[tree.root]))
    ms = model.getMarkerSet()
    ok = np.isfinite(data).all(axis=1)
    if joint is None or ok.sum() < 3:
        return
    st = joint.getSpatialTransform()
    yaw = None
    trans = {}
    for k in range(6):
        ax = st.getTransformAxis(k)
        names_k = ax.getCoordinateNamesInArray()
        if names_k.getSize() != 1:
            continue
        axis = np.round(ax.getAxis().to_numpy(), 6)
        if k < 3 and np.allclose(axis, [0, 1, 0]):
            yaw = names_k.get(0)
        if k >= 3:
            trans[int(np.argmax(np.abs(axis)))] = names_k.get(0)
    model.realizePosition(state)
    model_pts = np.array([ms.get(n).getLocationInGround(state).to_numpy() for n in names])[ok]
    pts = data[ok]
    cs = model.getCoordinateSet()
    if yaw is not None:
        a = model_pts[:, [0, 2]] - model_pts[:, [0, 2]].mean(axis=0)
        b = pts[:, [0, 2]] - pts[:, [0, 2]].mean(axis=0)
        # rotation about +y: x' = c x + s z, z' = -s x + c z
        num = np.sum(a[:, 1] * b[:, 0] - a[:, 0] * b[:, 1])
        den = np.sum(a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1])
        cs.get(yaw).setValue(state, float(np.arctan2(num, den)), False)
        model.realizePosition(state)
        model_pts = np.array([ms.get(n).getLocationInGround(state).to_numpy()
                              for n in names])[ok]
    shift = pts.mean(axis=0) - model_pts.mean(axis=0)
    for axis_index, cname in trans.items():
        c = cs.get(cname)
        c.setValue(state, c.getValue(state) + float(shift[axis_index]), False)
    model.realizePosition(state)


def solve_poses(model, names: list[str], times: np.ndarray, data: np.ndarray,
                weights: dict[str, float], tree: _Tree, accuracy: float = 1e-5,
                standing_prior: float = 0.0):
    """IK (OpenSim's solver) of every frame: coordinate values (F, C) and marker errors
    (F, M) (NaN where the marker is missing). standing_prior > 0: every free coordinate
    except the root's is also pulled towards its default value (the model's standing pose)
    with this weight (per rad^2 or m^2; a marker's weight is per m^2)."""
    osim = _osim()
    state = model.initSystem()
    crefs = osim.SimTKArrayCoordinateReference()
    if standing_prior > 0:
        root_joint = model.getJointSet().get(tree.joint[tree.root])
        root_coords = {root_joint.get_coordinates(i).getName()
                       for i in range(root_joint.numCoordinates())}
        # Legs and trunk only: arms in a static trial are held anywhere (T-pose, abducted,
        # at the sides), and a prior there shrinks the arms to reach the elbows.
        legs_trunk = set()
        js = model.getJointSet()
        for i in range(js.getSize()):
            j = js.get(i)
            stem = body_group(j.getChildFrame().findBaseFrame().getName()).split("_")[0]
            if stem in ("femur", "tibia", "foot", "torso"):
                legs_trunk |= {j.get_coordinates(k).getName() for k in range(j.numCoordinates())}
        cs0 = model.getCoordinateSet()
        for i in range(cs0.getSize()):
            c = cs0.get(i)
            if (c.getName() in root_coords or c.getName() not in legs_trunk
                    or c.getLocked(state) or c.isConstrained(state)):
                continue
            ref = osim.CoordinateReference(c.getName(), osim.Constant(c.getDefaultValue()))
            ref.setWeight(standing_prior)
            crefs.push_back(ref)
    table = osim.TimeSeriesTableVec3()
    table.setColumnLabels(names)
    for k, t in enumerate(times):
        row = osim.RowVectorVec3(len(names))
        for i in range(len(names)):
            row[i] = osim.Vec3(*[float(x) for x in data[k, i]])
        table.appendRow(float(t), row)
    w = osim.SetMarkerWeights()
    for n in names:
        w.cloneAndAppend(osim.MarkerWeight(n, float(weights.get(n, 1.0))))
    mref = osim.MarkersReference(table, w)
    solver = osim.InverseKinematicsSolver(model, mref, crefs, float("inf"))
    solver.setAccuracy(accuracy)
    cs = model.getCoordinateSet()
    coords = [cs.get(i).getName() for i in range(cs.getSize())]
    ms = model.getMarkerSet()
    q = np.zeros((len(times), len(coords)))
    err = np.full((len(times), len(names)), np.nan)
    _root_heading_guess(model, state, tree, names, data[0])
    assembled = False
    for k, t in enumerate(times):
        state.setTime(float(t))
        try:
            if assembled:
                try:
                    solver.track(state)
                except RuntimeError:  # OpenSim's "track() attempt failed": a full solve
                    solver.assemble(state)
            else:
                solver.assemble(state)
            assembled = True
        except RuntimeError:  # this frame cannot be assembled: left out of the fit (NaN)
            q[k] = np.nan
            continue
        model.realizePosition(state)
        q[k] = [cs.get(i).getValue(state) for i in range(len(coords))]
        for i, n in enumerate(names):
            if np.isfinite(data[k, i]).all():
                err[k, i] = np.linalg.norm(ms.get(n).getLocationInGround(state).to_numpy()
                                           - data[k, i])
    return coords, q, err


def initial_factors(model, state, tree: _Tree, names: list[str], data: np.ndarray,
                    generic_markers: dict, default: float,
                    tracking: set[str]) -> dict[str, float]:
    """A first guess of each group's factor that needs no pose: the median ratio (trial /
    model) of the distances of up to 3 of the longest pairs of anatomical markers that span the
    body (both on it, or one on a body jointed to its distal end); clipped to the trusted
    range, left and right averaged; groups without a pair take the median of the others."""
    model.realizePosition(state)
    ms = model.getMarkerSet()
    where = {n: ms.get(n).getLocationInGround(state).to_numpy() for n in names}
    with np.errstate(invalid="ignore"):
        seen = {n: data[:, i] for i, n in enumerate(names)}
    children: dict[str, list[str]] = {}
    for b in tree.bodies:
        children.setdefault(tree.parent.get(b, ""), []).append(b)
    anat = [n for n in names if n not in tracking]
    on: dict[str, list[str]] = {}
    for n in anat:
        on.setdefault(generic_markers[n][0], []).append(n)
    ratios: dict[str, list[float]] = {}
    for b in tree.bodies:
        own = on.get(b, [])
        distal = [n for c in children.get(b, []) for n in on.get(c, [])]
        pairs = [(a, c) for i, a in enumerate(own) for c in own[i + 1:]] + \
            [(a, c) for a in own for c in distal]
        scored = []
        for a, c in pairs:
            dm = float(np.linalg.norm(where[a] - where[c]))
            with np.errstate(invalid="ignore"):
                dd = float(np.nanmedian(np.linalg.norm(seen[a] - seen[c], axis=1)))
            if dm >= 0.05 and np.isfinite(dd):
                scored.append((dm, dd / dm))
        scored.sort(reverse=True)
        if scored:
            ratios.setdefault(body_group(b), []).extend(r for _, r in scored[:3])
    out = {g: float(np.clip(np.median(r), *TRUSTED_FACTORS)) for g, r in ratios.items()}
    for g in list(out):
        if g.endswith("_r") and g[:-2] + "_l" in out:
            out[g] = out[g[:-2] + "_l"] = 0.5 * (out[g] + out[g[:-2] + "_l"])
    fill = float(np.median(list(out.values()))) if out else default
    return {g: out.get(g, fill) for g in tree.groups}


def _marker_rms(err: np.ndarray) -> np.ndarray:
    """Per marker, the RMS of its finite errors over the frames (NaN when it has none)."""
    ok = np.isfinite(err)
    n = ok.sum(axis=0)
    total = np.where(ok, err, 0.0) ** 2
    return np.where(n > 0, np.sqrt(total.sum(axis=0) / np.maximum(n, 1)), np.nan)


def robust_poses(model, names, times, data, weights, tree, rounds: int = 4,
                 standing_prior: float = 0.0):
    """Poses that markers far off their generic place cannot drag: IK, then markers whose
    error is far above the others' are weighted down (w / (1 + (e / 3 median)^2)) and IK
    rerun, a few rounds. The errors returned are those of every marker in the last round."""
    w = dict(weights)
    coords, q, err = solve_poses(model, names, times, data, w, tree,
                                 standing_prior=standing_prior)
    for _ in range(rounds):
        per = np.nan_to_num(_marker_rms(err), nan=0.0)
        ref = max(3.0 * float(np.median(per)), 0.01)
        if np.nanmax(per) < ref:
            break
        w = {n: float(weights.get(n, 1.0)) / (1.0 + (per[i] / ref) ** 2)
             for i, n in enumerate(names)}
        coords, q, err = solve_poses(model, names, times, data, w, tree,
                                     standing_prior=standing_prior)
    return coords, q, err


# -- the linear step -----------------------------------------------------------------------
def _linear_step(generic, tree: _Tree, coords: list[str], poses: np.ndarray,
                 names: list[str], data: np.ndarray, generic_markers: dict, weights: dict,
                 height_factor: float | None, tracking: set[str]):
    """Scales, offsets and root positions for fixed poses (module docstring)."""
    from scipy.optimize import lsq_linear

    state = generic.initSystem()
    groups = tree.groups
    gi = {g: i for i, g in enumerate(groups)}
    G, M, F = len(groups), len(names), len(poses)
    n_par = G + 1 + 3 * M + 3 * F  # group factors, whole-body factor, offsets, roots
    rows, rhs = [], []
    for f in range(F):
        _set_pose(generic, state, coords, poses[f])
        rot, terms = _body_vectors(generic, state, tree)
        for m, n in enumerate(names):
            x = data[f, m]
            if not np.isfinite(x).all():
                continue
            body, loc = generic_markers[n]
            R = rot[body]
            A = np.zeros((3, n_par))
            for g, v in terms[body].items():
                A[:, gi[g]] += v
            A[:, gi[body_group(body)]] += R @ loc
            A[:, G + 1 + 3 * m: G + 4 + 3 * m] = R
            A[:, G + 1 + 3 * M + 3 * f: G + 4 + 3 * M + 3 * f] = np.eye(3)
            w = np.sqrt(float(weights.get(n, 1.0))) / SIGMA_MARKER_M
            rows.append(w * A)
            rhs.append(w * x)
    # priors
    for m, n in enumerate(names):
        sigma = SIGMA_TRACKING_M if n in tracking else SIGMA_ANATOMICAL_M
        A = np.zeros((3, n_par))
        A[:, G + 1 + 3 * m: G + 4 + 3 * m] = np.eye(3) / sigma
        rows.append(A)
        rhs.append(np.zeros(3))
    for g in groups:
        A = np.zeros((1, n_par))
        A[0, gi[g]], A[0, G] = 1 / SIGMA_BODY, -1 / SIGMA_BODY
        rows.append(A)
        rhs.append(np.zeros(1))
        if g.endswith("_r") and g[:-2] + "_l" in gi:
            A = np.zeros((1, n_par))
            A[0, gi[g]], A[0, gi[g[:-2] + "_l"]] = 1 / SIGMA_SYMMETRY, -1 / SIGMA_SYMMETRY
            rows.append(A)
            rhs.append(np.zeros(1))
    if height_factor is not None:
        A = np.zeros((1, n_par))
        A[0, G] = 1 / SIGMA_HEIGHT
        rows.append(A)
        rhs.append(np.array([height_factor / SIGMA_HEIGHT]))
    A = np.vstack(rows)
    b = np.concatenate(rhs)
    lb = np.full(n_par, -np.inf)
    ub = np.full(n_par, np.inf)
    lb[: G + 1], ub[: G + 1] = FACTOR_BOUNDS
    sol = lsq_linear(A, b, bounds=(lb, ub), method="bvls", lsmr_tol="auto")
    x = sol.x
    factors = {g: float(x[gi[g]]) for g in groups}
    offsets = {n: x[G + 1 + 3 * m: G + 4 + 3 * m].copy() for m, n in enumerate(names)}
    return factors, float(x[G]), offsets


# -- the fit -------------------------------------------------------------------------------
def pick_frames(time_s: np.ndarray, data: np.ndarray, count: int) -> np.ndarray:
    """Indices of up to `count` frames evenly over the frames where at least 80 % of the
    markers are seen (all frames if none is that complete)."""
    seen = np.isfinite(data).all(axis=2).mean(axis=1)
    good = np.flatnonzero(seen >= 0.8 * seen.max())
    if len(good) <= count:
        return good
    return good[np.round(np.linspace(0, len(good) - 1, count)).astype(int)]


def model_leg_length(model, state) -> float:
    """Hip-to-ankle joint-centre distance of the model in its default pose (right side)."""
    bs = model.getBodySet()
    names = [bs.get(i).getName() for i in range(bs.getSize())]
    if "femur_r" in names and "talus_r" in names:
        hip = bs.get("femur_r").getPositionInGround(state).to_numpy()
        ankle = bs.get("talus_r").getPositionInGround(state).to_numpy()
        return float(np.linalg.norm(hip - ankle))
    return float("nan")


def fit_scale(generic_path: Path, names: list[str], time_s: np.ndarray, data: np.ndarray,
              weights: dict[str, float] | None = None, height_m: float | None = None,
              mass_kg: float | None = None, frames: int = STATIC_FRAMES,
              max_iterations: int = MAX_ITERATIONS, standing: bool = True,
              tracking: set[str] | None = None,
              motion: tuple[list[str], np.ndarray, np.ndarray] | None = None) -> FitResult:
    """Scale the generic model and register its markers on the trial (module docstring).
    `names`/`data` (T, M, 3): the trial's markers in OpenSim's ground frame, metres, NaN for
    gaps; only markers the model has are used."""
    osim = _osim()
    generic = osim.Model(str(generic_path))
    gstate = generic.initSystem()
    tree = _Tree(generic)
    ms = generic.getMarkerSet()
    generic_markers = {}
    for i in range(ms.getSize()):
        mk = ms.get(i)
        generic_markers[mk.getName()] = (mk.getParentFrame().findBaseFrame().getName(),
                                         mk.get_location().to_numpy().copy())
    weights = dict(weights or {})
    use = [j for j, n in enumerate(names) if n in generic_markers
           and generic_markers[n][0] in tree.bodies and weights.get(n, 1.0) > 0
           and np.isfinite(data[:, j]).all(axis=1).mean() > 0.5]
    names = [names[j] for j in use]
    data = data[:, use]
    moving = None
    if motion is not None:  # the motion trial's frames join the fit (no standing prior there)
        m_names, m_time, m_data = motion
        cols = [m_names.index(n) if n in m_names else -1 for n in names]
        moving = np.full((len(m_time), len(names), 3), np.nan)
        for i, c in enumerate(cols):
            if c >= 0:
                moving[:, i] = m_data[:, c]
        keep = pick_frames(np.asarray(m_time), moving, MOTION_WITH_STATIC_FRAMES)
        m_time, moving = np.asarray(m_time)[keep], moving[keep]
    tracking = set(tracking) if tracking is not None else {n for n in names
                                                           if is_tracking_marker(n)}
    if len(names) < 4:
        raise InputError(f"automatic scaling needs at least 4 markers the model carries and "
                         f"the trial sees; shared: {names}")
    idx = pick_frames(time_s, data, frames)
    times, data = np.asarray(time_s)[idx], data[idx]
    height_factor = None
    if height_m:
        leg = model_leg_length(generic, gstate)
        if np.isfinite(leg):
            height_factor = float(height_m) * LEG_FRACTION_OF_STATURE / leg
    factors = initial_factors(generic, gstate, tree, names, data, generic_markers,
                              height_factor or 1.0, tracking)
    offsets = {n: np.zeros(3) for n in names}
    whole = height_factor or 1.0
    history: list[dict] = []
    best = None
    for it in range(max_iterations):
        body_f = {b: factors[body_group(b)] for b in tree.bodies}
        placed = {n: (generic_markers[n][0],
                      body_f[generic_markers[n][0]] * generic_markers[n][1] + offsets[n])
                  for n in names}
        model = build_model(generic_path, body_f, placed, mass_kg)
        # Robust rounds only while markers may still be far from their places.
        coords, q, err = robust_poses(model, names, times, data, weights, tree,
                                      rounds=4 if it < 2 else 0,
                                      standing_prior=STANDING_PRIOR if standing and it < 1
                                      else 0.0)
        if moving is not None:
            _, q2, err2 = robust_poses(model, names, m_time, moving, weights, tree,
                                       rounds=4 if it < 2 else 0)
            q, err = np.vstack([q, q2]), np.vstack([err, err2])
        solved = np.isfinite(q).all(axis=1)  # frames IK could not assemble are left out
        if not solved.any():
            raise InputError("automatic scaling: OpenSim's IK could not assemble the model on "
                             "any frame of the trial; check the marker names and units")
        rms = float(np.sqrt(np.mean(err[np.isfinite(err)] ** 2)))
        history.append({"iteration": it, "rms_m": round(rms, 5),
                        "factors": {g: round(v, 4) for g, v in factors.items()}})
        if best is None or rms < best[0] - 1e-6:
            best = (rms, dict(factors), dict(offsets), q, err, coords, whole)
        elif rms > best[0] - 5e-5:
            break
        if it > 0 and history[-2]["rms_m"] - rms < 5e-5:
            break
        all_data = data if moving is None else np.concatenate([data, moving])
        new_f, whole, new_o = _linear_step(generic, tree, coords, q[solved], names,
                                           all_data[solved], generic_markers, weights,
                                           height_factor, tracking)
        # Over-relaxed: alternating pose and shape steps creep along the valley where a
        # marker offset trades against a factor; stepping 1.5x as far converges in fewer
        # rounds (a step that does not lower the error is never kept: `best`).
        omega = RELAXATION if it > 0 else 1.0
        factors = {g: float(np.clip(factors[g] + omega * (new_f[g] - factors[g]),
                                    *FACTOR_BOUNDS)) for g in new_f}
        offsets = {n: offsets[n] + omega * (new_o[n] - offsets[n]) for n in new_o}
    rms, factors, offsets, q, err, coords, whole = best
    if moving is not None:  # the static error is the static frames'
        q, err = q[: len(times)], err[: len(times)]
    body_f = {b: factors[body_group(b)] for b in tree.bodies}
    # every marker of the model; those the trial lacks are scaled with their body
    placed = {n: (b, body_f[b] * loc + offsets.get(n, 0.0))
              for n, (b, loc) in generic_markers.items() if b in body_f}
    per_marker = _marker_rms(err)
    return FitResult(
        group_factors=factors, body_factors=body_f, marker_locations=placed,
        offsets_m={n: round(float(np.linalg.norm(offsets[n])), 5) for n in names},
        static_error_m={n: round(float(e), 5) for n, e in zip(names, per_marker, strict=True)
                        if np.isfinite(e)},
        frame_times=[float(t) for t in times], coordinates=coords, poses=q,
        iterations=history, whole_body_factor=float(whole))


# -- trust ---------------------------------------------------------------------------------
def worst_markers(errors: dict[str, float], n: int = 5) -> str:
    worst = sorted(errors.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{k} {1000 * v:.0f} mm" for k, v in worst)


def check_scaling(factors: dict[str, list[float]], static_error_m: dict[str, float],
                  static_trc: str, max_static_rms_m: float = MAX_STATIC_RMS_M,
                  check_factors: bool = True) -> None:
    """Stop (InputError) on a scaling a lab should not trust (module docstring). A lab's own
    scale setup is held to the static bound only (its measurements may scale an axis of a
    body far: Rajagopal2016's feet 1.66 along their length)."""
    bad = {b: f for b, f in factors.items() if check_factors
           and any(not TRUSTED_FACTORS[0] <= v <= TRUSTED_FACTORS[1] for v in f)}
    e = np.array(list(static_error_m.values()))
    rms = float(np.sqrt(np.mean(e ** 2))) if len(e) else float("nan")
    fix = ("check the marker labels of the static trial, use the preset of the lab's marker "
           "set (--marker-set NAME) or a MarkerSet XML that places each marker on its body, "
           "or give the lab's scale setup (--scale-setup)")
    if bad:
        shown = ", ".join(f"{b} {max(f, key=lambda v: abs(v - 1)):.2f}" for b, f in bad.items())
        raise InputError(
            f"scaling to {static_trc} stopped: scale factors outside "
            f"{TRUSTED_FACTORS[0]}-{TRUSTED_FACTORS[1]} ({shown}); static error RMS "
            f"{1000 * rms:.1f} mm, worst markers: {worst_markers(static_error_m)}; {fix}")
    if not rms <= max_static_rms_m:
        raise InputError(
            f"scaling to {static_trc} stopped: static marker error RMS {1000 * rms:.1f} mm is "
            f"above the {1000 * max_static_rms_m:.0f} mm bound; worst markers: "
            f"{worst_markers(static_error_m)}; {fix}")


# -- files ---------------------------------------------------------------------------------
def write_outputs(fit: FitResult, generic_path: Path, mass_kg: float | None, out_dir: Path,
                  source: str) -> dict[str, Path]:
    """scaled.osim, scale_set_applied.xml, markerset_placed.xml, static_pose.mot and
    autoscale.json (the fit's report) in `out_dir`."""
    osim = _osim()
    from musclekit.pipelines.simulate.opensim.files import Motion, write_mot

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = build_model(generic_path, fit.body_factors, fit.marker_locations, mass_kg)
    standing_default_pose(model, generic_path)
    scaled = out_dir / "scaled.osim"
    model.printToXML(str(scaled))
    ss = osim.ScaleSet()
    for b, f in fit.body_factors.items():
        sc = osim.Scale()
        sc.setSegmentName(b)
        sc.setScaleFactors(osim.Vec3(f, f, f))
        sc.setApply(True)
        ss.cloneAndAppend(sc)
    ss.printToXML(str(out_dir / "scale_set_applied.xml"))
    model.getMarkerSet().printToXML(str(out_dir / "markerset_placed.xml"))
    # OpenSim's ScaleTool reproduces the body scaling from this setup (manual scale set); the
    # registered markers are in markerset_placed.xml.
    tool = osim.ScaleTool()
    tool.setName("autoscale")
    if mass_kg:
        tool.setSubjectMass(float(mass_kg))
    tool.getGenericModelMaker().setModelFileName(str(Path(generic_path).resolve()))
    scaler = tool.getModelScaler()
    scaler.setApply(True)
    order = osim.ArrayStr()
    order.append("manualScale")
    scaler.setScalingOrder(order)
    scaler.setScaleSetFile(str((out_dir / "scale_set_applied.xml").resolve()))
    scaler.setPreserveMassDist(True)
    scaler.setOutputModelFileName(str(scaled.resolve()))
    tool.getMarkerPlacer().setApply(False)
    tool.printToXML(str(out_dir / "scale_setup.xml"))
    write_mot(out_dir / "static_pose.mot",
              Motion(np.asarray(fit.frame_times), list(fit.coordinates), fit.poses))
    report = {"method": "automatic (autoscale.py)", "source": source,
              "whole_body_factor": round(fit.whole_body_factor, 4),
              "factors": {g: round(v, 4) for g, v in fit.group_factors.items()},
              "static_rms_m": round(fit.static_rms_m, 5),
              "static_error_m": fit.static_error_m, "offsets_m": fit.offsets_m,
              "frame_times_s": fit.frame_times, "iterations": fit.iterations}
    (out_dir / "autoscale.json").write_text(json.dumps(report, indent=1))
    return {"scaled_model": scaled, "scale_set": out_dir / "scale_set_applied.xml",
            "static_pose": out_dir / "static_pose.mot", "report": out_dir / "autoscale.json"}


def standing_default_pose(model, generic_path: Path) -> list[str]:
    """Give the scaled `model` the generic model's default (standing) pose, whatever frame
    the fit was made on; returns the coordinates that differed.

    The default pose is what later stages read as the subject's neutral stance (the inverse
    method's sole heights; a `--static auto` fit's first frame is a walking one: a knee at
    65 deg, one heel 17 cm above the other). OpenSim's own MarkerPlacer (a lab's scale
    setup) keeps the generic defaults too. Nothing else depends on it: the registered
    markers are places on their bodies, and IK's first frame is assembled from the default
    pose as for any unscaled model."""
    osim = _osim()
    generic_model = osim.Model(str(generic_path))  # held: its sets die with it
    generic = generic_model.getCoordinateSet()
    cs = model.getCoordinateSet()
    changed = []
    for i in range(generic.getSize()):
        name = generic.get(i).getName()
        if not cs.contains(name):
            continue
        value = generic.get(i).getDefaultValue()
        if cs.get(name).getDefaultValue() != value:
            changed.append(name)
        cs.get(name).setDefaultValue(value)
    return changed


# -- the sequence's step -------------------------------------------------------------------
def scale_automatic(generic_with_markers: Path, static, static_label: str, out_dir: Path,
                    mass_kg: float, height_m: float | None, weights: dict[str, float] | None,
                    motion: bool = False, tracking: set[str] | None = None,
                    max_static_rms_m: float = MAX_STATIC_RMS_M, motion_trial=None) -> dict:
    """Fit, check (stops on an untrusted scaling), write; returns what lab.ScaleOutcome
    holds. `static`: the trial's MarkerData (a static trial, or with motion=True the motion
    trial itself: `--static auto`)."""
    def fit(with_motion: bool) -> FitResult:
        return fit_scale(generic_with_markers, list(static.names), np.asarray(static.time_s),
                         np.asarray(static.positions, dtype=float), weights=weights,
                         height_m=height_m, mass_kg=mass_kg,
                         frames=MOTION_FRAMES if motion else STATIC_FRAMES,
                         standing=not motion, tracking=tracking,
                         motion=(list(motion_trial.names), np.asarray(motion_trial.time_s),
                                 np.asarray(motion_trial.positions, dtype=float))
                         if with_motion else None)

    with_motion = not motion and motion_trial is not None
    result = fit(with_motion)
    factors = {b: [round(f, 4)] * 3 for b, f in result.body_factors.items()}
    try:
        check_scaling(factors, result.static_error_m, static_label, max_static_rms_m)
    except InputError:
        if not with_motion:
            write_outputs(result, generic_with_markers, mass_kg, out_dir, static_label)
            raise
        # The motion's frames could not be followed (a generic marker set far from the
        # lab's): the static trial alone, which its bounds then judge.
        result = fit(False)
        factors = {b: [round(f, 4)] * 3 for b, f in result.body_factors.items()}
        result.iterations.append({"note": "the fit with the motion's frames failed the "
                                  "bounds; this is the static trial's alone"})
        write_outputs(result, generic_with_markers, mass_kg, out_dir, static_label)
        check_scaling(factors, result.static_error_m, static_label, max_static_rms_m)
    fit_ = result
    files = write_outputs(fit_, generic_with_markers, mass_kg, out_dir, static_label)
    return {"model_path": files["scaled_model"], "scale_factors": factors,
            "static_error_m": fit_.static_error_m,
            "measurements": [{"method": "autoscale", "frames": len(fit_.frame_times),
                              "whole_body_factor": round(fit_.whole_body_factor, 4),
                              "iterations": len(fit_.iterations),
                              "largest_offsets_m": dict(sorted(
                                  fit_.offsets_m.items(), key=lambda kv: -kv[1])[:5])}]}
