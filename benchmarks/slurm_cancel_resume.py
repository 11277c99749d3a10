"""`musclekit simulate --slurm` against a real SLURM cluster: jobs, a job cancelled mid-run,
the run killed mid-run, the rerun resuming to the outputs of a clean local run.

Needs a running SLURM (e.g. `sudo scripts/slurm_local.sh` on this machine) where this
script runs; everything else it makes itself (a stand-in AMASS layout and the small test
model). Prints each step with its timing; exits 1 when a check fails.

    python benchmarks/slurm_cancel_resume.py [--workdir DIR] [--duration-s 12]

Steps:
1. clean reference: the same command with local workers (--workers 2), no SLURM;
2. `--slurm --workers 2`: once a few chunks are done, `scancel` one worker job; the run
   must go on (dask-jobqueue submits a replacement job, Dask reruns the lost chunk);
3. SIGKILL the musclekit process mid-run: its SLURM jobs must end and no solver may be
   left (`squeue`, `ps`);
4. the same command again: finished chunks are skipped, the rest solved, exit 0;
5. the dataset's streams equal the reference's bit for bit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STREAMS = ("joint_angles", "activations", "muscle_forces", "grf", "residuals")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def slurm_up() -> str | None:
    """Why SLURM cannot be used here (None when it can)."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "sbatch/sinfo not on PATH (start one with: sudo scripts/slurm_local.sh)"
    done = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    states = done.stdout.split()
    if done.returncode != 0 or not any(s.rstrip("*") in ("idle", "mix", "alloc") for s in states):
        return f"no usable SLURM node (sinfo: {done.stdout.strip() or done.stderr.strip()})"
    return None


def make_inputs(workdir: Path, duration_s: float) -> tuple[Path, Path]:
    from musclekit.pipelines.simulate.opensim.test_model import build_test_model

    assets = workdir / "assets"
    model = build_test_model(workdir / "test-model.osim")
    if not (assets / "body").is_dir():
        subprocess.run([sys.executable, "-m", "musclekit.cli.main", "simulate-synthetic",
                        str(assets), "--duration-s", str(duration_s), "--rate-hz", "30",
                        "--motion", "squat", "--motion", "walking"], check=True,
                       capture_output=True)
    return assets, model


def simulate_cmd(assets: Path, model: Path, out: Path, slurm: bool) -> list[str]:
    cmd = [sys.executable, "-m", "musclekit.cli.main", "simulate", "--amass", "Synthetic",
           "--amass-root", str(assets / "amass"), "--body-model", str(assets / "body"),
           "--model", str(model), "--out", str(out), "--workers", "2", "--method", "inverse",
           "--chunk-s", "0.8", "--buffer-s", "0.1", "--mesh-per-s", "25",
           "--max-iterations", "500", "--foot-bodies-right", "calcn_r",
           "--foot-bodies-left", "calcn_l"]
    if slurm:
        cmd += ["--slurm", "--job-cores", "1", "--job-memory", "4GB", "--walltime", "00:30:00"]
    return cmd


def chunk_reports(out: Path) -> int:
    return sum(1 for _ in out.glob("opensim/*/dynamics/*/chunk[0-9][0-9][0-9][0-9].json"))


def my_jobs() -> list[str]:
    done = subprocess.run(["squeue", "-h", "-n", "musclekit", "-o", "%i %T"],
                          capture_output=True, text=True)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def orphans(out: Path) -> list[str]:
    """Processes still working for the run writing `out` (chunk solvers, NLP children,
    Dask workers of its jobs)."""
    done = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True)
    hits = []
    for line in done.stdout.splitlines()[1:]:
        if str(out) in line or ("distributed.cli.dask_worker" in line):
            if str(os.getpid()) != line.split()[0]:
                hits.append(line.strip())
    return hits


def wait(pred, timeout_s: float, step: float = 0.5):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


def compare(a: Path, b: Path) -> dict[str, float]:
    """Largest absolute difference per stream over every sequence (0.0: bit-identical)."""
    from musclekit.dataset import open_dataset

    da, db = open_dataset(a), open_dataset(b)
    out = {}
    for stream in STREAMS:
        ids = da.sequence_ids(stream)
        assert ids == db.sequence_ids(stream), (stream, ids, db.sequence_ids(stream))
        worst = 0.0
        for seq in ids:
            x, y = da.sequence_array(stream, seq), db.sequence_array(stream, seq)
            if not (np.array_equal(x.time_s, y.time_s)
                    and np.array_equal(x.values, y.values, equal_nan=True)):
                worst = max(worst, float(np.nanmax(np.abs(x.values - y.values))), 1e-300)
        out[stream] = worst
    return out


