"""Solving one chunk in a process of its own, so a time limit can stop it and a solver
crash costs one chunk, not the Dask worker. The Dask task is `solve_chunk_unit(task)`; the
chunk's process runs `python -m musclekit.pipelines.simulate.dynamics.stage.worker
TASK.json` and dispatches to the method by name (methods/ registry).

Process hygiene (musclekit/process.py): the chunk's process, and the NLP child it starts,
die with their parent (prctl death signal), so a killed run or a cancelled batch job leaves
no solver behind; one lock file per chunk (`<chunk>.lock`, held by the Dask task and
inherited by the chunk's process) keeps a second run from solving the same chunk at once:
it waits, then takes the report the first one wrote; temporary result files of dead
processes are removed before a chunk is solved again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
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
from musclekit.process import UnitLock, child_env, die_with_parent, is_stale


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


def _solve_locked(task: ChunkTask, lock: UnitLock) -> ChunkReport:
    chunk, out = task.chunk, Path(task.out_dir)
    name = chunk_name(chunk)
    remove_stale_temp(out, name)
    pfile = task.write(out / f"{name}.payload.json")
    log = out / f"{name}.log"
    start = time.perf_counter()
    # This process as the parent: the chunk's process dies with it (die_with_parent).
    env = child_env()
    # One chunk, one core: the run's parallelism comes from Dask workers.
    env.setdefault("OMP_NUM_THREADS", "1")
    with open(log, "w") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(pfile)],
            stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            pass_fds=(lock.fd,),  # the lock is held until the chunk's process exits too
        )
        try:
            rc = proc.wait(timeout=task.time_limit_s)
            reason = f"solver process exited with code {rc}" if rc != 0 else ""
        except subprocess.TimeoutExpired:
            # The whole process group: the NLP runs in a grandchild.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
            reason = f"time limit of {task.time_limit_s:.0f} s per chunk reached"
        except BaseException:
            # Interrupted (KeyboardInterrupt, worker shutdown): take the solver down with us.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    report = load_report(out, name)
    if report is None or rc != 0:
        report = failed_report(chunk, task.method, reason + f" (log: {log})",
                               solve_time_s=time.perf_counter() - start)
        save_chunk(out, name, report, None)
    return report


if __name__ == "__main__":
    die_with_parent()
    solve_in_process(ChunkTask.from_json(Path(sys.argv[1]).read_text()))
