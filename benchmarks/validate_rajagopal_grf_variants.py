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
   per-foot vertical RMSE;
4. the heel hold of the rolling line (grf._rolling_lines' hold_heel, the default since
   ESTIMATE_RULE_VERSION 9: the leading foot's COP stays at the heel through the loading
   double support): "line" (no hold, the rule before), "held" (the default: the COPs held,
   the share and the force directions from the lines as fitted) and "held share" (the
   hand-over share from the held lines too, rejected): per-foot errors and moments; with
   --corpus DIR (an earlier `corpus.py --estimate --out DIR`) the same three on every corpus
   trial with plates (corpus_grf_variants' comparison at the estimate's rate, and moments
   by OpenSim's ID on the sequence's model and IK).

5. with --corpus DIR --weight-sweep: per corpus trial, the hand-over share's statics weight
   the rule gives (grf._handover_weight) and the per-foot vertical RMSE with the weight
   forced to 0, 0.25, 0.5, 0.75 and 1 (which weight each trial's plates prefer).

6. with --force-aim (and --corpus DIR): where a foot's force points in a hand-over,
   ContactRule.force_aim "com" (the rule to ESTIMATE_RULE_VERSION 9), "leading share" (the
   rule since version 10) and "pivot" (rejected):
   per-foot errors and moments on the Rajagopal walk and every
   corpus trial with plates; and the hip flexion moment's error by gait phase of each leg
   (loading response, single support, pre-swing, swing: the plates' contacts), with the
   estimate as it is and with one of its components replaced by the plates' (fore-aft and
   side forces, vertical force, centre of pressure), beside the per-phase force errors
   (`hip_by_phase`): which component makes the hip moment wrong where; and how far the
   plates' own per-foot forces tilt compared with an aim at the centre of mass,
   per phase (`plate_aim`).

    python benchmarks/validate_rajagopal_grf_variants.py [--work DIR] [--json out.json]
        [--corpus DIR] [--only-heel-hold] [--weight-sweep] [--force-aim]
"""

from __future__ import annotations

import argparse
import contextlib
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


def _lab_wrench_and_plates(lab: dict):
    """The lab trial's whole-body wrench from its kinematics, its plates at 6 Hz and raw on
    the wrench's frames, and the lab's analysis window as a mask."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import body_wrench
    from musclekit.pipelines.simulate.opensim.external_loads import read_measured_grf

    wrench = body_wrench(str(lab["model"]), _motion(lab["model"], lab["motion"]), FEET)
    plates = read_measured_grf(None, lab["grf_xml"])
    measured = np.nan_to_num(plates.resample(wrench.time_s, 6.0))
    raw = np.nan_to_num(plates.resample(wrench.time_s, None))
    lo, hi = lab["window_s"]
    return wrench, measured, raw, (wrench.time_s >= lo) & (wrench.time_s <= hi)


def _lab_moments(lab: dict, est, out_dir: Path, mass: float) -> dict:
    """Hip, knee and ankle flexion moment RMSE (N m/kg) of the lab trial with the split
    `est` against its plates, by OpenSim's ID (validate_rajagopal.id_moments)."""
    from musclekit.pipelines.simulate.opensim.external_loads import write_external_loads

    out_dir.mkdir(parents=True, exist_ok=True)
    write_external_loads(est.time_s, est.values, out_dir / "grf.mot", out_dir / "grf.xml",
                         {"right": "calcn_r", "left": "calcn_l"})
    mom = id_moments(lab["model"], lab["motion"], lab["grf_xml"], out_dir / "grf.xml",
                     lab["window_s"], out_dir, mass)
    return {c: mom[c]["rmse_nm_per_kg"] for c in MOMENTS}


def cop_paths(lab: dict, trial: str, work: Path) -> dict:
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import (
        split_body_wrench,
    )
    from musclekit.pipelines.simulate.opensim.external_loads import (
        GRF_CHANNELS,
    )

    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    mass = TRIALS[trial]["mass_kg"]
    bw = mass * 9.80665
    wrench, measured, raw, w = _lab_wrench_and_plates(lab)
    out = {}
    for path in ("moment", "rolling"):
        est = split_body_wrench(wrench, rule=ContactRule(cop_path=path))
        feet = compare_feet(est.time_s, est.values, measured, raw, w, bw, est.contact)
        out[path] = {"feet": feet, "moments_rmse_nm_per_kg":
                     _lab_moments(lab, est, work / f"variants_{trial}_{path}", mass)}
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


HEEL_HOLDS = ("line", "held", "held share")


@contextlib.contextmanager
def heel_hold(variant: str):
    """grf's rule with the heel hold as `variant` (HEEL_HOLDS): "held" is the code as it is;
    "line" ignores the hold (the fitted line everywhere); "held share" holds both lines
    split_wrench asks for (the share's and force directions' too)."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse import grf

    if variant not in HEEL_HOLDS:
        raise ValueError(f"heel hold {variant!r}: choose one of {', '.join(HEEL_HOLDS)}")
    fitted = grf._rolling_lines
    force = {"line": False, "held share": True}.get(variant)

    def patched(*args, hold_heel: bool = False):
        return fitted(*args, hold_heel=hold_heel if force is None else force)

    grf._rolling_lines = patched
    try:
        yield
    finally:
        grf._rolling_lines = fitted


def heel_hold_rajagopal(lab: dict, trial: str, work: Path) -> dict:
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import (
        split_body_wrench,
    )

    mass = TRIALS[trial]["mass_kg"]
    wrench, measured, raw, w = _lab_wrench_and_plates(lab)
    out = {}
    for variant in HEEL_HOLDS:
        with heel_hold(variant):
            est = split_body_wrench(wrench)
        moments = _lab_moments(lab, est, work / f"heel_hold_{trial}_{variant.replace(' ', '_')}",
                               mass)
        feet = compare_feet(est.time_s, est.values, measured, raw, w, mass * 9.80665,
                            est.contact)
        out[variant] = {**_feet_summary(feet), "moments_rmse_nm_per_kg": moments}
    return out


def _feet_summary(feet: dict) -> dict:
    keys = ("vy_rmse_bw_pct", "vx_rmse_bw_pct", "cop_x_rms_cm", "cop_x_bias_cm")
    return {s: {k: feet[s][k] for k in keys} for s in ("right", "left")}


def heel_hold_corpus(out: Path, work: Path) -> dict:
    """HEEL_HOLDS on every corpus trial with plates, from an earlier `corpus.py --estimate
    --out DIR`'s datasets (their model, IK and plates; the whole-body wrench cached under
    `work`)."""
    from corpus import (  # noqa: PLC0415
        DATA,
        estimate_datasets,
        moments_vs_plates,
        plate_window,
        trial_mass,
    )
    from corpus_grf_variants import compare, trial_inputs  # noqa: PLC0415

    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import split_body_wrench
    from musclekit.pipelines.simulate.opensim.external_loads import (
        GRF_CHANNELS,
    )

    res = {}
    for trial, ds in estimate_datasets(out, None):
        cache = _wrench_cache(work, out, ds)
        bw, plates = trial_inputs(ds, cache)
        mass = trial_mass(trial, DATA)
        (seq,) = open_dataset(ds).sequences.values()
        files = seq.extra.get("opensim", {})
        row = {}
        for variant in HEEL_HOLDS:
            with heel_hold(variant):
                est = split_body_wrench(bw)
            raw = np.nan_to_num(plates.resample(est.time_s, None))
            _, info = plate_window(est.time_s, {s: raw[:, GRF_CHANNELS.index(
                f"ground_force_{s}_vy")] for s in ("right", "left")})
            d = work / "corpus" / f"{ds.name}_{variant.replace(' ', '_')}"
            row[variant] = {**_feet_summary(compare(est, plates, mass)),
                            "moments_rmse_nm_per_kg": moments_vs_plates(
                                ds, files, est.time_s, est.values, plates, info, mass, d)}
        res[trial.name] = row
        print(trial.name, json.dumps(row), flush=True)
    return res


SWEEP_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _wrench_cache(work: Path, out: Path, ds: Path) -> Path:
    """Where a corpus dataset's BodyWrench is kept: per corpus run (`out`), since two runs
    name their datasets alike but may differ (a trial's mass, its model)."""
    import hashlib

    run = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:10]
    path = work / "corpus" / run / f"{ds.name}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def weight_sweep(out: Path, work: Path) -> dict:
    """Item 5: the rule's statics weight per corpus trial and the per-foot vertical RMSE
    (% BW, corpus_grf_variants' comparison) with the weight forced to each SWEEP_WEIGHTS."""
    from corpus import DATA, estimate_datasets, trial_mass  # noqa: PLC0415
    from corpus_grf_variants import compare, trial_inputs  # noqa: PLC0415

    from musclekit.pipelines.simulate.dynamics.methods.inverse import grf

    rule_weight = grf._handover_weight
    res = {}
    for trial, ds in estimate_datasets(out, None):
        cache = _wrench_cache(work, out, ds)
        bw, plates = trial_inputs(ds, cache)
        mass = trial_mass(trial, DATA)
        seen: list[float] = []
        row = {}
        for forced in (None, *SWEEP_WEIGHTS):
            def weight(*args, forced=forced, seen=seen, **kwargs):
                seen.append(rule_weight(*args, **kwargs))
                return seen[-1] if forced is None else forced

            grf._handover_weight = weight
            try:
                c = compare(grf.split_body_wrench(bw), plates, mass)
            finally:
                grf._handover_weight = rule_weight
            row["rule" if forced is None else f"{forced:g}"] = [
                c[s]["vy_rmse_bw_pct"] for s in ("right", "left")]
        res[trial.name] = {"rule_weight": round(seen[0], 3), "vy_rmse_bw_pct": row}
        print(trial.name, json.dumps(res[trial.name]), flush=True)
    return res


