"""Activations against EMG on the Rajagopal 2016 walking trial (part 4 of
validate_rajagopal.py; run that script with --activations, or this one alone).

The lab's scaled model and IK (validate_rajagopal.lab_pipeline) go through musclekit's
`inverse` method twice, chunk by chunk as `musclekit simulate` does: with the ground forces
estimated from the kinematics, and with the measured plates (the lab's ExternalLoads setup).
The 10 raw right-leg EMG channels go through musclekit's sEMG chain and the activation
dynamics each muscle had in the solve (EMG records excitation; emg_compare's docstring:
Rajagopal2016's Millard muscles keep 10 / 40 ms as DeGroote-Fregly ones, with OpenSim's
default smoothing 0.1); `emg_compare` gives PCC
and on/offset timing per muscle over the right gait cycle (heel strikes at 0.248 s and
1.3925 s, from the lab's own EMG plots). With measured forces only the part of the cycle
where the plates carry the whole body is meaningful (the lab's ID window starts at 0.45 s).

Beside the PCCs, what says why a muscle's curves differ (docs/validation.md, section 4):
- `channel_quality`: each raw channel's median frequency, share below 40 Hz and envelope
  floor (musclekit.emg.ChannelQuality);
- `deficit_by_phase`: each zero-delay 1 - PCC split over the phases of the gait cycle
  (Perry's phases, with the left heel strike and right toe-off taken from the plates);
- `per_muscle_pcc`: each model muscle of a channel's group alone against the EMG;
- `analog_clock_vs_plates`: the EMG file's plate channels against grf_walk.mot (one clock?);
- `corpus_channel_quality`: the same quality measures on the corpus's gait C3Ds with EMG;
- `processing_sensitivity`: the zero-delay medians with the chain's constants moved across
  the ranges the field uses (envelope 3-10 Hz, high-pass 10-30 Hz, normalisation to the
  trial's peak instead of the window's).
`--cache FILE.npz` keeps the solved activations, so the comparison reruns without solving.
"""

from __future__ import annotations

import contextlib
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
# Perry & Burnfield 2010 (Gait Analysis, 2nd ed.): loading response ends with the other
# foot's toe-off at ~12 % of the cycle, terminal swing starts at ~87 %; the other boundaries
# (left heel strike, right toe-off) are this trial's, from the plates at 20 N.
LOADING_END, TERMINAL_SWING_START = 0.12, 0.87
CONTACT_N = 20.0


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
            "prep_s": prep_s, "chunks": [asdict(r) for r in reports],
            "dynamics": model_dynamics(folder / "model.osim")}


@contextlib.contextmanager
def force_aim(aim: str | None):
    """Inside, every inverse solve of this process estimates its ground forces with the
    hand-over force aim `aim` (ContactRule.force_aim; None: the rule's), the rest of the rule
    as it is; restored on leaving."""
    import dataclasses

    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule
    from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings

    if aim is None:
        yield
        return
    ContactRule(force_aim=aim)  # refused here when unknown
    rule = InverseSettings.contact_rule
    InverseSettings.contact_rule = lambda self: dataclasses.replace(rule(self), force_aim=aim)
    try:
        yield
    finally:
        InverseSettings.contact_rule = rule


def model_dynamics(model_file: Path) -> dict[str, list[float]]:
    """Each muscle's (tau_a s, tau_d s, smoothing) as the solve used them."""
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import muscle_dynamics

    return {m: [d.activation_time_constant_s, d.deactivation_time_constant_s, d.smoothing]
            for m, d in muscle_dynamics(model_file).items()}


def _as_dynamics(table: dict[str, list[float]]) -> dict:
    from musclekit.emg import ActivationDynamics

    return {m: ActivationDynamics(*v) for m, v in table.items()}


