"""Every real trial of ../shared/data (corpus, rajagopal2016, opencap) through the command a lab
would type: `musclekit simulate ... --until ik`, one row per trial.

Each row: markers used / ignored / left out, static error, scale-factor range, IK marker RMS
(mean over frames) and max, frames, wall time, and the verdict the command gave. The table is
printed as Markdown (docs/validation.md, "The corpus").

With `--estimate`, every trial with force plates (and a scaling that meets the bar) is also run
through the full command with the plates left out of the dynamics (`--plates compare
--method inverse`): the ground forces are then estimated from the motion, and a second table
compares each foot's estimate (the dataset's `grf` stream) with the plates kept beside it (the
sequence's `plates`): vertical and fore-aft RMSE (% body weight) and vertical PCC, by
`validate_rajagopal.compare_feet` (the comparison of docs/validation.md section 2), over the
frames where the plates carry the whole body (`plate_window`).

With `--estimate --method track`, the same trials through `--method track --track-grf
estimated --add-foot-contact` instead (rows labelled `[track]`, with the chunks' convergence
in the --json row's `track`): the tracked contact spheres' forces against the plates.

    python benchmarks/corpus.py [--only NAME ...] [--estimate [--method track]] [--out DIR]

A trial whose command fails prints its error in the row; the script never stops early. The
rule a trial is run with is the same for every lab: a matching model when the lab ships one,
else a marker-set preset, a static trial and mass when there are, else `--static auto`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import MusclekitError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
G = 9.80665
sys.path.insert(0, str(Path(__file__).resolve().parent))
from validate_rajagopal import MOMENTS, compare_feet, id_moments  # noqa: E402 - section 2's

# issue 26's bar: IK <= 20 mm (25 mm with --static auto), static <= 20 mm, factors 0.7-1.4
PASS = {"ik_rms_mm": 20.0, "auto_ik_rms_mm": 25.0, "static_mm": 20.0, "factor_lo": 0.7,
        "factor_hi": 1.4}


@dataclass
class Trial:
    name: str
    lab: str
    args: list[str]  # after `musclekit simulate`, paths relative to the data folder
    plates: bool = False  # the trial has force plates
    needs: list[str] = field(default_factory=list)  # data files that must exist
    mass_kg: float | None = None
    estimate: bool = False  # with --estimate: the full command, plates kept to compare


def trials() -> list[Trial]:
    """Every real trial, as a lab would run it: with its static trial and mass when it has
    them (a matching model or the marker set's preset), the same with `--static auto`, and
    the trials without a static trial on the model that matches their markers."""
    c = "corpus"
    dot = f"{c}/uw_lenhart_walk/generic_dotnames_model.osim"
    raj = "rajagopal2016"
    uw = ["--trc", f"{c}/uw_lenhart_walk/overground_17.trc", "--mass", "62"]
    uw_plates = ["--grf", f"{c}/uw_lenhart_walk/overground_17_grf.mot",
                 "--grf-setup", f"{c}/uw_lenhart_walk/overground_17_ext_loads.xml"]
    pig = ["--c3d", f"{c}/btk_pig/walk.c3d", "--mass", "74", "--height", "1.76",
           "--marker-set", "plug-in-gait"]
    fun = ["--c3d", f"{c}/btk_functional/walk.c3d", "--mass", "60", "--height", "1.68",
           "--marker-set", "plug-in-gait"]
    walk = ["--trc", f"{raj}/ExpData/motion_capture_walk.trc", "--mass", "85.07",
            "--height", "1.829"]
    out = []
    for name, lab, args, static, plates, mass in (
            ("uw_lenhart_walk, its generic model", "UW (Lenhart)", [*uw, "--model", dot],
             f"{c}/uw_lenhart_walk/static1.trc", False, 62.0),
            ("uw_lenhart_walk, preset uw-lenhart", "UW (Lenhart)",
             [*uw, "--marker-set", "uw-lenhart"], f"{c}/uw_lenhart_walk/static1.trc", True, 62.0),
            ("btk_pig, preset plug-in-gait", "BTK Plug-in-Gait", pig,
             f"{c}/btk_pig/static.c3d", True, 74.0),
            ("btk_functional, preset plug-in-gait", "BTK Workstation PiG", fun,
             f"{c}/btk_functional/static.c3d", True, 60.0),
            ("rajagopal2016 walk, lab's marker set", "Stanford (Rajagopal)",
             [*walk, "--model", f"{raj}/Rajagopal2016.osim", "--marker-set",
              f"{raj}/Scale/markerset_walk_preScale.xml"],
             f"{raj}/ExpData/static_walk_1.trc", True, 85.07),
            ("rajagopal2016 walk, preset uw-lenhart", "Stanford (Rajagopal)",
             [*walk, "--marker-set", "uw-lenhart"], f"{raj}/ExpData/static_walk_1.trc", True,
             85.07)):
        # the lab's ExternalLoads names the Rajagopal-style calcn bodies, which the generic
        # dotted-name model lacks (its feet are foot_r/l): the plates go with the preset run
        extra = uw_plates if name.startswith("uw_lenhart_walk, preset") else []
        # the estimate is run once per lab trial with plates: on the static-trial scaling
        # (Rajagopal's walk: on the lab's own setups below, as in section 2)
        out.append(Trial(name, lab, [*args, "--static", static, *extra], plates=plates,
                         mass_kg=mass, estimate=plates and not name.startswith("rajagopal")))
        out.append(Trial(f"{name} (static auto)", lab, [*args, "--static", "auto"],
                         mass_kg=mass))
    out += [
        Trial("rajagopal2016 walk, lab's setups", "Stanford (Rajagopal)", [
            "--trc", f"{raj}/ExpData/motion_capture_walk.trc",
            "--static", f"{raj}/ExpData/static_walk_1.trc", "--mass", "85.07",
            "--model", f"{raj}/Rajagopal2016.osim",
            "--scale-setup", f"{raj}/Scale/scale_setup_walk_scaleOnly.xml",
            "--ik-setup", f"{raj}/IK/ik_setup_walk.xml",
            "--grf", f"{raj}/ExpData/grf_walk.mot", "--grf-setup", f"{raj}/ID/grf_walk.xml"],
            plates=True, mass_kg=85.07, estimate=True),
        Trial("stanford_run, generic dotted-name model", "Stanford", [
            "--trc", f"{c}/stanford_run/run.trc", "--model", dot]),
        # no static trial and no mass: scaled from the motion (the mass only sets body masses)
        Trial("stanford_run, preset uw-lenhart (static auto, 70 kg assumed)", "Stanford", [
            "--trc", f"{c}/stanford_run/run.trc", "--marker-set", "uw-lenhart",
            "--static", "auto", "--mass", "70"], mass_kg=70.0),
        Trial("vicon_treadmill, Rajagopal2016 model", "Vicon Nexus", [
            "--c3d", f"{c}/vicon_treadmill/walking2.c3d", "--model",
            f"{raj}/Rajagopal2016.osim"], plates=True),
        # no static trial and no mass in the file: scaled from the motion itself; the mass
        # (assumed) only sets the bodies' masses, not the fit
        Trial("vicon_treadmill, Rajagopal2016 model (static auto, 75 kg assumed)",
              "Vicon Nexus", ["--c3d", f"{c}/vicon_treadmill/walking2.c3d", "--model",
                              f"{raj}/Rajagopal2016.osim", "--static", "auto", "--mass", "75"],
              plates=True, mass_kg=75.0),
        # the estimate in the mass the plates weigh (`mass_from_plates`, as for Helen Hayes):
        # with none in the file, an assumed 75 kg made every force 18 % too large (the
        # plates weigh 63.3 kg), an error of the % BW scale and not of the estimate
        Trial("vicon_treadmill, Rajagopal2016 model (static auto, mass from the plates)",
              "Vicon Nexus", ["--c3d", f"{c}/vicon_treadmill/walking2.c3d", "--model",
                              f"{raj}/Rajagopal2016.osim", "--static", "auto", "--mass",
                              "plates"], plates=True, estimate=True),
        Trial("lisbon_shoulder, its own model", "Lisbon", [
            "--trc", f"{c}/lisbon_shoulder/abdbonepin.trc",
            "--model", f"{c}/lisbon_shoulder/subject1_abdbonepin.osim"]),
        # no mass in the file (no PROCESSING/SUBJECTS group) nor in the corpus: the plates
        # weigh the subject (`mass_from_plates`), not an assumed 70 kg
        Trial("btk_helenhayes, preset helen-hayes (static auto, mass from the plates)",
              "Motion Analysis (Helen Hayes)",
              ["--c3d", f"{c}/btk_helenhayes/gait.c3d", "--static", "auto",
               "--marker-set", "helen-hayes", "--mass", "plates"], plates=True, estimate=True),
    ]
    return out


def stances(t: np.ndarray, vy: dict[str, np.ndarray], min_s: float = 0.2
            ) -> list[tuple[float, float, str, float]]:
    """Each run of frames where a foot's (or plate's) vertical force is above 20 N, that
    lasts at least `min_s` and peaks above a quarter of the highest peak (shorter or weaker
    runs are a plate's noise: the Vicon walk's unloaded plate 2 hovered at 20 N until
    c3d.read_c3d removed the plates' baselines, and a foot-off's last samples still cross):
    (start, end, key, impulse N s), sorted by start."""
    out = []
    for key, f in vy.items():
        on = np.concatenate([[False], f > 20.0, [False]])
        d = np.diff(on.astype(int))
        for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
            if t[b - 1] - t[a] >= min_s:
                out.append((float(t[a]), float(t[b - 1]), key,
                            float(np.trapezoid(f[a:b], t[a:b])), float(f[a:b].max())))
    top = max((s[4] for s in out), default=0.0)
    return sorted(s[:4] for s in out if s[4] >= 0.25 * top)


def step_chain(st: list[tuple[float, float, str, float]]) -> list[tuple[float, float, str, float]]:
    """The longest run of stances in which each one starts before the previous one ends
    (double support) on another foot (plate): consecutive steps of one walk over the plates."""
    chains: list[list] = []
    for s in st:
        if chains and s[2] != chains[-1][-1][2] and s[0] < chains[-1][-1][1]:
            chains[-1].append(s)
        else:
            chains.append([s])
    return max(chains, key=lambda c: (len(c), c[-1][1] - c[0][0])) if chains else []


def plate_window(t: np.ndarray, vy: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """The frames where the plates carry the whole body, from the plates alone (no kinematic
    rule, so nothing the estimate does decides which frames count): the longest chain of
    consecutive steps on the plates (`step_chain`, per foot), from the first step's start
    plus one double support (by then the other foot has left the floor) to the last step's
    end minus one (the other foot is not yet back on the floor). The double support is the
    chain's measured overlap between steps; with a lone step, a sixth of it (10 % of a
    stride of which stance is 60 %: Perry's gait-cycle proportions)."""
    chain = step_chain(stances(t, vy))
    if not chain:
        return np.zeros(len(t), bool), {"steps": 0}
    if len(chain) >= 2:
        ds = float(np.mean([a[1] - b[0] for a, b in zip(chain, chain[1:], strict=False)]))
    else:
        ds = (chain[0][1] - chain[0][0]) / 6.0
    lo, hi = chain[0][0] + ds, chain[-1][1] - ds
    return (t >= lo) & (t <= hi), {"steps": len(chain), "double_support_s": round(ds, 3),
                                   "window_s": [round(lo, 3), round(hi, 3)]}


