"""Variants of the `inverse` ground-force rule on the corpus trials with plates, without
rerunning the command: each dataset of an earlier `python benchmarks/corpus.py --estimate
--out DIR` run gives its prepared model, its IK and its plates; the whole-body wrench and the
feet's points are computed once per trial (`grf.body_wrench`, as the command does), then each
variant of `ContactRule` splits it (`grf.split_body_wrench`) and is compared with the plates
by corpus.py's comparison (`compare_feet` over `plate_window`).

Unlike corpus.py's table (the dataset's `grf` stream at 50 fps, stitched from chunks) the
comparison is at the estimate's own rate (the motion's frames), so its numbers differ from
that table's by a few tenths of % BW, and its swing-foot maxima are taken on more frames.

    python benchmarks/corpus_grf_variants.py --out DIR [--only NAME ...] [--json FILE]
        [--diagnose] [--points-filter-hz HZ] [--plates-prefilter-hz HZ]

With --diagnose, per trial, what docs/validation.md's analysis of the corpus rows reads:
statics' weight in the hand-over share; the whole-body centre of pressure (the kinematics'
moment) against the plates' total, RMS over the compared frames; the heel point's speed at
each of the plates' heel strikes (20 N; the foot's slowest point); the total vertical force's RMSE against the plates'
total with the estimate shifted in time (a clock offset would move its minimum); and the
estimate's total vertical force over the plates' in each foot's single support (one plate
carrying the body: the mass the plates weigh, per foot); the estimate's and the plates' (20 N)
contact intervals per foot.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DATA, G, compare_feet, estimate_datasets, plate_window, trial_mass  # noqa: E402

# name -> ContactRule fields; "rule" is the default (the command's)
VARIANTS = {
    "rule": {},
    "before (statics share, standing-pose levels)": {"handover": "statics", "own_levels": False},
    "standing-pose levels": {"own_levels": False},
    "statics share only": {"handover": "statics"},
    "linear ramp only": {"handover": "ramp"},
    "touch-down below 0.4 m/s": {"speed_on_m_s": 0.4},
    "touch-down below 0.3 m/s": {"speed_on_m_s": 0.3},
    # Touch-down speeds scaled with the subject's gait, computed per trial (gait_scaled)
    "touch-down below 13 % of the swing speed": "swing",
    "touch-down below 0.45 x walking speed": "walking",
}
# The scaled thresholds' factors: 0.6 m/s (the rule's) on the Rajagopal walk, whose foot's
# slowest point peaks at 4.5 m/s in swing and whose centre of mass moves at 1.24 m/s.
SWING_FRACTION = 0.13
WALKING_FRACTION = 0.45


def gait_speeds(bw) -> tuple[float, float]:
    """(swing, walking) speeds of a trial, m/s: the 95th percentile of each foot's slowest
    point's speed (its swing peak), mean of the feet; the median horizontal speed of the
    centre of mass."""
    t = bw.time_s
    swing = np.mean([np.percentile(np.linalg.norm(np.gradient(bw.points[s], t, axis=0),
                                                  axis=2).min(axis=1), 95)
                     for s in ("right", "left")])
    walking = np.median(np.linalg.norm(np.gradient(bw.com, t, axis=0)[:, [0, 2]], axis=1))
    return float(swing), float(walking)


def variant_fields(fields, bw) -> dict:
    """A variant's ContactRule fields; a scaled touch-down speed computed from the trial."""
    if isinstance(fields, dict):
        return fields
    swing, walking = gait_speeds(bw)
    return {"speed_on_m_s": SWING_FRACTION * swing if fields == "swing"
            else WALKING_FRACTION * walking}


def trial_inputs(ds: Path, cache: Path, filter_hz: float | None = None):
    """The trial's BodyWrench (computed once, kept in `cache`) and its plates; with
    `filter_hz`, from the kinematics low-passed there instead of at the run's cut-off."""
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PreparedModel
    from musclekit.pipelines.simulate.dynamics.kernel.solution import (
        _filtered_motion,
        _model_facts,
    )
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import body_wrench
    from musclekit.pipelines.simulate.opensim.external_loads import read_measured_grf

    seq = next(p for p in (ds / "opensim").iterdir() if p.is_dir())
    payload = json.loads((seq / "dynamics" / "inverse" / "chunk0000.payload.json").read_text())
    if cache.is_file():
        bw = pickle.loads(cache.read_bytes())
    else:
        folder = Path(payload["prep_folder"])
        prep = PreparedModel.load(folder)
        model_file = str(folder / prep.model_path)
        _, rotational = _model_facts(model_file)
        motion = _filtered_motion(payload["motion_path"], rotational,
                                  filter_hz or payload["settings"]["filter_hz"])
        bw = body_wrench(model_file, motion, {s: tuple(b) for s, b in prep.feet.items()})
        cache.write_bytes(pickle.dumps(bw))
    setup = seq / "plates_external_loads.xml"
    plates = read_measured_grf(seq / "plates.mot", setup if setup.exists() else None)
    return bw, plates


