"""Start-up of `musclekit simulate --until ik` on a tiny trial: what the command costs besides
the IK itself (issue 24: the IK of many short trials must not be dominated by start-up).

On the tests' small lab (tests/helpers/ik_setup_fixtures.marker_lab: the two-leg model with
25 markers, a 0.6 s squat at 50 Hz), built in --work:

- CPU seconds (user + system of the process and its children, getrusage) of
  `musclekit simulate --trc trial.trc --model model.osim --until ik --out <fresh>` (default
  workers: a single sequence runs in the command's own process), `--repeats` times; median;
  and of `python -c "import opensim"` alone, the floor any IK process pays;
- which heavy packages the command imports (`python -X importtime`): the dynamics stage,
  pandas, polars, and the cumulative import seconds of the command's process;
- how often the marker file and the model file are opened (`strace -f -e trace=openat`,
  when strace exists): each open is a read of the file or a model load.

- with `--trials N`: one command on N copies of the trial, inline (against one copy
  inline: the CPU seconds each further trial adds, and the command's fixed cost) and with
  the default workers (a local cluster);
- with `--before COMMIT`: the same for the code at COMMIT (`git archive`, importable with
  PYTHONPATH), run alternately with this tree, so that both see the same load.

    python benchmarks/bench_simulate_startup.py [--repeats 5] [--trials 8]
        [--before COMMIT] [--work DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The dynamics stage's driver and kernel (its option declarations, which the command's
# parameters are built from, are light and always imported), and heavy third-party packages.
HEAVY = ("musclekit.pipelines.simulate.dynamics.stage.run",
         "musclekit.pipelines.simulate.dynamics.kernel", "pandas", "polars", "scipy", "casadi",
         "torch", "matplotlib", "dask", "distributed")


def cpu_of(cmd: list[str], cwd: Path, tree: Path | None = None) -> float:
    """CPU seconds of one process and its children (musclekit from `tree` when given, see
    `assemble_tree`); refuses a failed run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False,
                          env=_env(tree))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def assemble_tree(commit: str, dest: Path) -> Path:
    """The package `musclekit` as it was at `commit`, importable with PYTHONPATH=dest (the
    folders pyproject.toml maps into it, from `git archive`): the "before" of a comparison."""
    src = dest / "src"
    if not (dest / "musclekit").is_dir():
        src.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        shutil.copytree(src / "musclekit", dest / "musclekit")
        for folder in ("pipelines", "cli", "schemas"):
            shutil.copytree(src / folder, dest / "musclekit" / folder)
    return dest


def simulate_cmd(lab: dict[str, Path], out: Path, trcs: list[Path] | None = None,
                 workers: int | None = None) -> list[str]:
    files = [a for t in (trcs or [lab["trc"]]) for a in ("--trc", str(t))]
    return [sys.executable, "-m", "musclekit.cli.main", "-q", "simulate", *files,
            "--model", str(lab["model"]), "--until", "ik", "--out", str(out),
            *(["--workers", str(workers)] if workers is not None else [])]


def trial_copies(lab: dict[str, Path], work: Path, n: int) -> list[Path]:
    """`n` copies of the trial under distinct names (n sequences of one subject)."""
    copies = []
    for k in range(n):
        copy = work / "trials" / f"trial_{k:02d}.trc"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lab["trc"], copy)
        copies.append(copy)
    return copies


def run_cpu(lab: dict[str, Path], work: Path, trcs: list[Path], workers: int | None,
            tree: Path | None) -> float:
    out = work / "ds"
    shutil.rmtree(out, ignore_errors=True)
    return cpu_of(simulate_cmd(lab, out, trcs, workers), work, tree)


def _env(tree: Path | None) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def imports_of(lab: dict[str, Path], work: Path, tree: Path | None) -> dict:
    """Packages of HEAVY imported by one run, the dynamics modules it imports, and the sum
    of every module's own import time (`-X importtime`; wall seconds)."""
    out = work / "importtime-ds"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-X", "importtime", *simulate_cmd(lab, out)[1:]]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True,
                          env=_env(tree))
    seen, total_us = set(), 0
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        seen.add(m.group(4))
        total_us += int(m.group(1))
    heavy = {h: any(n == h or n.startswith(h + ".") for n in seen) for h in HEAVY}
    dynamics = sorted(n for n in seen if n.startswith("musclekit.pipelines.simulate.dynamics"))
    return {"import_s": total_us / 1e6, "modules": len(seen), "heavy": heavy,
            "dynamics_modules": dynamics}