def mass_from_plates(c3d: Path) -> float:
    """The subject's mass weighed by a C3D's plates, for a file that stores none: the rule
    `musclekit simulate --mass plates` applies (pipelines/simulate/kinematics/plate_mass.py:
    over a chain of consecutive steps, m = mean stance impulse / (g x mean step time))."""
    from musclekit.pipelines.simulate.kinematics.plate_mass import weigh_c3d

    weight = weigh_c3d(c3d)
    if weight is None:
        raise SystemExit(f"{c3d}: its plates weigh nobody (no steps, no quiet standing)")
    return weight.mass_kg


def resolve(args: list[str], data: Path) -> list[str]:
    """Data-relative paths made absolute; `--mass plates`: the mass the --c3d's plates weigh
    (`mass_from_plates`), for a file and a corpus that store none."""
    out = []
    for a in args:
        p = data / a
        out.append(str(p) if ("/" in a and p.exists()) else a)
    if "plates" in out and out[out.index("plates") - 1] == "--mass":
        mass = mass_from_plates(Path(out[out.index("--c3d") + 1]))
        out[out.index("plates")] = f"{mass:g}"
    return out


def trial_mass(trial: Trial, data: Path) -> float | None:
    """The mass a trial's forces are compared in (% body weight): typed, or the plates'."""
    if trial.mass_kg is not None or "--mass" not in trial.args:
        return trial.mass_kg
    return float(resolve(trial.args, data)[trial.args.index("--mass") + 1])


