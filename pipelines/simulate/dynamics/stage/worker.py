"""Solving chunks in a process apart from the Dask worker, so a time limit can stop one and
a solver crash costs one chunk, not the Dask worker. The Dask task is
`solve_chunk_unit(task)`; it hands the chunk to its thread's chunk process
(`ChunkServer`: `python -m musclekit.pipelines.simulate.dynamics.stage.worker --serve`),
which dispatches to the method by name (methods/ registry) and writes the chunk's report.

The chunk process stays for the next chunk: OpenSim, the prepared model, the filtered
motion and the NLP child with its built solvers are loaded once per worker, not once per
chunk (the per-chunk cost of `inverse` was mostly start-up: docs/benchmarks.md). The time
limit still holds per chunk: a chunk that exceeds it, or a process that crashes, takes the
chunk process (its whole process group, the NLP child included) down, and the next chunk
starts a fresh one. Each chunk's output goes to its own `<chunk>.log`.

Process hygiene (musclekit/process.py): the chunk's process, and the NLP child it starts,
die with their parent (prctl death signal), so a killed run or a cancelled batch job leaves
no solver behind; one lock file per chunk (`<chunk>.lock`, held by the Dask task while its
chunk process solves it) keeps a second run from solving the same chunk at once:
it waits, then takes the report the first one wrote; temporary result files of dead
processes are removed before a chunk is solved again."""

from __future__ import annotations

import atexit
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from musclekit.dataset.writer import RANGE_TOLERANCE
from musclekit.errors import MusclekitError
from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk
from musclekit.pipelines.simulate.dynamics.kernel.result import (
    ChunkDiagnostics,
    ChunkReport,
    load_report,
    save_chunk,
)
from musclekit.pipelines.simulate.dynamics.stage.payloads import ChunkTask
from musclekit.process import (
    UnitLock,
    child_env,
    die_with_parent,
    is_stale,
    python_module_cmd,
)


def chunk_name(chunk: Chunk) -> str:
    return f"chunk{chunk.index:04d}"


def failed_report(chunk: Chunk, method: str, reason: str, solve_time_s: float = float("nan"),
                  traceback_text: str | None = None) -> ChunkReport:
    return ChunkReport(
        sequence_id=chunk.sequence_id, chunk=chunk.index, method=method, status="failed",
        reason=reason, core_start_s=chunk.core_start_s, core_end_s=chunk.core_end_s,
        solve_start_s=chunk.solve_start_s, solve_end_s=chunk.solve_end_s,
        solve_time_s=solve_time_s, diagnostics=ChunkDiagnostics(traceback=traceback_text))


def solve_in_process(task: ChunkTask) -> ChunkReport:
    """Solve the chunk of `task` here; save and return its report."""
    from musclekit.pipelines.simulate.dynamics.methods import get_method
    from musclekit.pipelines.simulate.opensim.log import opensim_log

    chunk, out = task.chunk, Path(task.out_dir)
    work = out / f"{chunk_name(chunk)}_work"
    try:
        if task.unsolvable:
            raise MusclekitError(task.unsolvable)
        method = get_method(task.method)
        settings = task.settings
        work.mkdir(parents=True, exist_ok=True)
        # OpenSim's own messages go to the chunk's log file, not the terminal
        # (`musclekit status --logs` points at it).
        with opensim_log(out / f"{chunk_name(chunk)}.opensim.log"):
            report, output = method.solve_chunk(Path(task.prep_folder), task.motion_path,
                                                chunk, settings, work)
        if (report.status == "converged"
                and report.activation_out_of_range > RANGE_TOLERANCE):
            report.status = "failed"
            report.reason = (f"activations leave [0, 1] by {report.activation_out_of_range:.3g}:"
                             " the solver broke its bounds; the chunk is not used")
            output = None
    except Exception as err:  # noqa: BLE001 - every chunk failure becomes a gap with its reason
        report = failed_report(chunk, task.method, f"{type(err).__name__}: {err}".strip()[:2000],
                               traceback_text=traceback.format_exc()[-4000:])
        output = None
    save_chunk(out, chunk_name(chunk), report, output)
    return report


# save_chunk's temporary names: .<chunk>.<pid>.npz / .meta.json / .json
_TEMP = re.compile(r"^\.(chunk\d+)\.(\d+)\.(npz|meta\.json|json)$")


