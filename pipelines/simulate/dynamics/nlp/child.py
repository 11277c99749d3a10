"""The child-process boundary: one problem out, one solution back.

`solve_in_child` saves a problem dataclass, runs its NLP module as
`python -m <module> problem.npz solution.npz` (each NLP module's `main`) with the casadi
wheel's libraries first on the library path, and loads the solution. The parent may have
imported opensim; the child never does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from musclekit.pipelines.simulate.dynamics.nlp.common import load_npz, save_npz
from musclekit.process import child_env, die_with_parent


def child_environment() -> dict[str, str]:
    """The environment of a solver child: without opensim's CasADi on the library path,
    one thread per solve."""
    env = dict(os.environ)
    # Importing opensim prepends its own folder (with its CasADi) to LD_LIBRARY_PATH; the
    # child must load the casadi wheel's libraries instead.
    paths = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep)
             if p and not Path(p, "libosimMoco.so").exists()]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(paths)
    # One core per solve (IPOPT's MUMPS would otherwise start a thread per core): parallelism
    # comes from Dask workers, each solving its own chunk.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


def solve_in_child(module: str, problem: Any, work: Path, guess: dict[str, np.ndarray] | None = None,
                   timeout_s: float | None = None) -> Any:
    """Solve `problem` with the NLP module `module` (a `musclekit...nlp.<name>` path) in a
    child process; returns that module's solution dataclass (`SOLUTION`).

    Raises RuntimeError with the child's last lines when it fails or writes nothing."""
    nlp = import_module(module)
    work.mkdir(parents=True, exist_ok=True)
    stem = module.rsplit(".", 1)[-1]
    src, dst = work / f"{stem}_problem.npz", work / f"{stem}_solution.npz"
    dst.unlink(missing_ok=True)
    save_npz(src, problem, guess)
    cmd = [sys.executable, "-m", module, str(src), str(dst)]
    # child_env: the child knows its parent and dies with it (child_main).
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                          env=child_env(child_environment()))
    if done.returncode != 0 or not dst.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{nlp.WHAT} failed: " + " | ".join(tail))
    return load_npz(nlp.SOLUTION, dst)[0]


def child_main(argv: list[str], problem_cls: type, solve) -> int:
    """The body of each NLP module's `python -m` entry: load, solve, save atomically.

    The child dies with the chunk process that started it (a killed run leaves no solver)."""
    die_with_parent()
    src, dst = Path(argv[0]), Path(argv[1])
    problem, guess = load_npz(problem_cls, src)
    solution = solve(problem, guess) if guess else solve(problem)
    save_npz(dst, solution)
    return 0