def missing_inputs(args: list[str], data: Path) -> list[str]:
    return [a for a in args if "/" in a and not (data / a).exists()]


def read_row(ds: Path) -> dict:
    """What the dataset says about its one sequence's kinematics."""
    from musclekit.dataset import open_dataset

    d = open_dataset(ds)
    (seq,) = d.sequences.values()
    kin = seq.extra.get("kinematics", {})
    scale = kin.get("scale", {})
    factors = [v for f in (scale.get("scale_factors") or {}).values()
               for v in (f if isinstance(f, list) else [f])]
    errors = np.array([v for v in (scale.get("static_error_m") or {}).values()], dtype=float)
    ignored = sum(int(m.group(1)) for w in kin.get("warnings", [])
                  for m in [re.match(r"(\d+) (?:unlabelled trajectories|model outputs stored "
                                     r"as points|labels the model does not use) ignored", w)]
                  if m)
    return {
        "sequence": seq.id,
        "frames": kin.get("frames"),
        "ik_rms_mm": 1000 * kin["ik_rms_mean_m"] if "ik_rms_mean_m" in kin else None,
        "ik_max_mm": 1000 * kin["ik_max_m"] if "ik_max_m" in kin else None,
        "static_mm": 1000 * float(np.sqrt(np.mean(errors ** 2))) if errors.size else None,
        "factors": (min(factors), max(factors)) if factors else None,
        "markers_used": _stream_channels(d, "markers"),
        "ignored": ignored,
        "left_out": len(kin.get("markers_left_out", {})),
        "opensim": seq.extra.get("opensim", {}),
    }


