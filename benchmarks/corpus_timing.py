"""Is there a clock offset or a phase lag between the markers and the plates of the corpus
trials with plates? (issue 25: on the BTK walks the motion-based touch-downs come 30-40 ms
before the plates load, and the fore-aft motion leads the plates by about as much.)

From the files alone (no IK, no estimate), per trial:

- clock (C3D): the header's first frame and point rate, the first analog sample and the
  analog rate, samples per frame, whether the first analog sample is the first frame times
  that ratio (the C3D convention `c3d.read_c3d` reads the plates on), TRIAL:ACTUAL_START_FIELD
  and POINT:MOVIE_DELAY; the capture software's own foot strikes (EVENT group) nearest each
  plate's 20 N onset, ms (Nexus and Workstation detect the events on a plate from its force);
- plates: each plate's baseline (the median of its vertical force over the samples away from
  any load, N: what FORCE_PLATFORM:ZERO would have removed) and whether the force is raw or
  low-passed by the lab before it was stored: the share of the vertical force's power above
  30 Hz, and the time from 20 N to 200 N at heel strike (a raw plate's heel impact takes a
  few ms);
- heel landing minus plate onset, per step on a plate, ms: the heel marker's vertical descent
  ends (its vertical speed, markers low-passed at 20 Hz without lag, first turns upward after
  the heel's horizontal speed has fallen below 1 m/s) against the plate's 20 N onset. On a
  raw plate the two coincide within a frame or two; a lab's low-pass filter without lag
  smears the load's sharp rise earlier, so its 20 N comes before the heel lands;
- with --out (a `corpus.py --estimate` run's datasets): the time shift of the kinematics'
  total force (the estimate's whole-body wrench) that best fits the plates' total, vertical
  and fore-aft (RMSE, -80..80 ms in 2 ms steps, both at the run's 6 Hz): a clock offset moves
  both axes alike; the command's contact rule's touch-down at each plate step, minus the
  plate's 20 N onset and minus the heel's landing, ms, and when each of the estimate's foot
  points (the kinematics as the estimate saw them) ends its descent, against the heel's
  landing; and the per-foot vertical RMSE with
  every touch-down of the rule moved by -40..40 ms, the best move (right + left), and where
  that puts the touch-down against the heel's landing (the rule's mean lead plus the move);
  and the per-foot vertical RMSE with every touch-down of the rule keyed to the heel's landing
  instead (heel_keyed_rmse: the heel marker's, the IK heel end's, and the later of the rule's
  touch-down and the heel marker's landing less a lead), lift-offs as the rule's.

    python benchmarks/corpus_timing.py [--data DIR] [--out DIR] [--json FILE]
        [--rajagopal-work DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DATA, G, estimate_datasets, plate_window, stances  # noqa: E402

ONSET_N = 20.0  # the plates' contact threshold, as everywhere in the comparison
MARKER_FILTER_HZ = 20.0
HEEL_SLOW_M_S = 1.0  # the heel has landed only once it moves slower than this horizontally


@dataclass
class TrialFiles:
    name: str
    markers: str  # a .c3d (markers and plates) or a .trc with `grf` beside it
    heels: tuple[str, str]  # right, left heel marker
    grf: str | None = None  # the lab's .mot of plates (vx, vy, vz, px, py, pz per plate)


TRIALS = [
    TrialFiles("uw_lenhart_walk", "corpus/uw_lenhart_walk/overground_17.trc", ("R.Heel", "L.Heel"),
               "corpus/uw_lenhart_walk/overground_17_grf.mot"),
    TrialFiles("btk_pig", "corpus/btk_pig/walk.c3d", ("RHEE", "LHEE")),
    TrialFiles("btk_functional", "corpus/btk_functional/walk.c3d", ("RHEE", "LHEE")),
    TrialFiles("rajagopal2016 walk", "rajagopal2016/ExpData/motion_capture_walk.trc",
               ("R.Heel", "L.Heel"), "rajagopal2016/ExpData/grf_walk.mot"),
    TrialFiles("vicon_treadmill", "corpus/vicon_treadmill/walking2.c3d", ("RCAL", "LCAL")),
    TrialFiles("btk_helenhayes", "corpus/btk_helenhayes/gait.c3d", ("RHEE", "LHEE")),
]


@dataclass
class Plate:
    """One plate's ground reaction in OpenSim's frame (+y up), at its own rate: time (T,),
    force (T, 3) N and centre of pressure (T, 3) m; raw_vertical: the vertical force before
    any threshold (C3D: as ezc3d computes it, sign turned so that a load is positive)."""

    number: int
    time_s: np.ndarray
    force: np.ndarray
    cop: np.ndarray
    raw_vertical: np.ndarray


def c3d_clock(path: Path) -> dict:
    """The C3D's timing parameters (module docstring)."""
    import ezc3d

    c = ezc3d.c3d(str(path))
    h, p = c["header"], c["parameters"]

    def param(group, name):
        if group in p and name in p[group]:
            v = np.asarray(p[group][name]["value"]).ravel()
            return [float(x) for x in v] if v.dtype.kind in "fiu" else [str(x) for x in v]
        return None

    rate, arate = float(h["points"]["frame_rate"]), float(h["analogs"]["frame_rate"])
    ratio = arate / rate if rate else float("nan")
    first, afirst = int(h["points"]["first_frame"]), int(h["analogs"]["first_frame"])
    n_frames = int(h["points"]["last_frame"]) - first + 1
    n_analog = np.asarray(c["data"]["analogs"]).shape[-1]
    return {"first_frame": first, "point_rate_hz": rate, "first_analog_sample": afirst,
            "analog_rate_hz": arate, "samples_per_frame": ratio,
            "analog_starts_with_first_frame": bool(afirst == round(first * ratio)),
            "analog_samples_equal_frames_x_ratio": bool(n_analog == round(n_frames * ratio)),
            "actual_start_field": param("TRIAL", "ACTUAL_START_FIELD"),
            "movie_delay_s": param("POINT", "MOVIE_DELAY"),
            "force_platform_zero": param("FORCE_PLATFORM", "ZERO"),
            "events": _events(p)}


