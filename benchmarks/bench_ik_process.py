"""IK as whole processes: `musclekit simulate --until ik` against OpenSim's own IK tool on the
same files (issue 24's IK row), with the accuracy of both.

For each trial of ../shared/data/rajagopal2016 (walking, running), on the lab's scaled model
(the lab's ScaleTool setups, run once first as the lab's README says):

- OpenSim: `python -c` that imports opensim, loads the lab's IK setup and runs
  InverseKinematicsTool (output redirected to a scratch folder; nothing else changed);
- musclekit: `musclekit simulate --trc ExpData/motion_capture_<trial>.trc --model <scaled>
  --ik-setup IK/ik_setup_<trial>.xml --until ik --out <scratch>` (one worker: a single
  sequence runs in the command's own process), with `--ik-solver` as given;
- with `--before COMMIT`: the same command on the code at COMMIT (`git archive`, importable
  with PYTHONPATH: bench_simulate_startup.assemble_tree), in the same rounds, so that a
  change is measured under the load its baseline saw.

Each is run `--repeats` times, alternating, one process at a time; the table gives the median
wall seconds and CPU seconds (user + system of the process and its children, from
getrusage), the load average, and the ratio OpenSim / musclekit. Accuracy: per rotational
coordinate the median and largest difference to OpenSim's tool (deg), and the mean marker
RMS of both (from each one's `*_ik_marker_errors.sto`).

    python benchmarks/bench_ik_process.py [--trials walk run] [--repeats 3]
        [--ik-solver gauss-newton|opensim] [--before COMMIT] [--work DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "rajagopal2016"
sys.path.insert(0, str(ROOT / "benchmarks"))

OPENSIM_IK = """
import sys
import opensim
tool = opensim.InverseKinematicsTool(sys.argv[1])
tool.setOutputMotionFileName(sys.argv[2])
tool.setResultsDir(sys.argv[3])
if len(sys.argv) > 4:
    tool.set_accuracy(float(sys.argv[4]))
sys.exit(0 if tool.run() else 1)
"""


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> dict:
    """Run one process; its wall and CPU seconds (children included) and the load average."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "load": load}


