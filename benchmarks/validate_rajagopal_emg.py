"""Activations against EMG on the Rajagopal 2016 walking trial (part 4 of
validate_rajagopal.py; run that script with --activations, or this one alone).

The lab's scaled model and IK (validate_rajagopal.lab_pipeline) go through musclekit's
`inverse` method twice, chunk by chunk as `musclekit simulate` does: with the ground forces
estimated from the kinematics, and with the measured plates (the lab's ExternalLoads setup).
The 10 raw right-leg EMG channels go through musclekit's sEMG chain and the activation
dynamics (EMG records excitation; emg_compare's docstring); `emg_compare` gives PCC
and on/offset timing per muscle over the right gait cycle (heel strikes at 0.248 s and
1.3925 s, from the lab's own EMG plots). With measured forces only the part of the cycle
where the plates carry the whole body is meaningful (the lab's ID window starts at 0.45 s).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rajagopal_lab import DEFAULT_DATA, FEET, lab_pipeline  # noqa: E402

GAIT_CYCLE_S = (0.248, 1.3925)
CHANNELS = ["SOL", "GAS", "TA", "MH", "BF", "VL", "VM", "RF", "GMAX", "GMED"]


def solve_sequence(model: Path, motion: Path, work: Path, grf_setup: Path | None,
                   path_fitter: str = "numpy") -> dict:
    """The `inverse` method over the whole trial, stitched onto the 50 fps grid."""
    from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan, plan_chunks
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings, prepare_model
    from musclekit.pipelines.simulate.dynamics.kernel.stitch import ChunkSeries, stitch
    from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
    from musclekit.pipelines.simulate.dynamics.methods.inverse.solve import solve_chunk
    from musclekit.pipelines.simulate.opensim.files import read_mot

    t0 = time.perf_counter()
    folder = prepare_model(model, work / "models", PrepSettings(feet=FEET, path_fitter=path_fitter),
                           motion)
    prep_s = time.perf_counter() - t0
    times = read_mot(motion).time_s
    plan = ChunkPlan()
    chunks = plan_chunks("walk", times, plan)
    settings = InverseSettings(grf_setup=str(grf_setup) if grf_setup else None)
    tag = "measured" if grf_setup else "estimated"
    outs, reports = [], []
    for c in chunks:
        rep, out = solve_chunk(folder, motion, c, settings, work / tag / f"chunk{c.index}")
        reports.append(rep)
        outs.append(out)
        print(f"{tag} chunk {c.index}: {rep.status} in {rep.solve_time_s:.0f} s "
              f"({rep.reason or 'ok'})", flush=True)
    template = next(o for o in outs if o is not None)
    muscles = template.channels["activations"]
    st = stitch(chunks, [None if o is None else ChunkSeries(o.time_s, o.values["activations"])
                         for o in outs], float(times[0]), float(times[-1]), len(muscles), plan)
    return {"time_s": st.time_s, "activations": st.values, "muscles": muscles,
            "prep_s": prep_s, "chunks": [asdict(r) for r in reports]}


def emg_envelopes(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """(times from the trial start, envelopes (T, 10)) of the raw EMG, musclekit's chain."""
    from musclekit.emg import EmgProcessing, envelope
    from musclekit.pipelines.align.emg_csv import EmgCsvOptions
    from musclekit.pipelines.align.emg_files import read_recording

    # The file counts time from the trial start; any wall clock will do for time zero.
    rec = read_recording(data / "ExpData" / "emg_walk_raw.anc",
                         EmgCsvOptions(start="2000-01-01T00:00:00+00:00"))
    by_name = {ch.name: ch for ch in [*rec.channels, *rec.others]}
    chans = [by_name[c] for c in CHANNELS]
    t = (chans[0].time_ns - chans[0].time_ns[0]) / 1e9
    rate = 1.0 / float(np.median(np.diff(t)))
    raw = np.column_stack([ch.values for ch in chans])
    return t, envelope(raw, rate, EmgProcessing())


