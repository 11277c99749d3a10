"""Validation on a lab's real gait: ../shared/data/rajagopal2016 (walking and running with
force plates, raw EMG of 10 right-leg muscles, the lab's OpenSim setups). Reproduces every
number and plot of docs/validation.md:

1. the lab's own OpenSim pipeline (ScaleTool, InverseKinematicsTool with its setups) gives
   the kinematics every check below starts from; `musclekit simulate --ik-setup` (the command
   a user types) on the lab's setup, scaled model and marker file is compared with it, per
   coordinate (median and largest difference, degrees);
2. ground forces estimated per foot from those kinematics (musclekit's `inverse` method, no
   plates) against the plates: vertical and fore-aft RMSE (% body weight), PCC, the swing
   foot's load, contact timing against the plates' 20 N threshold;
3. joint moments by OpenSim's InverseDynamicsTool on the same kinematics, once with the
   plates and once with the estimate: hip, knee, ankle flexion RMSE (N m / kg);
4. (with --activations) muscle activations by the `inverse` method with measured and with
   estimated forces against the raw EMG's envelopes (walking, right leg): PCC, on/offset.

Comparisons use the frames where the plates carry the whole body: the time range of the
lab's own inverse dynamics setup (ID/id_setup_<trial>.xml). Run:

    python benchmarks/validate_rajagopal.py [--data ../shared/data/rajagopal2016]
        [--out docs/img] [--activations] [--json results.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ik_process import differences  # noqa: E402
from rajagopal_lab import DEFAULT_DATA, FEET, TRIALS, lab_pipeline  # noqa: E402

MOMENTS = ["hip_flexion_r", "knee_angle_r", "ankle_angle_r",
           "hip_flexion_l", "knee_angle_l", "ankle_angle_l"]


def _motion(model: Path, motion: Path, filter_hz: float = 6.0):
    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.kernel.filtering import lowpass
    from musclekit.pipelines.simulate.opensim.files import read_mot, rotational_coordinates

    return lowpass(read_mot(motion, rotational=rotational_coordinates(osim.Model(str(model)))),
                   filter_hz)


def _edges(t: np.ndarray, on: np.ndarray) -> tuple[list[float], list[float]]:
    d = np.diff(on.astype(int))
    return list(t[1:][d == 1]), list(t[1:][d == -1])


def compare_feet(t: np.ndarray, est: np.ndarray, measured: np.ndarray, raw: np.ndarray,
                 w: np.ndarray, bw: float, contact: np.ndarray | None = None) -> dict:
    """Per foot, the estimate `est` against the plates (`measured`: filtered as the estimate,
    `raw`: unfiltered, for contact timing), all (T, 18) GRF_CHANNELS rows at times `t`, over
    the frames `w` where the plates carry the whole body: vertical and fore-aft (along
    `progression_axis`) RMSE (% of
    body weight `bw`), vertical PCC, the centre of pressure's error (cm, where both carry
    > 10 % BW), the swing foot's load, and contact timing against the
    plates' 20 N threshold (`contact` (T, 2): the estimate's own contact; default: where its
    vertical force is above 20 N too). Also used by benchmarks/corpus.py."""
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    lo, hi = float(t[w][0]), float(t[w][-1])
    u = progression_axis(measured, w, bw)
    out = {"progression_axis_xz": [round(float(a), 3) for a in u]}

    def along(a: np.ndarray, side: str, kind: str) -> np.ndarray:
        # the horizontal (x, z) components of channel kind ("v" force, "p" COP) along u
        return (a[:, idx[f"ground_force_{side}_{kind}x"]] * u[0]
                + a[:, idx[f"ground_force_{side}_{kind}z"]] * u[1])

    def across(a: np.ndarray, side: str, kind: str) -> np.ndarray:
        return (-a[:, idx[f"ground_force_{side}_{kind}x"]] * u[1]
                + a[:, idx[f"ground_force_{side}_{kind}z"]] * u[0])

    for k, side in enumerate(("right", "left")):
        e_y, m_y = est[:, idx[f"ground_force_{side}_vy"]], measured[:, idx[f"ground_force_{side}_vy"]]
        e_x, m_x = along(est, side, "v"), along(measured, side, "v")
        plate_on = raw[:, idx[f"ground_force_{side}_vy"]] > 20.0
        swing = w & ~plate_on
        on_p, off_p = _edges(t, plate_on)
        on_e, off_e = _edges(t, contact[:, k] if contact is not None else e_y > 20.0)

        def lag(a: list[float], b: list[float]) -> list[float]:
            return [round(min((abs(x - y) for y in b), default=np.inf) * 1000, 1) for x in a
                    if lo - 0.05 <= x <= hi + 0.05]

        # Centre of pressure where both the plate and the estimate carry > 10 % BW (m):
        # fore-aft ("x": along the progression axis) RMS and mean (negative: behind the
        # plate's), mediolateral ("z") RMS.
        cop = {"x": along(est, side, "p") - along(measured, side, "p"),
               "z": across(est, side, "p") - across(measured, side, "p")}
        loaded = w & (m_y > 0.1 * bw) & (e_y > 0.1 * bw)
        # A dataset's stream leaves an unloaded foot's COP NaN, and its 50 fps stitching of
        # chunks on offset meshes can carry that NaN into a touch-down frame whose force is
        # already interpolated above 10 % BW: such frames have no COP to compare (counted).
        no_cop = loaded & ~(np.isfinite(cop["x"]) & np.isfinite(cop["z"]))
        loaded &= ~no_cop
        if not loaded.any():  # no frame both carry: NaN, not a warning
            cop = {a: np.full(len(t), np.nan) for a in cop}
            loaded = w
        out[side] = {
            "cop_x_rms_cm": round(float(np.sqrt(np.mean(cop["x"][loaded] ** 2))) * 100, 1),
            "cop_x_bias_cm": round(float(np.mean(cop["x"][loaded])) * 100, 1),
            "cop_z_rms_cm": round(float(np.sqrt(np.mean(cop["z"][loaded] ** 2))) * 100, 1),
            "cop_frames_without_cop": int(no_cop.sum()),
            "vy_rmse_bw_pct": round(float(np.sqrt(np.mean((e_y - m_y)[w] ** 2)) / bw * 100), 2),
            "vy_pcc": round(float(np.corrcoef(e_y[w], m_y[w])[0, 1]), 4),
            "vx_rmse_bw_pct": round(float(np.sqrt(np.mean((e_x - m_x)[w] ** 2)) / bw * 100), 2),
            "swing_max_bw_pct": round(float(np.abs(e_y[swing]).max(initial=0.0) / bw * 100), 2),
            "heel_strike_lag_ms": lag(on_p, on_e), "toe_off_lag_ms": lag(off_p, off_e),
        }
    return out


def progression_axis(measured: np.ndarray, w: np.ndarray, bw: float) -> np.ndarray:
    """(2,) the unit horizontal (x, z) fore-aft direction: the principal axis of the plates'
    horizontal forces over the frames `w` (braking and propulsion, ~20 % BW, against
    mediolateral forces of ~5 % BW; overground and on a treadmill alike), whatever the lab's
    axes (the Plug-in-Gait walks go along the lab's z; the Rajagopal trials along x, where
    this is x). Its sign makes the larger component positive (x on the Rajagopal trials)."""
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    h = np.concatenate([measured[w][:, [idx[f"ground_force_{s}_vx"], idx[f"ground_force_{s}_vz"]]]
                        for s in ("right", "left")])
    if len(h) < 2 or not np.abs(h).sum() > 0:
        return np.array([1.0, 0.0])
    u = np.linalg.eigh(h.T @ h)[1][:, -1]
    return u if u[np.argmax(np.abs(u))] > 0 else -u


def total_check(est, measured: np.ndarray, raw: np.ndarray, w: np.ndarray, bw: float) -> dict:
    """What the split cannot change: the kinematics' total vertical force (the whole-body
    wrench, before any split) against the plates' total (both at 6 Hz), RMSE % BW over the
    window, also with it shifted by +-10 ms; and the split estimate's total over the frames
    where the unfiltered plates read no load (flight: the estimate is 0 there, the 6 Hz
    plates are not)."""
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    vy = [GRF_CHANNELS.index(f"ground_force_{s}_vy") for s in ("right", "left")]
    plate = measured[:, vy].sum(axis=1)
    t = est.time_s
    k = np.flatnonzero(w)

    def rmse(e: np.ndarray, sel) -> float:
        return round(float(np.sqrt(np.mean((e[sel] - plate[sel]) ** 2))) / bw * 100, 2)

    flight = w & (raw[:, vy].sum(axis=1) <= 20.0)
    out = {"kinematics_vy_rmse_bw_pct": rmse(est.total_force_n[:, 1], w),
           "split_vy_rmse_bw_pct": rmse(est.values[:, vy].sum(axis=1), w),
           "flight_frames": int(flight.sum())}
    for ms in (-10, 10):
        shifted = np.interp(t + ms / 1000, t, est.total_force_n[:, 1])
        out[f"kinematics_vy_rmse_bw_pct_shift_{ms}ms"] = rmse(shifted, k)
    if flight.any():
        out["split_vy_rmse_in_flight_bw_pct"] = rmse(est.values[:, vy].sum(axis=1), flight)
    return out


def grf_check(lab: dict, trial: str) -> dict:
    """Per-foot ground forces estimated from the kinematics against the plates."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import estimate_grf
    from musclekit.pipelines.simulate.opensim.external_loads import read_measured_grf

    mass = TRIALS[trial]["mass_kg"]
    bw = mass * 9.80665
    mot = _motion(lab["model"], lab["motion"])
    t0 = time.perf_counter()
    est = estimate_grf(str(lab["model"]), mot, feet=FEET)
    est_s = time.perf_counter() - t0
    plates = read_measured_grf(None, lab["grf_xml"])
    measured = np.nan_to_num(plates.resample(est.time_s, 6.0))
    raw = np.nan_to_num(plates.resample(est.time_s, None))
    lo, hi = lab["window_s"]
    w = (est.time_s >= lo) & (est.time_s <= hi)
    out = {"trial": trial, "frames": int(w.sum()), "window_s": [lo, hi],
           "estimate_s": round(est_s, 2), "floor_m": round(est.floor_m, 4),
           "ground_velocity_m_s": [round(float(v), 3) for v in est.ground_velocity_m_s],
           "orphan_frames": int(est.orphan[w].sum())}
    out.update(compare_feet(est.time_s, est.values, measured, raw, w, bw, est.contact))
    out["total"] = total_check(est, measured, raw, w, bw)
    out["_series"] = {"t": est.time_s, "est": est.values, "measured": measured,
                      "contact": est.contact, "window": w}
    return out