def _stream_channels(d, stream: str) -> int | None:
    if stream not in d.info.streams:
        return None
    return len(d.info.streams[stream].channels)  # one channel per marker (x, y, z inside)


def blind_source(grf_source: str) -> bool:
    """Ground forces the plates did not enter: inverse's estimate, or track's contact spheres
    (`--method track`, tracking that estimate); never the plates themselves."""
    return "estimated" in grf_source or "contact model" in grf_source


def estimate_vs_plates(ds: Path, mass_kg: float) -> dict:
    """The estimate (stream grf) of the dataset's one sequence against the plates kept beside
    it (`plates`, with `plates_setup` when the lab gave an ExternalLoads), per foot, over the
    frames where the plates carry the whole body (`plate_window`), by section 2's
    comparison (`validate_rajagopal.compare_feet`: plates low-passed at 6 Hz as the
    estimate's kinematics; raw plates for the contact timing)."""
    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.kinematics.plate_mass import weigh
    from musclekit.pipelines.simulate.opensim.external_loads import (
        GRF_CHANNELS,
        read_measured_grf,
    )

    d = open_dataset(ds)
    (seq,) = d.sequences.values()
    files = seq.extra.get("opensim", {})
    source = str(seq.extra.get("dynamics", {}).get("grf_source", ""))
    if "grf" not in d.info.streams or not files.get("plates") or not blind_source(source):
        return {"error": f"no estimate to compare (ground forces: {source or 'none'})"}
    est = d.sequence_array("grf", seq.id, channels=list(GRF_CHANNELS))
    plates = read_measured_grf(ds / files["plates"],
                               ds / files["plates_setup"] if files.get("plates_setup") else None)
    measured = np.nan_to_num(plates.resample(est.time_s, 6.0))
    raw = np.nan_to_num(plates.resample(est.time_s, None))
    values = np.asarray(est.values, dtype=float)
    vy = {s: raw[:, GRF_CHANNELS.index(f"ground_force_{s}_vy")] for s in ("right", "left")}
    forces = [GRF_CHANNELS.index(f"ground_force_{s}_v{a}") for s in ("right", "left")
              for a in "xy"]
    w, info, error = compared_frames(est.time_s, values[:, forces], vy)
    if error:
        return {"error": error, **info}
    out = compare_feet(est.time_s, values, measured, raw, w, mass_kg * G)
    # the mass the plates weigh (plate_mass.weigh, the command's rule, per foot), beside the
    # one the run was given: a mismatch is an error of the % BW scale, not of the estimate
    weight = weigh(plates.time_s, {
        s: plates.values[:, GRF_CHANNELS.index(f"ground_force_{s}_vy")] for s in ("right", "left")})
    out["plates_mass_kg"] = weight.mass_kg if weight is not None else None
    try:
        out["moments"] = moments_vs_plates(ds, files, est.time_s, values, plates, info, mass_kg)
    except Exception as err:  # noqa: BLE001 - the row says why there are no moments
        out["moments"] = {"error": f"{type(err).__name__}: {err}"[:200]}
    return {**info, "frames": int(w.sum()), "mass_kg": mass_kg, **out}


def compared_frames(t: np.ndarray, forces: np.ndarray, vy: dict[str, np.ndarray]
                    ) -> tuple[np.ndarray, dict, str | None]:
    """The frames compared: where the plates carry the whole body (`plate_window`) and the
    run's per-foot forces have values; with fewer than 10, why: the plates never carry the
    body, or the run left gaps there (its chunks failed: no forces to compare)."""
    w, info = plate_window(t, vy)
    if w.sum() < 10:
        return w, info, f"the plates never carry the whole body ({info})"
    on_plates = int(w.sum())
    w = w & np.isfinite(forces).all(axis=1)  # (a COP is NaN where a foot is unloaded)
    if w.sum() < 10:
        return w, info, (f"the forces have values on {int(w.sum())} of the {on_plates} frames "
                         f"where the plates carry the whole body ({info['window_s'][0]:.2f}-"
                         f"{info['window_s'][1]:.2f} s): the chunks there failed (gaps)")
    return w, info, None