FORCE_AIMS = ("com", "leading share", "pivot")
PHASES = ("loading", "single", "pre-swing", "swing")
# The estimate with one component replaced by the plates' (GRF channel kind, axes): which
# component's error the hip moment carries in each phase.
SUBSTITUTIONS = {"plates' horizontal force": ("v", "xz"), "plates' vertical force": ("v", "y"),
                 "plates' centre of pressure": ("p", "xz")}


def gait_phases(on: np.ndarray) -> dict[str, np.ndarray]:
    """Per side, each frame's phase (PHASES) from the feet's contact (T, 2), right then left:
    a foot alone on the ground is in single support, both down in loading (its stance began
    after the other's) or pre-swing (before), off the ground in swing."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import runs

    starts = np.full(on.shape, -1)
    for j in range(2):
        for a, b in runs(on[:, j]):
            starts[a:b + 1, j] = a
    out = {}
    for j, side in enumerate(("right", "left")):
        label = np.full(len(on), "swing", dtype=object)
        label[on[:, j] & ~on[:, 1 - j]] = "single"
        both = on[:, j] & on[:, 1 - j]
        label[both & (starts[:, j] > starts[:, 1 - j])] = "loading"
        label[both & (starts[:, j] < starts[:, 1 - j])] = "pre-swing"
        out[side] = label
    return out


def substituted(values: np.ndarray, measured: np.ndarray, kind: str, axes: str,
                bw: float) -> np.ndarray:
    """`values` (T, 18) with both feet's channels of `kind` ("v" force, "p" COP) along `axes`
    replaced by the plates' (`measured`); a COP only where both carry > 5 % BW."""
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    out = values.copy()
    for side in ("right", "left"):
        cols = [GRF_CHANNELS.index(f"ground_force_{side}_{kind}{a}") for a in axes]
        rows = slice(None)
        if kind == "p":
            vy = GRF_CHANNELS.index(f"ground_force_{side}_vy")
            rows = (measured[:, vy] > 0.05 * bw) & (values[:, vy] > 0.05 * bw)
        for c in cols:
            out[rows, c] = measured[rows, c]
    return out