def moments_check(lab: dict, trial: str, work: Path) -> dict:
    """Joint moments by OpenSim's InverseDynamicsTool on the same kinematics with the plates
    and with the estimate (`id_moments`)."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import estimate_grf
    from musclekit.pipelines.simulate.opensim.external_loads import write_external_loads

    mass = TRIALS[trial]["mass_kg"]
    mot = _motion(lab["model"], lab["motion"])
    est = estimate_grf(str(lab["model"]), mot, feet=FEET)
    out_dir = work / f"id_{trial}"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_external_loads(est.time_s, est.values, out_dir / "grf_estimated.mot", out_dir / "grf_estimated.xml",
                         {"right": "calcn_r", "left": "calcn_l"})
    return {"trial": trial, **id_moments(lab["model"], lab["motion"], lab["grf_xml"],
                                         out_dir / "grf_estimated.xml", lab["window_s"],
                                         out_dir, mass)}


def id_moments(model: Path, motion: Path, measured_xml: Path, estimated_xml: Path,
               window_s: tuple[float, float], out_dir: Path, mass: float) -> dict:
    """Joint moments by OpenSim's InverseDynamicsTool on the same kinematics (`motion`,
    low-passed at 6 Hz) with the plates (`measured_xml`) and with the estimate
    (`estimated_xml`), both ExternalLoads, over `window_s`: per MOMENTS coordinate the RMSE
    and PCC (N m / kg). Also used by benchmarks/corpus.py."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.files import read_mot

    lo, hi = window_s
    results = {}
    for name, loads in (("measured", measured_xml), ("estimated", estimated_xml)):
        tool = osim.InverseDynamicsTool()
        tool.setModelFileName(str(model))
        tool.setCoordinatesFileName(str(motion))
        tool.setLowpassCutoffFrequency(6.0)
        tool.setExternalLoadsFileName(str(loads))
        tool.setStartTime(lo)
        tool.setEndTime(hi)
        excluded = osim.ArrayStr()
        excluded.append("Muscles")
        tool.setExcludedForces(excluded)
        tool.setResultsDir(str(out_dir))
        tool.setOutputGenForceFileName(f"id_{name}.sto")
        setup = out_dir / f"id_{name}_setup.xml"
        tool.printToXML(str(setup))
        with contextlib.chdir(Path(loads).parent):  # a lab's loads name their data file relatively
            osim.InverseDynamicsTool(str(setup)).run()
        results[name] = read_mot(out_dir / f"id_{name}.sto", rotational=set())
    m, e = results["measured"], results["estimated"]
    out = {"window_s": [lo, hi]}
    for c in MOMENTS:
        col = f"{c}_moment"
        a = m.column(col)
        b = np.interp(m.time_s, e.time_s, e.column(col))
        out[c] = {"rmse_nm_per_kg": round(float(np.sqrt(np.mean((a - b) ** 2)) / mass), 3),
                  "pcc": round(float(np.corrcoef(a, b)[0, 1]), 3),
                  "peak_measured_nm_per_kg": round(float(np.abs(a).max() / mass), 3)}
    out["_series"] = {"t": m.time_s, "measured": {c: m.column(f"{c}_moment") / mass for c in MOMENTS},
                      "estimated": {c: np.interp(m.time_s, e.time_s, e.column(f"{c}_moment")) / mass
                                    for c in MOMENTS}}
    return out


