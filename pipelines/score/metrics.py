"""The physical-plausibility measures, as pure functions of arrays (SI units, Y up, floor at
y = 0). Each returns plain floats; NaN where the input cannot say (no contact frame, ...)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musclekit.pipelines.score import thresholds as th


def _speed_xz(pos: np.ndarray, time_s: np.ndarray) -> np.ndarray:
    """Horizontal speed (m/s) of points (T, N, 3) by central differences; (T, N)."""
    if pos.shape[0] < 2:
        return np.full(pos.shape[:2], np.nan)
    vel = np.gradient(pos[..., [0, 2]], time_s, axis=0)
    return np.linalg.norm(vel, axis=-1)


@dataclass(frozen=True)
class FootMeasures:
    sliding_m_s: float        # median slide speed of the planted foot over contact frames
    penetration_m: float      # 95th percentile of per-frame depth below the floor
    floating_share: float     # share of frames with no foot marker within the contact height
    contact_frames: int       # frames with at least one foot in contact


def foot_measures(markers: np.ndarray, time_s: np.ndarray, feet: dict[str, list[int]]
                  ) -> FootMeasures:
    """markers: (T, M, 3) positions (m); feet: marker indices per side (names.foot_markers)."""
    slides, heights = [], []
    for idx in feet.values():
        if not idx:
            continue
        pos = markers[:, idx, :].astype(float)
        height = pos[..., 1]
        speed = _speed_xz(pos, time_s)
        near = height < th.CONTACT_HEIGHT_M
        # The stillest marker near the floor: the pivot of a rolling foot (heel, then toe) is
        # still even while the others move, so heel-to-toe roll-over is no slide.
        masked = np.where(near, speed, np.inf)
        slide = np.min(masked, axis=1)
        slide[~near.any(axis=1)] = np.nan
        slides.append(slide)
        with np.errstate(invalid="ignore"):
            heights.append(np.nanmin(np.where(np.isfinite(height), height, np.nan), axis=1))
    if not heights:
        nan = float("nan")
        return FootMeasures(nan, nan, nan, 0)
    lowest = np.nanmin(np.stack(heights), axis=0)  # (T,), NaN where no foot marker has a value
    seen = np.isfinite(lowest)
    slide_all = np.concatenate([s[np.isfinite(s)] for s in slides])
    depth = np.clip(-lowest[seen], 0.0, None)
    contact = np.zeros(lowest.shape, dtype=bool)
    for s in slides:
        contact |= np.isfinite(s)
    return FootMeasures(
        sliding_m_s=float(np.median(slide_all)) if slide_all.size else float("nan"),
        penetration_m=float(np.percentile(depth, 95)) if depth.size else float("nan"),
        floating_share=float(np.mean(lowest[seen] >= th.CONTACT_HEIGHT_M)) if seen.any()
        else float("nan"),
        contact_frames=int(contact.sum()),
    )


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (counter-clockwise) of 2D points (N, 2), Andrew's monotone chain."""
    pts = sorted({(float(x), float(y)) for x, y in points})
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def distance_outside(point: np.ndarray, hull: np.ndarray) -> float:
    """How far (m) a 2D point lies outside a convex polygon (0 inside)."""
    if len(hull) == 0:
        return float("nan")
    if len(hull) == 1:
        return float(np.linalg.norm(point - hull[0]))
    n = len(hull)
    inside = len(hull) >= 3
    best = np.inf
    for i in range(n):
        a, b = hull[i], hull[(i + 1) % n]
        ab, ap = b - a, point - a
        if inside and ab[0] * ap[1] - ab[1] * ap[0] < 0:
            inside = False
        t = np.clip(np.dot(ap, ab) / max(np.dot(ab, ab), 1e-12), 0.0, 1.0)
        best = min(best, float(np.linalg.norm(a + t * ab - point)))
    return 0.0 if inside else best


def com_outside_share(com: np.ndarray, com_time_s: np.ndarray, markers: np.ndarray,
                      time_s: np.ndarray, feet: dict[str, list[int]]) -> tuple[float, int]:
    """Share of the static frames whose centre of mass (T', 3) projects outside the base of
    support (every marker of each foot in contact, on the floor plane, grown by BOS_MARGIN_M);
    and how many static frames there were. The COM is sampled onto the markers' times."""
    com_xyz = np.stack([np.interp(time_s, com_time_s, com[:, k]) for k in range(3)], axis=1)
    speed = _speed_xz(com_xyz[:, None, :], time_s)[:, 0]
    static, outside = 0, 0
    for t in range(len(time_s)):
        if not np.isfinite(speed[t]) or speed[t] > th.STATIC_SPEED_M_S:
            continue
        down = []
        for idx in feet.values():
            foot = markers[t, idx, :]
            foot = foot[np.isfinite(foot).all(axis=1)]
            if len(foot) and foot[:, 1].min() < th.CONTACT_HEIGHT_M:
                down.append(foot)
        if not down:
            continue
        pts = np.concatenate(down)
        static += 1
        if distance_outside(com_xyz[t, [0, 2]], _hull(pts[:, [0, 2]])) > th.BOS_MARGIN_M:
            outside += 1
    return (outside / static if static else float("nan")), static


def symmetry_index_pct(right: np.ndarray, left: np.ndarray) -> float:
    """Robinson's symmetry index of the two sides' ranges of motion (%); NaN below MIN_ROM."""
    r = float(np.nanmax(right) - np.nanmin(right))
    lft = float(np.nanmax(left) - np.nanmin(left))
    if not np.isfinite(r + lft) or max(r, lft) < th.MIN_ROM_RAD:
        return float("nan")
    return abs(r - lft) / (0.5 * (r + lft)) * 100.0


def saturation(activations: np.ndarray) -> np.ndarray:
    """Per muscle, the share of frames at or above SATURATED_ACTIVATION; (C,)."""
    valid = np.isfinite(activations)
    hits = (np.where(valid, activations, 0.0) >= th.SATURATED_ACTIVATION).sum(axis=0)
    return hits / np.maximum(valid.sum(axis=0), 1)


def coactivation_pct(agonist: np.ndarray, antagonist: np.ndarray) -> float:
    """Co-contraction index (Falconer and Winter 1985) of two activation curves (%)."""
    ok = np.isfinite(agonist) & np.isfinite(antagonist)
    total = float(np.sum(agonist[ok] + antagonist[ok]))
    if total <= 1e-9:
        return float("nan")
    return 2.0 * float(np.sum(np.minimum(agonist[ok], antagonist[ok]))) / total * 100.0


def residual_force_pct_bw(forces_n: np.ndarray, mass_kg: float) -> float:
    """Peak magnitude of the root's residual force vector (T, 3) as % body weight."""
    mag = np.linalg.norm(forces_n, axis=1)
    mag = mag[np.isfinite(mag)]
    if not mag.size:
        return float("nan")
    return float(mag.max()) / (mass_kg * th.GRAVITY_M_S2) * 100.0
