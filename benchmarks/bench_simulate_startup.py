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

    python benchmarks/bench_simulate_startup.py [--repeats 5] [--work DIR] [--json out.json]
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


def cpu_of(cmd: list[str], cwd: Path) -> float:
    """CPU seconds of one process and its children; refuses a failed run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def simulate_cmd(lab: dict[str, Path], out: Path) -> list[str]:
    return [sys.executable, "-m", "musclekit.cli.main", "-q", "simulate", "--trc",
            str(lab["trc"]), "--model", str(lab["model"]), "--until", "ik", "--out", str(out)]


def imports_of(lab: dict[str, Path], work: Path) -> dict:
    """Top-level packages of HEAVY imported by one run, and the cumulative import seconds
    of every top-level import (`-X importtime`)."""
    out = work / "importtime-ds"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-X", "importtime", *simulate_cmd(lab, out)[1:]]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True)
    seen, total_us = set(), 0
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        self_us, name = int(m.group(1)), m.group(4)
        seen.add(name)
        total_us += self_us
    heavy = {h: any(n == h or n.startswith(h + ".") for n in seen) for h in HEAVY}
    dynamics = sorted(n for n in seen if n.startswith("musclekit.pipelines.simulate.dynamics"))
    return {"import_s": total_us / 1e6, "modules": len(seen), "heavy": heavy,
            "dynamics_modules": dynamics}


def opens_of(lab: dict[str, Path], work: Path) -> dict | None:
    """How often the marker file and the model file are opened by one run (strace)."""
    if shutil.which("strace") is None:
        return None
    out, trace = work / "strace-ds", work / "strace.txt"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(["strace", "-f", "-e", "trace=openat", "-o", str(trace),
                    *simulate_cmd(lab, out)], cwd=work, capture_output=True, check=True)
    text = trace.read_text()
    return {what: len(re.findall(re.escape(str(lab[what].resolve())) + r'"', text))
            for what in ("trc", "model")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
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
    cpu, floor = [], []
    for i in range(args.repeats):
        out = work / f"ds{i}"
        shutil.rmtree(out, ignore_errors=True)
        cpu.append(cpu_of(simulate_cmd(lab, out), work))
        floor.append(cpu_of([sys.executable, "-c", "import opensim"], work))
    result = {"cpu_s": cpu, "cpu_median_s": statistics.median(cpu),
              "import_opensim_cpu_median_s": statistics.median(floor),
              "load": os.getloadavg()[0], **imports_of(lab, work),
              "opens": opens_of(lab, work)}
    print(f"simulate --until ik, 0.6 s trial: CPU median {result['cpu_median_s']:.2f} s "
          f"({', '.join(f'{c:.2f}' for c in cpu)}); `import opensim` alone "
          f"{result['import_opensim_cpu_median_s']:.2f} s; load {result['load']:.1f}")
    print(f"imports: {result['modules']} modules, {result['import_s']:.2f} s; heavy: "
          + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in result["heavy"].items()))
    print(f"dynamics modules imported: {len(result['dynamics_modules'])} "
          f"({', '.join(m.rsplit('.', 2)[-2] + '.' + m.rsplit('.', 1)[-1] for m in result['dynamics_modules'][:6])}"
          f"{' ...' if len(result['dynamics_modules']) > 6 else ''})")
    if result["opens"] is not None:
        print(f"opens: marker file {result['opens']['trc']}, model file "
              f"{result['opens']['model']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