def scaling_and_ik_check(data: Path, work: Path) -> dict:
    """musclekit's scaling (the lab's setup, then the automatic rule) against the lab's
    applied scale set (IK: `ik_check`)."""
    import opensim as osim

    from musclekit.pipelines.simulate.kinematics.lab import LabInputs, scale_from_static

    static = data / "ExpData" / "static_walk_1.trc"
    applied = osim.ScaleSet(str(data / "Scale" / "scaleSet_applied_walk.xml"))
    ref = {applied.get(i).getSegmentName(): [applied.get(i).getScaleFactors().get(k)
                                             for k in range(3)] for i in range(applied.getSize())}
    out: dict = {}
    for name, setup, markers in (
            ("lab setup", data / "Scale" / "scale_setup_walk_scaleOnly.xml", None),
            ("automatic", None, data / "Scale" / "markerset_walk_preScale.xml")):
        lab = LabInputs(static_trc=str(static), mass_kg=85.07, height_m=1.829,
                        scale_setup=str(setup) if setup else None,
                        marker_set=str(markers) if markers else None)
        t0 = time.perf_counter()
        sc = scale_from_static(data / "Rajagopal2016.osim", static, work / f"mk_scale_{name[:3]}", lab)
        diffs = [abs(a - b) for body, f in sc.scale_factors.items() if body in ref
                 for a, b in zip(f, ref[body], strict=True)]
        out[name] = {"seconds": round(time.perf_counter() - t0, 2),
                     "static_rms_mm": round(1000 * sc.static_rms_m, 1),
                     "static_max_mm": round(1000 * max(sc.static_error_m.values()), 1),
                     "max_scale_factor_difference": round(float(max(diffs)), 4),
                     "median_scale_factor_difference": round(float(np.median(diffs)), 4),
                     "model": str(sc.model_path)}
    return out