def activation_check(data: Path, work: Path, out: Path, path_fitter: str = "numpy") -> dict:
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import compare, plot_comparison

    lab = lab_pipeline(data, work, "walk")
    t_emg, env = emg_envelopes(data)
    solved = {"estimated": solve_sequence(lab["model"], lab["motion"], work, None, path_fitter),
              "measured": solve_sequence(lab["model"], lab["motion"], work, lab["grf_xml"],
                                         path_fitter)}
    windows = {"estimated": GAIT_CYCLE_S, "measured": (lab["window_s"][0], GAIT_CYCLE_S[1])}
    results, report = {}, {}
    for label, s in solved.items():
        res = compare(s["time_s"], s["activations"], s["muscles"], t_emg, env, CHANNELS,
                      windows[label], side="r")
        results[label] = res
        report[label] = {
            "window_s": list(windows[label]),
            "median_pcc": round(float(np.nanmedian([r.pcc for r in res])), 3),
            "median_pcc_no_delay": round(float(np.nanmedian([r.pcc_no_delay for r in res])), 3),
            # the envelope itself, without the activation dynamics (the comparison before
            # 2026-12-07; emg_compare's docstring says why it is not the physiological one)
            "median_pcc_envelope_no_delay": round(float(np.nanmedian(
                [r.pcc_envelope_no_delay for r in res])), 3),
            "muscles": {r.channel: {"model": r.muscles, "pcc": round(r.pcc, 3),
                                    "pcc_no_delay": round(r.pcc_no_delay, 3),
                                    "pcc_envelope_no_delay": round(r.pcc_envelope_no_delay, 3),
                                    "delay_ms": round(1000 * r.delay_s), "onset_error_pct":
                                    r.onset_error_pct, "offset_error_pct": r.offset_error_pct}
                        for r in res},
            "chunks": [{k: c[k] for k in ("chunk", "status", "solve_time_s", "max_reserve_nm",
                                          "saturated_muscles", "reason")} for c in s["chunks"]],
            "prep_s": round(s["prep_s"], 1),
        }
    # One electromechanical delay for every muscle on top of the activation dynamics
    # (measured and rejected, docs/validation.md section 4): the zero-delay median with
    # the EMG's activation shifted later by d.
    for label, s in solved.items():
        report[label]["uniform_delay_median_pcc"] = {
            f"{round(d * 1000)}_ms": round(float(np.nanmedian([
                r.pcc_no_delay for r in compare(s["time_s"], s["activations"], s["muscles"],
                                                t_emg + d, env, CHANNELS, windows[label],
                                                side="r")])), 3)
            for d in (0.02, 0.04, 0.05)}
    # The two activation sets against each other (does the estimate change the story?).
    e, m = solved["estimated"], solved["measured"]
    lo, hi = windows["measured"]
    w = (e["time_s"] >= lo) & (e["time_s"] <= hi)
    report["estimated_vs_measured_pcc"] = {
        mu: round(float(np.corrcoef(e["activations"][w, j], m["activations"][w, j])[0, 1]), 3)
        for j, mu in enumerate(e["muscles"])
        if np.std(e["activations"][w, j]) > 1e-3 and np.std(m["activations"][w, j]) > 1e-3}
    plot_comparison(out / "validation-emg-walk.png", e["time_s"], GAIT_CYCLE_S,
                    {"estimated forces": (e["time_s"], e["activations"], e["muscles"]),
                     "measured forces": (m["time_s"], m["activations"], m["muscles"])},
                    t_emg, env, CHANNELS,
                    {"estimated forces": results["estimated"], "measured forces": results["measured"]},
                    "Rajagopal 2016 walking, right gait cycle: activations (inverse) vs EMG")
    return report


if __name__ == "__main__":
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "img")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--path-fitter", choices=("numpy", "opensim"), default="numpy",
                    help="polynomial muscle path fit of model preparation (kernel/path_fit.py "
                    "or OpenSim's PolynomialPathFitter)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="rajagopal-"))
    rep = activation_check(args.data, work, args.out, args.path_fitter)
    print(json.dumps(rep, indent=1))
    if args.json:
        args.json.write_text(json.dumps(rep, indent=1))
