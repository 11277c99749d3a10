"""Which foot is on the ground, and how the load passes from one foot to the other: pure
numpy on the feet's contact-point trajectories (methods/inverse/grf.py evaluates them with OpenSim).

Rules (docs/dynamics.md, "Ground forces without force plates"):

- **Floor, per sequence.** Each contact point (a contact sphere's lowest point, or a foot
  body's origin when the model has no spheres) is brought down to the sole by its height in
  the model's standing pose (a heel origin 5 cm above the sole counts 5 cm lower). In every
  frame the lowest such point is on the ground unless the body is in flight, so a low
  percentile of the per-frame lowest point is the floor: no floor model, and a floor that
  is not at y = 0 (IK of markers from another lab's frame) is found too.
- **Contact, per foot, with hysteresis.** A point touches down when it is within
  `height_on_m` of the floor and moves slower than `speed_on_m_s` relative to the ground
  (the ground's own velocity is estimated: zero overground, the belt's on a treadmill); its foot is in contact
  while any of its points is, and leaves only when every point is higher than
  `height_off_m` or faster than `speed_off_m_s`. The two thresholds keep a foot that rolls
  over the floor from flickering in and out of contact.
- **Flight.** No foot in contact: no ground force (running, jumps).
- **The split in double support** follows the smooth-transition assumption (Ren, Jones and
  Howard 2008, J Biomech 41:2750): from the leading foot's heel strike to the trailing foot's
  toe-off, the trailing foot's share of the load falls smoothly from 1 to 0
  (`transition_share`). A double support whose start or end lies outside the sequence (or a
  stance on both feet throughout, as in a squat) has no transition to follow: there the
  share comes from where the total centre of pressure lies between the feet.
- **Centres of pressure** travel from heel to toe through each foot's stance (a prior), then
  move as little as possible (least squares) so that the two feet's forces reproduce the
  total moment exactly; methods/inverse/grf.py clamps them under the feet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musclekit.errors import InputError

COP_PATHS = ("rolling", "moment")
HANDOVERS = ("combined", "statics", "ramp")
FORCE_AIMS = ("com", "leading share", "pivot")


@dataclass
class ContactRule:
    """Thresholds of contact detection (heights above each point's own ground level, m;
    speeds of the point, m/s) and the floor percentile."""

    height_on_m: float = 0.03
    height_off_m: float = 0.05
    speed_on_m_s: float = 0.6
    speed_off_m_s: float = 1.2
    floor_percentile: float = 5.0
    # Where each foot's centre of pressure lies in single support (grf.py): "rolling", a
    # heel-to-toe line per stance fitted to the whole-body centre of pressure; "moment",
    # the whole-body centre of pressure frame by frame (the rule before 2026-12-07).
    cop_path: str = "rolling"
    # A hand-over's share (grf.py): "combined", statics weighted against the linear ramp by
    # how well the kinematics' moment agrees with it over the sequence
    # (grf._handover_weight); "statics" alone (the rule before 2026-12-07's evening);
    # "ramp", the linear ramp alone.
    handover: str = "combined"
    # Each point counted from its own level while its foot stands (contact_levels); False:
    # from its standing-pose level alone (the rule before 2026-12-07's evening).
    own_levels: bool = True
    # How each foot's horizontal force is aimed in a hand-over (grf.py). "leading share"
    # (the rule since ESTIMATE_RULE_VERSION 10): each foot's force from its COP at the
    # centre of mass, the leading foot's tilt scaled by its share of the load, so it is
    # upright at its heel strike. The plates of every corpus walk with plates (Rajagopal,
    # UW, Plug-in-Gait, Workstation PiG, Vicon, Helen Hayes) put the leading foot's force at
    # 0.06-0.60 of the COM aim's tilt in the first third of the loading response and
    # 0.72-0.85 in its last third (validate_rajagopal_grf_variants --force-aim, plate_aim;
    # docs/validation.md, section 3). It is not better on every trial: Plug-in-Gait's left
    # hip +0.041, Vicon's left hip +0.019, Helen Hayes' hips +0.016/+0.015 N m/kg and
    # fore-aft +0.13 % BW, UW's fore-aft +0.35/+0.40 % BW. "com" (the rule up to version
    # 9): both feet aimed at the centre of mass. "pivot": both at the point above the
    # centre of mass where the sequence's single-support force lines cross its vertical
    # (grf.pivot_height_m, the virtual pivot point); measured, not kept.
    force_aim: str = "leading share"

    def __post_init__(self) -> None:
        if self.cop_path not in COP_PATHS:
            raise InputError(f"centre-of-pressure path {self.cop_path!r}: choose one of "
                             f"{', '.join(COP_PATHS)}")
        if self.handover not in HANDOVERS:
            raise InputError(f"hand-over share {self.handover!r}: choose one of "
                             f"{', '.join(HANDOVERS)}")
        if self.force_aim not in FORCE_AIMS:
            raise InputError(f"hand-over force aim {self.force_aim!r}: choose one of "
                             f"{', '.join(FORCE_AIMS)}")


def point_velocities(time_s: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(T, P, 3) velocities of points whose positions are (T, P, 3), by central differences."""
    return np.gradient(positions, time_s, axis=0)


