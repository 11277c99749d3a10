"""`musclekit simulate --amass ...` at scale: N subjects x M motions of AMASS-layout stand-in
data through the whole command on local Dask, and what it would cost for BMLmovi and for all
of AMASS at the measured rates.

Prints, per stage (kinematics = scaling + IK, model preparation, dynamics chunks), the
core-seconds spent per second of motion, the workers' idle share over the run (1 - busy
core-seconds / (workers x wall time of the whole command)), when the last IK and the first
and last chunk were written (the stages overlap when a chunk comes before the last IK), the
CPU seconds of the command with its processes and the load average (the machine may be
shared), the peak resident memory of any one process of the run, and a projection: core-hours and wall hours on 96 workers for BMLmovi (~90 subjects,
~8 h of motion as MinT used it) and for AMASS (~40 h, >300 subjects), with MinT's own
~45 min per chunk beside it. Each subject of AMASS gets its own scaled model, so model
preparation is projected per subject.

    python benchmarks/bench_amass_scale.py [--subjects 2] [--motions 2] [--duration-s 2]
        [--workers 2] [--until dynamics|ik] [--out /tmp/musclekit-scale]

To compare with an older commit without reinstalling: `git worktree add /tmp/wt-before REV`,
then run that tree's copy of this script with PYTHONPATH set to a folder whose
sitecustomize.py points the editable install's finder (its MAPPING) at /tmp/wt-before
(docs/benchmarks.md, "At scale").
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
import threading
import time
from pathlib import Path

import numpy as np
import psutil

# What is projected (REFERENCE.md; MinT: 9 h of AMASS, BMLmovi its largest part).
CORPORA = {"BMLmovi": {"subjects": 90, "hours": 8.0}, "AMASS": {"subjects": 300, "hours": 40.0}}
MINT_MIN_PER_CHUNK = 45.0  # MinT's reported cost of one 1.4 s chunk (core-minutes)
CHUNK_S = 1.4
PROJECT_WORKERS = 96


def make_inputs(root: Path, subjects: int, motions: int, duration_s: float) -> Path:
    from musclekit.pipelines.simulate.kinematics.standin import write_standin_body
    from musclekit.pipelines.simulate.kinematics.synthetic import write_synthetic_sequence

    body = write_standin_body(root / "body")
    kinds = ["walking", "squat", "jumping_jack"]
    rng = np.random.default_rng(0)  # subjects differ in shape: one scaled model each
    for s in range(subjects):
        betas = np.zeros(16)
        betas[:2] = rng.normal(0.0, 1.0, 2)
        for m in range(motions):
            write_synthetic_sequence(root / "amass" / "Scale" / f"S{s + 1:02d}"
                                     / f"{kinds[m % 3]}{m}_poses.npz", kinds[m % 3], body,
                                     betas=betas, duration_s=duration_s)
    return body


class PeakMemory:
    """Largest resident set of any process in the tree of `pid`, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [psutil.Process(self.pid), *psutil.Process(self.pid).children(True)]
                for p in procs:
                    try:
                        self.peak_mb = max(self.peak_mb, p.memory_info().rss / 2**20)
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            self._stop.wait(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def stage_seconds(log: str, ds: Path) -> dict[str, float]:
    """Busy core-seconds per stage, from the run's own reports: per-sequence kinematics
    lines, each prepared model's recorded seconds, each chunk's solve time."""
    from musclekit.dataset import open_dataset

    kin = sum(float(s) for s in re.findall(r"flagged, ([0-9.]+) s", log))
    prep = 0.0
    # The run's own model cache (MUSCLEKIT_MODEL_CACHE, set by main), or the dataset's folder
    # where commits before the shared cache kept prepared models.
    folders = [ds.parent / "prepared-models", ds / "opensim" / "_dynamics_models"]
    for f in (f for folder in folders for f in folder.glob("*/prep.json")):
        prep += float(json.loads(f.read_text()).get("seconds", 0.0))
    chunks = 0.0
    d = open_dataset(ds)
    for f in (ds / "opensim").glob("*/dynamics/*/chunk????.json"):
        rep = json.loads(f.read_text())
        if np.isfinite(rep.get("solve_time_s", float("nan"))):
            chunks += float(rep["solve_time_s"])
    return {"kinematics": kin, "model preparation": prep, "dynamics chunks": chunks,
            "motion_s": sum(float(s.extra.get("kinematics", {}).get("frames", 0))
                            / float(s.extra.get("kinematics", {}).get("rate_hz", 1) or 1)
                            for s in d.sequences.values())}


def overlap(ds: Path, t0: float) -> str:
    """When, from the command's start, the last IK was written, the first and last model
    prepared and the first and last chunk solved (file times): a model prepared, or a chunk
    solved, before the last IK means the stages overlapped."""
    models = [ds.parent / "prepared-models", ds / "opensim" / "_dynamics_models"]
    times = {
        "IK": [p.stat().st_mtime for p in (ds / "meta" / "units").glob("kinematics.*.json")],
        "model": [p.stat().st_mtime for m in models for p in m.glob("*/prep.json")],
        "chunk": [p.stat().st_mtime
                  for p in (ds / "opensim").glob("*/dynamics/*/chunk????.json")]}
    if not all(times.values()):
        return "overlap: no IK, model or chunk written"
    ik, model, chunk = (sorted(t - t0 for t in times[k]) for k in ("IK", "model", "chunk"))
    return (f"overlap: IK written at {ik[0]:.0f}-{ik[-1]:.0f} s, models prepared at "
            f"{model[0]:.0f}-{model[-1]:.0f} s, chunks solved at {chunk[0]:.0f}-{chunk[-1]:.0f} s "
            "from the command's start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=2)
    ap.add_argument("--motions", type=int, default=2)
    ap.add_argument("--duration-s", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--until", choices=("ik", "dynamics"), default="dynamics")
    ap.add_argument("--out", type=Path, default=Path("/tmp/musclekit-scale"))
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    body = make_inputs(args.out, args.subjects, args.motions, args.duration_s)
    ds = args.out / "ds"
    cmd = ["musclekit", "simulate", "--amass", str(args.out / "amass" / "Scale"),
           "--body-model", str(body), "--workers", str(args.workers), "--until", args.until,
           "--out", str(ds)]
    t = time.perf_counter()
    t_wall = time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # A cache of prepared models of this run alone: preparation is measured from scratch.
    env = {**os.environ, "MUSCLEKIT_MODEL_CACHE": str(args.out / "prepared-models")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    memory = PeakMemory(proc.pid)
    log, _ = proc.communicate()
    wall = time.perf_counter() - t
    peak = memory.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of the command and of the processes it waited for (Dask workers exit with it).
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    load = os.getloadavg()
    if proc.returncode not in (0, 3):
        print(log[-3000:], file=sys.stderr)
        return proc.returncode
    busy = stage_seconds(log, ds)
    motion_s = busy.pop("motion_s")
    total = sum(busy.values())
    idle = 1.0 - total / (args.workers * wall) if args.workers else 0.0
    print(f"{args.subjects} subjects x {args.motions} motions x {args.duration_s:g} s "
          f"({motion_s:.1f} s of motion), {args.workers} workers: wall {wall:.0f} s, "
          f"worker idle share {100 * max(idle, 0.0):.0f} %, peak memory of one process "
          f"{peak:.0f} MB; CPU of the command and its processes {cpu:.0f} s; load average "
          f"{' '.join(f'{x:.1f}' for x in load)}")
    print(overlap(ds, t_wall))
    own = re.search(r"^compute: .*$", log, re.M)  # the command's own count (since the pool)
    if own:
        print(f"the command's own line: {own.group(0)}")
    print("| stage | core-s | core-s per motion-s |")
    print("|---|---|---|")
    per_motion = {}
    for stage, sec in busy.items():
        per_motion[stage] = sec / motion_s if motion_s else float("nan")
        print(f"| {stage} | {sec:.0f} | {per_motion[stage]:.1f} |")
    prep_per_subject = busy["model preparation"] / max(args.subjects, 1)
    print("\n| corpus | core-hours (kinematics + chunks + preparation) | wall hours on "
          f"{PROJECT_WORKERS} workers | MinT's rate (45 core-min per chunk) |")
    print("|---|---|---|---|")
    for name, c in CORPORA.items():
        motion = c["hours"] * 3600
        core_s = motion * (per_motion["kinematics"] + per_motion["dynamics chunks"]) \
            + c["subjects"] * prep_per_subject
        mint_h = motion / CHUNK_S * MINT_MIN_PER_CHUNK / 60
        print(f"| {name} ({c['subjects']} subjects, {c['hours']:g} h) | {core_s / 3600:.0f} | "
              f"{core_s / 3600 / PROJECT_WORKERS:.1f} | {mint_h:.0f} core-hours |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