def differences(model: Path, ours_mot: Path, theirs_mot: Path) -> dict:
    """Per rotational coordinate, |musclekit - OpenSim| in degrees: median and largest."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.files import read_mot, rotational_coordinates

    rot = rotational_coordinates(osim.Model(str(model)))
    ours, theirs = read_mot(ours_mot, rotational=rot), read_mot(theirs_mot, rotational=rot)
    if len(ours.time_s) != len(theirs.time_s):
        raise SystemExit(f"{ours_mot}: {len(ours.time_s)} IK frames by musclekit, "
                         f"{len(theirs.time_s)} by OpenSim's tool")
    per, every = {}, []
    for c in theirs.names:
        if c in rot and c in ours.names:
            d = np.rad2deg(np.abs(ours.column(c) - theirs.column(c)))
            every.append(d)
            per[c] = {"median_deg": round(float(np.median(d)), 4),
                      "max_deg": round(float(d.max()), 4)}
    every = np.concatenate(every)
    return {"frames": len(ours.time_s),
            "median_difference_deg": round(float(np.median(every)), 4),
            "max_difference_deg": round(float(every.max()), 4), "per_coordinate": per}


def goals_of(setup: Path, model: Path, mot: Path) -> np.ndarray:
    """The IK goal (ik_solver.goals: the objective OpenSim's Assembler minimises) of a
    motion file on every frame of the setup."""
    import contextlib

    import opensim as osim

    from musclekit.pipelines.simulate.kinematics import ik_solver
    from musclekit.pipelines.simulate.opensim.files import read_mot, rotational_coordinates

    m = osim.Model(str(model))
    cs = m.getCoordinateSet()
    names = [cs.get(i).getName() for i in range(cs.getSize())]
    motion = read_mot(mot, rotational=rotational_coordinates(m))
    values = np.column_stack([motion.column(c) for c in names])
    with contextlib.chdir(setup.parent):
        return ik_solver.goals(osim.InverseKinematicsTool(setup.name), model, values)


def accuracy(setup: Path, model: Path, ours_mot: Path, theirs_mot: Path, ours_err: Path,
             theirs_err: Path) -> dict:
    from musclekit.pipelines.simulate.opensim.files import read_mot

    e_ours = read_mot(ours_err, rotational=set()).column("marker_error_RMS")
    e_theirs = read_mot(theirs_err, rotational=set()).column("marker_error_RMS")
    g_ours, g_theirs = goals_of(setup, model, ours_mot), goals_of(setup, model, theirs_mot)
    return {**differences(model, ours_mot, theirs_mot),
            "marker_rms_mm": {"musclekit": round(1000 * float(e_ours.mean()), 2),
                              "opensim": round(1000 * float(e_theirs.mean()), 2)},
            "frames_lower_rms": int(np.sum(e_ours <= e_theirs)),
            "frames_lower_goal": int(np.sum(g_ours <= g_theirs)),
            "goal_ratio_median": round(float(np.median(g_ours / g_theirs)), 5)}


def bench_trial(trial: str, work: Path, repeats: int, solver: str, converged: float,
                before: Path | None = None) -> dict:
    """One trial: OpenSim's tool and musclekit (and the code `before`, a tree from
    assemble_tree) alternated `repeats` times, then their answers compared."""
    from rajagopal_lab import TRIALS, lab_pipeline

    lab = lab_pipeline(DATA, work, trial)  # the lab's scaled model (OpenSim's ScaleTool)
    setup_dir = work / "IK"
    setup = setup_dir / TRIALS[trial]["ik"]
    trc = DATA / "ExpData" / f"motion_capture_{trial}.trc"
    scratch = Path(tempfile.mkdtemp(prefix=f"ikbench-{trial}-"))
    theirs_mot = scratch / "opensim.mot"
    opensim_cmd = [sys.executable, "-c", OPENSIM_IK, setup.name, str(theirs_mot),
                   str(scratch / "opensim_results")]
    ours_out = scratch / "musclekit"
    musclekit_cmd = [sys.executable, "-m", "musclekit.cli.main", "simulate", "--trc", str(trc),
                     "--model", str(lab["model"]), "--ik-setup",
                     str(DATA / "IK" / TRIALS[trial]["ik"]), "--until", "ik",
                     "--ik-solver", solver, "--out", str(ours_out)]
    runs: dict[str, list[dict]] = {"opensim": [], "musclekit": []}
    if before is not None:
        runs["before"] = []
        # Not from ROOT, whose musclekit/ would shadow the tree's on sys.path.
        before_env = {**os.environ, "PYTHONPATH": str(before)}
        before_cmd = [*musclekit_cmd[:-1], str(scratch / "before")]
    for k in range(repeats):
        order = list(runs) if k % 2 == 0 else list(reversed(runs))
        for who in order:
            if who == "opensim":
                runs[who].append(timed(opensim_cmd, setup_dir))
            elif who == "before":
                shutil.rmtree(scratch / "before", ignore_errors=True)
                runs[who].append(timed(before_cmd, scratch, before_env))
            else:
                shutil.rmtree(ours_out, ignore_errors=True)  # a rerun would skip the sequence
                runs[who].append(timed(musclekit_cmd, ROOT))
    seq = next((ours_out / "opensim").iterdir())
    acc = accuracy(setup, Path(lab["model"]), seq / "ik.mot", theirs_mot,
                   seq / "ik_ik_marker_errors.sto",
                   next((scratch / "opensim_results").glob("*_ik_marker_errors.sto")))
    med = {who: {k: round(statistics.median(r[k] for r in rs), 2)
                 for k in ("wall_s", "cpu_s", "load")} for who, rs in runs.items()}
    out = {"trial": trial, "solver": solver, "repeats": repeats, "runs": runs, "median": med,
           "ratio_wall": round(med["opensim"]["wall_s"] / med["musclekit"]["wall_s"], 2),
           "ratio_cpu": round(med["opensim"]["cpu_s"] / med["musclekit"]["cpu_s"], 2),
           **acc}
    if before is not None:
        out["before_ratio_wall"] = round(med["opensim"]["wall_s"] / med["before"]["wall_s"], 2)
        out["before_ratio_cpu"] = round(med["opensim"]["cpu_s"] / med["before"]["cpu_s"], 2)
    if converged:  # OpenSim's tool run to its minimum: the answer both look for, and its cost
        tight = scratch / "opensim_converged.mot"
        run = timed([*opensim_cmd[:4], str(tight), str(scratch / "converged_results"),
                     str(converged)], setup_dir)
        out["converged"] = {"accuracy": converged, **run,
                            **differences(Path(lab["model"]), seq / "ik.mot", tight)}
    shutil.rmtree(scratch, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", nargs="+", default=["walk", "run"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ik-solver", default="gauss-newton")
    ap.add_argument("--converged", type=float, default=1e-7,
                    help="also run OpenSim's tool once at this accuracy (0: not) and compare")
    ap.add_argument("--before", default=None, metavar="COMMIT",
                    help="also time the code at COMMIT, alternating with this tree")
    ap.add_argument("--work", type=Path, default=None, help="keep the lab's files here")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (DATA / "ExpData").is_dir():
        print(f"no Rajagopal 2016 data at {DATA}: nothing to measure", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="rajagopal-"))
    before = None
    if args.before:
        from bench_simulate_startup import assemble_tree

        before = assemble_tree(args.before, work / f"tree-{args.before}")
    results = [bench_trial(t, work, args.repeats, args.ik_solver, args.converged, before)
               for t in args.trials]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, --ik-solver "
          f"{args.ik_solver}, median of {args.repeats} runs each")
    print("| trial | frames | OpenSim's tool wall / CPU s | musclekit wall / CPU s | ratio wall "
          "/ CPU | load | median / max difference deg | marker RMS mm musclekit / OpenSim |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        o, m = r["median"]["opensim"], r["median"]["musclekit"]
        print(f"| {r['trial']} | {r['frames']} | {o['wall_s']} / {o['cpu_s']} | "
              f"{m['wall_s']} / {m['cpu_s']} | {r['ratio_wall']} / {r['ratio_cpu']} | "
              f"{o['load']}-{m['load']} | {r['median_difference_deg']} / "
              f"{r['max_difference_deg']} | {r['marker_rms_mm']['musclekit']} / "
              f"{r['marker_rms_mm']['opensim']} |")
    for r in results:
        if "before" in r["median"]:
            b = r["median"]["before"]
            print(f"{r['trial']}: the code at {args.before}, same rounds: {b['wall_s']} / "
                  f"{b['cpu_s']} s wall / CPU, ratio {r['before_ratio_wall']} / "
                  f"{r['before_ratio_cpu']}")
    for r in results:
        print(f"{r['trial']}: musclekit's goal <= OpenSim's on {r['frames_lower_goal']} of "
              f"{r['frames']} frames (median ratio {r['goal_ratio_median']}); marker RMS <= "
              f"OpenSim's on {r['frames_lower_rms']}")
        if "converged" in r:
            c = r["converged"]
            print(f"{r['trial']}: OpenSim's tool at accuracy {c['accuracy']:g}: "
                  f"{c['wall_s']:.1f} s wall, {c['cpu_s']:.1f} s CPU; musclekit vs it: median "
                  f"{c['median_difference_deg']} deg, max {c['max_difference_deg']} deg")
    for r in results:
        print(f"{r['trial']}: per coordinate, median / max difference (deg):")
        for c, v in r["per_coordinate"].items():
            print(f"  {c:22s} {v['median_deg']:8.4f} {v['max_deg']:8.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
