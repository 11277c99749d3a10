"""Where the torso's fore-aft force in the `inverse` estimate comes from, per corpus trial
with plates (issue 25): on the Plug-in-Gait rows and the Vicon treadmill row the torso's
m a in double support is 5-11 % BW off, against -2..+0.5 elsewhere.

Reads the datasets of an earlier `python benchmarks/corpus.py --estimate --out DIR` run
(their scaled model, IK and plates) and prints, per trial:

- markers: the scaled model's torso markers, the IK weight each had, and the fraction of
  the trial's frames in which the marker file has it (a marker with no data is no task);
- lumbar: each lumbar coordinate's IK trace (range and SD, deg; RMS second difference,
  deg per frame^2: noise), and whether it never moved (the torso then rides on the pelvis);
- torso: mass share and mass centre above the lumbar joint in the scaled model;
- fore-aft force in the plates' double supports (% BW, the same frames, direction and
  6 Hz filter as corpus_grf_variants --diagnose): the plates' total, the kinematics' total,
  the torso's m a from IK, the plates' residual (plates' total minus every other body's
  m a: the torso force the plates imply), and the torso's m a with the torso held upright
  (its origin from IK, its orientation the torso's heading only: no tilt, list or lumbar
  motion), which is what a trunk without markers would do if it did not ride on the pelvis;
- over the whole compared window, the plates' mean fore-aft force and the kinematics'
  (total mass x the centre of mass's change of speed over the window), % BW;
- where the trial has torso (or pelvis) markers: each one's fore-aft acceleration measured (the
  marker file, low-passed at the estimate's cut-off over runs without gaps) against the
  same model marker's from IK, in the double-support frames where the marker is seen.

With --upright-split, on the trials whose lumbar coordinates never moved (no torso data):
the estimate's per-foot vertical force RMSE (% BW, corpus_grf_variants' comparison at the
estimate's rate, the command's rule) from the IK motion as it is and with the torso held
upright (lumbar extension and bending set against the pelvis's tilt and list, small-angle:
the torso no longer pitches and rolls with the pelvis), the experiment of an unobserved
torso that does not ride the pelvis.

    python benchmarks/torso_acceleration.py --out DIR [--only NAME ...] [--upright-split]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DATA, G, estimate_datasets, plate_window, trial_mass  # noqa: E402
from corpus_grf_variants import (  # noqa: E402
    body_centres,
    compare,
    estimate_motion,
    fore_aft_by_body,
    posed_frames,
    trial_inputs,
)

LUMBAR = ("lumbar_extension", "lumbar_bending", "lumbar_rotation")
MIN_RUN = 30  # frames: shorter gap-free runs of a marker are not differentiated


def read_table(path: Path) -> tuple[list[str], np.ndarray]:
    lines = path.read_text().splitlines()
    head = next(i for i, line in enumerate(lines) if line.strip() == "endheader")
    names = lines[head + 1].split("\t")
    rows = [[float(x) for x in line.split("\t")] for line in lines[head + 2:] if line.strip()]
    return names, np.array(rows)


def read_trc(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(time, name -> (T, 3) in m with NaN in gaps) from an OpenSim .trc."""
    lines = path.read_text().splitlines()
    header = dict(zip([k.strip() for k in lines[1].split("\t") if k.strip()],
                      [v.strip() for v in lines[2].split("\t") if v.strip()], strict=False))
    scale = 0.001 if header.get("Units", "m").lower() == "mm" else 1.0
    names = [n for n in lines[3].split("\t")[2:] if n.strip()]
    data = []
    for line in lines[5:]:
        if not line.strip():
            continue
        parts = line.split("\t")
        data.append([float(x) if x.strip() else np.nan for x in parts[1:2 + 3 * len(names)]]
                    + [np.nan] * max(0, 1 + 3 * len(names) - (len(parts) - 1)))
    a = np.array([r[:1 + 3 * len(names)] for r in data])
    return a[:, 0], {n: a[:, 1 + 3 * k:4 + 3 * k] * scale for k, n in enumerate(names)}


def ik_tasks(setup: Path) -> dict[str, float]:
    """Marker name -> weight of the tasks IK applied."""
    root = ET.parse(setup).getroot()
    return {t.get("name"): float(t.findtext("weight")) for t in root.iter("IKMarkerTask")
            if t.findtext("apply").strip() == "true"}


