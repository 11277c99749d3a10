"""`track`'s activations against EMG on the Rajagopal 2016 walk, beside `inverse`'s (issue 25:
"activations vs EMG no worse than inverse's").

The chunks are solved as validate_rajagopal_track.py solves them (the lab's scaled model and
IK, the model prepared with OpenCap's foot spheres, every chunk first by `inverse`, whose
solution is track's warm start, then by `track` with `--track-grf` none and estimated, at
TrackSettings' default weights). The walk's two chunks cover the whole trial; each set of
chunks is stitched onto the 50 fps grid as `musclekit simulate` stitches them, and compared
with the EMG exactly as validate_rajagopal_emg.py compares `inverse`'s (its functions: the
same envelopes, each muscle's activation dynamics from the model the solve used, PCC at zero
delay and the best within 0-100 ms, the zero-delay deficit split over the gait phases), over
the same two windows: the right gait cycle (0.248-1.3925 s) and the part of it where the
plates carry the body (from the lab's ID start, 0.45 s).

Solved chunks are kept: `--work` holds `walk/inverse/chunkNNNN.*` (the layout of
validate_rajagopal_track.py, so its inverse chunks are reused) and
`walk/track_<mode>_out/chunkNNNN.*` (track's outputs, which that script does not keep); a
chunk whose record exists is not solved again.

Run:

    nice -n 5 python benchmarks/validate_rajagopal_track_emg.py [--work /tmp/mk_track_emg]
        [--grf none estimated] [--weights KEY=VALUE ...] [--json track_emg.json]

`--weights` sets track's objective weights over nlp/track.py's DEFAULT_TRACK_WEIGHTS (its
chunks go to `walk/track_<mode>_<key><value>...`, so variants sit beside the defaults).
Besides the EMG it prints what the muscles are asked to do: each track chunk's vertical
contact force per foot against the plates (validate_rajagopal_track.plate_agreement), and per
gait phase the right leg's hip, knee and ankle moments that each method's muscles and
reserves produce (from the kept NLP problems and solutions; track's from its last round),
beside the moments of OpenSim's ID with the plates on the lab's IK (the referee: from the
right heel strike the right foot is on a plate, so the right leg's moments need no other
force).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rajagopal_lab import DEFAULT_DATA, lab_pipeline  # noqa: E402
from validate_rajagopal_emg import (  # noqa: E402
    CHANNELS,
    GAIT_CYCLE_S,
    _compare,
    _id_window,
    _medians,
    emg_envelopes,
    gait_phases,
    model_dynamics,
)
from validate_rajagopal_track import _cpu_s, plate_agreement, prepare  # noqa: E402

from musclekit.errors import InputError  # noqa: E402


def stitched_activations(chunks: list, outputs: list, t0: float, t1: float, plan=None,
                         label: str = "", window: tuple[float, float] | None = None
                         ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(time_s, activations (T, M), muscles) of one method's chunks stitched as `simulate`
    stitches them. A failed chunk (output None) whose core overlaps `window` (any, without
    one) would leave a gap in the compared window, so it is refused by name rather than
    compared over part of the window; one outside it is a gap outside it, as in `simulate`."""
    from musclekit.pipelines.simulate.dynamics.kernel.stitch import ChunkSeries, stitch

    if len(chunks) != len(outputs):
        raise InputError(f"{label}: {len(chunks)} chunks but {len(outputs)} outputs")
    lo, hi = window if window is not None else (-np.inf, np.inf)
    failed = [c.index for c, o in zip(chunks, outputs, strict=True)
              if o is None and c.core_start_s < hi and c.core_end_s > lo]
    if failed:
        raise InputError(f"{label}: chunk(s) {failed} have no solution (not converged); the "
                         "compared window would have a gap")
    done = [(c, o) for c, o in zip(chunks, outputs, strict=True) if o is not None]
    if not done:
        raise InputError(f"{label}: no chunk has a solution")
    muscles = done[0][1].channels["activations"]
    for c, o in done:
        if o.channels["activations"] != muscles:
            raise InputError(f"{label}: chunk {c.index}'s muscles differ from chunk "
                             f"{done[0][0].index}'s")
    st = stitch(chunks, [None if o is None else ChunkSeries(o.time_s, o.values["activations"])
                         for o in outputs], t0, t1, len(muscles), plan)
    return st.time_s, st.values, muscles


# the right leg's moments compared per phase (generalized forces, N m)
MOMENT_COORDINATES = ["hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r",
                      "ankle_angle_r"]