def estimate_motion(ds: Path):
    """(sequence folder, prepared model file, motion): the filtered motion the estimate's
    body_wrench saw for the dataset's one sequence (its first chunk's payload: the same
    coordinates, the same filter)."""
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PreparedModel
    from musclekit.pipelines.simulate.dynamics.kernel.solution import (
        _filtered_motion,
        _model_facts,
    )

    seq = next(p for p in (ds / "opensim").iterdir() if p.is_dir())
    payload = json.loads((seq / "dynamics" / "inverse" / "chunk0000.payload.json").read_text())
    folder = Path(payload["prep_folder"])
    model_file = str(folder / PreparedModel.load(folder).model_path)
    _, rotational = _model_facts(model_file)
    motion = _filtered_motion(payload["motion_path"], rotational,
                              payload["settings"]["filter_hz"])
    return seq, model_file, motion


def posed_frames(model, motion):
    """Yield (k, state) with `model` posed at each frame k of `motion` as body_wrench poses
    it (coordinates set, dependents by the couplers: opensim/pose.py), position realised."""
    from musclekit.pipelines.simulate.opensim.pose import Poser

    state = model.initSystem()
    coords = model.getCoordinateSet()
    col = {n: i for i, n in enumerate(motion.names)}
    set_q = [(coords.get(i), col[coords.get(i).getName()]) for i in range(coords.getSize())
             if coords.get(i).getName() in col]
    poser = Poser(model, state)
    for k in range(len(motion.time_s)):
        for c, j in set_q:
            c.setValue(state, motion.values[k, j], False)
        poser.assemble(state)
        model.realizePosition(state)
        yield k, state


def body_centres(ds: Path, cache: Path):
    """(names, masses (B,), centres (T, B, 3)): every body's mass centre in ground through
    the motion body_wrench saw (the same filtered coordinates, posed the same way), kept in
    `cache`."""
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    import opensim as osim

    _, model_file, motion = estimate_motion(ds)
    model = osim.Model(model_file)
    bodies = [model.getBodySet().get(i) for i in range(model.getBodySet().getSize())]
    centres = np.zeros((len(motion.time_s), len(bodies), 3))
    for k, state in posed_frames(model, motion):
        for i, b in enumerate(bodies):
            centres[k, i] = b.findStationLocationInGround(state, b.getMassCenter()).to_numpy()
    out = ([b.getName() for b in bodies], np.array([b.getMass() for b in bodies]), centres)
    cache.write_bytes(pickle.dumps(out))
    return out


# Body groups of the fore-aft force split (names as in the Rajagopal / gait2392 models)
BODY_GROUPS = {"feet": ("calcn", "toes", "talus"), "shanks": ("tibia", "patella"),
               "thighs": ("femur",), "pelvis": ("pelvis",),
               "torso": ("torso",), "arms and head": ("humerus", "ulna", "radius", "hand",
                                                      "head")}


def fore_aft_by_body(bw, centres, plates, w) -> dict:
    """Over the plates' double supports inside the compared window: the mean fore-aft force
    (along the centre of mass's mean horizontal velocity) the plates measure, the
    kinematics' total (sum of m a over the bodies) and each body group's part, % BW. The
    whole-body centre of pressure is displaced by (height x horizontal force error) / vertical
    force: an error at the torso's height moves it most."""
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    names, masses, pos = centres
    t = bw.time_s
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    d = np.median(np.gradient(bw.com, t, axis=0)[:, [0, 2]], axis=0)
    d /= np.linalg.norm(d)
    acc = np.gradient(np.gradient(pos, t, axis=0), t, axis=0)[:, :, [0, 2]] @ d
    force = masses[None, :] * acc
    raw = np.nan_to_num(plates.resample(t, None))
    smooth = np.nan_to_num(plates.resample(t, 6.0))
    both = w & (raw[:, idx["ground_force_right_vy"]] > 20.0) & (
        raw[:, idx["ground_force_left_vy"]] > 20.0)
    if both.sum() < 3:
        return {}
    bwn = bw.mass_kg * G
    plate = sum(smooth[:, [idx[f"ground_force_{s}_vx"], idx[f"ground_force_{s}_vz"]]]
                for s in ("right", "left")) @ d
    out = {"plates": round(float(plate[both].mean()) / bwn * 100, 1),
           "kinematics": round(float(force[both].sum(axis=1).mean()) / bwn * 100, 1)}
    for group, keys in BODY_GROUPS.items():
        sel = [i for i, n in enumerate(names) if n.startswith(keys)]
        out[group] = round(float(force[both][:, sel].sum(axis=1).mean()) / bwn * 100, 1)
    return out


