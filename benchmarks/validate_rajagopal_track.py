"""`track` on a lab's real gait: ../shared/data/rajagopal2016 walking and running with plates.

The lab's scaled model and IK (rajagopal_lab.lab_pipeline: OpenSim's own ScaleTool and
InverseKinematicsTool with the lab's setups, as validate_rajagopal.py uses) go through
musclekit's dynamics chunk by chunk, as `musclekit simulate --method track
--add-foot-contact` does: the model prepared once with OpenCap's 12 foot spheres, the
sequence cut by the default ChunkPlan, every chunk first solved by `inverse` (its solution is
track's warm start, as the stage's `warm_start_dir` gives it) and then by `track` with
`--track-grf` none, estimated and (where asked) measured. Per chunk it prints and returns:

- converged or not (and why), rounds and IPOPT iterations, wall and CPU seconds (this process
  and its children: the NLP runs in child processes);
- each foot's vertical contact force against the plates (low-passed at 6 Hz like the
  kinematics): RMSE in % body weight and PCC, over the chunk's core inside the window where
  the plates carry the whole body (the lab's ID time range); and the RMSE against the plates
  as recorded and with the contact force low-passed like the plates (`vertical_agreement`
  says why: the low-pass spreads a running stance's sharp edges);
- the same against `inverse`'s estimate (the chunk diagnostics' `grf_vs_estimate`).

Run:

    python benchmarks/validate_rajagopal_track.py [--trial walk run] [--grf none estimated]
        [--chunks 0 1] [--work /tmp/mk_track] [--json results.json] [--sphere-stiffness 1e7]
        [--grf-weight 1e3] [--sphere-dissipation 0.5] [--setting grf_first_weight=none]

Against the plates it also prints each foot's peak vertical force and its time loaded above
20 % BW (contact spheres, plates). `--sphere-stiffness` is an experiment (every foot
sphere's stiffness in the chunk's model copy), not one of track's settings; so is
`--sphere-dissipation`. `--grf-weight`
sets `TrackSettings.grf_weight` (the force-tracking term's weight) and solves into
`track_<mode>_w<weight>` so that runs with different weights can share one `--work`.
`--setting FIELD=VALUE` overrides other TrackSettings fields (`none` for None), e.g.
`grf_first_weight=none` for the rounds at the full weight from the start.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rajagopal_lab import DEFAULT_DATA, FEET, TRIALS, lab_pipeline  # noqa: E402


def _cpu_s() -> float:
    """CPU seconds of this process and its waited-for children (the NLP's)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def prepare(lab: dict, work: Path) -> tuple[Path, Path]:
    """The lab model prepared for `inverse` and, with OpenCap's spheres, for `track`."""
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings, prepare_model
    from musclekit.pipelines.simulate.dynamics.methods import get_method

    inv = prepare_model(lab["model"], work / "models", PrepSettings(feet=FEET), lab["motion"])
    trk = prepare_model(lab["model"], work / "models",
                        PrepSettings(method="track", contact=True, add_foot_contact=True,
                                     feet=FEET), lab["motion"],
                        edit_model=get_method("track").edit_model)
    return inv, trk


# The plates' cut-off in the comparison (Hz): the kinematics' own, as validate_rajagopal.py
# compares `inverse`'s estimate (made from 6 Hz kinematics, it has nothing above it).
PLATES_CUTOFF_HZ = 6.0


def lowpass(time_s: np.ndarray, values: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """`values` (N, ...) low-passed along time as the plates are (4th-order Butterworth, zero
    lag, at the samples' own rate)."""
    from scipy.signal import butter, filtfilt

    rate = 1.0 / float(np.median(np.diff(time_s)))
    b, a = butter(4, cutoff_hz / (rate / 2))
    return filtfilt(b, a, np.asarray(values, dtype=float), axis=0)


def vertical_agreement(time_s: np.ndarray, force: np.ndarray, plates: np.ndarray,
                       plates_raw: np.ndarray, frames: np.ndarray, body_weight_n: float) -> dict:
    """One foot's vertical force `force` (N,) against the plates on `frames` (bool (N,)):
    RMSE (% BW) against the plates low-passed at PLATES_CUTOFF_HZ (`plates`, the yardstick
    of `inverse`), against the plates as recorded (`plates_raw`, sampled at `time_s`), and
    with `force` low-passed like the plates (both at the same bandwidth).

    Why three: the 6 Hz low-pass spreads a running stance's edges (the Rajagopal run's right
    foot: 0.04 BW at its touch-down frame 0.87 s as recorded, 0.27 low-passed; -0.13 BW in
    flight). A force made from 6 Hz kinematics (the estimate) is compared fairly with the
    low-passed plates; contact spheres' forces have sharp edges, as the plates do, and are
    compared with the plates as recorded or with both at the same bandwidth."""
    force = np.asarray(force, dtype=float)
    if (force.shape != time_s.shape or plates.shape != time_s.shape
            or plates_raw.shape != time_s.shape or frames.shape != time_s.shape):
        raise InputError(f"vertical_agreement needs (N,) arrays at the N = {time_s.shape} times; "
                         f"got force {force.shape}, plates {plates.shape}, "
                         f"{plates_raw.shape}, frames {frames.shape}")

    def rmse(a: np.ndarray, b: np.ndarray) -> float:
        return round(100 * float(np.sqrt(np.mean((a[frames] - b[frames]) ** 2))) / body_weight_n,
                     1)

    return {"rmse_bw_pct": rmse(force, plates), "rmse_raw_bw_pct": rmse(force, plates_raw),
            "rmse_both_lowpassed_bw_pct": rmse(lowpass(time_s, force, PLATES_CUTOFF_HZ),
                                               plates)}


def plate_agreement(lab: dict, trial: str, time_s: np.ndarray, grf: np.ndarray,
                    core: tuple[float, float]) -> dict:
    """Per-foot vertical force of `grf` (N, 18) against the plates over the core of the
    chunk inside the lab's ID window: RMSE (% BW; against the plates low-passed at 6 Hz, as
    recorded, and both low-passed: `vertical_agreement`) and PCC (low-passed plates)."""
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS, read_measured_grf

    bw = TRIALS[trial]["mass_kg"] * 9.80665
    measured = read_measured_grf(None, lab["grf_xml"])
    plates = np.nan_to_num(measured.resample(time_s, PLATES_CUTOFF_HZ))
    raw = np.nan_to_num(measured.resample(time_s, None))
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    lo, hi = max(core[0], lab["window_s"][0]), min(core[1], lab["window_s"][1])
    w = (time_s >= lo - 1e-9) & (time_s <= hi + 1e-9)
    out = {"frames": int(w.sum())}
    if w.sum() < 5:
        return out
    dt = float(np.median(np.diff(time_s)))
    for side in ("right", "left"):
        col = idx[f"ground_force_{side}_vy"]
        a, b = grf[:, col], plates[:, col]
        for key, value in vertical_agreement(time_s, a, b, raw[:, col], w, bw).items():
            out[f"{side}_{key}"] = value
        a, b = a[w], b[w]
        out[f"{side}_pcc"] = (round(float(np.corrcoef(a, b)[0, 1]), 3)
                              if a.std() > 1e-9 and b.std() > 1e-9 else None)
        # the shape: peak (BW) and time loaded above 20 % BW (s), contact spheres / plates
        out[f"{side}_peak_bw"] = [round(float(a.max()) / bw, 2), round(float(b.max()) / bw, 2)]
        out[f"{side}_loaded_s"] = [round(dt * int((a > 0.2 * bw).sum()), 3),
                                   round(dt * int((b > 0.2 * bw).sum()), 3)]
    return out


def window_agreement(lab: dict, trial: str, time_s: np.ndarray, grf: np.ndarray,
                     reference: np.ndarray, core: tuple[float, float]) -> dict:
    """Per-foot vertical RMSE (% BW) of `grf` against `reference` (both (N, 18) at `time_s`)
    on the frames `plate_agreement` uses: the chunk's core inside the lab's ID window."""
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    bw = TRIALS[trial]["mass_kg"] * 9.80665
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    lo, hi = max(core[0], lab["window_s"][0]), min(core[1], lab["window_s"][1])
    w = (time_s >= lo - 1e-9) & (time_s <= hi + 1e-9)
    if w.sum() < 5:
        return {}
    out = {}
    for side in ("right", "left"):
        for axis in "yx":
            d = grf[w, idx[f"ground_force_{side}_v{axis}"]] - reference[w, idx[
                f"ground_force_{side}_v{axis}"]]
            key = f"{side}_rmse_bw_pct" if axis == "y" else f"{side}_x_rmse_bw_pct"
            out[key] = round(100 * float(np.sqrt(np.mean(d ** 2))) / bw, 1)
    return out


def set_sphere_parameters(**values: float) -> None:
    """An experiment, not a setting: contact properties of every foot sphere (`stiffness`
    N/m^2, `dissipation` s/m: SmoothSphereHalfSpaceForce's names) in the chunk's model copy
    with the feet levelled (track's `_lifted_model`, written per chunk), so that both
    track's NLP and OpenSim's check use them."""
    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.methods.track import solve

    lifted = solve._lifted_model

    def with_parameters(model_file, spheres, feet, lifts, path):
        out = lifted(model_file, spheres, feet, lifts, path)
        model = osim.Model(out)
        forces = model.updForceSet()
        for i in range(forces.getSize()):
            force = osim.SmoothSphereHalfSpaceForce.safeDownCast(forces.get(i))
            if force is not None:
                for name, value in values.items():
                    getattr(force, f"set_{name}")(value)
        model.printToXML(out)
        return out

    solve._lifted_model = with_parameters


def run_trial(data: Path, work: Path, trial: str, modes: list[str], only: list[int] | None,
              skip_inverse: bool = False, grf_weight: float | None = None,
              overrides: dict | None = None) -> dict:
    from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan, plan_chunks
    from musclekit.pipelines.simulate.dynamics.kernel.result import load_output, save_chunk
    from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
    from musclekit.pipelines.simulate.dynamics.methods.inverse.solve import (
        solve_chunk as solve_inverse,
    )
    from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings
    from musclekit.pipelines.simulate.dynamics.methods.track.solve import (
        solve_chunk as solve_track,
    )
    from musclekit.pipelines.simulate.opensim.files import read_mot

    lab = lab_pipeline(data, work / "lab", trial)
    t0, c0 = time.perf_counter(), _cpu_s()
    inv_prep, trk_prep = prepare(lab, work / trial)
    res = {"trial": trial, "prep_s": round(time.perf_counter() - t0, 1),
           "prep_cpu_s": round(_cpu_s() - c0, 1), "chunks": []}
    chunks = plan_chunks(trial, read_mot(lab["motion"]).time_s, ChunkPlan())
    inv_out = work / trial / "inverse"
    for c in chunks:
        if only is not None and c.index not in only:
            continue
        name = f"chunk{c.index:04d}"
        if not skip_inverse and load_output(inv_out, name) is None:
            rep, out = solve_inverse(inv_prep, lab["motion"], c, InverseSettings(),
                                     work / trial / "inverse_work" / name)
            save_chunk(inv_out, name, rep, out)
        for mode in modes:
            settings = TrackSettings(warm_start_dir=str(inv_out), track_grf=mode,
                                     grf_setup=str(lab["grf_xml"]) if mode == "measured" else None,
                                     **(overrides or {}))
            folder = f"track_{mode}"
            if grf_weight is not None:
                settings.grf_weight = grf_weight
                folder += f"_w{grf_weight:g}"
            t0, c0 = time.perf_counter(), _cpu_s()
            rep, out = solve_track(trk_prep, lab["motion"], c, settings,
                                   work / trial / folder / name)
            row = {"chunk": c.index, "grf": mode, "grf_weight": settings.grf_weight,
                   "status": rep.status,
                   "reason": rep.reason, "wall_s": round(time.perf_counter() - t0, 1),
                   "cpu_s": round(_cpu_s() - c0, 1), "iterations": rep.iterations,
                   "rounds": len(rep.diagnostics.rounds or []),
                   "round_iterations": [r["iterations"] for r in rep.diagnostics.rounds or []],
                   "round_grf_weights": [r.get("grf_weight") for r in rep.diagnostics.rounds or []],
                   "rejected_rounds": sum(not r["accepted"] for r in rep.diagnostics.rounds or []),
                   "defect": rep.diagnostics.max_dynamics_defect,
                   "tracking_error_rad": rep.tracking_error_rad,
                   "tracking_error_m": rep.diagnostics.tracking_error_m,
                   "vs_estimate": rep.diagnostics.grf_vs_estimate}
            if out is not None:
                core = (c.core_start_s, c.core_end_s)
                row["vs_plates"] = plate_agreement(lab, trial, out.time_s, out.values["grf"],
                                                   core)
                inv = load_output(inv_out, name)
                if inv is not None and "grf" in inv.values:
                    # the yardstick of --track-grf estimated on the same frames as the plates:
                    # inverse's own forces vs the plates, and the contact forces vs inverse's
                    ref = np.column_stack([np.interp(out.time_s, inv.time_s, col)
                                           for col in np.asarray(inv.values["grf"]).T])
                    row["inverse_vs_plates"] = plate_agreement(lab, trial, out.time_s, ref, core)
                    row["vs_inverse_in_window"] = window_agreement(
                        lab, trial, out.time_s, out.values["grf"], ref, core)
            res["chunks"].append(row)
            print(json.dumps(row), flush=True)
    return res


def parse_settings(items: list[str]) -> dict:
    """`FIELD=VALUE` pairs to TrackSettings overrides (numbers as floats, `none` as None); an
    unknown field or a pair without `=` is refused."""
    from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings

    out: dict = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in TrackSettings.__dataclass_fields__:
            raise SystemExit(f"--setting {item!r}: expected FIELD=VALUE with a TrackSettings field")
        out[name] = None if value.lower() == "none" else float(value)
    return out


def summary(res: dict) -> None:
    for mode in sorted({r["grf"] for r in res["chunks"]}):
        rows = [r for r in res["chunks"] if r["grf"] == mode]
        ok = [r for r in rows if r["status"] == "converged"]
        secs = [r["cpu_s"] for r in rows]
        line = (f"{res['trial']} --track-grf {mode}: {len(ok)}/{len(rows)} converged; CPU s per "
                f"chunk median {np.median(secs):.0f} (max {max(secs):.0f})")
        for side in ("right", "left"):
            vals = [r["vs_plates"].get(f"{side}_rmse_bw_pct") for r in ok if "vs_plates" in r]
            vals = [v for v in vals if v is not None]
            pcc = [r["vs_plates"].get(f"{side}_pcc") for r in ok if "vs_plates" in r]
            pcc = [v for v in pcc if v is not None]
            raw = [r["vs_plates"].get(f"{side}_rmse_raw_bw_pct") for r in ok if "vs_plates" in r]
            raw = [v for v in raw if v is not None]
            if vals:
                line += (f"; {side} vs plates RMSE {min(vals)}-{max(vals)} % BW (as recorded "
                         f"{min(raw)}-{max(raw)}), PCC "
                         f"{min(pcc) if pcc else '-'}-{max(pcc) if pcc else '-'}")
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--work", type=Path, default=Path("/tmp/mk_track_validation"))
    ap.add_argument("--trial", nargs="+", default=["walk", "run"], choices=sorted(TRIALS))
    ap.add_argument("--grf", nargs="+", default=["none", "estimated"],
                    choices=["none", "estimated", "measured"])
    ap.add_argument("--chunks", nargs="+", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--sphere-stiffness", type=float, default=None,
                    help="experiment: every foot sphere's stiffness (N/m^2; the model's 1e6)")
    ap.add_argument("--sphere-dissipation", type=float, default=None,
                    help="experiment: every foot sphere's Hunt-Crossley dissipation (s/m; 2)")
    ap.add_argument("--grf-weight", type=float, default=None,
                    help="TrackSettings.grf_weight for the force-tracking modes (default: its own)")
    ap.add_argument("--setting", nargs="+", default=[], metavar="FIELD=VALUE",
                    help="other TrackSettings fields, e.g. first_trust=0.5 grf_first_weight=100")
    args = ap.parse_args(argv)
    overrides = parse_settings(args.setting)
    experiment = {k: v for k, v in (("stiffness", args.sphere_stiffness),
                                    ("dissipation", args.sphere_dissipation)) if v is not None}
    if experiment:
        set_sphere_parameters(**experiment)
    print(f"load average {os.getloadavg()}", flush=True)
    results = []
    for trial in args.trial:
        res = run_trial(args.data, args.work, trial, args.grf, args.chunks,
                        grf_weight=args.grf_weight, overrides=overrides)
        summary(res)
        results.append(res)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