def ground_velocity(velocities: list[np.ndarray], above: list[np.ndarray],
                    rule: ContactRule) -> np.ndarray:
    """(3,) the horizontal velocity of the ground under the feet: 0 overground, the belt's
    velocity on a treadmill (where a planted foot travels backwards at belt speed). The
    median horizontal velocity of the points while they are near the floor: most such frames
    are stances, whose points move with the ground."""
    v = np.concatenate([vi.reshape(-1, 3) for vi in velocities])
    near = np.concatenate([a.reshape(-1) for a in above]) < rule.height_on_m
    if near.sum() < 3:
        return np.zeros(3)
    med = np.median(v[near], axis=0)
    return np.array([med[0], 0.0, med[2]])


def floor_height(soles: list[np.ndarray], percentile: float) -> float:
    """The floor: a low percentile of the per-frame lowest sole height over every foot's
    points (each (T, P), heights already brought down to the sole)."""
    lowest = np.min(np.concatenate(soles, axis=1), axis=1)
    return float(np.percentile(lowest, percentile))


def contact_levels(above: np.ndarray, speeds: np.ndarray, rule: ContactRule,
                   min_frames: int = 10) -> np.ndarray:
    """(P,) each point's own height above the floor while its foot stands: the median of
    its height (T, P) over the frames it moves slower than `speed_on_m_s` while some point
    of its foot is within `height_off_m` of the floor by the standing pose (a foot held still
    in the air is not standing), never below 0 (a point is not lowered below its
    standing-pose level); 0 with fewer than `min_frames` such frames.

    The standing pose says how high each point stands above the sole, but the kinematics
    need not stand that way: on the Vicon walk's automatically scaled model each foot's toe
    point stood 5-7 cm above the floor through every stance (the foot pitched toes-up against
    the model's standing pose), so the foot counted as lifted as soon as the heel rose, 100-200
    ms before toe-off, and the load went to the swinging foot. A point's slow frames are its
    stances (swing is fast), so their median height is where it stands."""
    levels = np.zeros(above.shape[1])
    down = (above < rule.height_off_m).any(axis=1)
    for i in range(above.shape[1]):
        slow = down & (speeds[:, i] < rule.speed_on_m_s)
        if slow.sum() >= min_frames:
            levels[i] = max(float(np.median(above[slow, i])), 0.0)
    return levels


def detect_contact(above: np.ndarray, speeds: np.ndarray, rule: ContactRule) -> np.ndarray:
    """(T,) True where the foot whose points are `above` the floor (m, sole heights) with
    `speeds` (T, P) is in contact, with hysteresis (module docstring)."""
    touch = ((above < rule.height_on_m) & (speeds < rule.speed_on_m_s)).any(axis=1)
    hold = ((above < rule.height_off_m) & (speeds < rule.speed_off_m_s)).any(axis=1)
    out = np.zeros(len(above), dtype=bool)
    state = bool(touch[0])
    for k in range(len(above)):
        state = bool(hold[k]) if state else bool(touch[k])
        out[k] = state
    return out


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    out, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        elif not m and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


def transition_share(x: np.ndarray) -> np.ndarray:
    """The trailing foot's share of the load at fraction x (0..1) of a double support:
    1 at the leading foot's heel strike, 0 at the trailing foot's toe-off, with zero slope
    at both ends (a smooth hand-over; the shape is compared with force plates in
    docs/validation.md)."""
    x = np.clip(x, 0.0, 1.0)
    return 1.0 - x * x * (3.0 - 2.0 * x)