def _events(p) -> list[tuple[str, str, float]]:
    """(context, label, time s) of the file's EVENT group (ICON_IDS 1: foot strike, 2: foot
    off, as Vicon writes them; LABELS when present)."""
    if "EVENT" not in p or "TIMES" not in p["EVENT"]:
        return []
    times = np.asarray(p["EVENT"]["TIMES"]["value"], dtype=float)
    if times.size == 0:
        return []
    # (2, n): minutes, seconds; ezc3d flattens some files' to n (minutes, seconds) pairs
    times = times.reshape(-1, 2).T if times.ndim == 1 else times
    secs = times[0] * 60 + times[1]  # C3D: minutes, seconds
    ctx = list(p["EVENT"].get("CONTEXTS", {}).get("value", [""] * len(secs)))
    labels = list(p["EVENT"].get("LABELS", {}).get("value", []))
    icons = np.asarray(p["EVENT"].get("ICON_IDS", {}).get("value", []), dtype=int).ravel()
    out = []
    for i, s in enumerate(secs):
        label = labels[i] if i < len(labels) and labels[i] else (
            {1: "Foot Strike", 2: "Foot Off"}.get(int(icons[i]), "") if i < len(icons) else "")
        out.append((ctx[i] if i < len(ctx) else "", label, float(s)))
    return out


def read_trial(tf: TrialFiles, data: Path):
    """(marker times, {name: (T, 3) m}, rate Hz, [Plate])."""
    if tf.markers.endswith(".c3d"):
        return _read_c3d(data / tf.markers)
    from musclekit.pipelines.simulate.opensim.files import read_mot, read_trc

    m = read_trc(data / tf.markers, allow_missing=True)
    g = read_mot(data / tf.grf)
    plates = []
    prefixes = [n[:-3] for n in g.names if n.endswith("_vy") and "force" in n]
    for k, pre in enumerate(prefixes):
        force = np.column_stack([g.values[:, g.names.index(f"{pre}_v{a}")] for a in "xyz"])
        cop = np.column_stack([g.values[:, g.names.index(f"{pre}_p{a}")] for a in "xyz"])
        plates.append(Plate(k + 1, g.time_s, force, cop, force[:, 1].copy()))
    scale = 1e-3 if np.nanmax(np.abs(m.positions)) > 100 else 1.0  # a TRC in mm
    return (m.time_s, {n: m.positions[:, i] * scale for i, n in enumerate(m.names)},
            m.rate_hz, plates)