def hip_by_phase(t: np.ndarray, estimates: dict, measured: np.ndarray, raw: np.ndarray,
                 w: np.ndarray, bw: float, run_id) -> dict:
    """The hip flexion moment's error (N m/kg, RMSE and mean: positive = more flexor than
    with the plates) per leg and gait phase (gait_phases of the raw plates' 20 N contacts),
    for each estimate in `estimates` (name -> (T, 18) values) and the first one with each of
    SUBSTITUTIONS; with each foot's fore-aft (along the plates' progression axis) and
    vertical force error (% BW, RMSE and mean) and fore-aft COP error (cm, mean, where both
    carry > 10 % BW) per phase. `run_id(values, tag)` gives id_moments' `_series`."""
    from validate_rajagopal import progression_axis  # noqa: PLC0415

    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    def col(a: np.ndarray, side: str, kind: str, axis: str) -> np.ndarray:
        return a[:, GRF_CHANNELS.index(f"ground_force_{side}_{kind}{axis}")]

    first = next(iter(estimates))
    variants = dict(estimates)
    for name, (kind, axes) in SUBSTITUTIONS.items():
        variants[f"{first}, {name}"] = substituted(estimates[first], measured, kind, axes, bw)
    series = {name: run_id(v, name) for name, v in variants.items()}
    plate_on = np.column_stack([col(raw, s, "v", "y") > 20.0 for s in ("right", "left")])
    labels = gait_phases(plate_on)
    u = progression_axis(measured, w, bw)
    out: dict = {}
    for side in ("right", "left"):
        coord = f"hip_flexion_{side[0]}"
        tm = next(iter(series.values()))["t"]
        at = np.clip(np.searchsorted(t, tm - 1e-9), 0, len(t) - 1)
        lab_m = labels[side][at]
        row = {}
        for ph in PHASES:
            sel = lab_m == ph
            if not sel.any():
                continue
            cell = {"frames": int(sel.sum())}
            for name, ser in series.items():
                err = ser["estimated"][coord][sel] - ser["measured"][coord][sel]
                cell[name] = [round(float(np.sqrt(np.mean(err ** 2))), 3),
                              round(float(np.mean(err)), 3)]
            k = w & (labels[side] == ph)
            for name, v in estimates.items():
                fa = {a: col(v, side, "v", a) - col(measured, side, "v", a) for a in "xyz"}
                fore = fa["x"] * u[0] + fa["z"] * u[1]
                loaded = k & (col(v, side, "v", "y") > 0.1 * bw) & (col(measured, side, "v", "y") > 0.1 * bw)
                cop = ((col(v, side, "p", "x") - col(measured, side, "p", "x")) * u[0]
                       + (col(v, side, "p", "z") - col(measured, side, "p", "z")) * u[1])
                cell[f"{name} forces"] = {
                    "fore_aft_bw_pct": [round(float(np.sqrt(np.mean(fore[k] ** 2)) / bw * 100), 2),
                                        round(float(np.mean(fore[k]) / bw * 100), 2)],
                    "vertical_bw_pct": [round(float(np.sqrt(np.mean(fa["y"][k] ** 2)) / bw * 100), 2),
                                        round(float(np.mean(fa["y"][k]) / bw * 100), 2)],
                    "cop_fore_aft_mean_cm": (round(float(np.mean(cop[loaded])) * 100, 2)
                                             if loaded.any() else None)}
            row[ph] = cell
        out[side] = row
    return out