def raw_emg(data: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """(times from the trial start, raw sEMG (T, 10) in V, rate in Hz) of the 10 channels."""
    from musclekit.pipelines.align.emg_csv import EmgCsvOptions
    from musclekit.pipelines.align.emg_files import read_recording

    # The file counts time from the trial start; any wall clock will do for time zero.
    rec = read_recording(data / "ExpData" / "emg_walk_raw.anc",
                         EmgCsvOptions(start="2000-01-01T00:00:00+00:00"))
    by_name = {ch.name: ch for ch in [*rec.channels, *rec.others]}
    chans = [by_name[c] for c in CHANNELS]
    t = (chans[0].time_ns - chans[0].time_ns[0]) / 1e9
    rate = 1.0 / float(np.median(np.diff(t)))
    return t, np.column_stack([ch.values for ch in chans]), rate


def emg_envelopes(data: Path, cfg=None) -> tuple[np.ndarray, np.ndarray]:
    """(times from the trial start, envelopes (T, 10)) of the raw EMG, musclekit's chain."""
    from musclekit.emg import EmgProcessing, envelope

    t, raw, rate = raw_emg(data)
    return t, envelope(raw, rate, cfg or EmgProcessing())


def gait_phases(data: Path, cycle_s: tuple[float, float] = GAIT_CYCLE_S
                ) -> dict[str, tuple[float, float]]:
    """Phases of the right gait cycle (s): Perry's, with this trial's left heel strike and
    right toe-off from the measured vertical forces (first crossing of 20 N in the cycle)."""
    from musclekit.pipelines.simulate.opensim.files import read_mot

    grf = read_mot(data / "ExpData" / "grf_walk.mot")
    t = grf.time_s
    lo, hi = cycle_s
    inside = (t > lo) & (t < hi)

    def crossing(column: str, rising: bool) -> float:
        on = grf.column(column) > CONTACT_N
        k = np.flatnonzero(inside[1:] & (on[1:] != on[:-1]) & (on[1:] == rising))
        if not k.size:
            raise RuntimeError(f"no {'rise' if rising else 'fall'} of {column} through "
                               f"{CONTACT_N} N in {lo}-{hi} s")
        return float(t[k[0] + 1])

    left_on = crossing("ground_force_l_vy", True)
    right_off = crossing("ground_force_r_vy", False)
    span = hi - lo
    return {"loading response": (lo, lo + LOADING_END * span),
            "single support": (lo + LOADING_END * span, left_on),
            "pre-swing": (left_on, right_off),
            "initial/mid swing": (right_off, lo + TERMINAL_SWING_START * span),
            "terminal swing": (lo + TERMINAL_SWING_START * span, hi + 1e-9)}


def analog_clock_lag(data: Path) -> dict:
    """Are the EMG file and the plates' forces on one clock? The .anc's own plate channels
    (F1Z-F3Z, summed) against grf_walk.mot's total vertical force: the lag (s, within
    +-0.2 s) of the best PCC, and that PCC."""
    from musclekit.pipelines.align.emg_csv import EmgCsvOptions
    from musclekit.pipelines.align.emg_files import read_recording
    from musclekit.pipelines.simulate.opensim.files import read_mot

    rec = read_recording(data / "ExpData" / "emg_walk_raw.anc",
                         EmgCsvOptions(start="2000-01-01T00:00:00+00:00"))
    by_name = {ch.name: ch for ch in [*rec.channels, *rec.others]}
    t = (by_name["F1Z"].time_ns - by_name["F1Z"].time_ns[0]) / 1e9
    fz = sum(by_name[n].values for n in ("F1Z", "F2Z", "F3Z"))
    grf = read_mot(data / "ExpData" / "grf_walk.mot")
    total = grf.column("ground_force_r_vy") + grf.column("ground_force_l_vy")
    lags = np.arange(-0.2, 0.2 + 1e-9, 0.0005)
    pcc = [abs(np.corrcoef(np.interp(t + lag, grf.time_s, total), fz)[0, 1]) for lag in lags]
    k = int(np.argmax(pcc))
    return {"lag_s": round(float(lags[k]), 4), "pcc": round(float(pcc[k]), 4)}


def corpus_channel_quality(corpus: Path) -> dict:
    """channel_quality of every analog channel of the corpus's gait C3Ds with EMG (those
    present): file -> channel -> measures."""
    from musclekit.emg import EmgProcessing, channel_quality
    from musclekit.pipelines.align.emg_files import read_recording
    from musclekit.pipelines.simulate.kinematics.c3d import read_c3d

    out = {}
    for name in ("btk_helenhayes/gait.c3d", "btk_pig/walk.c3d", "btk_functional/walk.c3d"):
        if not (corpus / name).is_file():
            continue
        c3d = read_c3d(corpus / name)
        raw = np.column_stack([v for _, v, _ in c3d.analogs.values()])
        out[name] = {ch: {k: round(v, 3) for k, v in asdict(q).items()} for ch, q in
                     zip(c3d.analogs, channel_quality(raw, c3d.analog_rate_hz), strict=True)}
    # the EMG exports (align reads them; flat, unused inputs give NaN)
    for path in sorted((corpus / "emg").glob("*")) if (corpus / "emg").is_dir() else []:
        rec = read_recording(path)
        raw = np.column_stack([c.values for c in rec.channels])
        rate = 1.0 / rec.sample_period_s
        plain = channel_quality(raw, rate)
        out[f"emg/{path.name}"] = {c.name: {k: round(v, 3) for k, v in asdict(q).items()}
                                   for c, q in zip(rec.channels, plain, strict=True)}
        # channels that are mostly hum: the same measures with the chain's notch at that mains
        hum = [j for j, q in enumerate(plain) if q.mains_share > 0.5]
        if hum:
            mains = plain[hum[0]].mains_hz
            cfg, _ = EmgProcessing(band_auto=True, notch_hz=mains).for_rate(rate)
            notched = channel_quality(raw[:, hum], rate, cfg)
            out[f"emg/{path.name} notch {mains:g} Hz"] = {
                rec.channels[j].name: {k: round(v, 3) for k, v in asdict(q).items()}
                for j, q in zip(hum, notched, strict=True)}
    return out


def save_solved(path: Path, solved: dict) -> None:
    """The solved activations of both force sources, to rerun the comparison (`--cache`)."""
    arrays = {}
    for label, s in solved.items():
        arrays[f"{label}_time_s"] = s["time_s"]
        arrays[f"{label}_activations"] = s["activations"]
        arrays[f"{label}_meta"] = np.array(json.dumps(
            {"muscles": s["muscles"], "prep_s": s["prep_s"], "chunks": s["chunks"],
             "dynamics": s["dynamics"]}))
    np.savez_compressed(path, **arrays)


def load_solved(path: Path) -> dict:
    with np.load(path) as z:
        labels = [k[: -len("_meta")] for k in z.files if k.endswith("_meta")]
        return {label: {"time_s": z[f"{label}_time_s"], "activations": z[f"{label}_activations"],
                        **json.loads(str(z[f"{label}_meta"]))} for label in labels}


def _compare(s: dict, t_emg: np.ndarray, env: np.ndarray, window, channels=None, **kw):
    """emg_compare.compare on one solved set, the EMG's activation through the dynamics the
    solve used (each muscle's, `s["dynamics"]`) unless `dynamics` is given."""
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import compare

    kw.setdefault("dynamics", _as_dynamics(s["dynamics"]))
    return compare(s["time_s"], s["activations"], s["muscles"], t_emg, env,
                   channels or CHANNELS, window, side="r", **kw)


def _medians(res) -> dict:
    return {"median_pcc": round(float(np.nanmedian([r.pcc for r in res])), 3),
            "median_pcc_no_delay": round(float(np.nanmedian([r.pcc_no_delay for r in res])), 3)}


def diagnostics(data: Path, solved: dict, windows: dict, t_emg: np.ndarray,
                env: np.ndarray) -> dict:
    """Why the curves differ (module docstring): channel quality, per-muscle PCC of each
    channel's group, and the medians under the field's range of processing constants."""
    from musclekit.emg import (
        ActivationDynamics,
        EmgProcessing,
        activation_from_excitation,
        channel_quality,
        envelope,
    )
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import match_channels

    t_raw, raw, rate = raw_emg(data)
    out: dict = {"channel_quality": {
        ch: {k: round(v, 3) for k, v in asdict(q).items()}
        for ch, q in zip(CHANNELS, channel_quality(raw, rate), strict=True)}}
    per_muscle: dict = {}
    for label, s in solved.items():
        pairs = match_channels(CHANNELS, s["muscles"], "r")
        per_muscle[label] = {}
        for c, ch in enumerate(CHANNELS):
            alone = {}
            for m in pairs[ch]:
                (r,) = _compare(s, t_emg, env[:, [c]], windows[label], [ch], mapping={ch: [m]})
                alone[m] = round(r.pcc_no_delay, 3)
            per_muscle[label][ch] = alone
    out["per_muscle_pcc_no_delay"] = per_muscle
    variants = {f"envelope {hz:g} Hz": EmgProcessing(envelope_hz=hz) for hz in (3.0, 4.0, 8.0, 10.0)}
    variants |= {f"high-pass {lo:g} Hz": EmgProcessing(band_hz=(lo, 450.0)) for lo in (10.0, 30.0)}
    sens: dict = {}
    for name, cfg in variants.items():
        e = envelope(raw, rate, cfg)
        sens[name] = {label: _medians(_compare(s, t_raw, e, windows[label]))
                      for label, s in solved.items()}
    # De Groote et al.'s constants (15 / 60 ms, smoothing 10) instead of the solve's own
    sens["dynamics 15 / 60 ms, smoothing 10"] = {
        label: _medians(_compare(s, t_emg, env, windows[label], dynamics=ActivationDynamics()))
        for label, s in solved.items()}
    # The excitation normalised to the trial's peak instead of the window's (compare()'s):
    # the EMG's activation computed here and compared as it is (dynamics=None).
    trial = {}
    for label, s in solved.items():
        lo, hi = windows[label]
        ew = (t_emg >= lo) & (t_emg <= hi)
        share = np.nanmax(env[ew], axis=0) / np.nanmax(env, axis=0)
        pairs = match_channels(CHANNELS, s["muscles"], "r")
        dyn = _as_dynamics(s["dynamics"])
        act_emg = np.column_stack([activation_from_excitation(
            env[:, c] / np.nanmax(env[:, c]), t_emg, dyn[pairs[ch][0]])
            for c, ch in enumerate(CHANNELS)])
        res = _compare(s, t_emg, act_emg, windows[label], dynamics=None)
        trial[label] = _medians(res) | {"window_peak_share_of_trial": dict(zip(
            CHANNELS, np.round(share, 2).tolist(), strict=True))}
    sens["normalised to the trial's peak"] = trial
    out["processing_sensitivity"] = sens
    return out


def activation_check(data: Path, work: Path, out: Path, path_fitter: str = "numpy",
                     cache: Path | None = None) -> dict:
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import plot_comparison

    t_emg, env = emg_envelopes(data)
    if cache is not None and cache.is_file():
        solved = load_solved(cache)
        if any("dynamics" not in s for s in solved.values()):  # a cache from before them
            lab = lab_pipeline(data, work, "walk")
            from musclekit.pipelines.simulate.dynamics.kernel.prep import (
                PrepSettings,
                prepare_model,
            )

            folder = prepare_model(lab["model"], work / "models",
                                   PrepSettings(feet=FEET, path_fitter=path_fitter), lab["motion"])
            for s in solved.values():
                s["dynamics"] = model_dynamics(folder / "model.osim")
            save_solved(cache, solved)
    else:
        lab = lab_pipeline(data, work, "walk")
        solved = {"estimated": solve_sequence(lab["model"], lab["motion"], work, None, path_fitter),
                  "measured": solve_sequence(lab["model"], lab["motion"], work, lab["grf_xml"],
                                             path_fitter)}
        if cache is not None:
            save_solved(cache, solved)
    plate_window = (_id_window(data)[0], GAIT_CYCLE_S[1])
    windows = {"estimated": GAIT_CYCLE_S, "measured": plate_window}
    phases = gait_phases(data)
    results, report = {}, {"phases_s": {k: [round(v, 4) for v in w] for k, w in phases.items()}}
    for label, s in solved.items():
        res = _compare(s, t_emg, env, windows[label], phases_s=phases)
        results[label] = res
        report[label] = {
            "window_s": list(windows[label]),
            **_medians(res),
            # the envelope itself, without the activation dynamics (the comparison before
            # 2026-12-07; emg_compare's docstring says why it is not the physiological one)
            "median_pcc_envelope_no_delay": round(float(np.nanmedian(
                [r.pcc_envelope_no_delay for r in res])), 3),
            "muscles": {r.channel: {"model": r.muscles, "pcc": round(r.pcc, 3),
                                    "pcc_no_delay": round(r.pcc_no_delay, 3),
                                    "pcc_envelope_no_delay": round(r.pcc_envelope_no_delay, 3),
                                    "delay_ms": round(1000 * r.delay_s), "onset_error_pct":
                                    r.onset_error_pct, "offset_error_pct": r.offset_error_pct,
                                    "onset_error_no_delay_pct": r.onset_error_no_delay_pct,
                                    "offset_error_no_delay_pct": r.offset_error_no_delay_pct,
                                    "missed_bursts": r.missed_bursts,
                                    "extra_bursts": r.extra_bursts,
                                    "deficit_by_phase": {k: round(v, 3) for k, v in
                                                         r.deficit_by_phase.items()}}
                        for r in res},
            "chunks": [{k: c[k] for k in ("chunk", "status", "solve_time_s", "max_reserve_nm",
                                          "saturated_muscles", "reason")} for c in s["chunks"]],
            "prep_s": round(s["prep_s"], 1),
        }
    # Estimated forces over the plate window too: the same frames as the measured ones, so
    # the two force sources are compared on one window.
    e = solved["estimated"]
    same = _compare(e, t_emg, env, plate_window)
    report["estimated_plate_window"] = _medians(same) | {
        "muscles": {r.channel: round(r.pcc_no_delay, 3) for r in same}}
    # One electromechanical delay for every muscle on top of the activation dynamics
    # (measured and rejected, docs/validation.md section 4): the zero-delay median with
    # the EMG's activation shifted later by d.
    for label, s in solved.items():
        report[label]["uniform_delay_median_pcc"] = {
            f"{round(d * 1000)}_ms": round(float(np.nanmedian([
                r.pcc_no_delay for r in _compare(s, t_emg + d, env, windows[label])])), 3)
            for d in (0.02, 0.04, 0.05)}
    report["diagnostics"] = diagnostics(data, solved, windows, t_emg, env)
    report["diagnostics"]["analog_clock_vs_plates"] = analog_clock_lag(data)
    report["diagnostics"]["corpus_channel_quality"] = corpus_channel_quality(
        data.parent / "corpus")
    # The two activation sets against each other (does the estimate change the story?).
    m = solved["measured"]
    lo, hi = windows["measured"]
    w = (e["time_s"] >= lo) & (e["time_s"] <= hi)
    report["estimated_vs_measured_pcc"] = {
        mu: round(float(np.corrcoef(e["activations"][w, j], m["activations"][w, j])[0, 1]), 3)
        for j, mu in enumerate(e["muscles"])
        if np.std(e["activations"][w, j]) > 1e-3 and np.std(m["activations"][w, j]) > 1e-3}
    out.mkdir(parents=True, exist_ok=True)  # a fresh --out folder (the plot is written last)
    plot_comparison(out / "validation-emg-walk.png", e["time_s"], GAIT_CYCLE_S,
                    {"estimated forces": (e["time_s"], e["activations"], e["muscles"]),
                     "measured forces": (m["time_s"], m["activations"], m["muscles"])},
                    t_emg, env, CHANNELS,
                    {"estimated forces": results["estimated"], "measured forces": results["measured"]},
                    "Rajagopal 2016 walking, right gait cycle: activations (inverse) vs EMG",
                    dynamics=_as_dynamics(e["dynamics"]))
    report["dynamics_used"] = sorted({tuple(v) for v in e["dynamics"].values()})
    return report


def _id_window(data: Path) -> list[float]:
    """The lab's inverse-dynamics time range (where the plates carry the body)."""
    from rajagopal_lab import _xml_value

    return [float(v) for v in _xml_value(data / "ID" / "id_setup_walk.xml", "time_range").split()]


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
    ap.add_argument("--cache", type=Path, default=None,
                    help="NPZ of the solved activations: read when it exists (no solving), "
                    "else written after solving")
    ap.add_argument("--activation-smoothing", type=float, default=None,
                    help="DeGroote-Fregly activation dynamics smoothing for the solve and the "
                    "comparison (evaluate.ACTIVATION_DYNAMICS_SMOOTHING); default the model's, "
                    "OpenSim's 0.1")
    ap.add_argument("--force-aim", default=None,
                    help="the estimate's hand-over force aim (ContactRule.force_aim: com, "
                    "leading share, pivot); default the rule's")
    args = ap.parse_args()
    if args.activation_smoothing is not None:
        from musclekit.pipelines.simulate.opensim import evaluate

        evaluate.ACTIVATION_DYNAMICS_SMOOTHING = args.activation_smoothing
    work = args.work or Path(tempfile.mkdtemp(prefix="rajagopal-"))
    with force_aim(args.force_aim):
        rep = activation_check(args.data, work, args.out, args.path_fitter, args.cache)
    print(json.dumps(rep, indent=1))
    if args.json:
        args.json.write_text(json.dumps(rep, indent=1))