def track_summary(ds: Path) -> dict:
    """Per chunk of a track run (the dataset's `chunks` table and its `extra` diagnostics):
    status, reason, IPOPT iterations summed over the rounds, the sequential linearisation's
    rounds, CPU seconds of the chunk with its solver processes, its final equations-of-motion
    defect, solve time, and the motion's RMS distance from IK."""
    import pandas as pd

    df = pd.concat(pd.read_parquet(f) for f in sorted((ds / "tables" / "chunks").glob("*.parquet")))
    per_chunk = []
    for r in df.itertuples():
        extra = json.loads(r.extra) if isinstance(getattr(r, "extra", None), str) else {}
        per_chunk.append({
            "chunk": int(r.chunk), "status": r.status, "reason": r.reason,
            "iterations": int(r.iterations), "rounds": len(extra.get("rounds") or []) or None,
            "rejected": sum(not x.get("accepted", True) for x in extra.get("rounds") or []),
            "cpu_s": extra.get("cpu_s"), "max_dynamics_defect": extra.get("max_dynamics_defect"),
            # the contact forces against the estimate they track (vertical, over the core)
            "grf_vs_estimate": extra.get("grf_vs_estimate"),
            "solve_time_s": round(r.solve_time_s, 1), "tracking_error_rad": r.tracking_error_rad})
    cpu = [c["cpu_s"] for c in per_chunk if c["cpu_s"] is not None]
    return {"chunks": len(df), "converged": int((df["status"] == "converged").sum()),
            "rounds": [c["rounds"] for c in per_chunk],
            "cpu_s_per_chunk": round(float(np.mean(cpu)), 1) if cpu else None,
            "per_chunk": per_chunk}


def _why_failed(c: dict) -> str:
    """A failed chunk in a few words: its equations-of-motion defect after its rounds when
    it ran out of rounds, else the start of its reason."""
    if c.get("max_dynamics_defect") is not None and c.get("rounds"):
        return (f"chunk {c['chunk']} failed: defect {c['max_dynamics_defect']:.1f} N after "
                f"{c['rounds']} rounds")
    return f"chunk {c['chunk']}: {c.get('reason') or c['status']}"[:80]


def largest_deviations(t: np.ndarray, solved: np.ndarray, names: list[str], ik,
                       top: int = 3) -> dict[str, float]:
    """The rotational coordinates a solved motion (T, C) is furthest from IK's (`ik`, a
    files.Motion in SI units, interpolated onto `t`): RMS (rad) over the frames where every
    column has a value (a failed chunk's gap has none), the `top` largest. IK is taken
    unfiltered, so a few hundredths of a radian on every trial are the solve's low-pass."""
    ok = np.isfinite(solved).all(axis=1)
    if not ok.any():
        return {}
    rms = {}
    for j, name in enumerate(names):
        if name in ik.names and not name.endswith(("_tx", "_ty", "_tz")):
            ref = np.interp(t[ok], ik.time_s, ik.column(name))
            rms[name] = round(float(np.sqrt(np.mean((solved[ok, j] - ref) ** 2))), 3)
    return dict(sorted(rms.items(), key=lambda kv: -kv[1])[:top])


def motion_vs_ik(ds: Path) -> dict[str, float]:
    """`largest_deviations` of a track run's solved motion (stream joint_angles_solved) from
    the sequence's IK."""
    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.opensim.files import read_mot

    d = open_dataset(ds)
    (seq,) = d.sequences.values()
    a = d.sequence_array("joint_angles_solved", seq.id)
    ik = read_mot(ds / seq.extra["opensim"]["ik_mot"])
    return largest_deviations(a.time_s, np.asarray(a.values, float),
                              list(d.info.streams["joint_angles_solved"].channels), ik)


def track_cell(s: dict | None) -> str:
    """A track row's convergence for the table: converged / chunks, rounds per chunk, mean
    CPU s per chunk (the chunk with its solver processes), and why any chunk failed."""
    if not s:
        return ""
    rounds = "/".join("-" if r is None else str(r) for r in s.get("rounds") or [])
    failed = "; ".join(_why_failed(c) for c in s.get("per_chunk", [])
                       if c["status"] != "converged")
    return (f"{s['converged']}/{s['chunks']} converged, rounds {rounds or '-'}, "
            f"{fmt(s.get('cpu_s_per_chunk'), '.0f')} CPU s per chunk"
            + (f"; {failed}" if failed else ""))


def moments_vs_plates(ds: Path, files: dict, t: np.ndarray, est: np.ndarray, plates,
                      info: dict, mass_kg: float, work: Path | None = None) -> dict:
    """Hip, knee and ankle flexion moments by OpenSim's inverse dynamics on the sequence's
    own scaled model and IK, with the plates and with the estimate, over the plates' window
    (section 3's comparison, `validate_rajagopal.id_moments`); files in `work` (default
    the dataset's `id_check`)."""
    from musclekit.pipelines.simulate.opensim.external_loads import (
        DEFAULT_FEET,
        write_external_loads,
    )

    work = work or ds / "id_check"
    work.mkdir(parents=True, exist_ok=True)
    feet = {s: DEFAULT_FEET[s][0] for s in ("right", "left")}
    write_external_loads(t, est, work / "grf_estimated.mot", work / "grf_estimated.xml", feet)
    measured_xml = ds / files["plates_setup"] if files.get("plates_setup") else None
    if measured_xml is None:
        write_external_loads(plates.time_s, plates.values, work / "plates.mot",
                             work / "plates.xml", feet)
        measured_xml = work / "plates.xml"
    res = id_moments(ds / files["scaled_model"], ds / files["ik_mot"], measured_xml,
                     work / "grf_estimated.xml", tuple(info["window_s"]), work, mass_kg)
    return {c: res[c]["rmse_nm_per_kg"] for c in MOMENTS}