def _slope(y: np.ndarray, x: np.ndarray) -> float:
    """The least-squares k of y = k x, to 2 decimals."""
    return round(float(y @ x / max(float(x @ x), 1e-12)), 2)


def plate_aim(com: np.ndarray, floor: float, measured: np.ndarray, raw: np.ndarray,
              w: np.ndarray, bw: float) -> dict:
    """How far each foot's plate force tilts compared with a force aimed from the plate's
    centre of pressure at the centre of mass `com` (T, 3) (rule 9's hand-over aim): per
    leg and gait phase (gait_phases), the least-squares factor k of F_fore-aft = k F_y
    (com - cop)_fore-aft / (com_y - `floor`) over the frames where the foot carries > 5 % BW,
    and the same over each third of the phase's frames (1: aimed at the centre of mass;
    0: upright)."""
    from validate_rajagopal import progression_axis  # noqa: PLC0415

    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    def col(side: str, kind: str, axis: str) -> np.ndarray:
        return measured[:, GRF_CHANNELS.index(f"ground_force_{side}_{kind}{axis}")]

    u = progression_axis(measured, w, bw)
    labels = gait_phases(np.column_stack([
        raw[:, GRF_CHANNELS.index(f"ground_force_{s}_vy")] > 20.0 for s in ("right", "left")]))
    out: dict = {}
    for side in ("right", "left"):
        fore = col(side, "v", "x") * u[0] + col(side, "v", "z") * u[1]
        cop = col(side, "p", "x") * u[0] + col(side, "p", "z") * u[1]
        aimed = col(side, "v", "y") * (com[:, 0] * u[0] + com[:, 2] * u[1] - cop) / (
            com[:, 1] - floor)
        for ph in ("loading", "single", "pre-swing"):
            k = np.flatnonzero(w & (labels[side] == ph) & (col(side, "v", "y") > 0.05 * bw))
            if len(k) < 3:
                continue
            out.setdefault(side, {})[ph] = {
                "all": _slope(fore[k], aimed[k]),
                "thirds": [_slope(fore[i], aimed[i]) for i in np.array_split(k, 3)]}
    return out