def _read_c3d(path: Path):
    import ezc3d

    from musclekit.pipelines.simulate.kinematics.c3d import read_c3d, to_opensim_frame

    trial = to_opensim_frame(read_c3d(path))
    # the raw vertical force (read_c3d zeroes what is under its threshold): ezc3d's, turned
    # like the trial, signed so that the subject's load is positive
    c = ezc3d.c3d(str(path), extract_forceplat_data=True)
    plates = []
    for p, pf in zip(trial.plates, c["data"]["platform"], strict=True):
        action = np.asarray(pf["force"], dtype=float).T @ trial.rotation.T
        vertical = -action[:, 1]
        if p.loaded.any() and np.median(vertical[p.loaded]) < 0:
            vertical = -vertical  # the file's sign convention (read_c3d turns it likewise)
        plates.append(Plate(p.number, p.time_s, p.force, p.cop, vertical))
    m = trial.markers
    return (m.time_s, {n: m.positions[:, i] for i, n in enumerate(m.names)}, m.rate_hz, plates)


def plate_character(p: Plate) -> dict:
    """Baseline, high-frequency share and heel-impact rise of one plate (module docstring)."""
    from scipy.signal import welch

    fs = 1.0 / float(np.median(np.diff(p.time_s)))
    v = p.raw_vertical
    loaded = np.abs(v) > 50.0
    # away from any load: 50 ms from every sample above 50 N
    near = np.convolve(loaded.astype(float), np.ones(int(0.1 * fs) | 1), mode="same") > 0
    baseline = float(np.median(v[~near])) if (~near).sum() > 0.1 * fs else None
    freq, power = welch(v - v.mean(), fs=fs, nperseg=min(1024, len(v)))
    rises = []
    for a, _ in _loads(p):
        above = np.flatnonzero(v[a:] > 200.0)
        if above.size:
            rises.append(round(1000 * above[0] / fs, 1))
    return {"plate": p.number, "rate_hz": round(fs), "baseline_n": None if baseline is None
            else round(baseline, 1),
            "power_above_30_hz": float(f"{power[freq > 30].sum() / power.sum():.2e}"),
            "rise_20_to_200_n_ms": rises}


def _loads(p: Plate) -> list[tuple[int, int]]:
    """[start, stop) of each stance on the plate (corpus.stances: >= 0.2 s, a real peak)."""
    st = stances(p.time_s, {"p": p.force[:, 1]})
    return [(int(np.searchsorted(p.time_s, a)), int(np.searchsorted(p.time_s, b)))
            for a, b, _, _ in st]


def heel_landings(t: np.ndarray, heels: dict[str, np.ndarray], rate_hz: float,
                  plates: list[Plate]) -> list[dict]:
    """Per stance on a plate: the foot (the heel nearest the centre of pressure over the
    stance's first 0.1 s) and its heel landing minus the plate's 20 N onset, ms (module
    docstring); None where the heel is not seen around the landing."""
    out = []
    for p in plates:
        for a, b in _loads(p):
            t0 = float(p.time_s[a])
            early = slice(a, min(b, a + int(0.1 / np.median(np.diff(p.time_s)))))
            cop = np.nanmean(p.cop[early], axis=0)
            k0 = int(np.searchsorted(t, t0))
            lo, hi = k0 - int(0.3 * rate_hz), k0 + int(0.15 * rate_hz)
            if lo < 0 or hi > len(t):
                continue
            near = {}
            for side, xyz in heels.items():
                seg = xyz[k0:k0 + int(0.1 * rate_hz)]
                near[side] = float(np.nanmean(np.hypot(seg[:, 0] - cop[0], seg[:, 2] - cop[2])))
            side = min(near, key=near.get)
            row = {"plate": p.number, "side": side, "onset_s": round(t0, 3),
                   "heel_landing_minus_onset_ms": None}
            seg, ts = heels[side][lo:hi], t[lo:hi]
            seen = np.isfinite(seg).all(axis=1)
            if seen.mean() < 0.9:
                out.append(row)
                continue
            seg = np.column_stack([np.interp(ts, ts[seen], seg[seen, c]) for c in range(3)])
            land = _landing(ts, seg, rate_hz, MARKER_FILTER_HZ)
            if land is not None:
                row["heel_landing_minus_onset_ms"] = round(1000 * (land - t0), 1)
            out.append(row)
    return sorted(out, key=lambda r: r["onset_s"])