def torso_poses(ds: Path, cache: Path):
    """Per frame of the filtered motion body_wrench saw: the torso's origin (T, 3), its
    rotation (T, 3, 3) and its and the pelvis's markers in ground (name -> (T, 3)); with the torso's mass,
    mass centre (body frame), the model's total mass and the lumbar joint's height above
    the pelvis origin. Kept in `cache`."""
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    import opensim as osim

    seq, _, motion = estimate_motion(ds)
    # The scaled model carries the placed markers (the prepared copy may not)
    model = osim.Model(str(seq / "scaled.osim"))
    torso = model.getBodySet().get("torso")
    ms = model.getMarkerSet()
    markers = [ms.get(i) for i in range(ms.getSize())
               if ms.get(i).getParentFrame().findBaseFrame().getName() in ("torso", "pelvis")]
    n = len(motion.time_s)
    origin, rot = np.zeros((n, 3)), np.zeros((n, 3, 3))
    mk = {m.getName(): np.zeros((n, 3)) for m in markers}
    for k, state in posed_frames(model, motion):
        tr = torso.getTransformInGround(state)
        origin[k] = tr.p().to_numpy()
        rot[k] = np.array([[tr.R().get(i, j) for j in range(3)] for i in range(3)])
        for m in markers:
            mk[m.getName()][k] = m.getLocationInGround(state).to_numpy()
    c = torso.getMassCenter()
    out = {"time_s": np.asarray(motion.time_s), "origin": origin, "rot": rot, "markers": mk,
           "marker_body": {m.getName(): m.getParentFrame().findBaseFrame().getName()
                           for m in markers},
           "mass": torso.getMass(), "com": np.array([c.get(0), c.get(1), c.get(2)]),
           "total_mass": model.getTotalMass(state)}
    cache.write_bytes(pickle.dumps(out))
    return out


def heading_only(rot: np.ndarray) -> np.ndarray:
    """Rotations about ground's vertical (y) by the heading of each rotation's x axis."""
    psi = np.arctan2(-rot[:, 2, 0], rot[:, 0, 0])
    c, s = np.cos(psi), np.sin(psi)
    out = np.zeros_like(rot)
    out[:, 0, 0], out[:, 0, 2], out[:, 2, 0], out[:, 2, 2] = c, s, -s, c
    out[:, 1, 1] = 1.0
    return out


def lowpass_runs(t: np.ndarray, x: np.ndarray, hz: float) -> np.ndarray:
    """Fore-aft acceleration of a gappy marker trace: 4th-order zero-lag Butterworth at
    `hz` and central differences over each gap-free run of at least MIN_RUN frames; NaN
    elsewhere (and at each run's two ends)."""
    from scipy.signal import butter, filtfilt

    fs = 1.0 / np.median(np.diff(t))
    b, a = butter(2, hz / (fs / 2))
    ok = np.isfinite(x)
    acc = np.full(len(x), np.nan)
    k = 0
    while k < len(x):
        if not ok[k]:
            k += 1
            continue
        e = k
        while e < len(x) and ok[e]:
            e += 1
        if e - k >= MIN_RUN:
            y = filtfilt(b, a, x[k:e])
            acc[k + 2:e - 2] = np.gradient(np.gradient(y, t[k:e]), t[k:e])[2:-2]
        k = e
    return acc


