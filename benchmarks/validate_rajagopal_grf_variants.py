"""The ground-force rules that were measured against the Rajagopal 2016 plates and kept or
rejected (docs/validation.md, sections 2 and 3): reproduces every number those sections give
for a variant that is not the default.

Per trial (walking, running), on the lab's scaled model and IK (rajagopal_lab.lab_pipeline):

1. the total vertical force from the kinematics low-passed at 6, 10, 15 and 20 Hz against the
   plates' sum (filtered at 6 Hz, and raw): RMSE in % body weight;
2. the centre-of-pressure path: `cop_path = "moment"` (the rule before 2026-12-07) and
   `"rolling"` (the default): COP error against the plates and hip / knee / ankle moments
   by OpenSim's ID (validate_rajagopal.compare_feet and id_moments);
3. the flight frames' kinematic force given to the nearest foot in time instead of none:
   per-foot vertical RMSE.

    python benchmarks/validate_rajagopal_grf_variants.py [--work DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rajagopal_lab import DEFAULT_DATA, FEET, TRIALS, lab_pipeline  # noqa: E402
from validate_rajagopal import MOMENTS, _motion, compare_feet, id_moments  # noqa: E402


def total_force_by_cutoff(lab: dict, mass: float, cutoffs=(6.0, 10.0, 15.0, 20.0)) -> dict:
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import body_wrench
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS, read_measured_grf

    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    bw = mass * 9.80665
    plates = read_measured_grf(None, lab["grf_xml"])
    lo, hi = lab["window_s"]
    out = {}
    for hz in cutoffs:
        wrench = body_wrench(str(lab["model"]), _motion(lab["model"], lab["motion"], hz), FEET)
        w = (wrench.time_s >= lo) & (wrench.time_s <= hi)
        row = {}
        for label, cut in (("vs_plates_6hz", 6.0), ("vs_plates_raw", None)):
            m = np.nan_to_num(plates.resample(wrench.time_s, cut))
            total = m[:, idx["ground_force_right_vy"]] + m[:, idx["ground_force_left_vy"]]
            err = (wrench.force_n[:, 1] - total)[w]
            row[f"total_vy_rmse_bw_pct_{label}"] = round(float(np.sqrt(np.mean(err ** 2)) / bw * 100), 2)
        out[f"{hz:g}_hz"] = row
    return out


def cop_paths(lab: dict, trial: str, work: Path) -> dict:
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import (
        body_wrench,
        split_body_wrench,
    )
    from musclekit.pipelines.simulate.opensim.external_loads import (
        GRF_CHANNELS,
        read_measured_grf,
        write_external_loads,
    )

    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    mass = TRIALS[trial]["mass_kg"]
    bw = mass * 9.80665
    wrench = body_wrench(str(lab["model"]), _motion(lab["model"], lab["motion"]), FEET)
    plates = read_measured_grf(None, lab["grf_xml"])
    measured = np.nan_to_num(plates.resample(wrench.time_s, 6.0))
    raw = np.nan_to_num(plates.resample(wrench.time_s, None))
    lo, hi = lab["window_s"]
    w = (wrench.time_s >= lo) & (wrench.time_s <= hi)
    out = {}
    for path in ("moment", "rolling"):
        est = split_body_wrench(wrench, rule=ContactRule(cop_path=path))
        feet = compare_feet(est.time_s, est.values, measured, raw, w, bw, est.contact)
        out_dir = work / f"variants_{trial}_{path}"
        out_dir.mkdir(parents=True, exist_ok=True)
        write_external_loads(est.time_s, est.values, out_dir / "grf.mot", out_dir / "grf.xml",
                             {"right": "calcn_r", "left": "calcn_l"})
        mom = id_moments(lab["model"], lab["motion"], lab["grf_xml"], out_dir / "grf.xml",
                         lab["window_s"], out_dir, mass)
        out[path] = {"feet": feet, "moments_rmse_nm_per_kg":
                     {c: mom[c]["rmse_nm_per_kg"] for c in MOMENTS}}
        if path == "rolling":
            # Flight frames' kinematic force to the foot nearest in time (rejected).
            values = est.values.copy()
            flight = ~est.contact.any(axis=1)
            grounded = np.flatnonzero(~flight)
            for k in np.flatnonzero(flight):
                near = grounded[np.argmin(np.abs(grounded - k))] if len(grounded) else k
                side = "right" if est.contact[near, 0] else "left"
                values[k, idx[f"ground_force_{side}_vy"]] = wrench.force_n[k, 1]
            alt = compare_feet(est.time_s, values, measured, raw, w, bw, est.contact)
            out["flight_force_to_nearest_foot"] = {s: alt[s]["vy_rmse_bw_pct"] for s in ("right", "left")}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (args.data / "ExpData").is_dir():
        print(f"no Rajagopal 2016 data at {args.data}: nothing to measure", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="rajagopal-"))
    t0 = time.perf_counter()
    report: dict = {"date": time.strftime("%Y-%m-%d")}
    for trial in TRIALS:
        lab = lab_pipeline(args.data, work, trial)
        report[trial] = {"total_force_by_cutoff": total_force_by_cutoff(lab, TRIALS[trial]["mass_kg"]),
                         **cop_paths(lab, trial, work)}
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    report["cpu_s"] = round(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, 1)
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