def ik_check(data: Path, work: Path, trial: str) -> dict:
    """IK with the lab's IK setup through the command a user types (`musclekit simulate --trc
    ... --model <the lab's scaled model> --ik-setup <the lab's setup> --until ik`) against
    OpenSim's InverseKinematicsTool run on the same setup, model and marker file (the lab's
    pipeline, run from the setup's folder): per rotational coordinate, the median and largest
    difference in degrees."""
    import opensim as osim

    from musclekit.cli.main import main as musclekit
    from musclekit.pipelines.simulate.opensim.files import read_mot

    lab = lab_pipeline(data, work, trial)  # the lab's scaled model; OpenSim's IK on it
    setup = work / "IK" / TRIALS[trial]["ik"]
    trc = data / "ExpData" / f"motion_capture_{trial}.trc"
    # OpenSim's tool once more, timed alone (the lab pipeline's run may have been cached)
    theirs_mot = work / f"opensim_ik_{trial}.mot"
    with contextlib.chdir(setup.parent):
        tool = osim.InverseKinematicsTool(setup.name)
        tool.setOutputMotionFileName(str(theirs_mot))
        tool.setResultsDir(str(work / f"opensim_ik_{trial}"))
        t0 = time.perf_counter()
        tool.run()
        theirs_s = time.perf_counter() - t0
    out_ds = work / f"mk_ik_{trial}"
    shutil.rmtree(out_ds, ignore_errors=True)  # a rerun would skip the finished sequence
    t0 = time.perf_counter()
    code = musclekit(["simulate", "--trc", str(trc), "--model", str(lab["model"]),
                      "--ik-setup", str(data / "IK" / TRIALS[trial]["ik"]), "--until", "ik",
                      "--workers", "0", "--out", str(out_ds)])
    ours_s = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"musclekit simulate failed on {trial} (exit {code})")
    ours_mot = next(out_ds.glob("opensim/*/ik.mot"))
    diff = differences(lab["model"], ours_mot, theirs_mot)  # the IK benchmark's comparison
    per = diff["per_coordinate"]
    errors = read_mot(next(out_ds.glob("opensim/*/ik_ik_marker_errors.sto")), rotational=set())
    return {"trial": trial, "frames": diff["frames"], "opensim_frames": diff["frames"],
            "median_difference_deg": diff["median_difference_deg"],
            "largest_median_deg": max(v["median_deg"] for v in per.values()),
            "max_difference_deg": diff["max_difference_deg"],
            "per_coordinate": per,
            "marker_rms_mean_mm": round(1000 * float(np.mean(errors.column("marker_error_RMS"))), 1),
            "marker_max_mm": round(1000 * float(np.max(errors.column("marker_error_max"))), 1),
            "command_s": round(ours_s, 2), "opensim_s": round(theirs_s, 2),
            "ratio_to_opensim": round(theirs_s / ours_s, 2)}