def prefiltered(plates, cutoff_hz: float):
    """A copy of `plates` whose forces and torques are low-passed (zero-lag, 4th order, as
    `MeasuredGrf.resample`) at `cutoff_hz` at their own rate: raw plates made like a lab's
    exported, already low-passed forces (the Rajagopal walk's carry ~1e-6 of their power
    above 30 Hz against ~1e-3 on the C3D plates: benchmarks/corpus_timing.py)."""
    from scipy.signal import butter, filtfilt

    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    rate = 1.0 / float(np.median(np.diff(plates.time_s)))
    vals = plates.values.copy()
    loads = [i for i, c in enumerate(GRF_CHANNELS) if "_p" not in c[-3:]]
    b, a = butter(4, cutoff_hz / (rate / 2))
    vals[:, loads] = filtfilt(b, a, vals[:, loads], axis=0)
    return dataclasses.replace(plates, values=vals)


def compare(est, plates, mass_kg: float, measured_plates=None) -> dict:
    """corpus.py's comparison at the estimate's rate; `measured_plates` (default `plates`):
    the plates the forces are compared with (the window and contact timing stay `plates`')."""
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    measured = np.nan_to_num((measured_plates or plates).resample(est.time_s, 6.0))
    raw = np.nan_to_num(plates.resample(est.time_s, None))
    vy = {s: raw[:, GRF_CHANNELS.index(f"ground_force_{s}_vy")] for s in ("right", "left")}
    w, _ = plate_window(est.time_s, vy)
    return compare_feet(est.time_s, est.values, measured, raw, w, mass_kg * G, est.contact)


SHORT = {"uw_lenhart_walk": "UW", "btk_pig": "PiG", "btk_functional": "Workstation PiG",
         "rajagopal2016": "Rajagopal", "vicon_treadmill": "Vicon", "btk_helenhayes": "Helen Hayes"}


