"""Benchmark of `musclekit simulate` dynamics on real OpenCap motion (Apache-2.0 data).

Prepares OpenCap's LaiUhlrich2022 model (80 muscles), scaled so that the trial's feet stay planted
(opencap_planted_feet.py: the subject's own scaled model is not released), once (welds,
polynomial muscle paths fitted around the motion), then solves chunks of the real squat (or
walking) trial with the inverse method, one at a time, and prints seconds per 1.68 s chunk,
the share converged, and the pelvis residuals. With `--method track` it uses OpenCap's
contact variant (LaiArnoldModified2017_contacts, 12 foot spheres) instead. The bounds from
issue 7: inverse <= 60 s, track <= 4.5 min per chunk.

    python benchmarks/bench_simulate_dynamics.py [--method inverse|track]
        [--motion squats|walking] [--chunks 4] [--mesh-per-s 50]
        [--solver casadi|moco] [--generic] [--max-iterations 2500]
        [--work /tmp/musclekit-bench-dyn]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "opencap"
INVERSE_BOUND_S = 60.0
TRACK_BOUND_S = 270.0  # 4.5 min: 10x faster than MinT's ~45 min per chunk


def _max_reserve(out) -> dict | None:
    """The three largest reserve actuator peaks (N m) of a chunk."""
    if out is None:
        return None
    names = out.channels["residuals"]
    peaks = {n: float(abs(out.values["residuals"][:, i]).max())
             for i, n in enumerate(names) if n.startswith("reserve_")}
    top = sorted(peaks.items(), key=lambda kv: -kv[1])[:3]
    return {n: round(v, 1) for n, v in top}


def _saturated(out) -> int | None:
    """How many muscles reach full activation somewhere in the chunk."""
    if out is None:
        return None
    return int((out.values["activations"].max(axis=0) > 0.99).sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--motion", default="squats", choices=["squats", "walking"])
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--method", default="inverse", choices=["inverse", "track"])
    ap.add_argument("--solver", default="casadi", choices=["casadi", "moco"])
    ap.add_argument("--mesh-per-s", type=float, default=50.0)
    ap.add_argument("--generic", action="store_true", help="the generic model, unscaled")
    ap.add_argument("--max-iterations", type=int, default=2500)
    ap.add_argument("--work", default="/tmp/musclekit-bench-dyn")
    ap.add_argument("--no-polynomial-paths", action="store_true")
    args = ap.parse_args()

    from musclekit.pipelines.simulate.dynamics.kernel.chunks import plan_chunks
    from musclekit.pipelines.simulate.dynamics.kernel.prep import (
        PreparedModel,
        PrepSettings,
        prepare_model,
    )
    from musclekit.pipelines.simulate.dynamics.methods import get_method
    from musclekit.pipelines.simulate.opensim.files import read_mot

    mot = DATA / f"{args.motion}1_videoAndMocap.mot"
    model = DATA / "LaiUhlrich2022.osim"
    if not mot.is_file() or not model.is_file():
        raise SystemExit(f"OpenCap data not found under {DATA}")
    work = Path(args.work)
    if args.method == "track":
        # OpenCap's contact variant (12 foot spheres). Its generic segments already fit this
        # subject's squat (heel drift 1.2 cm; the fit below only reaches 1.1 cm), so it is
        # used as released.
        model = DATA / "LaiArnoldModified2017_contacts.osim"
    elif not args.generic:
        from opencap_planted_feet import fit, scaled_model

        # Fitted on the squat, where both feet stay planted throughout; the walking trial
        # comes from the same OpenCap session's subject and uses the same model.
        planted = work / "planted_squats.osim"
        if not planted.is_file():
            t = time.perf_counter()
            result = fit(model, DATA / "squats1_videoAndMocap.mot")
            work.mkdir(parents=True, exist_ok=True)
            scaled_model(model, result["factors"]).printToXML(str(planted))
            print(f"planted-feet scaling {time.perf_counter() - t:.1f} s: {json.dumps(result)}",
                  flush=True)
        model = planted
    t = time.perf_counter()
    folder = prepare_model(
        model, work / "cache",
        PrepSettings(method=args.method, contact=args.method == "track",
                     polynomial_paths=not args.no_polynomial_paths),
        fit_motion_path=mot,
    )
    prep_s = time.perf_counter() - t
    prep = PreparedModel.load(folder)
    print(f"model preparation {prep_s:.1f} s (cached: {prep.seconds:.1f} s when built; "
          f"path fit {prep.path_fit.get('seconds', float('nan')):.1f} s)", flush=True)
    motion = read_mot(mot)
    chunks = plan_chunks(args.motion, motion.time_s)
    # Interior chunks first: they are full 1.68 s windows.
    order = [c for c in chunks if not c.first and not c.last] + [c for c in chunks if c.first or c.last]
    rows = []
    for chunk in order[: args.chunks]:
        method = get_method(args.method)
        rep, out = method.solve_chunk(
            folder, mot, chunk, method.settings(max_iterations=args.max_iterations,
                                              solver=args.solver, mesh_per_s=args.mesh_per_s),
            work / f"{args.motion}_chunk{chunk.index}",
        )
        rows.append(rep)
        print(json.dumps({"chunk": chunk.index, "window_s": round(chunk.solve_duration_s, 3),
                          "status": rep.status, "reason": rep.reason,
                          "iterations": rep.iterations, "solve_s": round(rep.solve_time_s, 1),
                          "max_residual_force_bw": rep.max_residual_force_bw,
                          "max_residual_moment_nm": rep.max_residual_moment_nm,
                          "tracking_error_rad": rep.tracking_error_rad,
                          "max_reserve_nm": _max_reserve(out),
                          "saturated_muscles": _saturated(out),
                          "extra": rep.extra}), flush=True)
    times = sorted(r.solve_time_s for r in rows)
    med = statistics.median(times)
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    conv = sum(r.status == "converged" for r in rows) / len(rows)
    bound = TRACK_BOUND_S if args.method == "track" else INVERSE_BOUND_S
    print(f"{args.method} ({args.solver}), {args.motion}: median {med:.1f} s, p90 {p90:.1f} s per "
          f"chunk ({len(rows)} chunks), converged {conv:.0%}; ratio to the {bound:.0f} s bound "
          f"{med / bound:.2f}")


if __name__ == "__main__":
    main()