def _landing(ts: np.ndarray, seg: np.ndarray, rate_hz: float,
             filter_hz: float | None) -> float | None:
    """When a point's descent onto the floor ends: its vertical speed (the path `seg` (T, 3)
    low-passed at `filter_hz` without lag; None: as it is) first turns upward after its
    horizontal speed has fallen below HEEL_SLOW_M_S; None if it does not within `ts`."""
    from scipy.signal import butter, filtfilt

    if filter_hz:
        bb, aa = butter(2, filter_hz / (rate_hz / 2))
        seg = filtfilt(bb, aa, seg, axis=0)
    vel = np.gradient(seg, ts, axis=0)
    slow = np.flatnonzero(np.hypot(vel[:, 0], vel[:, 2]) < HEEL_SLOW_M_S)
    if not slow.size:
        return None
    k = slow[0]
    up = np.flatnonzero((vel[k:-1, 1] < 0) & (vel[k + 1:, 1] >= 0))
    if not up.size:
        return None
    j = k + up[0]  # the vertical speed crosses zero between j and j + 1
    return float(ts[j] - vel[j, 1] * (ts[j + 1] - ts[j]) / (vel[j + 1, 1] - vel[j, 1]))


def event_offsets(events: list, plates: list[Plate]) -> list[float]:
    """Each plate onset's nearest foot strike of the file (within 0.1 s), event minus onset,
    ms."""
    strikes = [s for _, label, s in events if "strike" in label.lower()]
    out = []
    for p in plates:
        for a, _ in _loads(p):
            t0 = float(p.time_s[a])
            d = [s - t0 for s in strikes if abs(s - t0) < 0.1]
            if d:
                out.append(round(1000 * min(d, key=abs), 1))
    return out


def rule_touch_downs(bw, steps: list[dict]) -> list[dict]:
    """The command's rule (ContactRule()) on the estimate's whole-body wrench: each plate
    step's nearest touch-down of its foot minus the plate's 20 N onset and minus the heel's
    landing, ms."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import (
        ContactRule,
        runs,
    )
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import split_body_wrench

    est = split_body_wrench(bw, rule=ContactRule())
    out = []
    for s in steps:
        downs = np.array([est.time_s[a] for a, _ in runs(est.contact[:, ("right", "left").index(
            s["side"])])])
        if not downs.size:
            continue
        td = float(downs[np.argmin(np.abs(downs - s["onset_s"]))])
        land = s["heel_landing_minus_onset_ms"]
        # the estimate's own foot points (the kinematics at the run's cut-off): when each
        # one's descent ends, against the heel marker's landing
        t = est.time_s
        w = (t >= td - 0.15) & (t <= td + 0.15)
        rate = 1.0 / float(np.median(np.diff(t)))
        ends = [_landing(t[w], bw.points[s["side"]][w, i], rate, None)
                for i in range(bw.points[s["side"]].shape[1])]
        out.append({"side": s["side"], "onset_s": s["onset_s"],
                    "touch_down_minus_onset_ms": round(1000 * (td - s["onset_s"])),
                    "touch_down_minus_heel_landing_ms": None if land is None else
                    round(1000 * (td - s["onset_s"]) - land),
                    "foot_points_landing_minus_heel_landing_ms": [
                        None if e is None or land is None else
                        round(1000 * (e - s["onset_s"]) - land) for e in ends]})
    return out


@contextlib.contextmanager
def touch_downs_shifted(frames: int):
    """Inside: the estimate's contact detection (grf.detect_contact) with every touch-down
    (a contact run's first frame, not the sequence's first) moved `frames` later (negative:
    earlier); lift-offs as detected."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse import grf
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import runs

    detect = grf.detect_contact

    def shifted(above, speeds, rule):
        c = detect(above, speeds, rule).copy()
        for a, b in runs(c):
            if a > 0 and frames > 0:
                c[a:min(a + frames, b)] = False
            elif a > 0 and frames < 0:
                c[max(a + frames, 0):a] = True
        return c

    grf.detect_contact = shifted
    try:
        yield
    finally:
        grf.detect_contact = detect


