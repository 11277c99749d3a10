"""The child-process boundary: one problem out, one solution back.

`solve_in_child` saves a problem dataclass, runs its NLP module as
`python -m <module> problem.npz solution.npz` (each NLP module's `main`) with the casadi
wheel's libraries first on the library path, and loads the solution. The parent may have
imported opensim; the child never does.

With `keep=True` the child stays: `python -m <module> --serve` reads one
`problem.npz solution.npz` line per solve from its stdin and answers one line, so Python,
CasADi and the NLP module's built solvers (nlp/inverse.py keeps one per problem shape) are
loaded once per chunk process instead of once per chunk. It dies with its parent like the
one-shot child; a solve that fails, times out or crashes takes the server down, and the next
solve starts a fresh one.
"""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import sys
import tempfile
import traceback
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from musclekit.pipelines.simulate.dynamics.nlp.common import load_npz, save_npz
from musclekit.process import child_env, die_with_parent, python_module_cmd


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
                   timeout_s: float | None = None, keep: bool = False) -> Any:
    """Solve `problem` with the NLP module `module` (a `musclekit...nlp.<name>` path) in a
    child process; returns that module's solution dataclass (`SOLUTION`). `keep`: solve in
    this process's persistent server of that module (`SolverServer`) instead of a fresh child.

    Raises RuntimeError with the child's last lines when it fails or writes nothing."""
    nlp = import_module(module)
    work.mkdir(parents=True, exist_ok=True)
    stem = module.rsplit(".", 1)[-1]
    src, dst = work / f"{stem}_problem.npz", work / f"{stem}_solution.npz"
    dst.unlink(missing_ok=True)
    save_npz(src, problem, guess)
    if keep:
        server = _SERVERS.get(module)
        if server is None or not server.alive():
            server = _SERVERS[module] = SolverServer(module)
        try:
            server.solve(src, dst, timeout_s)
        except RuntimeError as err:
            _SERVERS.pop(module, None)
            raise RuntimeError(f"{nlp.WHAT} failed: {err}") from err
        return load_npz(nlp.SOLUTION, dst)[0]
    cmd = python_module_cmd(module, str(src), str(dst))
    # child_env: the child knows its parent and dies with it (child_main).
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                          env=child_env(child_environment()))
    if done.returncode != 0 or not dst.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{nlp.WHAT} failed: " + " | ".join(tail))
    return load_npz(nlp.SOLUTION, dst)[0]


class SolverServer:
    """One persistent solver child (`python -m <module> --serve`) of this process."""

    def __init__(self, module: str) -> None:
        self.module = module
        # Its stderr goes to a file (a pipe nobody reads could fill and block the child).
        self._log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            python_module_cmd(module, "--serve"), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1,
            env=child_env(child_environment()))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def solve(self, src: Path, dst: Path, timeout_s: float | None) -> None:
        """Have the server solve `src` into `dst`; RuntimeError (and the server stopped) when
        it fails, dies or takes longer than `timeout_s`."""
        try:
            self.proc.stdin.write(f"{src}\t{dst}\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
            answer = self.proc.stdout.readline().strip() if ready else None
        except (BrokenPipeError, OSError):
            answer = ""
        if answer == "ok" and Path(dst).is_file():
            return
        self.stop()
        if answer is None:
            raise RuntimeError(f"no answer within the time limit of {timeout_s:g} s")
        if answer.startswith("error "):
            raise RuntimeError(answer[len("error "):].replace("\x1f", " | "))
        self._log.seek(0)
        tail = self._log.read().strip().splitlines()[-5:]
        raise RuntimeError(f"the solver process exited ({self.proc.returncode}): "
                           + " | ".join(tail))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()


_SERVERS: dict[str, SolverServer] = {}


def servers_cpu_s() -> float:
    """CPU seconds so far of this process's live solver servers (from /proc; 0 where it
    cannot be read): resource.RUSAGE_CHILDREN counts a child only once it has been waited
    for, so a CPU count of a chunk that a server helped solve adds this."""
    total = 0.0
    for server in list(_SERVERS.values()):
        try:
            stat = Path(f"/proc/{server.proc.pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # from the state on: utime, stime 12th, 13th
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def stop_server(module: str) -> None:
    """Stop this process's solver server of `module`, if one runs: a caller that counts
    its children's CPU seconds (resource.RUSAGE_CHILDREN counts a child once it has been
    waited for) gets the server's in the count."""
    server = _SERVERS.pop(module, None)
    if server is not None:
        server.stop()


@atexit.register
def stop_servers() -> None:
    """Stop this process's solver servers (they would also die with it: die_with_parent)."""
    for server in list(_SERVERS.values()):
        server.stop()
    _SERVERS.clear()


def _serve(problem_cls: type, solve) -> int:
    """`--serve`: one `problem.npz<TAB>solution.npz` line in, `ok` or `error <message>` out,
    until stdin closes."""
    for line in sys.stdin:
        src, dst = line.rstrip("\n").split("\t")
        try:
            problem, guess = load_npz(problem_cls, Path(src))
            solution = solve(problem, guess) if guess else solve(problem)
            save_npz(Path(dst), solution)
            answer = "ok"
        except Exception as err:  # noqa: BLE001 - the parent gets the reason as one line
            last = traceback.format_exc().strip().splitlines()[-3:]
            answer = "error " + f"{type(err).__name__}: {err}".replace("\n", " ") + \
                "\x1f" + "\x1f".join(last)
        sys.stdout.write(answer.replace("\n", " ") + "\n")
        sys.stdout.flush()
    return 0


def child_main(argv: list[str], problem_cls: type, solve) -> int:
    """The body of each NLP module's `python -m` entry: load, solve, save atomically; or,
    with `--serve`, a persistent server of such solves (`SolverServer`).

    The child dies with the chunk process that started it (a killed run leaves no solver)."""
    die_with_parent()
    if argv[:1] == ["--serve"]:
        return _serve(problem_cls, solve)
    src, dst = Path(argv[0]), Path(argv[1])
    problem, guess = load_npz(problem_cls, src)
    solution = solve(problem, guess) if guess else solve(problem)
    save_npz(dst, solution)
    return 0