def opens_of(lab: dict[str, Path], work: Path, tree: Path | None) -> dict | None:
    """How often the marker file and the model file are opened by one run (strace)."""
    if shutil.which("strace") is None:
        return None
    out, trace = work / "strace-ds", work / "strace.txt"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(["strace", "-f", "-e", "trace=openat", "-o", str(trace),
                    *simulate_cmd(lab, out)], cwd=work, capture_output=True, check=True,
                   env=_env(tree))
    text = trace.read_text()
    return {what: len(re.findall(re.escape(str(lab[what].resolve())) + r'"', text))
            for what in ("trc", "model")}


def measure(lab: dict[str, Path], work: Path, trees: dict[str, Path | None], repeats: int,
            trials: int) -> dict:
    """Per code tree ("now", and "before" when given), alternating tree by tree within each
    repeat so that both see the same load: the single trial's CPU seconds and, with
    `trials`, one command on that many copies inline and with the default workers."""
    copies = trial_copies(lab, work, max(trials, 1))
    cases = {"one": (copies[:1], None)}
    if trials > 1:
        cases.update({"many inline": (copies, 0), "one inline": (copies[:1], 0),
                      "many cluster": (copies, None)})
    cpu = {name: {case: [] for case in cases} for name in trees}
    floor = []
    for k in range(repeats):
        order = list(trees) if k % 2 == 0 else list(reversed(trees))
        for name in order:
            for case, (trcs, workers) in cases.items():
                cpu[name][case].append(run_cpu(lab, work, trcs, workers, trees[name]))
        floor.append(cpu_of([sys.executable, "-c", "import opensim"], work))
    out = {"load": os.getloadavg()[0], "import_opensim_cpu_median_s": statistics.median(floor),
           "trials": trials}
    for name, tree in trees.items():
        med = {case: statistics.median(v) for case, v in cpu[name].items()}
        out[name] = {"cpu_s": cpu[name], "median_cpu_s": med, **imports_of(lab, work, tree),
                     "opens": opens_of(lab, work, tree)}
        if trials > 1:
            per = (med["many inline"] - med["one inline"]) / (trials - 1)
            out[name]["per_further_trial_inline_cpu_s"] = per
            out[name]["fixed_inline_cpu_s"] = med["one inline"] - per
    return out


def report(result: dict) -> None:
    print(f"load {result['load']:.1f}; `import opensim` alone "
          f"{result['import_opensim_cpu_median_s']:.2f} s CPU")
    for name in ("before", "now"):
        r = result.get(name)
        if r is None:
            continue
        med = r["median_cpu_s"]
        print(f"{name}: one 0.6 s trial, CPU median {med['one']:.2f} s "
              f"({', '.join(f'{c:.2f}' for c in r['cpu_s']['one'])})")
        if "many inline" in med:
            print(f"  {result['trials']} trials in one command: inline {med['many inline']:.2f} s "
                  f"(each further trial {r['per_further_trial_inline_cpu_s']:.2f} s, fixed "
                  f"{r['fixed_inline_cpu_s']:.2f} s), default workers {med['many cluster']:.2f} s")
        print(f"  imports: {r['modules']} modules, {r['import_s']:.2f} s; heavy: "
              + ", ".join(k for k, v in r["heavy"].items() if v))
        print(f"  dynamics modules imported: {len(r['dynamics_modules'])}")
        if r["opens"] is not None:
            print(f"  opens: marker file {r['opens']['trc']}, model file {r['opens']['model']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--trials", type=int, default=0, help="also one command on this many "
                    "copies of the trial, inline and with the default workers")
    ap.add_argument("--before", default=None, metavar="COMMIT",
                    help="also measure the code at COMMIT, alternating with this tree")
    ap.add_argument("--work", type=Path, default=None, help="keep the lab's files here")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    from tests.helpers.ik_setup_fixtures import marker_lab

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-startup-"))
    work.mkdir(parents=True, exist_ok=True)
    lab_dir = work / "lab"
    lab_dir.mkdir(exist_ok=True)
    lab = marker_lab(lab_dir) if not (lab_dir / "trial.trc").is_file() else {
        "trc": lab_dir / "trial.trc", "model": lab_dir / "model.osim"}
    trees: dict[str, Path | None] = {"now": None}
    if args.before:
        trees = {"before": assemble_tree(args.before, work / f"tree-{args.before}"), **trees}
    result = measure(lab, work, trees, args.repeats, args.trials)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