def analyse(trial, ds: Path, cache_dir: Path) -> dict:
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    seq = next(p for p in (ds / "opensim").iterdir() if p.is_dir())
    cache_dir.mkdir(parents=True, exist_ok=True)
    bw, plates = trial_inputs(ds, ds / "body_wrench.pkl")
    centres = body_centres(ds, ds / "body_centres.pkl")
    tp = torso_poses(ds, cache_dir / f"{ds.name}_torso_pelvis.pkl")
    t = bw.time_s
    raw = np.nan_to_num(plates.resample(t, None))
    vy = {s: raw[:, GRF_CHANNELS.index(f"ground_force_{s}_vy")] for s in ("right", "left")}
    w, _ = plate_window(t, vy)
    both = w & (vy["right"] > 20.0) & (vy["left"] > 20.0)
    d = np.median(np.gradient(bw.com, t, axis=0)[:, [0, 2]], axis=0)
    d /= np.linalg.norm(d)
    bwn = bw.mass_kg * G

    def fore_aft_acc(p: np.ndarray) -> np.ndarray:
        return np.gradient(np.gradient(p, t, axis=0), t, axis=0)[:, [0, 2]] @ d

    # IK's markers file and tasks
    tasks = ik_tasks(seq / "ik_setup.xml")
    root = ET.parse(seq / "ik_setup.xml").getroot()
    trc_t, trc = read_trc(Path(root.findtext(".//marker_file").strip()))
    torso_names = {n for n, b in tp["marker_body"].items() if b == "torso"}
    markers, pelvis_markers = {}, {}
    for name in tp["markers"]:
        seen = float(np.isfinite(trc[name][:, 0]).mean()) if name in trc else 0.0
        (markers if name in torso_names else pelvis_markers)[name] = {
            "ik_weight": tasks.get(name, 0.0), "seen": round(seen, 2)}
    names, ik = read_table(seq / "ik.mot")
    lumbar = {}
    for c in LUMBAR:
        x = np.degrees(ik[:, names.index(c)])
        lumbar[c] = {"range_deg": [round(float(x.min()), 1), round(float(x.max()), 1)],
                     "sd_deg": round(float(x.std()), 2),
                     "d2_rms_deg": round(float(np.sqrt(np.mean(np.diff(x, 2) ** 2))), 3),
                     "never_moved": bool(np.ptp(x) < 1e-9)}
    by = fore_aft_by_body(bw, centres, plates, w)
    com_ik = tp["origin"] + np.einsum("tij,j->ti", tp["rot"], tp["com"])
    com_up = tp["origin"] + np.einsum("tij,j->ti", heading_only(tp["rot"]), tp["com"])
    m = tp["mass"]
    pct = 100.0 / bwn
    out = {"markers": markers, "lumbar": lumbar,
           "com_median_horizontal_speed_m_s": round(float(np.median(np.linalg.norm(
               np.gradient(bw.com, t, axis=0)[:, [0, 2]], axis=1))), 2),
           "torso_mass_share_pct": round(100 * m / tp["total_mass"], 1),
           "torso_com_above_lumbar_m": round(float(tp["com"][1]), 3),
           "double_support_frames": int(both.sum())}
    if by:
        out["fore_aft_bw_pct"] = {
            "plates": by["plates"], "kinematics": by["kinematics"],
            "torso_ik": round(float((m * fore_aft_acc(com_ik))[both].mean()) * pct, 1),
            "torso_plates_residual": round(by["plates"] - (by["kinematics"] - by["torso"]), 1),
            "torso_upright": round(float((m * fore_aft_acc(com_up))[both].mean()) * pct, 1)}
        # over the whole compared window: the plates' mean fore-aft force against the
        # kinematics' (total mass x the centre of mass's change of speed / duration): a
        # shear bias or a wrong mass would show here, a phase error would not
        names_b, masses_b, pos_b = centres
        com = (masses_b[None, :, None] * pos_b).sum(axis=1) / masses_b.sum()
        v = np.gradient(com, t, axis=0)[:, [0, 2]] @ d
        i = np.flatnonzero(w)
        smooth = np.nan_to_num(plates.resample(t, 6.0))
        plate = sum(smooth[:, [GRF_CHANNELS.index(f"ground_force_{s}_vx"),
                               GRF_CHANNELS.index(f"ground_force_{s}_vz")]]
                    for s in ("right", "left")) @ d
        out["fore_aft_bw_pct"]["window_mean_plates"] = round(float(plate[w].mean()) * pct, 1)
        out["fore_aft_bw_pct"]["window_mean_kinematics"] = round(
            float(masses_b.sum() * (v[i[-1]] - v[i[0]]) / (t[i[-1]] - t[i[0]])) * pct, 1)
        out["fore_aft_bw_pct"]["by_body_ik"] = {k: v for k, v in by.items()
                                                 if k not in ("plates", "kinematics")}
        # the torso's rotation about its origin (the lumbar joint): its share of the force
        rel = com_ik - tp["origin"]
        out["fore_aft_bw_pct"]["torso_rotation_part"] = round(
            float((m * fore_aft_acc(rel))[both].mean()) * pct, 1)
        # the IK torso's force over the double supports shifted in time (kinematics later
        # than the plates by the shift): a phase error would move the best match
        f_ik = m * fore_aft_acc(com_ik) * pct
        dt = float(np.median(np.diff(t)))
        out["fore_aft_bw_pct"]["torso_ik_by_shift_ms"] = {
            int(ms): round(float(f_ik[np.roll(both, int(round(ms / 1000 / dt)))].mean()), 1)
            for ms in (-40, -20, 0, 20, 40)}
    hz = json.loads((seq / "dynamics" / "inverse" / "chunk0000.payload.json").read_text())[
        "settings"]["filter_hz"]
    measured = {}
    for name, info in {**markers, **pelvis_markers}.items():
        if info["seen"] < 0.2 or name not in trc or name not in tp["markers"]:
            continue
        x = trc[name][:, [0, 2]] @ d
        a_meas = np.interp(t, trc_t, lowpass_runs(trc_t, x, hz), left=np.nan, right=np.nan)
        a_ik = fore_aft_acc(tp["markers"][name])
        sel = both & np.isfinite(a_meas)
        if sel.sum() >= 5:
            measured[name] = {"frames": int(sel.sum()),
                              "measured_m_s2": round(float(a_meas[sel].mean()), 2),
                              "ik_m_s2": round(float(a_ik[sel].mean()), 2),
                              "rms_diff_m_s2": round(float(np.sqrt(np.mean(
                                  (a_meas[sel] - a_ik[sel]) ** 2))), 2)}
    out["markers_measured_vs_ik"] = measured
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="corpus.py --estimate's --out")
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--cache", type=Path, default=Path("/tmp/torso_acceleration_cache"))
    p.add_argument("--upright-split", action="store_true",
                   help="the per-foot RMSE with an unobserved torso held upright")
    args = p.parse_args()
    import opensim as osim

    osim.Logger.setLevelString("error")
    rows = []
    for trial, ds in estimate_datasets(args.out, args.only):
        out = analyse(trial, ds, args.cache)
        print(trial.name, json.dumps(out, indent=1), flush=True)
        rows.append((trial.name, out))
        if args.upright_split and all(v["never_moved"] for v in out["lumbar"].values()):
            print(trial.name, "per-foot:", json.dumps(upright_split(trial, ds), default=str),
                  flush=True)
    print(summary(rows))
    return 0


