"""Where an `inverse` chunk's CPU time goes, phase by phase (issue 24; docs/benchmarks.md).

Solves the chunk of a payload that bench_simulate_dynamics.py left
(`out-<label>/chunkNNNN.payload.json`) in this process, as a chunk process does, `--repeat`
times (the first solve is a cold process, the later ones what a kept chunk process pays),
and prints CPU seconds per phase: imports, opening the chunk (model facts, motion read and
filtered), the ground-force estimate (its first chunk only: the sequence's estimate is
shared), building the problem (OpenSim model processing and initialisation apart from the
evaluations at the mesh points), the NLP (the child's CPU included) and writing. Then, in a
fresh child, the NLP side alone on the chunk's saved problem: Python and CasADi imports,
graph construction, IPOPT.

    python benchmarks/profile_inverse_chunk.py PAYLOAD.json [--repeat 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_simulate_dynamics import cpu_seconds  # noqa: E402

SPENT: dict[str, float] = defaultdict(float)


def timed(owner, name: str, phase: str) -> None:
    """Wrap `owner.name` so that its CPU seconds (children included) add to SPENT[phase]."""
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = cpu_seconds()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[phase] += cpu_seconds() - start

    setattr(owner, name, wrapper)


NLP_SIDE = r"""
import resource, sys, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
marks = {"python start": cpu()}
import numpy, casadi
marks["imports (numpy, casadi)"] = cpu()
from musclekit.pipelines.simulate.dynamics.nlp import inverse
from musclekit.pipelines.simulate.dynamics.nlp.common import load_npz
problem = load_npz(inverse.RedundancyProblem, sys.argv[1])[0]
marks["musclekit nlp import, problem load"] = cpu()
first = inverse.solve(problem)
marks["first solve (graph + IPOPT)"] = cpu()
again = inverse.solve(problem)
marks["second solve of the same shape"] = cpu()
prev = 0.0
for k, v in marks.items():
    print(f"  {k}: {v - prev:.2f} s CPU")
    prev = v
print(f"  IPOPT wall inside the solves: {first.seconds:.2f} s, {again.seconds:.2f} s "
      f"({first.iterations} iterations)")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("payload", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    t0 = cpu_seconds()
    import opensim  # noqa: F401

    from musclekit.pipelines.simulate.dynamics.methods.inverse import grf as _grf  # noqa: F401
    from musclekit.pipelines.simulate.dynamics.methods.inverse import setup as setup_mod
    from musclekit.pipelines.simulate.dynamics.methods.inverse import solve as solve_mod
    from musclekit.pipelines.simulate.dynamics.nlp import inverse as nlp_mod
    from musclekit.pipelines.simulate.dynamics.stage import worker
    from musclekit.pipelines.simulate.dynamics.stage.payloads import ChunkTask

    imports = cpu_seconds() - t0
    import opensim as osim

    timed(solve_mod, "start_chunk", "open the chunk (model facts, motion read + filtered)")
    timed(solve_mod, "sequence_estimate", "ground-force estimate (sequence, first chunk)")
    timed(osim.ModelProcessor, "process", "model processing + initSystem")
    timed(osim.Model, "initSystem", "model processing + initSystem")
    timed(setup_mod, "build_problem", "build problem (all)")
    timed(nlp_mod, "solve_in_subprocess", "NLP in the child (CPU of the child included)")
    timed(worker, "save_chunk", "write the chunk")

    task = ChunkTask.from_json(args.payload.read_text())
    base = Path(task.out_dir)
    for k in range(args.repeat):
        out = base.parent / f"{base.name}-profile{k}"
        shutil.rmtree(out, ignore_errors=True)
        task.out_dir = str(out)
        SPENT.clear()
        start = cpu_seconds()
        report = worker.solve_in_process(task)
        total = cpu_seconds() - start
        print(f"solve {k + 1} ({'cold process' if k == 0 else 'kept process'}): "
              f"{report.status}, {report.iterations} iterations, {total:.2f} s CPU"
              + (f" + imports {imports:.2f} s" if k == 0 else ""))
        phases = dict(SPENT)
        # build_problem's model work is counted inside it: the mesh evaluations are the rest.
        models = phases.get("model processing + initSystem", 0.0)
        build = phases.pop("build problem (all)", 0.0)
        phases["OpenSim evaluations at the mesh points (rest of build problem)"] = build - models
        for name, value in phases.items():
            print(f"  {name}: {value:.2f} s")
        print(f"  other (reading the prepared model, writing loads, assessing): "
              f"{total - sum(phases.values()):.2f} s")
    problem = Path(task.out_dir) / f"{worker.chunk_name(task.chunk)}_work" / "inverse_problem.npz"
    print("NLP side alone, a fresh child on the saved problem:")
    from musclekit.pipelines.simulate.dynamics.nlp.child import child_environment

    done = subprocess.run([sys.executable, "-c", NLP_SIDE, str(problem)], text=True,
                          capture_output=True, env=child_environment())
    print(done.stdout.rstrip() or done.stderr[-2000:])


if __name__ == "__main__":
    main()