@dataclass
class Phases:
    """contact (T, 2) right/left; share (T, 2) of the load per foot (rows sum to 1 in single
    support and hand-overs, 0 in flight, NaN in a double support without a hand-over, where
    the centre of pressure decides); transition (T,) True where the share follows a heel strike ->
    toe-off hand-over (False: single support, flight or the COP fallback); progress (T, 2)
    fraction of each foot's current stance (0 at touch-down, 1 at lift-off, NaN off the
    ground or for a stance cut by the sequence's ends); ramp (T, 2) each foot's share of the
    load if it changed linearly through the hand-over (the leading foot's rising from 0 at
    its heel strike to 1 at the trailing foot's toe-off; NaN outside hand-overs), the prior
    grf.py combines with statics; leading (T,) the leading foot's index (0 right, 1 left) in
    hand-overs, -1 elsewhere."""

    contact: np.ndarray
    share: np.ndarray
    transition: np.ndarray
    progress: np.ndarray
    ramp: np.ndarray | None = None
    leading: np.ndarray | None = None


def phases(time_s: np.ndarray, contact: np.ndarray) -> Phases:
    """Shares of the load and stance progress from the two feet's contact (T, 2)."""
    T = len(time_s)
    share = np.zeros((T, 2))
    transition = np.zeros(T, dtype=bool)
    progress = np.full((T, 2), np.nan)
    ramp = np.full((T, 2), np.nan)
    leading = np.full(T, -1)
    stances = [runs(contact[:, j]) for j in range(2)]
    for j in range(2):
        for a, b in stances[j]:
            if a > 0 and b < T - 1 and b > a:  # a whole stance: touch-down and lift-off seen
                progress[a:b + 1, j] = (time_s[a:b + 1] - time_s[a]) / (time_s[b] - time_s[a])
    single = contact[:, 0] ^ contact[:, 1]
    share[single] = contact[single].astype(float)
    for a, b in runs(contact[:, 0] & contact[:, 1]):
        # The trailing foot is the one whose stance began first; the hand-over runs from the
        # leading foot's touch-down (a) to the trailing foot's lift-off (b).
        starts = [max(s for s, e in stances[j] if s <= a) for j in range(2)]
        if starts[0] == starts[1] or a == 0 or b == T - 1:
            share[a:b + 1] = np.nan  # no hand-over to follow: the COP decides (grf.py)
            continue
        trailing = 0 if starts[0] < starts[1] else 1
        t0, t1 = time_s[a - 1], time_s[b + 1]  # the last single-support frames either side
        x = (time_s[a:b + 1] - t0) / (t1 - t0)
        s = transition_share(x)
        share[a:b + 1, trailing] = s
        share[a:b + 1, 1 - trailing] = 1.0 - s
        ramp[a:b + 1, trailing] = 1.0 - x
        ramp[a:b + 1, 1 - trailing] = x
        transition[a:b + 1] = True
        leading[a:b + 1] = 1 - trailing
    return Phases(contact, share, transition, progress, ramp, leading)


def place_cops(force: np.ndarray, moment: np.ndarray, height: float,
               forces: list[np.ndarray], priors: list[np.ndarray]) -> list[np.ndarray]:
    """Centres of pressure (on the plane y = `height`) of feet carrying `forces` (3,) each,
    as near as possible (least squares) to `priors` (3,) each, such that together they
    reproduce the horizontal components of the total `moment` (about the ground origin).
    The vertical free torque is left to the caller."""
    fy = np.array([f[1] for f in forces])
    denom = float(fy @ fy)
    if denom <= 0:
        return [p.copy() for p in priors]
    # x sum: sum_i x_i F_iy = M_z + h sum_i F_ix ; z sum: sum_i z_i F_iy = h sum_i F_iz - M_x
    target_x = moment[2] + height * sum(f[0] for f in forces)
    target_z = height * sum(f[2] for f in forces) - moment[0]
    lam_x = (target_x - sum(p[0] * f[1] for p, f in zip(priors, forces, strict=True))) / denom
    lam_z = (target_z - sum(p[2] * f[1] for p, f in zip(priors, forces, strict=True))) / denom
    return [np.array([p[0] + lam_x * f[1], height, p[2] + lam_z * f[1]])
            for p, f in zip(priors, forces, strict=True)]