def run(workdir: Path, duration_s: float, cancel_after: int = 4, kill_after: int = 10) -> int:
    why = slurm_up()
    if why:
        log(f"cannot run: {why}")
        return 2
    workdir.mkdir(parents=True, exist_ok=True)
    assets, model = make_inputs(workdir, duration_s)
    ref, out = workdir / "reference", workdir / "slurm"
    shutil.rmtree(ref, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    failures = []

    log("1. clean reference run, local workers: " + " ".join(simulate_cmd(assets, model, ref, False)[2:]))
    t = time.perf_counter()
    done = subprocess.run(simulate_cmd(assets, model, ref, False), capture_output=True, text=True,
                          cwd=workdir)
    log(f"   exit {done.returncode} in {time.perf_counter() - t:.0f} s; "
        + next((ln for ln in done.stderr.splitlines() if ln.startswith("chunks:")), "?"))
    if done.returncode != 0:
        print(done.stderr[-3000:])
        return 1
    total = chunk_reports(ref)

    cmd = simulate_cmd(assets, model, out, True)
    log("2. SLURM run: " + " ".join(cmd[2:]))
    logf = open(workdir / "slurm-run1.log", "w")
    t = time.perf_counter()
    # cwd: sbatch writes each job's slurm-<id>.out into the folder it was called from.
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, cwd=workdir)
    if not wait(lambda: chunk_reports(out) >= cancel_after, 600):
        failures.append(f"no {cancel_after} chunks within 600 s")
    jobs = my_jobs()
    log(f"   {chunk_reports(out)}/{total} chunks done; squeue: jobs {jobs}")
    subprocess.run(["squeue"], check=False)
    victim = jobs[0] if jobs else None
    if victim:
        subprocess.run(["scancel", victim], check=True)
        log(f"   scancel {victim}")
    before = chunk_reports(out)
    went_on = wait(lambda: chunk_reports(out) >= max(kill_after, before + 3) or proc.poll() is not None,
                   600)
    log(f"   after the cancel: {chunk_reports(out)}/{total} chunks done "
        f"({'the run went on' if chunk_reports(out) > before else 'NO PROGRESS'}); "
        f"squeue: jobs {my_jobs()}")
    if not went_on or chunk_reports(out) <= before:
        failures.append("the run made no progress after scancel")
    subprocess.run(["squeue"], check=False)

    log(f"3. SIGKILL musclekit (pid {proc.pid}) at {chunk_reports(out)}/{total} chunks")
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    logf.close()
    gone = wait(lambda: not my_jobs(), 120, 1.0)
    log(f"   SLURM jobs left: {my_jobs() or 'none'} "
        f"({'drained' if gone else 'STILL QUEUED'}); processes left: "
        f"{wait(lambda: not orphans(out), 30) and 'none' or orphans(out)}")
    if not gone:
        failures.append(f"SLURM jobs left after the kill: {my_jobs()}")
    if orphans(out):
        failures.append(f"processes left after the kill: {orphans(out)}")
    partial = chunk_reports(out)

    log("4. the same command again")
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    (workdir / "slurm-run2.log").write_text(done.stdout + done.stderr)
    summary = next((ln for ln in done.stderr.splitlines() if ln.startswith("chunks:")), "?")
    log(f"   exit {done.returncode} in {time.perf_counter() - t:.0f} s; {summary}")
    if done.returncode != 0:
        failures.append(f"rerun exited {done.returncode}")
    if f"{partial} skipped" not in summary and "skipped" not in summary:
        failures.append("rerun did not skip finished chunks")
    log(f"   SLURM jobs left: {my_jobs() or 'none'}; processes left: {orphans(out) or 'none'}")

    log("5. SLURM (cancelled, killed, resumed) vs clean local run, largest difference per stream:")
    diffs = compare(ref, out)
    for stream, d in diffs.items():
        log(f"   {stream}: {'identical' if d == 0 else d}")
    if any(d != 0 for d in diffs.values()):
        failures.append(f"outputs differ from the clean run: {diffs}")
    log("RESULT: " + ("ok" if not failures else "FAILED: " + "; ".join(failures)))
    return 0 if not failures else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/musclekit-slurm"))
    parser.add_argument("--duration-s", type=float, default=12.0)
    args = parser.parse_args()
    return run(args.workdir, args.duration_s)


if __name__ == "__main__":
    sys.exit(main())