def _simulate(cmd: list[str], ds: Path, timeout_s: float, resume: bool = False
              ) -> tuple[dict, object]:
    """Run one `musclekit simulate` command; the row's time (wall, and CPU of the command with
    its children) and, when it failed, its verdict. `resume`: keep what an earlier run of the
    same command left in `ds` (a timed-out run: the command skips its finished units, so the
    row's time is only this run's; the chunks' own CPU s are in the track summary)."""
    if not resume:
        shutil.rmtree(ds, ignore_errors=True)
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"verdict": f"timed out after {timeout_s:.0f} s"}, None
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = {"seconds": time.perf_counter() - t,
           "cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)}
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    if done.returncode not in (0, 3) or not (ds / "meta").is_dir():
        why = errors[-1] if errors else (done.stderr.strip().splitlines() or ["?"])[-1]
        row["verdict"] = f"exit {done.returncode}: {why[:160]}"
    return row, done


def _dataset_dir(work: Path, name: str) -> Path:
    return work / name.replace(" ", "_").replace("(", "").replace(")", "").replace(",", "")


def estimate_datasets(out: Path, only: list[str] | None):
    """(trial, dataset folder) of each `--estimate` trial an earlier `corpus.py --estimate
    --out OUT` run wrote (those named by `only`, by prefix); a missing one is said on stderr."""
    for trial in trials():
        if not trial.estimate or (only and not any(trial.name.startswith(o) for o in only)):
            continue
        ds = _dataset_dir(out, trial.name + " estimate")
        if not (ds / "opensim").is_dir():
            print(f"{trial.name}: no dataset under {out}", file=sys.stderr)
            continue
        yield trial, ds


def run_trial(trial: Trial, data: Path, work: Path, timeout_s: float) -> dict:
    row: dict = {"trial": trial.name, "lab": trial.lab}
    missing = missing_inputs(trial.args, data)
    if missing:
        return {**row, "verdict": f"skipped: {missing[0]} absent"}
    ds = _dataset_dir(work, trial.name)
    cmd = ["musclekit", "simulate", *resolve(trial.args, data), "--workers", "0",
           "--out", str(ds), "--until", "ik"]
    ran, done = _simulate(cmd, ds, timeout_s)
    row.update(ran)
    if "verdict" in row:
        return row
    try:
        row.update(read_row(ds))
    except Exception as err:  # noqa: BLE001 - a row says what went wrong
        return {**row, "verdict": f"exit {done.returncode}, unreadable: {err}"}
    bar = PASS["auto_ik_rms_mm"] if "static auto" in trial.name else PASS["ik_rms_mm"]
    ok = (row.get("ik_rms_mm") is not None and row["ik_rms_mm"] <= bar
          and (row.get("static_mm") is None or row["static_mm"] <= PASS["static_mm"])
          and (row.get("factors") is None or PASS["factor_lo"] <= row["factors"][0]
               and row["factors"][1] <= PASS["factor_hi"]))
    verdict = "meets the bar" if ok else "misses the bar"
    if "--scale-setup" in trial.args:  # the lab's own scaling and IK weights, as OpenSim runs
        verdict = "the lab's setups as OpenSim's tools run them (docs/validation.md section 1)"
    row["verdict"] = verdict + (
        "" if done.returncode == 0 else f" (exit {done.returncode})")
    return row


METHODS = ("inverse", "track")


def estimate_command(trial: Trial, data: Path, ds: Path, method: str = "inverse") -> list[str]:
    """The full command a lab would type with the plates kept for comparison: `--method
    inverse`, or `--method track` tracking inverse's per-foot estimate (`--track-grf
    estimated`; the plates never enter the solve, so the comparison stays blind), on the
    trial's model with OpenCap's 12 foot spheres added (`--add-foot-contact`, as
    validate_rajagopal_track.py: no corpus model ships contact spheres)."""
    if method not in METHODS:
        raise MusclekitError(f"--method {method!r}: one of {', '.join(METHODS)}")
    extra = (["--track-grf", "estimated", "--add-foot-contact"] if method == "track"
             else [])
    return ["musclekit", "simulate", *resolve(trial.args, data), "--plates", "compare",
            "--method", method, *extra, "--workers", "0", "--out", str(ds)]


def estimate_label(name: str, method: str) -> str:
    """A row's (and its dataset folder's) name: inverse's rows keep the trial's name."""
    return name if method == "inverse" else f"{name} [track]"


def run_estimate(trial: Trial, data: Path, work: Path, timeout_s: float,
                 method: str = "inverse", resume: bool = False) -> dict:
    """The full command with the plates kept for comparison (`estimate_command`), and the
    estimate against them (`estimate_vs_plates`)."""
    label = estimate_label(trial.name, method)
    row: dict = {"trial": label, "lab": trial.lab, "method": method}
    missing = missing_inputs(trial.args, data)
    if missing:
        return {**row, "verdict": f"skipped: {missing[0]} absent"}
    ds = _dataset_dir(work, label + " estimate")
    ran, _ = _simulate(estimate_command(trial, data, ds, method), ds, timeout_s, resume)
    row.update(ran)
    if resume:
        row["resumed"] = True
    if "verdict" in row:
        return row
    mass = trial_mass(trial, data)
    row["mass_kg"] = mass
    try:
        row.update(estimate_vs_plates(ds, mass))
        if method == "track":
            row["track"] = {**track_summary(ds), "motion_vs_ik_rad": motion_vs_ik(ds)}
    except Exception as err:  # noqa: BLE001 - a row says what went wrong
        return {**row, "verdict": f"unreadable: {err}"}
    return row


def fmt(v, spec: str = ".1f") -> str:
    if v is None:
        return "-"
    if isinstance(v, tuple):
        return "-".join(format(x, ".2f") for x in v)
    return format(v, spec) if isinstance(v, float) else str(v)


def table(rows: list[dict]) -> str:
    head = ("| trial | lab | markers used / ignored / left out | static RMS mm | scale factors | "
            "IK RMS mm (max) | frames | s | verdict |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        if isinstance(r.get("factors"), list):  # read back from --json
            r["factors"] = tuple(r["factors"])
        lines.append(
            f"| {r['trial']} | {r['lab']} | {fmt(r.get('markers_used'))} / "
            f"{fmt(r.get('ignored'))} / {fmt(r.get('left_out'))} | {fmt(r.get('static_mm'))} | "
            f"{fmt(r.get('factors'))} | {fmt(r.get('ik_rms_mm'))} ({fmt(r.get('ik_max_mm'))}) | "
            f"{fmt(r.get('frames'))} | {fmt(r.get('seconds'), '.0f')} | {r['verdict']} |")
    return "\n".join(lines)


def moments(m: dict | None) -> str:
    if not m or "error" in m:
        return (m or {}).get("error", "-")[:60]
    return "; ".join(" / ".join(f"{m[f'{j}_{s}']:.2f}" for j in ("hip_flexion", "knee_angle",
                                                                   "ankle_angle"))
                     for s in "rl")


def rule(r: dict) -> str:
    """The commit a run measured, `+ uncommitted` when the inverse method's files differed."""
    return (r.get("commit") or "?").split()[0] + (" + uncommitted" if r.get("uncommitted") else "")


def estimate_table(rows: list[dict]) -> str:
    head = ("| trial | mass kg (the plates weigh) | steps on plates | frames compared | vertical RMSE % BW "
            "(right / left) | vertical PCC | fore-aft RMSE % BW | swing foot's max % BW | "
            "COP fore-aft RMS cm | "
            "hip / knee / ankle flexion moment RMSE N m/kg (right; left) | s (CPU s) | "
            "rule at (track: chunks converged, rounds, CPU s per chunk) |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        if "right" not in r:
            why = r.get("verdict") or r.get("error", "-")
            lines.append(f"| {r['trial']} | {fmt(r.get('mass_kg'))} | {why}"
                         + (f" ({track_cell(r['track'])})" if r.get("track") else "")
                         + " |" + " |" * 9)
            continue
        R, L = r["right"], r["left"]

        def pair(key: str, spec: str = ".1f", a=R, b=L) -> str:
            return f"{format(a[key], spec)} / {format(b[key], spec)}"

        lines.append(
            f"| {r['trial']} | {fmt(r.get('mass_kg'))} ({fmt(r.get('plates_mass_kg'))}) | "
            f"{r['steps']} | {r['frames']} "
            f"({r['window_s'][0]:.2f}-{r['window_s'][1]:.2f} s) | {pair('vy_rmse_bw_pct')} | "
            f"{pair('vy_pcc', '.2f')} | {pair('vx_rmse_bw_pct')} | "
            f"{pair('swing_max_bw_pct')} | "
            f"{pair('cop_x_rms_cm') if 'cop_x_rms_cm' in R else '-'} | "
            f"{moments(r.get('moments'))} | "
            f"{r['seconds']:.0f} ({r['cpu_s']:.0f}){' resumed' if r.get('resumed') else ''} | "
            f"{rule(r)}"
            + (f" ({track_cell(r['track'])})" if r.get("track") else "") + " |")
    return "\n".join(lines)


def _commit(named: str | None = None) -> tuple[str, str]:
    """The checkout's commit, and the inverse method's and the scaling's files changed since
    (the rule a run measures is the working tree's; the scaled model's default pose is where
    the rule reads each foot's sole); `named`: the commit a snapshot without .git (`git
    archive`, run while others commit) was taken at."""
    if named:
        return named, ""
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %cI"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--short", "--",
                            "pipelines/simulate/dynamics/methods/inverse",
                            "pipelines/simulate/kinematics/autoscale.py"],
                           capture_output=True, text=True).stdout.strip()
    return commit, dirty


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=Path("/tmp/musclekit-corpus"))
    p.add_argument("--only", nargs="*", default=None, help="trial names (prefixes)")
    p.add_argument("--estimate", action="store_true",
                   help="also run the trials with plates through the full command with the "
                   "plates kept for comparison (--plates compare --method inverse; minutes each)")
    p.add_argument("--method", choices=METHODS, default="inverse",
                   help="with --estimate: the dynamics method (track: --track-grf estimated)")
    p.add_argument("--skip-ik", action="store_true",
                   help="with --estimate: only the estimate runs")
    p.add_argument("--timeout-s", type=float, default=1800.0)
    p.add_argument("--resume", action="store_true",
                   help="with --estimate: continue the datasets an earlier (timed-out) run left "
                   "under --out instead of starting them again (finished chunks are kept)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--table-from", type=Path, nargs="*", default=None,
                   help="print the tables of earlier --json files (runs split over processes)")
    p.add_argument("--recompare", type=Path, default=None,
                   help="an earlier --estimate --json: compare its datasets (under --out) with "
                   "their plates again, without rerunning the commands, and rewrite it")
    p.add_argument("--commit", default=None,
                   help="the commit this copy of the tree was taken at (`git archive` "
                   "snapshot without .git), recorded in the rows instead of git's")
    args = p.parse_args()
    order = {t.name: i for i, t in enumerate(trials())}
    if args.recompare:
        by_label = {estimate_label(t.name, m) for t in trials() for m in METHODS}
        rows = json.loads(args.recompare.read_text())
        for r in rows:
            if r.get("estimate") and r["trial"] in by_label and "seconds" in r:
                ds = _dataset_dir(args.out, r["trial"] + " estimate")
                keep = {k: r[k] for k in ("trial", "lab", "method", "seconds", "cpu_s",
                                          "estimate", "commit", "uncommitted", "load",
                                          "mass_kg") if k in r}
                r.clear()
                r.update({**keep, **estimate_vs_plates(ds, keep["mass_kg"])})
                if keep.get("method") == "track":  # rows before 'rounds' was summarised
                    r["track"] = {**track_summary(ds), "motion_vs_ik_rad": motion_vs_ik(ds)}
        args.recompare.write_text(json.dumps(rows, default=str, indent=1))
        print(estimate_table([r for r in rows if r.get("estimate")]))
        return 0
    if args.table_from:
        rows = [r for f in args.table_from for r in json.loads(f.read_text())]
        # a trial's [track] row right after its inverse row
        rows.sort(key=lambda r: (order.get(r["trial"].removesuffix(" [track]"), len(order)),
                                 r["trial"].endswith(" [track]")))
        ik = [r for r in rows if not r.get("estimate")]
        est = [r for r in rows if r.get("estimate")]
        print(table(ik) if ik else "")
        print()
        print(estimate_table(est) if est else "")
        return 0
    if not args.data.is_dir():
        print(f"no data at {args.data}: nothing to run", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    rows, est_rows = [], []
    commit, dirty = _commit(args.commit)
    print(f"commit {commit}; inverse method's or scaling's files uncommitted: {dirty or 'none'}; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    for trial in trials():
        if args.only and not any(trial.name.startswith(o) for o in args.only):
            continue
        if not args.skip_ik:
            row = run_trial(trial, args.data, args.out, args.timeout_s)
            print(json.dumps({k: v for k, v in row.items() if k != "opensim"}, default=str),
                  flush=True)
            rows.append(row)
        if args.estimate and trial.estimate:
            commit, dirty = _commit(args.commit)  # per run: the inverse rule may change between runs
            row = {**run_estimate(trial, args.data, args.out, args.timeout_s, args.method,
                                  args.resume),
                   "estimate": True,
                   "commit": commit, "uncommitted": dirty,
                   "load": round(os.getloadavg()[0], 1)}
            print(json.dumps(row, default=str), flush=True)
            est_rows.append(row)
    print()
    print(table(rows))
    if est_rows:
        print()
        print(estimate_table(est_rows))
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "opensim"}
                                         for r in rows + est_rows], default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