def print_ik(res: dict) -> None:
    print(f"IK {res['trial']}: `musclekit simulate --ik-setup` vs OpenSim's IK tool, "
          f"{res['frames']} frames ({res['opensim_frames']} by OpenSim); difference per "
          "coordinate, deg (median / max):")
    for c, v in res["per_coordinate"].items():
        print(f"  {c:24s} {v['median_deg']:8.4f} {v['max_deg']:8.4f}")
    print(f"  all: median {res['median_difference_deg']:.4f}, largest median "
          f"{res['largest_median_deg']:.4f}, max {res['max_difference_deg']:.4f}; marker RMS "
          f"{res['marker_rms_mean_mm']} mm; command {res['command_s']} s, OpenSim's tool "
          f"{res['opensim_s']} s")


def plot_grf(res: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    s = res["_series"]
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    bw = TRIALS[res["trial"]]["mass_kg"] * 9.80665
    fig, axes = plt.subplots(2, 2, figsize=(11, 5.5), sharex=True)
    for col, side in enumerate(("right", "left")):
        for row, (axis, label) in enumerate((("vy", "vertical"), ("vx", "fore-aft"))):
            ax = axes[row, col]
            ax.plot(s["t"], s["measured"][:, idx[f"ground_force_{side}_{axis}"]] / bw * 100,
                    color="k", lw=1.6, label="force plate")
            ax.plot(s["t"], s["est"][:, idx[f"ground_force_{side}_{axis}"]] / bw * 100,
                    color="tab:red", lw=1.2, label="estimated from kinematics")
            ax.fill_between(s["t"], 0, 1, where=s["contact"][:, col], color="tab:red",
                            alpha=0.08, transform=ax.get_xaxis_transform(),
                            label="detected contact")
            ax.fill_between(s["t"], 0, 1, where=~s["window"], color="0.6", alpha=0.25,
                            transform=ax.get_xaxis_transform(), label="plates miss a foot")
            ax.set_title(f"{side} foot, {label}")
            ax.set_ylabel("% body weight")
    axes[1, 0].set_xlabel("time (s)")
    axes[1, 1].set_xlabel("time (s)")
    axes[0, 0].legend(loc="upper right", fontsize=7)
    r, left = res["right"], res["left"]
    fig.suptitle(f"Rajagopal 2016 {res['trial']}: per-foot ground force, estimated vs plates "
                 f"(vertical RMSE {r['vy_rmse_bw_pct']} / {left['vy_rmse_bw_pct']} % BW)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_moments(res: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = res["_series"]
    fig, axes = plt.subplots(2, 3, figsize=(11, 5.5), sharex=True)
    for ax, c in zip(axes.ravel(), MOMENTS, strict=True):
        ax.plot(s["t"], s["measured"][c], color="k", lw=1.6, label="with plates")
        ax.plot(s["t"], s["estimated"][c], color="tab:red", lw=1.2, label="with estimate")
        ax.set_title(f"{c} (RMSE {res[c]['rmse_nm_per_kg']} N m/kg)", fontsize=9)
    axes[0, 0].set_ylabel("moment (N m / kg)")
    axes[1, 0].set_ylabel("moment (N m / kg)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Rajagopal 2016 {res['trial']}: joint moments by OpenSim's inverse dynamics")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _public(d: dict) -> dict:
    return {k: v for k, v in d.items() if not k.startswith("_")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    ap.add_argument("--work", type=Path, default=None, help="keep the lab files here")
    ap.add_argument("--trials", nargs="+", default=list(TRIALS))
    ap.add_argument("--activations", action="store_true",
                    help="also solve the walking trial's muscles and compare with EMG (minutes)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--ik-only", action="store_true",
                    help="only scaling and the IK check (the command vs OpenSim's IK tool)")
    args = ap.parse_args(argv)
    if not (args.data / "ExpData").is_dir():
        print(f"no Rajagopal 2016 data at {args.data} (see its README): nothing to validate",
              file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="rajagopal-"))
    report: dict = {"data": str(args.data), "date": time.strftime("%Y-%m-%d")}
    report["scaling_ik"] = scaling_and_ik_check(args.data, work)
    print(json.dumps(report["scaling_ik"], indent=1))
    for trial in args.trials:
        report.setdefault("ik", {})[trial] = ik_check(args.data, work, trial)
        print_ik(report["ik"][trial])
    if args.ik_only:
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        return 0
    for trial in args.trials:
        lab = lab_pipeline(args.data, work, trial)
        grf = grf_check(lab, trial)
        plot_grf(grf, args.out / f"validation-grf-{trial}.png")
        mom = moments_check(lab, trial, work)
        plot_moments(mom, args.out / f"validation-moments-{trial}.png")
        report[trial] = {"grf": _public(grf), "moments": _public(mom)}
        print(json.dumps(report[trial], indent=1))
    if args.activations:
        from validate_rajagopal_emg import activation_check  # noqa: PLC0415

        report["activations"] = activation_check(args.data, work, args.out)
        print(json.dumps(report["activations"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