def upright_split(trial, ds: Path) -> dict:
    """Per-foot RMSE (% BW) of the command's split from the motion as IK left it and with
    the torso held upright against the pelvis's tilt and list."""
    import dataclasses

    from musclekit.pipelines.simulate.dynamics.kernel.prep import PreparedModel
    from musclekit.pipelines.simulate.dynamics.kernel.solution import (
        _filtered_motion,
        _model_facts,
    )
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import (
        ContactRule,
    )
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import (
        body_wrench,
        split_body_wrench,
    )

    seq = next(p for p in (ds / "opensim").iterdir() if p.is_dir())
    payload = json.loads((seq / "dynamics" / "inverse" / "chunk0000.payload.json").read_text())
    folder = Path(payload["prep_folder"])
    prep = PreparedModel.load(folder)
    model_file = str(folder / prep.model_path)
    _, rotational = _model_facts(model_file)
    motion = _filtered_motion(payload["motion_path"], rotational,
                              payload["settings"]["filter_hz"])
    col = {n: i for i, n in enumerate(motion.names)}
    values = motion.values.copy()
    values[:, col["lumbar_extension"]] = -values[:, col["pelvis_tilt"]]
    values[:, col["lumbar_bending"]] = -values[:, col["pelvis_list"]]
    upright = dataclasses.replace(motion, values=values)
    feet = {s: tuple(b) for s, b in prep.feet.items()}
    bw_ik, plates = trial_inputs(ds, ds / "body_wrench.pkl")
    bw_up = body_wrench(model_file, upright, feet)
    mass = trial_mass(trial, DATA)
    out = {}
    for name, bw in (("ik", bw_ik), ("upright torso", bw_up)):
        res = compare(split_body_wrench(bw, rule=ContactRule()), plates, mass)
        out[name] = {s: {k: res[s][k] for k in ("vy_rmse_bw_pct", "swing_max_bw_pct",
                                                 "cop_x_rms_cm", "cop_z_rms_cm")}
                     for s in ("right", "left")}
    return out


def summary(rows) -> str:
    """One line per trial: torso markers with data, lumbar never moved, and the double
    supports' fore-aft forces (% BW) and pelvis/torso markers' accelerations (m/s^2)."""
    lines = ["trial | torso markers seen | lumbar still | plates | kinematics | torso IK | "
             "torso residual | torso upright | torso IK -40/-20/+20 ms | window plates/kin | "
             "markers measured / IK (m/s^2)"]
    for name, o in rows:
        f = o.get("fore_aft_bw_pct", {})
        seen = sum(v["seen"] > 0 for v in o["markers"].values())
        still = all(v["never_moved"] for v in o["lumbar"].values())
        sh = f.get("torso_ik_by_shift_ms", {})
        mk = " ".join(f"{k} {v['measured_m_s2']}/{v['ik_m_s2']}"
                      for k, v in o["markers_measured_vs_ik"].items())
        lines.append(f"{name} | {seen}/{len(o['markers'])} | {still} | {f.get('plates')} | "
                     f"{f.get('kinematics')} | {f.get('torso_ik')} | "
                     f"{f.get('torso_plates_residual')} | {f.get('torso_upright')} | "
                     f"{sh.get(-40)}/{sh.get(-20)}/{sh.get(20)} | "
                     f"{f.get('window_mean_plates')}/{f.get('window_mean_kinematics')} | {mk}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
