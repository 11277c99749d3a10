"""Kill campaign: SIGKILL musclekit commands at random (seeded) moments, rerun each to
completion, compare with a clean run, and check that no process is left behind.

    python benchmarks/kill_campaign.py [--kills 20] [--seed 18] [--workdir DIR] [--json FILE]

Targets, on small generated inputs (nothing is downloaded):
  align      `musclekit align --session` of 4 generated captures (sEMG CSV + phone video), 2 workers
  kinematics `musclekit simulate --amass ... --until ik` on 3 stand-in AMASS motions, 2 workers
  dynamics   `musclekit simulate --amass ... --model <test model>` on a 6 s stand-in squat
             (kinematics, model preparation, inverse chunks), 2 workers
  train      `musclekit train` (mint, 150 steps, 1 thread) on the dynamics reference dataset

For each target: one clean run (the reference, and its duration T); then kills spread over
the targets in turn: start the command in a fresh folder, SIGKILL the command's process
(only it, as `kill -9 PID` would) after U(0.05, 0.9) * T seconds, wait up to 15 s for
every process it had started (recorded just before the kill, recursively) to be gone, and
look with `ps` for any process still naming the output folder; then rerun the same command
to completion (its exit code must be the clean run's: 0, or 3 when some units fail in the
clean run too) and compare its outputs with the reference: every stream of the dataset
(values, times, flags, aux columns) bit for bit; for train, the metrics and the weights of
both checkpoints. A kill that lands after the command finished is drawn again. The source tree may be edited
while the campaign runs (a shared working tree): a trial during which musclekit's source
changed is discarded, the references are made again, and the trial is drawn again.
Exits 1 when any kill left a process behind, a rerun failed, or outputs differ.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

MK = [sys.executable, "-m", "musclekit.cli.main"]


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


@dataclass
class Target:
    name: str
    command: list[str]  # with {out} for the output folder
    kind: str  # "dataset" or "run"
    clean_s: float = 0.0
    clean_exit: int = 0  # 3 when some units fail in a clean run too (the rerun must match)
    reference: Path | None = None

    def cmd(self, out: Path) -> list[str]:
        return [a.replace("{out}", str(out)) for a in self.command]


@dataclass
class Kill:
    target: str
    at_s: float
    killed_children: int
    left_after_kill: list[str] = field(default_factory=list)
    rerun_exit: int | None = None
    rerun_s: float = 0.0
    identical: bool = False
    difference: str = ""
    left_after_rerun: list[str] = field(default_factory=list)

    clean_exit: int = 0

    @property
    def ok(self) -> bool:
        return (not self.left_after_kill and not self.left_after_rerun
                and self.rerun_exit == self.clean_exit and self.identical)


# -- inputs ------------------------------------------------------------------------------

def make_inputs(work: Path) -> dict[str, Path]:
    """Generated captures, stand-in AMASS motions and the small test model."""
    from musclekit.pipelines.align.synthetic import make_capture
    from musclekit.pipelines.simulate.opensim.test_model import build_test_model

    inputs = work / "inputs"
    paths = {"model": inputs / "test-model.osim", "session": inputs / "align" / "session.toml",
             "kin_assets": inputs / "kin", "dyn_assets": inputs / "dyn"}
    if not paths["model"].is_file():
        build_test_model(paths["model"])
    if not paths["session"].is_file():
        lines = []
        for i, exercise in enumerate(("Squat", "Lunge", "Curl", "Press")):
            cap = make_capture(inputs / "align" / f"c{i}", name=f"S01_{exercise}",
                               duration_s=20.0, seed=i)
            lines += ["[[capture]]", f'emg = "{cap.emg_path.relative_to(paths["session"].parent)}"',
                      f'video = "{cap.video_path.relative_to(paths["session"].parent)}"',
                      'subject = "S01"', f'exercise = "{exercise}"', ""]
        paths["session"].write_text("\n".join(lines))
    for key, motions, seconds in (("kin_assets", ("squat", "walking", "jumping_jack"), "3.0"),
                                  ("dyn_assets", ("squat",), "6.0")):
        if not (paths[key] / "body").is_dir():
            subprocess.run([*MK, "simulate-synthetic", str(paths[key]), "--duration-s", seconds,
                            "--rate-hz", "30", *[a for m in motions for a in ("--motion", m)]],
                           check=True, capture_output=True)
    return paths


def targets(paths: dict[str, Path], dyn_reference: Path) -> list[Target]:
    def amass(assets: Path) -> list[str]:
        return ["--amass", "Synthetic", "--amass-root", str(assets / "amass"),
                "--body-model", str(assets / "body")]

    dyn = ["--model", str(paths["model"]), "--method", "inverse", "--chunk-s", "0.8",
           "--buffer-s", "0.1", "--mesh-per-s", "25", "--max-iterations", "500",
           "--foot-bodies-right", "calcn_r", "--foot-bodies-left", "calcn_l"]
    return [
        Target("align", [*MK, "align", "--session", str(paths["session"]), "--out", "{out}",
                         "--workers", "2"], "dataset"),
        Target("kinematics", [*MK, "simulate", *amass(paths["kin_assets"]), "--until", "ik",
                              "--out", "{out}", "--workers", "2"], "dataset"),
        Target("dynamics", [*MK, "simulate", *amass(paths["dyn_assets"]), *dyn,
                            "--out", "{out}", "--workers", "2"], "dataset"),
        Target("train", [*MK, "train", str(dyn_reference), "--out", "{out}", "--model", "mint",
                         "--width", "32", "--layers", "1", "--heads", "4", "--window", "10",
                         "--lr", "3e-3", "--batch-size", "32", "--eval-every", "25",
                         "--max-steps", "150", "--device", "cpu", "--threads", "1",
                         "--seed", "0"], "run"),
    ]


# -- comparing outputs --------------------------------------------------------------------

def compare_datasets(a: Path, b: Path) -> str:
    """'' when every stream holds the same rows (values, times, flags, aux) bit for bit."""
    from musclekit.dataset import open_dataset

    da, db = open_dataset(a), open_dataset(b)
    if sorted(da.streams) != sorted(db.streams):
        return f"streams {sorted(da.streams)} vs {sorted(db.streams)}"
    for stream in sorted(da.streams):
        ids = sorted(da.sequence_ids(stream))
        if ids != sorted(db.sequence_ids(stream)):
            return f"{stream}: sequences {ids} vs {sorted(db.sequence_ids(stream))}"
        if not ids:
            continue
        fa = da.to_pandas(stream).sort_values(["sequence_id", "frame"]).reset_index(drop=True)
        fb = db.to_pandas(stream).sort_values(["sequence_id", "frame"]).reset_index(drop=True)
        for df in (fa, fb):
            for col in df.columns:
                if str(df[col].dtype) == "category":
                    df[col] = df[col].astype(str)
        if list(fa.columns) != list(fb.columns) or not fa.equals(fb):
            bad = [c for c in fa.columns if c in fb.columns and not fa[c].equals(fb[c])]
            return f"{stream}: columns differ: {bad[:5]}"
    return ""


def compare_runs(a: Path, b: Path) -> str:
    """'' when the metrics and the weights of both checkpoints are identical."""
    import torch

    for rel in ("report/metrics.csv",):
        if (a / rel).read_bytes() != (b / rel).read_bytes():
            return f"{rel} differs"
    for ckpt in ("best.pt", "last.pt"):
        sa = torch.load(a / "checkpoints" / ckpt, map_location="cpu", weights_only=False)
        sb = torch.load(b / "checkpoints" / ckpt, map_location="cpu", weights_only=False)
        ma = sa.get("model", sa) if isinstance(sa, dict) else sa
        mb = sb.get("model", sb) if isinstance(sb, dict) else sb
        for key, value in ma.items():
            if torch.is_tensor(value) and not torch.equal(value, mb[key]):
                return f"{ckpt}: weight {key} differs"
    return ""


# -- processes ----------------------------------------------------------------------------

def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())[:160]}")
        except psutil.NoSuchProcess:
            continue
    return out


def naming(folder: Path) -> list[str]:
    """Processes (from `ps`) whose command line names `folder`."""
    done = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True)
    return [line.strip()[:200] for line in done.stdout.splitlines()[1:]
            if str(folder) in line and int(line.split()[0]) != os.getpid()]


def wait_until(pred, timeout_s: float, step: float = 0.1) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def code_stamp() -> str:
    """A fingerprint of musclekit's source (names, sizes, mtimes): the tree may be edited
    while the campaign runs, and a rerun must be compared with a reference of the same code."""
    import hashlib

    import musclekit

    root = Path(musclekit.__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for top in ("musclekit", "pipelines", "cli", "schemas"):
        for f in sorted((root / top).rglob("*")):
            if f.is_file() and f.suffix in (".py", ".json", ".osim", ".toml"):
                st = f.stat()
                digest.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()


def make_references(chosen: list[Target], logs: Path) -> bool:
    for t in chosen:
        shutil.rmtree(t.reference, ignore_errors=True)
        rc, t.clean_s = run_to_end(t.cmd(t.reference), logs / f"{t.name}-clean.log")
        t.clean_exit = rc
        log(f"clean {t.name}: exit {rc} in {t.clean_s:.1f} s")
        if rc not in (0, 3):
            log(f"clean run of {t.name} failed; see {logs / f'{t.name}-clean.log'}")
            return False
    return True


def run_to_end(cmd: list[str], log_file: Path) -> tuple[int, float]:
    start = time.perf_counter()
    with open(log_file, "w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT,
                            cwd=log_file.parent).returncode
    return rc, time.perf_counter() - start


def one_kill(target: Target, out: Path, at_s: float, logs: Path) -> Kill | None:
    """Start, SIGKILL after `at_s`, check, rerun, compare. None: finished before the kill."""
    shutil.rmtree(out, ignore_errors=True)
    with open(logs / f"{out.name}.killed.log", "w") as fh:
        proc = subprocess.Popen(target.cmd(out), stdout=fh, stderr=subprocess.STDOUT, cwd=logs)
        end = time.monotonic() + at_s
        kids: dict[int, psutil.Process] = {}
        while time.monotonic() < end and proc.poll() is None:
            for k in descendants(proc.pid):
                kids.setdefault(k.pid, k)
            time.sleep(0.02)
        if proc.poll() is not None:
            return None
        for k in descendants(proc.pid):
            kids.setdefault(k.pid, k)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    kill = Kill(target.name, round(at_s, 2), len(kids), clean_exit=target.clean_exit)
    procs = list(kids.values())
    wait_until(lambda: not alive(procs) and not naming(out), 15)
    kill.left_after_kill = sorted(set(alive(procs)) | set(naming(out)))
    for line in kill.left_after_kill:  # leave nothing running for the next trial
        try:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    kill.rerun_exit, kill.rerun_s = run_to_end(target.cmd(out), logs / f"{out.name}.rerun.log")
    kill.rerun_s = round(kill.rerun_s, 1)
    kill.left_after_rerun = naming(out)
    if kill.rerun_exit == target.clean_exit:
        diff = (compare_datasets(target.reference, out) if target.kind == "dataset"
                else compare_runs(target.reference, out))
        kill.identical, kill.difference = not diff, diff
    return kill


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/musclekit-kill-campaign"))
    parser.add_argument("--only", action="append", default=[],
                        help="only these targets (align, kinematics, dynamics, train)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = args.workdir
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log(f"inputs in {work / 'inputs'}")
    paths = make_inputs(work)
    all_targets = targets(paths, work / "dynamics-clean")
    chosen = [t for t in all_targets if not args.only or t.name in args.only]
    if any(t.name == "train" for t in chosen) and not any(t.name == "dynamics" for t in chosen):
        chosen.insert(0, next(t for t in all_targets if t.name == "dynamics"))

    for t in chosen:
        t.reference = work / f"{t.name}-clean"
    stamp = code_stamp()
    if not make_references(chosen, logs):
        return 1
    if code_stamp() != stamp:
        stamp = code_stamp()
        log("the source changed during the clean runs: making the references again")
        if not make_references(chosen, logs):
            return 1
    kill_targets = [t for t in chosen if not args.only or t.name in args.only]

    kills: list[Kill] = []
    missed = 0
    i = 0
    while len(kills) < args.kills:
        target = kill_targets[i % len(kill_targets)]
        at_s = rng.uniform(0.05, 0.9) * target.clean_s
        out = work / f"{target.name}-kill{len(kills):02d}"
        kill = one_kill(target, out, at_s, logs)
        if code_stamp() != stamp:
            # Someone edited musclekit meanwhile: this trial compares two versions of the code.
            log(f"{target.name}: the source changed during this trial; new references, trial "
                "drawn again")
            stamp = code_stamp()
            if not make_references(chosen, logs):
                return 1
            continue
        if kill is None:
            missed += 1
            log(f"{target.name}: finished before the kill at {at_s:.1f} s; drawing again")
            if missed > 3 * args.kills:
                break
            continue
        i += 1
        kills.append(kill)
        verdict = "ok" if kill.ok else "FAILED"
        log(f"kill {len(kills):2d} {target.name:<10} at {kill.at_s:5.1f} s of ~{target.clean_s:.0f} s "
            f"({kill.killed_children} child processes): left {len(kill.left_after_kill)}; rerun "
            f"exit {kill.rerun_exit} in {kill.rerun_s:.0f} s; "
            f"{'identical' if kill.identical else 'DIFFERENT: ' + kill.difference}; {verdict}")
        for line in kill.left_after_kill + kill.left_after_rerun:
            log(f"    left: {line}")

    bad = [k for k in kills if not k.ok]
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.node()}, {psutil.cpu_count()} CPUs, "
                   f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}",
        "seed": args.seed, "kills": len(kills), "missed_draws": missed,
        "clean_s": {t.name: round(t.clean_s, 1) for t in chosen},
        "ok": len(kills) - len(bad), "failed": len(bad),
        "orphans": sum(len(k.left_after_kill) + len(k.left_after_rerun) for k in kills),
        "results": [asdict(k) for k in kills],
    }
    log(textwrap.dedent(f"""\
        {summary['kills']} kills (seed {args.seed}): {summary['ok']} resumed to identical outputs
        with no process left, {summary['failed']} failed; orphans: {summary['orphans']}"""))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if not bad and len(kills) == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
