"""Solving one chunk in a process of its own, so a time limit can stop it and a solver
crash costs one chunk, not the Dask worker. The Dask task is `solve_chunk_unit(task)`; the
chunk's process runs `python -m musclekit.pipelines.simulate.dynamics.kernel.worker
TASK.json` and dispatches to the method by name (methods/ registry)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from musclekit.dataset.writer import RANGE_TOLERANCE
from musclekit.errors import MusclekitError

from ..payloads import ChunkTask
from .chunks import Chunk
from .result import ChunkReport, load_report, save_chunk


def chunk_name(chunk: Chunk) -> str:
    return f"chunk{chunk.index:04d}"


def failed_report(chunk: Chunk, method: str, reason: str, **extra) -> ChunkReport:
    return ChunkReport(
        sequence_id=chunk.sequence_id, chunk=chunk.index, method=method, status="failed",
        reason=reason, core_start_s=chunk.core_start_s, core_end_s=chunk.core_end_s,
        solve_start_s=chunk.solve_start_s, solve_end_s=chunk.solve_end_s, **extra)


def solve_in_process(task: ChunkTask) -> ChunkReport:
    """Solve the chunk of `task` here; save and return its report."""
    from musclekit.opensim_log import opensim_log

    from ..methods import get_method

    chunk, out = task.chunk, Path(task.out_dir)
    work = out / f"{chunk_name(chunk)}_work"
    if task.force_crash:
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        if task.force_fail:
            raise MusclekitError(task.fail_reason or f"chunk {chunk.id} forced to fail (test hook)")
        method = get_method(task.method)
        settings = method.make_settings(task.settings)
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
                               extra={"traceback": traceback.format_exc()[-4000:]})
        output = None
    save_chunk(out, chunk_name(chunk), report, output)
    return report


def solve_chunk_unit(task: ChunkTask | dict) -> dict:
    """Dask task: solve one chunk in a child process under `task.time_limit_s`.

    Always leaves a report on disk (converged or failed with the reason) and returns it.
    """
    if isinstance(task, dict):
        task = ChunkTask.from_dict(task)
    chunk, out = task.chunk, Path(task.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = chunk_name(chunk)
    pfile = task.write(out / f"{name}.payload.json")
    log = out / f"{name}.log"
    start = time.perf_counter()
    env = dict(os.environ)
    # One chunk, one core: the run's parallelism comes from Dask workers.
    env.setdefault("OMP_NUM_THREADS", "1")
    with open(log, "w") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(pfile)],
            stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True,
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
    report = load_report(out, name)
    if report is None or rc != 0:
        report = failed_report(chunk, task.method, reason + f" (log: {log})",
                               solve_time_s=time.perf_counter() - start)
        save_chunk(out, name, report, None)
    return asdict(report)


if __name__ == "__main__":
    solve_in_process(ChunkTask.from_json(Path(sys.argv[1]).read_text()))