def touch_down_shift_rmse(ds: Path, trial) -> dict:
    """Per-foot vertical RMSE (% BW, corpus_grf_variants' comparison) with every touch-down of
    the command's rule moved by -40..40 ms (in frames): {ms: (right, left)}."""
    from corpus import DATA as data
    from corpus import trial_mass
    from corpus_grf_variants import compare, trial_inputs

    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import split_body_wrench

    bw, plates = trial_inputs(ds, ds / "body_wrench.pkl")
    dt = float(np.median(np.diff(bw.time_s)))
    mass = trial_mass(trial, data)
    out = {}
    for ms in range(-40, 41, 10):
        frames = int(round(ms / 1000 / dt))
        with touch_downs_shifted(frames):
            r = compare(split_body_wrench(bw, rule=ContactRule()), plates, mass)
        out[round(frames * dt * 1000)] = (r["right"]["vy_rmse_bw_pct"],
                                          r["left"]["vy_rmse_bw_pct"])
    return out


@contextlib.contextmanager
def touch_downs_keyed(move):
    """Inside: the estimate's contact detection (grf.detect_contact) with every touch-down (a
    contact run's first frame, not the sequence's first) moved to frame `move(side, frame)`
    (None: kept; never past the run's lift-off); lift-offs as detected. split_wrench detects
    the feet one call per side in grf.SIDES order, which names each call's side."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse import grf
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import runs

    detect = grf.detect_contact
    calls = [0]

    def keyed(above, speeds, rule):
        side = grf.SIDES[calls[0] % len(grf.SIDES)]
        calls[0] += 1
        c = detect(above, speeds, rule)
        out = c.copy()
        for a, b in runs(c):
            k = None if a == 0 else move(side, a)
            if k is not None:
                out[a:b + 1] = False
                out[min(max(k, 1), b):b + 1] = True
        return out

    grf.detect_contact = keyed
    try:
        yield
    finally:
        grf.detect_contact = detect


# The later of the rule's touch-down and the heel marker's landing less this lead, ms: the
# rows' best touch-downs lie 5-26 ms before the heel's landing (docs/validation.md, "Timing")
HEEL_LEADS_MS = (20, 30)
HEEL_SEARCH_S = 0.15  # the heel's landing is looked for this far either side of the rule's


def heel_keyed_variants(bw, heels: dict[str, np.ndarray], marker_t: np.ndarray,
                        marker_rate_hz: float, evaluate) -> dict:
    """`evaluate(estimate)` of the command's rule and of its touch-downs keyed to the heel's
    landing (_landing within HEEL_SEARCH_S of each of the rule's touch-downs, relative to the
    ground: a treadmill's belt velocity, the estimate's, is taken out first; kept where none
    is found), on the whole-body wrench `bw`, the heel markers' paths `heels` (side: (T, 3)
    at `marker_t`): {variant: evaluate(...)}.

    - "heel marker's landing": the heel marker's path (markers low-passed at 20 Hz), which
      the estimate does not have (it sees the kinematics at the run's cut-off);
    - "IK heel end's landing": the sole line's heel end (grf.sole_ends: the rearmost foot
      marker, carried by the foot), as the estimate sees it;
    - "later of the rule and the heel marker's landing - L ms": only ever later than the
      rule's (which leads the heel on the BTK walks by 18-44 ms)."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import split_body_wrench

    t = bw.time_s
    rate = 1.0 / float(np.median(np.diff(t)))
    belt = split_body_wrench(bw, rule=ContactRule()).ground_velocity_m_s

    def relative(ts, seg, t0):  # a path relative to the ground under the feet
        return seg - np.outer(ts - t0, belt)

    def marker_landing(side, a):
        t0 = float(t[a])
        lo, hi = np.searchsorted(marker_t, [t0 - HEEL_SEARCH_S, t0 + HEEL_SEARCH_S])
        seg, ts = heels[side][lo:hi], marker_t[lo:hi]
        seen = np.isfinite(seg).all(axis=1)
        if len(ts) < 4 or seen.mean() < 0.9:
            return None
        seg = np.column_stack([np.interp(ts, ts[seen], seg[seen, c]) for c in range(3)])
        return _landing(ts, relative(ts, seg, t0), marker_rate_hz, MARKER_FILTER_HZ)

    def ik_landing(side, a):
        w = np.abs(t - t[a]) <= HEEL_SEARCH_S
        return _landing(t[w], relative(t[w], bw.sole_line[side][w, 0], t[a]), rate, None)

    def frame(time_s):
        return None if time_s is None else int(np.searchsorted(t, time_s))

    variants = {"rule": None,
                "heel marker's landing": lambda s, a: frame(marker_landing(s, a)),
                "IK heel end's landing": lambda s, a: frame(ik_landing(s, a))}
    for lead in HEEL_LEADS_MS:
        def later(s, a, lead=lead):
            land = marker_landing(s, a)
            return None if land is None else max(a, frame(land - lead / 1000))
        variants[f"later of the rule and the heel marker's landing - {lead} ms"] = later
    out = {}
    for name, move in variants.items():
        moved = []

        def counted(s, a, move=move, moved=moved):
            k = move(s, a)
            moved.append(k is not None and k != a)
            return k

        with touch_downs_keyed(counted) if move else contextlib.nullcontext():
            out[name] = evaluate(split_body_wrench(bw, rule=ContactRule()))
        # how many of the rule's touch-downs the variant moved, of how many
        out[name]["moved"] = (sum(moved), len(moved))
    return out