def pivot(rows: list[dict]) -> str:
    """One line per variant, one column per trial: vertical RMSE % BW right / left, and the
    swing foot's largest load (% BW, right / left) in brackets."""
    names = list(dict.fromkeys(r["trial"] for r in rows))
    short = [next((v for k, v in SHORT.items() if n.startswith(k)), n) for n in names]
    lines = ["| variant | " + " | ".join(short) + " |", "|---|" + "---|" * len(names)]
    for variant in VARIANTS:
        cells = []
        for n in names:
            r = next((r for r in rows if r["trial"] == n and r["variant"] == variant), None)
            cells.append("-" if r is None else
                         f"{r['right']['vy_rmse_bw_pct']:.1f} / {r['left']['vy_rmse_bw_pct']:.1f} "
                         f"({r['right']['swing_max_bw_pct']:.0f} / "
                         f"{r['left']['swing_max_bw_pct']:.0f})")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def diagnose(bw, plates, rule, centres=None) -> dict:
    from musclekit.pipelines.simulate.dynamics.methods.inverse import grf
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import runs
    from musclekit.pipelines.simulate.opensim.external_loads import (
        GRF_CHANNELS,
        centre_of_pressure,
    )

    weights, seen = [], {}
    original = grf._handover_weight

    def spy(*a, **k):
        weights.append(original(*a, **k))
        seen.update(ph=a[3], feet_cops=a[4], points=a[6] if len(a) > 6 else None,
                    margin=a[7] if len(a) > 7 else np.inf)
        return weights[-1]

    grf._handover_weight = spy
    try:
        est = grf.split_body_wrench(bw, rule=rule)
    finally:
        grf._handover_weight = original
    t = est.time_s
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    raw = np.nan_to_num(plates.resample(t, None))
    smooth = np.nan_to_num(plates.resample(t, 6.0))
    fy = {s: raw[:, idx[f"ground_force_{s}_vy"]] for s in ("right", "left")}
    w, _ = plate_window(t, fy)
    total = sum(fy.values())
    cop = sum(raw[:, [idx[f"ground_force_{s}_px"], idx[f"ground_force_{s}_pz"]]] * fy[s][:, None]
              for s in ("right", "left")) / np.maximum(total, 1.0)[:, None]
    body = np.array([centre_of_pressure(bw.force_n[k], bw.moment_nm[k], est.floor_m)[0][[0, 2]]
                     for k in range(len(t))])
    out = {"statics_weight": round(weights[0], 3) if weights else None,
           **single_support_check(bw, est.floor_m, seen),
           "whole_body_cop_rms_cm": round(float(np.sqrt(np.mean(
               np.sum((body - cop)[w] ** 2, axis=1)))) * 100, 1)}
    speeds = {}
    for side in ("right", "left"):
        v = np.linalg.norm(np.gradient(bw.points[side], t, axis=0) - est.ground_velocity_m_s,
                           axis=2)
        strikes = np.flatnonzero(np.diff((fy[side] > 20.0).astype(int)) == 1) + 1
        speeds[side] = [round(float(v[k].min()), 2) for k in strikes if 0 < k < len(t) - 1]
    out["heel_speed_at_plate_heel_strike_m_s"] = speeds
    # Each plate heel strike against the rule's touch-down and against Zeni et al.'s (2008,
    # Gait Posture 27:710) coordinate-based one: the heel point's most forward position
    # relative to the centre of mass (a local maximum along the walking direction), ms
    walk = np.median(np.gradient(bw.com, t, axis=0)[:, [0, 2]], axis=0)
    walk /= np.linalg.norm(walk)
    offsets = {}
    for j, side in enumerate(("right", "left")):
        ahead = (bw.points[side][:, 0, :] - bw.com)[:, [0, 2]] @ walk
        zeni = np.flatnonzero((ahead[1:-1] > ahead[:-2]) & (ahead[1:-1] >= ahead[2:])) + 1
        downs = np.array([a for a, _ in runs(est.contact[:, j])])
        strikes = np.flatnonzero(np.diff((fy[side] > 20.0).astype(int)) == 1) + 1
        offsets[side] = [
            {"rule": round(1000 * float(t[downs[np.argmin(abs(downs - k))]] - t[k])),
             "zeni": round(1000 * float(t[zeni[np.argmin(abs(zeni - k))]] - t[k]))
             if len(zeni) else None}
            for k in strikes if 0 < k < len(t) - 1 and len(downs)]
    out["touch_down_minus_plate_heel_strike_ms"] = offsets
    sm = sum(smooth[:, idx[f"ground_force_{s}_vy"]] for s in ("right", "left"))
    k = np.flatnonzero(w)
    bwn = bw.mass_kg * 9.80665
    out["total_vy_rmse_bw_pct_by_shift_ms"] = {
        ms: round(float(np.sqrt(np.mean((np.interp(t[k] + ms / 1000, t, bw.force_n[:, 1])
                                         - sm[k]) ** 2))) / bwn * 100, 1)
        for ms in (-40, -20, -10, 0, 10, 20, 40)}
    fa = sum(smooth[:, [idx[f"ground_force_{s}_vx"], idx[f"ground_force_{s}_vz"]]]
             for s in ("right", "left")) @ walk
    est_fa = bw.force_n[:, [0, 2]] @ walk
    out["total_fore_aft_rmse_bw_pct_by_shift_ms"] = {
        ms: round(float(np.sqrt(np.mean((np.interp(t[k] + ms / 1000, t, est_fa) - fa[k]) ** 2)))
                  / bwn * 100, 1)
        for ms in (-40, -30, -20, -10, 0, 10, 20, 40)}
    if centres is not None:
        out["double_support_fore_aft_force_bw_pct"] = fore_aft_by_body(bw, centres, plates, w)
    ratio = {}
    for side in ("right", "left"):
        single = w & (fy[side] > 20.0) & (fy["left" if side == "right" else "right"] <= 20.0)
        p = smooth[single, idx[f"ground_force_{side}_vy"]]
        e = bw.force_n[single, 1]
        ratio[side] = round(float(e @ p / (p @ p)), 3) if single.sum() >= 5 else None
    out["estimate_over_plate_in_single_support"] = ratio
    out["contact_s"] = {side: {"estimate": [(round(float(t[a]), 3), round(float(t[b]), 3))
                                            for a, b in runs(est.contact[:, j])],
                               "plate": [(round(float(t[a]), 3), round(float(t[b]), 3))
                                         for a, b in runs(fy[side] > 20.0)]}
                        for j, side in enumerate(("right", "left"))}
    out["window_s"] = [round(float(t[w][0]), 3), round(float(t[w][-1]), 3)]
    out["plate_handover_minus_ramp_rms"] = plate_handover_spread(plates)
    return out


