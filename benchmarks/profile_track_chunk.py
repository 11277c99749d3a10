"""Where a `track` chunk's CPU seconds go: OpenSim's linearisations, OpenSim's defect checks
and the NLP rounds (child processes), on the Rajagopal trials of validate_rajagopal_track.py.

It runs validate_rajagopal_track.py's `main` with timers around `TrackModel.build` (the
local model of a round from OpenSim: inverse dynamics, Jacobians, their finite-difference
slopes), `TrackModel.opensim_defect` (the check after a round) and each round's NLP child
(`solve_in_subprocess`: stating the NLP, IPOPT), and prints per round the child's CPU
seconds and IPOPT iterations, then the totals. `--round-iterations` overrides
`TrackSettings.round_iterations` (IPOPT's cap per round) to compare caps on the same chunk;
`--keep-rounds DIR` copies each round's problem file there, for re-solving one round alone
(`--resolve FILE [FILE ...]`: IPOPT's own timing statistics of those rounds solved one
after another in one process, with `--ipopt` options; `--setup-only`: each round's set-up
alone, IPOPT stopped before its first iteration).

    python benchmarks/profile_track_chunk.py --work W --trial walk --grf none --chunks 0
        [--round-iterations 50] [--keep-rounds DIR] [--save-outputs DIR]
    python benchmarks/profile_track_chunk.py --resolve DIR/round1_chunk0000.npz [--setup-only]
        [--ipopt "{'ipopt.mumps_pivot_order': 7}"]

`--opencap squats|walking` profiles OpenCap's trial on its contact model instead (as
bench_simulate_dynamics.py --method track prepares it, into `--work`), chunk `--chunk N` of
its plan solved in this process (no inverse warm start, as that benchmark's chunks):

    python benchmarks/profile_track_chunk.py --opencap squats --chunk 1 --work W
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process and of its children: waited-for ones and live NLP
    servers. A server stopped since the last reading moves from the second count to
    RUSAGE_CHILDREN (not counted twice: `solve_round` reads it before each round ends)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    from musclekit.pipelines.simulate.dynamics.nlp.child import servers_cpu_s

    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime + servers_cpu_s()


def opencap_chunk(motion: str, index: int, work: Path) -> None:
    """Chunk `index` of OpenCap's `motion` on its contact model, solved by track's CasADi
    solver in this process (the model prepared as bench_simulate_dynamics.py does)."""
    from bench_simulate_dynamics import DATA

    from musclekit.pipelines.simulate.dynamics.kernel.chunks import plan_chunks
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings, prepare_model
    from musclekit.pipelines.simulate.dynamics.methods import get_method
    from musclekit.pipelines.simulate.dynamics.methods.track import solve
    from musclekit.pipelines.simulate.opensim.files import read_mot

    mot = DATA / f"{motion}1_videoAndMocap.mot"
    folder = prepare_model(DATA / "LaiArnoldModified2017_contacts.osim", work / "models",
                           PrepSettings(method="track", contact=True), mot)
    chunk = plan_chunks(motion, read_mot(mot).time_s)[index]
    start = _cpu()
    rep, _ = solve.solve_chunk(folder, mot, chunk, get_method("track").settings(),
                               work / f"profile-chunk{index:04d}")
    print(json.dumps({"chunk": index, "status": rep.status, "reason": rep.reason,
                      "cpu_s": round(sum(_cpu()) - sum(start), 1),
                      "round_iterations": [r["iterations"] for r in rep.diagnostics.rounds or []],
                      "defect": rep.diagnostics.max_dynamics_defect}), flush=True)


def profile_chunks(argv: list[str], round_iterations: int | None,
                   keep: Path | None, opencap: tuple[str, int, Path] | None = None,
                   save: Path | None = None) -> dict:
    """validate_rajagopal_track.main(argv) (or `opencap_chunk(*opencap)`) with the timers
    (module docstring); `save`: each chunk's output saved under save/<grf mode>/ (for
    compare_chunk_outputs.py)."""
    import validate_rajagopal_track as validate

    from musclekit.pipelines.simulate.dynamics.methods.track import setup, solve

    totals = {"build": [0.0, 0], "defect": [0.0, 0], "nlp": [0.0, 0]}

    def timed(owner, name: str, key: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args, **kwargs):
            start = _cpu()
            out = inner(*args, **kwargs)
            end = _cpu()
            totals[key][0] += sum(end) - sum(start)
            totals[key][1] += 1
            return out

        setattr(owner, name, wrapper)

    timed(setup.TrackModel, "build", "build")
    timed(setup.TrackModel, "opensim_defect", "defect")
    nlp = solve.solve_in_subprocess

    def solve_round(problem, guess, work, **kwargs):
        start = _cpu()
        sol = nlp(problem, guess, work, **kwargs)
        end = _cpu()
        totals["nlp"][0] += sum(end) - sum(start)
        totals["nlp"][1] += 1
        print(f"round {totals['nlp'][1]}: NLP child {end[1] - start[1]:.1f} CPU s, "
              f"{sol.iterations} IPOPT iterations, {sol.status}", file=sys.stderr, flush=True)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for f in Path(work).glob("track_problem.npz"):
                shutil.copy(f, keep / f"round{totals['nlp'][1]}_{Path(work).name}.npz")
        return sol

    solve.solve_in_subprocess = solve_round
    if save is not None:
        from musclekit.pipelines.simulate.dynamics.kernel.result import save_chunk

        chunk_solver = solve.solve_chunk

        def saved(prep_folder, motion_path, chunk, settings, work):
            rep, out = chunk_solver(prep_folder, motion_path, chunk, settings, work)
            save_chunk(save / str(settings.track_grf), f"chunk{chunk.index:04d}", rep, out)
            return rep, out

        solve.solve_chunk = saved
    if round_iterations is not None:
        casadi = solve.solve_casadi

        def with_cap(ctx, settings):
            return casadi(ctx, dataclasses.replace(settings, round_iterations=round_iterations))

        solve.solve_casadi = with_cap
    start = _cpu()
    if opencap is not None:
        opencap_chunk(*opencap)
    else:
        validate.main(argv)
    totals["total"] = [sum(_cpu()) - sum(start), 1]
    return {k: [round(v[0], 1), v[1]] for k, v in totals.items()}


def resolve(paths: list[Path], extra: dict, setup_only: bool = False) -> None:
    """Saved rounds re-solved one after another in this process (as a chunk's NLP server
    solves them: a solver it can reuse is reused) with IPOPT's timing statistics (this
    process must not import opensim). `setup_only`: IPOPT stopped before its first
    iteration, so that the CPU seconds are a round's set-up alone (stating the NLP,
    building or reusing the solver, IPOPT's start)."""
    import casadi as ca

    from musclekit.pipelines.simulate.dynamics.nlp import track

    nlpsol = ca.nlpsol

    def verbose(name, plugin, problem, opts):
        return nlpsol(name, plugin, problem, {**opts, "ipopt.print_level": 5,
                                              "ipopt.print_timing_statistics": "yes", **extra})

    if not setup_only:
        ca.nlpsol = verbose
    for path in paths:
        problem, guess = track.TrackProblem.load(path)
        if setup_only:
            problem.settings["max_iterations"] = 0
        start = time.process_time()
        sol = track.solve(problem, guess)
        print(f"{path.name}: {sol.iterations} iterations, {sol.status}, objective "
              f"{sol.objective:.9g}, {time.process_time() - start:.2f} CPU s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--round-iterations", type=int, default=None)
    ap.add_argument("--keep-rounds", type=Path, default=None)
    ap.add_argument("--resolve", type=Path, nargs="+", default=None)
    ap.add_argument("--setup-only", action="store_true",
                    help="with --resolve: each round's set-up alone (IPOPT stopped at once)")
    ap.add_argument("--ipopt", default="{}", help="IPOPT options for --resolve (a dict)")
    ap.add_argument("--opencap", choices=["squats", "walking"], default=None,
                    help="OpenCap's trial on its contact model instead of the Rajagopal lab's")
    ap.add_argument("--chunk", type=int, default=1, help="with --opencap: the chunk's index")
    ap.add_argument("--save-outputs", type=Path, default=None,
                    help="save each chunk's output under DIR/<grf mode>/ (compare_chunk_outputs)")
    args, rest = ap.parse_known_args(argv)
    if args.resolve is not None:
        resolve(args.resolve, ast.literal_eval(args.ipopt), args.setup_only)
        return 0
    opencap = None
    if args.opencap is not None:
        work = Path(next((rest[i + 1] for i, a in enumerate(rest[:-1]) if a == "--work"),
                         "/tmp/musclekit-bench-dyn"))
        opencap = (args.opencap, args.chunk, work)
    totals = profile_chunks(rest, args.round_iterations, args.keep_rounds, opencap,
                            args.save_outputs)
    print("CPU s [seconds, calls]: " + json.dumps(totals))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