def _feet(r: dict) -> dict:
    return {s: (r[s]["vy_rmse_bw_pct"], r[s]["swing_max_bw_pct"]) for s in ("right", "left")}


def heel_keyed_rmse(ds: Path, trial, tf: TrialFiles, data: Path) -> dict:
    """heel_keyed_variants on a corpus trial's dataset: per-foot vertical RMSE and swing-foot
    maximum (% BW, corpus_grf_variants' comparison), {variant: {side: (rmse, swing max)}}."""
    from corpus import trial_mass
    from corpus_grf_variants import compare, trial_inputs

    bw, plates = trial_inputs(ds, ds / "body_wrench.pkl")
    mass = trial_mass(trial, data)
    mt, markers, mrate, _ = read_trial(tf, data)
    heels = dict(zip(("right", "left"), (markers[h] for h in tf.heels), strict=True))
    return heel_keyed_variants(bw, heels, mt, mrate,
                               lambda est: _feet(compare(est, plates, mass)))


# The Rajagopal trials' heel markers (right, left): the walk's as corpus TRIALS, the run's
RAJAGOPAL_HEELS = {"walk": ("R.Heel", "L.Heel"), "run": ("RCAL", "LCAL")}


def heel_keyed_rajagopal(work: Path) -> dict:
    """heel_keyed_variants on the Rajagopal walk and run (the lab's scaling and IK in `work`,
    validate_rajagopal_grf_variants' wrench and plates, validate_rajagopal's comparison over
    the lab's window): {trial: {variant: {side: (rmse, swing max)}}}."""
    from rajagopal_lab import DEFAULT_DATA, lab_pipeline
    from rajagopal_lab import TRIALS as LAB
    from validate_rajagopal import compare_feet
    from validate_rajagopal_grf_variants import _lab_wrench_and_plates

    from musclekit.pipelines.simulate.opensim.files import read_trc

    out = {}
    for trial, names in RAJAGOPAL_HEELS.items():
        lab = lab_pipeline(DEFAULT_DATA, work, trial)
        bw, measured, raw, w = _lab_wrench_and_plates(lab)
        m = read_trc(DEFAULT_DATA / "ExpData" / f"motion_capture_{trial}.trc", allow_missing=True)
        scale = 1e-3 if np.nanmax(np.abs(m.positions)) > 100 else 1.0  # a TRC in mm
        heels = {s: m.positions[:, m.names.index(n)] * scale
                 for s, n in zip(("right", "left"), names, strict=True)}
        weight = LAB[trial]["mass_kg"] * G
        out[trial] = heel_keyed_variants(
            bw, heels, m.time_s, m.rate_hz,
            lambda est, measured=measured, raw=raw, w=w, weight=weight: _feet(compare_feet(
                est.time_s, est.values, measured, raw, w, weight, est.contact)))
    return out