def force_aim_rajagopal(lab: dict, work: Path) -> dict:
    """FORCE_AIMS on the Rajagopal walk: per-foot errors, moments, and hip_by_phase."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import split_body_wrench
    from musclekit.pipelines.simulate.opensim.external_loads import write_external_loads

    mass = TRIALS["walk"]["mass_kg"]
    bw = mass * 9.80665
    wrench, measured, raw, w = _lab_wrench_and_plates(lab)
    out, estimates = {}, {}
    for aim in FORCE_AIMS:
        est = split_body_wrench(wrench, rule=ContactRule(force_aim=aim))
        estimates[f"aim {aim}"] = est.values
        feet = compare_feet(est.time_s, est.values, measured, raw, w, bw, est.contact)
        out[aim] = {**_feet_summary(feet), "pivot_height_m": est.pivot_height_m,
                    "moments_rmse_nm_per_kg": _lab_moments(
                        lab, est, work / f"force_aim_{aim.replace(' ', '_')}", mass)}

    def run_id(values, tag):
        d = work / "hip_by_phase" / tag.replace(" ", "_").replace(",", "").replace("'", "")
        d.mkdir(parents=True, exist_ok=True)
        write_external_loads(est.time_s, values, d / "grf.mot", d / "grf.xml",
                             {"right": "calcn_r", "left": "calcn_l"})
        return id_moments(lab["model"], lab["motion"], lab["grf_xml"], d / "grf.xml",
                          lab["window_s"], d, mass)["_series"]

    out["hip_by_phase"] = hip_by_phase(est.time_s, estimates, measured, raw, w, bw, run_id)
    out["plate_aim"] = plate_aim(wrench.com, est.floor_m, measured, raw, w, bw)
    return out


def force_aim_corpus(out: Path, work: Path) -> dict:
    """FORCE_AIMS on every corpus trial with plates (as heel_hold_corpus), and hip_by_phase."""
    from corpus import (  # noqa: PLC0415
        DATA,
        estimate_datasets,
        moments_vs_plates,
        plate_window,
        trial_mass,
    )
    from corpus_grf_variants import compare, trial_inputs  # noqa: PLC0415

    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import split_body_wrench
    from musclekit.pipelines.simulate.opensim.external_loads import (
        DEFAULT_FEET,
        GRF_CHANNELS,
        write_external_loads,
    )

    feet = {s: DEFAULT_FEET[s][0] for s in ("right", "left")}
    res = {}
    for trial, ds in estimate_datasets(out, None):
        bwr, plates = trial_inputs(ds, _wrench_cache(work, out, ds))
        mass = trial_mass(trial, DATA)
        (seq,) = open_dataset(ds).sequences.values()
        files = seq.extra.get("opensim", {})
        row, estimates = {}, {}
        for aim in FORCE_AIMS:
            est = split_body_wrench(bwr, rule=ContactRule(force_aim=aim))
            estimates[f"aim {aim}"] = est.values
            raw = np.nan_to_num(plates.resample(est.time_s, None))
            w, info = plate_window(est.time_s, {s: raw[:, GRF_CHANNELS.index(
                f"ground_force_{s}_vy")] for s in ("right", "left")})
            d = work / "corpus" / f"{ds.name}_aim_{aim.replace(' ', '_')}"
            row[aim] = {**_feet_summary(compare(est, plates, mass)),
                        "pivot_height_m": est.pivot_height_m,
                        "moments_rmse_nm_per_kg": moments_vs_plates(
                            ds, files, est.time_s, est.values, plates, info, mass, d)}
        measured = np.nan_to_num(plates.resample(est.time_s, 6.0))
        measured_xml = d / "plates.xml"
        if files.get("plates_setup"):
            measured_xml = ds / files["plates_setup"]

        def run_id(values, tag, ds=ds, files=files, measured_xml=measured_xml, info=info,
                   mass=mass, t=est.time_s):
            p = work / "corpus" / f"{ds.name}_phase" / tag.replace(" ", "_").replace(
                ",", "").replace("'", "")
            p.mkdir(parents=True, exist_ok=True)
            write_external_loads(t, values, p / "grf.mot", p / "grf.xml", feet)
            return id_moments(ds / files["scaled_model"], ds / files["ik_mot"], measured_xml,
                              p / "grf.xml", tuple(info["window_s"]), p, mass)["_series"]

        row["hip_by_phase"] = hip_by_phase(est.time_s, estimates, measured, raw, w,
                                           mass * 9.80665, run_id)
        row["plate_aim"] = plate_aim(bwr.com, est.floor_m, measured, raw, w, mass * 9.80665)
        res[trial.name] = row
        print(trial.name, json.dumps({a: row[a] for a in FORCE_AIMS}), flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--corpus", type=Path, default=None,
                    help="an earlier corpus.py --estimate --out: the heel-hold variants on "
                         "its trials too")
    ap.add_argument("--weight-sweep", action="store_true",
                    help="with --corpus: the hand-over weight sweep (item 5) only")
    ap.add_argument("--only-heel-hold", action="store_true",
                    help="only the heel-hold variants (item 4)")
    ap.add_argument("--force-aim", action="store_true",
                    help="only the hand-over force aims and the hip moment by phase (item 6)")
    args = ap.parse_args(argv)
    if not (args.data / "ExpData").is_dir():
        print(f"no Rajagopal 2016 data at {args.data}: nothing to measure", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="rajagopal-"))
    t0 = time.perf_counter()
    report: dict = {"date": time.strftime("%Y-%m-%d")}
    if args.weight_sweep:
        if not args.corpus:
            print("--weight-sweep needs --corpus DIR (a corpus.py --estimate run)",
                  file=sys.stderr)
            return 2
        report["weight_sweep"] = weight_sweep(args.corpus, work)
        print(json.dumps(report, indent=1))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        return 0
    if args.force_aim:
        report["force_aim"] = {"rajagopal_walk": force_aim_rajagopal(
            lab_pipeline(args.data, work, "walk"), work)}
        if args.corpus:
            report["force_aim"]["corpus"] = force_aim_corpus(args.corpus, work)
        return _report(report, args.json, t0)
    for trial in TRIALS:
        lab = lab_pipeline(args.data, work, trial)
        report[trial] = {} if args.only_heel_hold else {
            "total_force_by_cutoff": total_force_by_cutoff(lab, TRIALS[trial]["mass_kg"]),
            **cop_paths(lab, trial, work)}
        report[trial]["heel_hold"] = heel_hold_rajagopal(lab, trial, work)
    if args.corpus:
        report["corpus_heel_hold"] = heel_hold_corpus(args.corpus, work)
    return _report(report, args.json, t0)


def _report(report: dict, path: Path | None, t0: float) -> int:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    report["cpu_s"] = round(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, 1)
    text = json.dumps(report, indent=1)
    print(text)
    if path:
        path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