def remove_stale_temp(out: Path, name: str | None = None) -> list[Path]:
    """Remove the temporary result files of chunk processes that no longer run (killed
    mid-save); only chunk `name` when given. Returns what was removed."""
    removed = []
    if not out.is_dir():
        return removed
    for path in out.iterdir():
        m = _TEMP.match(path.name)
        if m and (name is None or m.group(1) == name) and is_stale(int(m.group(2))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _say(text: str) -> None:
    from musclekit.progress import console

    console.print(text, soft_wrap=True)


def solve_chunk_unit(task: ChunkTask | dict) -> ChunkReport:
    """Dask task: solve one chunk in a child process under `task.time_limit_s`.

    Always leaves a report on disk (converged or failed with the reason) and returns it.
    While it runs it holds the chunk's lock; a second run reaching the same chunk waits and
    returns the report this one writes.
    """
    if isinstance(task, dict):
        task = ChunkTask.from_dict(task)
    chunk, out = task.chunk, Path(task.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = chunk_name(chunk)
    lock = UnitLock(out / f"{name}.lock")
    asked = time.time()
    lock.acquire(on_wait=lambda pid: _say(
        f"chunk {chunk.id} is being solved by another run (pid {pid or '?'}); waiting for it "
        "instead of solving it twice"))
    try:
        if lock.waited_s > 0:
            report = load_report(out, name)
            if report is not None and (out / f"{name}.json").stat().st_mtime >= asked - 1:
                _say(f"chunk {chunk.id}: taken from the other run ({report.status})")
                return report
        return _solve_locked(task, lock)
    finally:
        lock.release()


class ChunkServer:
    """A persistent chunk process: one payload path and log path per line on its stdin, one
    `done` line back on a pipe of its own once the chunk's report is saved."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        # This process as the parent: the chunk process dies with it (die_with_parent).
        env = child_env()
        # One chunk, one core: the run's parallelism comes from Dask workers.
        env.setdefault("OMP_NUM_THREADS", "1")
        try:
            self.proc = subprocess.Popen(
                python_module_cmd(__name__, "--serve", str(write_fd)),
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                text=True, env=env, start_new_session=True, pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        self.answers = os.fdopen(read_fd, "r")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def solve(self, payload: Path, log: Path, time_limit_s: float) -> str:
        """'' when the chunk process reports the chunk done; otherwise why not (it exited,
        or the time limit passed: then it is killed, with its NLP child)."""
        try:
            self.proc.stdin.write(f"{payload}\t{log}\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.answers], [], [], time_limit_s)
            answer = self.answers.readline().strip() if ready else None
        except (BrokenPipeError, OSError):
            answer = ""
        except BaseException:
            # Interrupted (KeyboardInterrupt, worker shutdown): take the solver down with us.
            self.kill()
            raise
        if answer == "done":
            return ""
        if answer is None:
            self.kill()
            return f"time limit of {time_limit_s:g} s per chunk reached"
        rc = self.proc.wait()
        self.answers.close()
        return f"solver process exited with code {rc}"

    def kill(self) -> None:
        """The whole process group: the NLP runs in a grandchild."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.answers.close()


# One chunk process per thread: a prctl death signal follows the thread that started the
# child, and a Dask worker may run tasks on several threads.
_LOCAL = threading.local()
_ALL: list[ChunkServer] = []


def _server() -> ChunkServer:
    server = getattr(_LOCAL, "server", None)
    if server is None or not server.alive():
        server = _LOCAL.server = ChunkServer()
        _ALL.append(server)
    return server


@atexit.register
def stop_chunk_servers() -> None:
    """Stop this process's chunk processes (they would also die with it)."""
    for server in _ALL:
        server.kill()
    _ALL.clear()


def _solve_locked(task: ChunkTask, lock: UnitLock) -> ChunkReport:
    chunk, out = task.chunk, Path(task.out_dir)
    name = chunk_name(chunk)
    remove_stale_temp(out, name)
    pfile = task.write(out / f"{name}.payload.json")
    log = out / f"{name}.log"
    start = time.perf_counter()
    reason = _server().solve(pfile, log, task.time_limit_s)
    report = load_report(out, name) if not reason else None
    if report is None:
        report = failed_report(chunk, task.method, (reason or "no report written")
                               + f" (log: {log})", solve_time_s=time.perf_counter() - start)
        save_chunk(out, name, report, None)
    return report


def serve(answer_fd: int) -> None:
    """The chunk process: solve each chunk named on stdin, its output into its own log,
    and answer `done` on `answer_fd` when its report is saved."""
    die_with_parent()
    answers = os.fdopen(answer_fd, "w")
    quiet = os.open(os.devnull, os.O_WRONLY)
    for line in sys.stdin:
        payload, log = line.rstrip("\n").split("\t")
        with open(log, "w") as logf:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(logf.fileno(), 1)
            os.dup2(logf.fileno(), 2)
            try:
                solve_in_process(ChunkTask.from_json(Path(payload).read_text()))
            except BaseException:
                traceback.print_exc()  # into the chunk's log; the parent sees the exit
                raise
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(quiet, 1)
                os.dup2(quiet, 2)
        answers.write("done\n")
        answers.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        die_with_parent()
        solve_in_process(ChunkTask.from_json(Path(sys.argv[1]).read_text()))