def single_support_check(bw, floor: float, seen: dict) -> dict:
    """What grf._handover_weight's single-support check reads: the RMS horizontal distance
    of the whole-body COP from the stance foot's rolling point (kept in its support area)
    and the median distance between the feet's rolling points in the hand-overs."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse import grf
    from musclekit.pipelines.simulate.opensim.external_loads import centre_of_pressure

    if "ph" not in seen:
        return {}
    ph, cops = seen["ph"], seen["feet_cops"]
    off, gaps = [], []
    for k in range(len(bw.time_s)):
        rolling = cops[k][1]
        if ph.contact[k].sum() == 1 and bw.force_n[k, 1] > 0:
            side = ("right", "left")[int(np.flatnonzero(ph.contact[k])[0])]
            if side in rolling:
                q = rolling[side][[0, 2]]
                if seen["points"] is not None and np.isfinite(seen["margin"]):
                    q = grf._nearest_in_region(q, seen["points"][side][k][:, [0, 2]],
                                               seen["margin"])
                p = centre_of_pressure(bw.force_n[k], bw.moment_nm[k], floor)[0][[0, 2]]
                off.append(float(np.sum((p - q) ** 2)))
        elif ph.transition[k] and len(rolling) == 2:
            gaps.append(float(np.linalg.norm((rolling["right"] - rolling["left"])[[0, 2]])))
    return {"single_support_cop_from_rolling_point_rms_cm":
            round(100 * float(np.sqrt(np.mean(off))), 1) if off else None,
            "hand_over_feet_distance_m": round(float(np.median(gaps)), 2) if gaps else None}


def plate_handover_spread(plates) -> float | None:
    """RMS of the plates' leading-foot share minus a linear ramp over each of their double
    supports (from the leading foot's 20 N to the trailing foot's last 20 N, at the plates'
    own rate): the spread of measured hand-overs about the ramp (grf.HANDOVER_RAMP_SPREAD)."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import runs
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    t = plates.time_s
    ry = plates.values[:, GRF_CHANNELS.index("ground_force_right_vy")]
    ly = plates.values[:, GRF_CHANNELS.index("ground_force_left_vy")]
    devs = []
    for a, b in runs((ry > 20.0) & (ly > 20.0)):
        if a == 0 or b == len(t) - 1 or b - a < 5:
            continue  # cut by the recording, or a plate's noise
        lead = ry if ry[a - 1] <= 20.0 else ly
        x = (t[a:b + 1] - t[a]) / (t[b] - t[a])
        devs.append(lead[a:b + 1] / (ry + ly)[a:b + 1] - x)
    return round(float(np.sqrt(np.mean(np.concatenate(devs) ** 2))), 3) if devs else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="corpus.py --estimate's --out")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--diagnose", action="store_true")
    p.add_argument("--plates-prefilter-hz", type=float, default=None,
                   help="compare the trials whose plates come raw from a C3D with their "
                        "forces low-passed at this cut-off first (as the Rajagopal and UW "
                        "walks' exported forces are): does the touch-down each row prefers "
                        "depend on the reference's filtering?")
    p.add_argument("--points-filter-hz", type=float, default=None,
                   help="the feet's points (contact detection, levels, support areas) from "
                        "the kinematics low-passed at this cut-off, the whole-body wrench "
                        "still at the run's (is the touch-down early because the filter "
                        "smears an abrupt heel stop?)")
    args = p.parse_args()
    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import split_body_wrench

    osim.Logger.setLevelString("error")
    rows = []
    for trial, ds in estimate_datasets(args.out, args.only):
        bw, plates = trial_inputs(ds, ds / "body_wrench.pkl")
        if args.points_filter_hz:
            sharp, _ = trial_inputs(ds, ds / f"body_wrench_{args.points_filter_hz:g}hz.pkl",
                                    args.points_filter_hz)
            bw = dataclasses.replace(bw, heights=sharp.heights, points=sharp.points)
        mass = trial_mass(trial, args.data)
        raw_c3d = "--c3d" in trial.args
        measured = (prefiltered(plates, args.plates_prefilter_hz)
                    if args.plates_prefilter_hz and raw_c3d else None)
        if args.diagnose:
            centres = body_centres(ds, ds / "body_centres.pkl")
            print(trial.name, json.dumps(diagnose(bw, plates, ContactRule(), centres)),
                  flush=True)
        for name, fields in VARIANTS.items():
            t = time.process_time()
            est = split_body_wrench(bw, rule=ContactRule(**variant_fields(fields, bw)))
            out = compare(est, plates, mass, measured)
            rows.append({"trial": trial.name, "variant": name, "cpu_s": time.process_time() - t,
                         **{s: out[s] for s in ("right", "left")}})
    print(pivot(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, default=float, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