def parse_weights(items: list[str]) -> dict[str, float]:
    """KEY=VALUE pairs as track weights; keys must be DEFAULT_TRACK_WEIGHTS'."""
    from musclekit.pipelines.simulate.dynamics.nlp.track import DEFAULT_TRACK_WEIGHTS

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in DEFAULT_TRACK_WEIGHTS:
            raise InputError(f"--weights {item!r}: expected KEY=VALUE with KEY one of "
                             f"{sorted(DEFAULT_TRACK_WEIGHTS)}")
        try:
            out[key] = float(value)
        except ValueError as exc:
            raise InputError(f"--weights {item!r}: {value!r} is not a number") from exc
    return out


def track_folder(mode: str, weights: dict[str, float]) -> str:
    """The work folder name of track's chunks in `mode` with `weights` (none: the defaults)."""
    return f"track_{mode}" + "".join(f"_{k}{v:g}" for k, v in sorted(weights.items()))


def muscle_moments(problem: Path, solution: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(time_s, generalized forces (N, J), coordinates) that a kept NLP solution's muscles
    (sum of moment arm x tendon force) and coordinate actuators (reserves) produce: inverse's
    RedundancyProblem / track's TrackProblem .npz and their solution .npz."""
    with np.load(problem) as zp, np.load(solution) as zs:
        meta = json.loads(str(zp["meta"]))
        force = zp["force_passive"] + zs["activation"] * zp["force_active"]
        gen = np.einsum("kmj,km->kj", zp["moment_arm"], force)
        control = zs["actuator_control"] if "actuator_control" in zs.files else zs["control"]
        for r, j in enumerate(zp["actuator_coordinate"]):
            gen[:, int(j)] += control[:, r] * zp["actuator_optimal_force"][r]
        return np.asarray(zp["time_s"], dtype=float), gen, list(meta["coordinates"])


def phase_means(time_s: np.ndarray, values: np.ndarray, phases: dict[str, tuple[float, float]]
                ) -> dict[str, np.ndarray]:
    """Per phase (name -> [start, end) s) the mean of `values` (N, ...) over its samples."""
    out = {}
    for name, (lo, hi) in phases.items():
        w = (time_s >= lo) & (time_s < hi)
        if not w.any():
            raise InputError(f"no sample of {time_s[0]:.3f}-{time_s[-1]:.3f} s in phase {name} "
                             f"({lo:.3f}-{hi:.3f} s)")
        out[name] = values[w].mean(axis=0)
    return out


def stitched_moments(chunks: list, files: list[tuple[Path, Path] | None]
                     ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """`muscle_moments` of each chunk on the samples of its core (the first chunk's core from
    its start), joined in time order; chunks without kept files are left out."""
    ts, vals, coords = [], [], None
    for c, f in zip(chunks, files, strict=True):
        if f is None:
            continue
        t, gen, names = muscle_moments(*f)
        coords = coords or names
        if names != coords:
            raise InputError(f"chunk {c.index}'s coordinates differ from the first chunk's")
        w = (t >= c.core_start_s - 1e-9) & (t < c.core_end_s - 1e-9)
        ts.append(t[w])
        vals.append(gen[w])
    if not ts:
        raise InputError("no chunk has a kept problem and solution")
    return np.concatenate(ts), np.concatenate(vals), coords


def plate_moments(lab: dict, out_dir: Path, window_s: tuple[float, float]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """OpenSim ID with the plates on the lab's IK (6 Hz, muscles excluded) over `window_s`:
    (time_s, MOMENT_COORDINATES' generalized forces (N, 5))."""
    import contextlib

    import opensim as osim

    from musclekit.pipelines.simulate.opensim.files import read_mot

    out_dir.mkdir(parents=True, exist_ok=True)
    tool = osim.InverseDynamicsTool()
    tool.setModelFileName(str(lab["model"]))
    tool.setCoordinatesFileName(str(lab["motion"]))
    tool.setLowpassCutoffFrequency(6.0)
    tool.setExternalLoadsFileName(str(lab["grf_xml"]))
    tool.setStartTime(window_s[0])
    tool.setEndTime(window_s[1])
    excluded = osim.ArrayStr()
    excluded.append("Muscles")
    tool.setExcludedForces(excluded)
    tool.setResultsDir(str(out_dir))
    tool.setOutputGenForceFileName("id_plates.sto")
    setup = out_dir / "id_plates_setup.xml"
    tool.printToXML(str(setup))
    with contextlib.chdir(Path(lab["grf_xml"]).parent):  # the loads name their data relatively
        osim.InverseDynamicsTool(str(setup)).run()
    m = read_mot(out_dir / "id_plates.sto", rotational=set())
    return m.time_s, np.column_stack([m.column(f"{c}_moment") for c in MOMENT_COORDINATES])


def solve_walk(data: Path, work: Path, modes: list[str], weights: dict[str, float] | None = None
               ) -> tuple[dict, dict]:
    """label -> {time_s, activations, muscles, dynamics, chunks}: `inverse` and `track` per
    mode over every chunk of the walk, solved or read back from `work`; and label -> why
    not, for a method with a chunk that did not converge."""
    from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan, plan_chunks
    from musclekit.pipelines.simulate.dynamics.kernel.result import (
        load_output,
        load_report,
        save_chunk,
    )
    from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
    from musclekit.pipelines.simulate.dynamics.methods.inverse.solve import (
        solve_chunk as solve_inverse,
    )
    from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings
    from musclekit.pipelines.simulate.dynamics.methods.track.solve import (
        solve_chunk as solve_track,
    )
    from musclekit.pipelines.simulate.opensim.files import read_mot

    lab = lab_pipeline(data, work / "lab", "walk")
    inv_prep, trk_prep = prepare(lab, work / "walk")
    times = read_mot(lab["motion"]).time_s
    plan = ChunkPlan()
    chunks = plan_chunks("walk", times, plan)
    weights = weights or {}
    folders = {"inverse": work / "walk" / "inverse"}
    folders |= {f"track {m}": work / "walk" / f"{track_folder(m, weights)}_out" for m in modes}
    # where each method keeps its NLP's problem and solution per chunk
    kept = {"inverse": (work / "walk" / "inverse_work", "inverse_problem.npz",
                        "inverse_solution.npz")}
    kept |= {f"track {m}": (work / "walk" / track_folder(m, weights), "track_problem.npz",
                            "track_solution.npz") for m in modes}
    rows: dict[str, list[dict]] = {label: [] for label in folders}
    for c in chunks:
        name = f"chunk{c.index:04d}"
        for label, folder in folders.items():
            if load_report(folder, name) is not None:
                rows[label].append({"chunk": c.index, "solved_here": False})
                continue
            c0 = _cpu_s()
            if label == "inverse":
                rep, out = solve_inverse(inv_prep, lab["motion"], c, InverseSettings(),
                                         work / "walk" / "inverse_work" / name)
            else:
                mode = label.split()[1]
                settings = TrackSettings(warm_start_dir=str(folders["inverse"]), track_grf=mode,
                                         weights=dict(weights) or None,
                                         grf_setup=str(lab["grf_xml"]) if mode == "measured"
                                         else None)
                rep, out = solve_track(trk_prep, lab["motion"], c, settings,
                                       work / "walk" / track_folder(mode, weights) / name)
            save_chunk(folder, name, rep, out)
            rows[label].append({"chunk": c.index, "solved_here": True,
                                "cpu_s": round(_cpu_s() - c0, 1)})
            print(f"{label} chunk {c.index}: {rep.status} ({rep.reason or 'ok'}), "
                  f"{rows[label][-1]['cpu_s']} CPU s", flush=True)
    solved, refused = {}, {}
    for label, folder in folders.items():
        for row, c in zip(rows[label], chunks, strict=True):
            rep = load_report(folder, f"chunk{c.index:04d}")
            row |= {"status": rep.status, "reason": rep.reason, "iterations": rep.iterations,
                    "rounds": len(rep.diagnostics.rounds or []),
                    "max_reserve_nm": rep.max_reserve_nm}
        outs = [load_output(folder, f"chunk{c.index:04d}") for c in chunks]
        if label != "inverse":  # the contact forces against the plates, as validate_rajagopal_track
            for row, c, o in zip(rows[label], chunks, outs, strict=True):
                if o is not None:
                    row["vs_plates"] = plate_agreement(lab, "walk", o.time_s, o.values["grf"],
                                                       (c.core_start_s, c.core_end_s))
        try:
            t, acts, muscles = stitched_activations(chunks, outs, float(times[0]),
                                                    float(times[-1]), plan, label, GAIT_CYCLE_S)
        except InputError as exc:  # the other methods are still compared; this one is named
            print(f"not compared: {exc}", flush=True)
            refused[label] = {"why": str(exc), "chunks": rows[label]}
            continue
        prep = inv_prep if label == "inverse" else trk_prep
        folder, prob, sol = kept[label]
        files = [(folder / f"chunk{c.index:04d}" / prob, folder / f"chunk{c.index:04d}" / sol)
                 for c in chunks]
        files = [f if f[0].is_file() and f[1].is_file() else None for f in files]
        g_t, g = [], []
        for c, o in zip(chunks, outs, strict=True):  # each chunk's core, as the moments
            if o is not None and "grf" in o.values:
                w = (o.time_s >= c.core_start_s - 1e-9) & (o.time_s < c.core_end_s - 1e-9)
                g_t.append(o.time_s[w])
                g.append(np.asarray(o.values["grf"])[w])
        solved[label] = {"time_s": t, "activations": acts, "muscles": muscles,
                         "grf": (np.concatenate(g_t), np.concatenate(g)) if g else None,
                         "dynamics": model_dynamics(prep / "model.osim"), "chunks": rows[label],
                         "moments": stitched_moments(chunks, files)}
    solved["_lab"] = lab
    return solved, refused


def right_foot_by_phase(time_s: np.ndarray, grf: np.ndarray,
                       phases: dict[str, tuple[float, float]]) -> dict[str, list[float]]:
    """Per phase the right foot's mean force (fore-aft, vertical, mediolateral; N) and its
    centre of pressure (x, z in ground, m; weighted by the vertical force where it exceeds
    20 N) from `grf` (N, 18 GRF_CHANNELS) at `time_s`."""
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    f = grf[:, [idx[f"ground_force_right_v{a}"] for a in "xyz"]]
    p = grf[:, [idx["ground_force_right_px"], idx["ground_force_right_pz"]]]
    out = {}
    for name, (lo, hi) in phases.items():
        w = (time_s >= lo) & (time_s < hi)
        load = w & (f[:, 1] > 20.0) & np.isfinite(p).all(axis=1)
        cop = (p[load] * f[load, 1:2]).sum(axis=0) / f[load, 1].sum() if load.any() else \
            np.full(2, np.nan)
        out[name] = [round(float(v), 1) for v in np.nanmean(f[w], axis=0)] + \
            [round(float(v), 3) for v in cop]
    return out


def moments_table(solved: dict, plates: tuple[np.ndarray, np.ndarray],
                  phases: dict[str, tuple[float, float]]) -> tuple[list[str], dict]:
    """Per phase and MOMENT_COORDINATES coordinate the mean moment (N m) of the plates' ID and
    of each method's muscles and reserves: lines of a table and the same as a dict."""
    table = {"plates (ID)": phase_means(*plates, phases)}
    for label, s in solved.items():
        t, gen, coords = s["moments"]
        cols = [coords.index(c) for c in MOMENT_COORDINATES]
        table[label] = phase_means(t, gen[:, cols], phases)
    lines = ["phase / source".ljust(30) + "".join(f"{c[:-2]:>16}" for c in MOMENT_COORDINATES)]
    for p in phases:
        for src, means in table.items():
            lines.append(f"{p[:14]:<14} {src:<15}" + "".join(f"{v:16.1f}" for v in means[p]))
    return lines, {src: {p: [round(float(v), 1) for v in m] for p, m in means.items()}
                   for src, means in table.items()}


def side_by_side(results: dict[str, list], reference: str = "inverse") -> list[str]:
    """Lines of a table: per EMG channel each label's PCC at zero delay / best (delay ms),
    the medians last; where a label's zero-delay PCC is below the reference's, the phase
    whose deficit grew most is named."""
    labels = list(results)
    if reference not in results:
        raise InputError(f"no {reference!r} among {labels}")
    ref = {r.channel: r for r in results[reference]}
    lines = ["EMG   " + "".join(f"{lb:>26}" for lb in labels)]
    for ch in ref:
        cells, worse = [], []
        for lb in labels:
            r = next(x for x in results[lb] if x.channel == ch)
            cells.append(f"{r.pcc_no_delay:6.3f} / {r.pcc:5.3f} ({1000 * r.delay_s:3.0f} ms)")
            if lb != reference and r.pcc_no_delay < ref[ch].pcc_no_delay and r.deficit_by_phase:
                grew = {p: r.deficit_by_phase[p] - ref[ch].deficit_by_phase.get(p, 0.0)
                        for p in r.deficit_by_phase}
                p = max(grew, key=grew.get)
                worse.append(f"{lb}: {p} +{grew[p]:.2f}")
        lines.append(f"{ch:<6}" + "".join(f"{c:>26}" for c in cells)
                     + (f"   worse in {'; '.join(worse)}" if worse else ""))
    meds = [_medians(results[lb]) for lb in labels]
    lines.append("median" + "".join(
        f"{m['median_pcc_no_delay']:>6.3f} / {m['median_pcc']:5.3f}".rjust(26) for m in meds))
    return lines


def vs_reference(solved: dict, window: tuple[float, float], reference: str = "inverse"
                 ) -> dict[str, dict[str, float]]:
    """Per other label and EMG channel, the PCC of its activation (the mean of the channel's
    muscles, as compared with the EMG) with the reference's over `window`: does the method
    change the curve the EMG is compared with, and where?"""
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import match_channels

    ref = solved[reference]
    w = (ref["time_s"] >= window[0]) & (ref["time_s"] <= window[1])
    out: dict[str, dict[str, float]] = {}
    for label, s in solved.items():
        if label == reference:
            continue
        pairs = match_channels(CHANNELS, s["muscles"], "r")
        out[label] = {}
        for ch in CHANNELS:
            a = np.mean([np.interp(ref["time_s"][w], s["time_s"], s["activations"][:, s[
                "muscles"].index(m)]) for m in pairs[ch]], axis=0)
            b = np.mean([ref["activations"][w, ref["muscles"].index(m)] for m in pairs[ch]],
                        axis=0)
            out[label][ch] = round(float(np.corrcoef(a, b)[0, 1]), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--work", type=Path, default=Path("/tmp/mk_track_emg"))
    ap.add_argument("--grf", nargs="+", default=["none", "estimated"],
                    choices=["none", "estimated", "measured"])
    ap.add_argument("--weights", nargs="+", default=[], metavar="KEY=VALUE",
                    help="track's objective weights over DEFAULT_TRACK_WEIGHTS")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    c0 = _cpu_s()
    weights = parse_weights(args.weights)
    solved, refused = solve_walk(args.data, args.work, args.grf, weights)
    lab = solved.pop("_lab")
    if "inverse" not in solved:
        raise InputError(refused["inverse"]["why"])
    t_emg, env = emg_envelopes(args.data)
    phases = gait_phases(args.data)
    windows = {"whole cycle": GAIT_CYCLE_S,
               "plate window": (_id_window(args.data)[0], GAIT_CYCLE_S[1])}
    report: dict = {"weights": weights,
                    "chunks": {lb: s["chunks"] for lb, s in solved.items()},
                    "not_compared": refused}
    for lb, s in solved.items():
        for row in s["chunks"]:
            if "vs_plates" in row:
                vp = row["vs_plates"]
                print(f"{lb} chunk {row['chunk']}: vertical force vs plates "
                      f"{vp.get('right_rmse_bw_pct')} / {vp.get('left_rmse_bw_pct')} % BW")
    lines, report["moments_by_phase_nm"] = moments_table(
        solved, plate_moments(lab, args.work / "walk" / "id_plates", (0.2, GAIT_CYCLE_S[1] + 0.05)),
        phases)
    print("\nright leg's moments by phase (N m): muscles and reserves vs ID with the plates")
    print("\n".join(lines))
    # the right foot's forces behind those moments: plates (6 Hz), inverse's estimate, track
    from musclekit.pipelines.simulate.opensim.external_loads import read_measured_grf

    t_grid = solved["inverse"]["time_s"]
    feet = {"plates": right_foot_by_phase(t_grid, np.nan_to_num(
        read_measured_grf(None, lab["grf_xml"]).resample(t_grid, 6.0)), phases)}
    feet |= {lb: right_foot_by_phase(*s["grf"], phases) for lb, s in solved.items()
             if s["grf"] is not None}
    report["right_foot_by_phase"] = feet
    print("\nright foot by phase: force x / y / z (N), centre of pressure x / z (m)")
    for p in phases:
        for src, rows in feet.items():
            print(f"{p[:14]:<14} {src:<15}" + "".join(f"{v:9}" for v in rows[p]))
    for wname, window in windows.items():
        res = {lb: _compare(s, t_emg, env, window, CHANNELS, phases_s=phases)
               for lb, s in solved.items()}
        print(f"\n{wname} {window[0]:.3f}-{window[1]:.4f} s: PCC at 0 ms / best in 0-100 ms")
        print("\n".join(side_by_side(res)))
        like = vs_reference(solved, window)
        for lb, row in like.items():
            print(f"{lb} vs inverse, PCC of the compared activations: "
                  + ", ".join(f"{ch} {v:.2f}" for ch, v in row.items()))
        report[f"{wname}: PCC with inverse's activations"] = like
        report[wname] = {lb: _medians(r) | {"muscles": {
            x.channel: {"pcc_no_delay": round(x.pcc_no_delay, 3), "pcc": round(x.pcc, 3),
                        "delay_ms": round(1000 * x.delay_s),
                        "deficit_by_phase": {k: round(v, 3) for k, v in
                                             x.deficit_by_phase.items()}} for x in r}}
            for lb, r in res.items()}
    report["cpu_s"] = round(_cpu_s() - c0, 1)
    print(f"\nCPU s (this process and its children): {report['cpu_s']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