def heel_keyed_table(rows: list[dict]) -> str:
    """One Markdown line per heel-keyed variant, one column per trial: vertical RMSE % BW
    right / left, the swing foot's largest load (% BW) in brackets, the touch-downs moved (of
    the rule's) in square brackets."""
    from corpus_grf_variants import SHORT

    rows = [r for r in rows if "heel_keyed_rmse_bw_pct" in r]
    if not rows:
        return ""
    names = list(rows[0]["heel_keyed_rmse_bw_pct"])
    short = [next((v for k, v in SHORT.items() if r["trial"].startswith(k)), r["trial"])
             for r in rows]
    lines = ["| touch-down | " + " | ".join(short) + " |",
             "|---|" + "---|" * len(rows)]
    for n in names:
        cells = [(lambda v: f"{v['right'][0]:.2f} / {v['left'][0]:.2f} ({v['right'][1]:.0f} / "
                            f"{v['left'][1]:.0f}) [{v['moved'][0]}/{v['moved'][1]}]")(
            r["heel_keyed_rmse_bw_pct"][n]) for r in rows]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def best_shifts(ds: Path, steps: list[dict] | None = None) -> dict:
    """The shift of the kinematics' total force that best fits the plates' total (module
    docstring), per axis, with the RMSE (% BW) unshifted and at the best shift; with the
    trial's plate `steps` (heel_landings), the rule's touch-downs against them."""
    from corpus_grf_variants import trial_inputs

    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    bw, plates = trial_inputs(ds, ds / "body_wrench.pkl")
    t = bw.time_s
    raw = np.nan_to_num(plates.resample(t, None))
    smooth = np.nan_to_num(plates.resample(t, 6.0))
    w, _ = plate_window(t, {s: raw[:, idx[f"ground_force_{s}_vy"]] for s in ("right", "left")})
    walk = np.median(np.gradient(bw.com, t, axis=0)[:, [0, 2]], axis=0)
    walk /= np.linalg.norm(walk)
    sides = ("right", "left")
    measured = {"vertical": sum(smooth[:, idx[f"ground_force_{s}_vy"]] for s in sides),
                "fore-aft": sum(smooth[:, [idx[f"ground_force_{s}_vx"],
                                           idx[f"ground_force_{s}_vz"]]] for s in sides) @ walk}
    kinematic = {"vertical": bw.force_n[:, 1], "fore-aft": bw.force_n[:, [0, 2]] @ walk}
    k = np.flatnonzero(w)
    shifts = np.arange(-80, 81, 2)
    out = {}
    for axis in measured:
        rmse = [float(np.sqrt(np.mean((np.interp(t[k] + ms / 1000, t, kinematic[axis])
                                       - measured[axis][k]) ** 2))) / (bw.mass_kg * G) * 100
                for ms in shifts]
        best = int(np.argmin(rmse))
        out[axis] = {"best_shift_ms": int(shifts[best]),
                     "rmse_bw_pct_unshifted": round(rmse[len(shifts) // 2], 2),
                     "rmse_bw_pct_best": round(rmse[best], 2)}
    if steps:
        out["rule_touch_downs"] = rule_touch_downs(bw, steps)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=None,
                   help="a corpus.py --estimate run's --out: also the best shifts of the "
                        "kinematics' total force")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--rajagopal-work", type=Path, default=None,
                   help="also the heel-keyed touch-downs on the Rajagopal walk and run (the "
                        "lab's scaling and IK run in this folder, kept)")
    args = p.parse_args()
    rows = []
    for tf in TRIALS:
        if not (args.data / tf.markers).exists():
            print(f"{tf.name}: {args.data / tf.markers} absent, skipped")
            continue
        t, markers, rate, plates = read_trial(tf, args.data)
        row = {"trial": tf.name, "marker_rate_hz": rate}
        if tf.markers.endswith(".c3d"):
            row["clock"] = c3d_clock(args.data / tf.markers)
            row["event_minus_plate_onset_ms"] = event_offsets(row["clock"].pop("events"), plates)
        row["plates"] = [plate_character(q) for q in plates]
        row["steps"] = heel_landings(t, dict(zip(("right", "left"),
                                                 (markers[h] for h in tf.heels), strict=True)),
                                     rate, plates)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out is not None:
        for trial, ds in estimate_datasets(args.out, None):
            mine = next((r for r in rows if "steps" in r and trial.name.startswith(r["trial"])),
                        None)
            shifts = best_shifts(ds, mine["steps"] if mine else None)
            rmse = touch_down_shift_rmse(ds, trial)
            best = min(rmse, key=lambda ms: sum(rmse[ms]))
            shifts["touch_down_shift_rmse_bw_pct"] = {str(k): v for k, v in rmse.items()}
            shifts["best_touch_down_shift_ms"] = best
            lead = [r["touch_down_minus_heel_landing_ms"] for r in shifts.get("rule_touch_downs", [])
                    if r["touch_down_minus_heel_landing_ms"] is not None]
            shifts["best_touch_down_minus_heel_landing_ms"] = (round(float(np.mean(lead))) + best
                                                               if lead else None)
            tf = next((x for x in TRIALS if trial.name.startswith(x.name)), None)
            keyed = heel_keyed_rmse(ds, trial, tf, args.data) if tf else None
            print(json.dumps({"trial": trial.name, "kinematics_total_force_best_shift": shifts,
                              "heel_keyed_rmse_bw_pct": keyed}), flush=True)
            rows.append({"trial": trial.name, "kinematics_total_force_best_shift": shifts,
                         **({"heel_keyed_rmse_bw_pct": keyed} if keyed else {})})
    if args.rajagopal_work is not None:
        for trial, keyed in heel_keyed_rajagopal(args.rajagopal_work).items():
            rows.append({"trial": f"Rajagopal {trial} (lab's IK)",
                         "heel_keyed_rmse_bw_pct": keyed})
            print(json.dumps(rows[-1]), flush=True)
    print(summary(rows))
    print(heel_keyed_table(rows))
    use = resource.getrusage(resource.RUSAGE_SELF)
    print(f"CPU s: {use.ru_utime + use.ru_stime:.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def summary(rows: list[dict]) -> str:
    """One Markdown line per trial: heel landing minus plate onset (median and range, ms),
    the plates' power above 30 Hz and 20-200 N rise, their baselines."""
    lines = ["| trial | steps | heel landing minus plate 20 N, ms (median; range) | plates' "
             "power above 30 Hz | 20 -> 200 N, ms | plate baselines, N |", "|---|---|---|---|---|---|"]
    for r in rows:
        if "steps" not in r:
            continue
        d = [s["heel_landing_minus_onset_ms"] for s in r["steps"]
             if s["heel_landing_minus_onset_ms"] is not None]
        rng = f"{np.median(d):+.0f} ({min(d):+.0f} to {max(d):+.0f})" if d else "-"
        power = ", ".join(f"{q['power_above_30_hz']:.0e}" for q in r["plates"])
        rise = ", ".join(f"{x:g}" for q in r["plates"] for x in q["rise_20_to_200_n_ms"])
        base = ", ".join("-" if q["baseline_n"] is None else f"{q['baseline_n']:g}"
                         for q in r["plates"])
        lines.append(f"| {r['trial']} | {len(d)} | {rng} | {power} | {rise} | {base} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
