"""Solving one chunk in a child process, so a time limit can stop it and a solver crash
costs one chunk, not the Dask worker. Run as
`python -m musclekit.pipelines.simulate.dynamics.worker PAYLOAD.json`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from musclekit.errors import MusclekitError

from .chunks import Chunk
from .inverse import SolveSettings
from .result import ChunkReport, load_report, save_chunk


def chunk_name(chunk: Chunk) -> str:
    return f"chunk{chunk.index:04d}"


def solve_in_process(payload: dict) -> ChunkReport:
    """Solve the chunk described by `payload` here; save and return its report."""
    chunk = Chunk(**payload["chunk"])
    out = Path(payload["out_dir"])
    settings = SolveSettings(**payload["solve"])
    work = out / f"{chunk_name(chunk)}_work"
    method = payload["method"]
    if payload.get("force_crash"):  # test hook: the solver process dies without a word
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        if payload.get("force_fail"):
            raise MusclekitError(f"chunk {chunk.id} forced to fail (test hook)")
        if method == "inverse":
            from .inverse import solve_inverse_chunk

            report, output = solve_inverse_chunk(
                Path(payload["prep_folder"]), payload["motion_path"], chunk, settings, work
            )
        elif method == "track":
            from .track import solve_track_chunk

            report, output = solve_track_chunk(
                Path(payload["prep_folder"]), payload["motion_path"], chunk, settings, work
            )
        else:
            raise MusclekitError(f"unknown method {method!r}; use 'inverse' or 'track'")
    except Exception as err:  # noqa: BLE001 - every chunk failure becomes a gap with its reason
        report = ChunkReport(
            sequence_id=chunk.sequence_id, chunk=chunk.index, method=method, status="failed",
            reason=f"{type(err).__name__}: {err}".strip()[:2000],
            core_start_s=chunk.core_start_s, core_end_s=chunk.core_end_s,
            solve_start_s=chunk.solve_start_s, solve_end_s=chunk.solve_end_s,
            extra={"traceback": traceback.format_exc()[-4000:]},
        )
        output = None
    save_chunk(out, chunk_name(chunk), report, output)
    return report


def solve_chunk_unit(payload: dict) -> dict:
    """Dask task: solve one chunk in a child process under `payload["time_limit_s"]`.

    Always leaves a report on disk (converged or failed with the reason) and returns it.
    """
    chunk = Chunk(**payload["chunk"])
    out = Path(payload["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    name = chunk_name(chunk)
    pfile = out / f"{name}.payload.json"
    pfile.write_text(json.dumps(payload))
    log = out / f"{name}.log"
    limit = float(payload.get("time_limit_s", 3600))
    start = time.perf_counter()
    env = dict(os.environ)
    # One chunk, one core: the run's parallelism comes from Dask workers.
    env.setdefault("OMP_NUM_THREADS", "1")
    with open(log, "w") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "musclekit.pipelines.simulate.dynamics.worker", str(pfile)],
            stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=limit)
            reason = f"solver process exited with code {rc}" if rc != 0 else ""
        except subprocess.TimeoutExpired:
            # The whole process group: the inverse method's NLP runs in a grandchild.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
            reason = f"time limit of {limit:.0f} s per chunk reached"
    report = load_report(out, name)
    if report is None or rc != 0:
        report = ChunkReport(
            sequence_id=chunk.sequence_id, chunk=chunk.index, method=payload["method"],
            status="failed", reason=reason + f" (log: {log})",
            solve_time_s=time.perf_counter() - start,
            core_start_s=chunk.core_start_s, core_end_s=chunk.core_end_s,
            solve_start_s=chunk.solve_start_s, solve_end_s=chunk.solve_end_s,
        )
        save_chunk(out, name, report, None)
    return asdict(report)


if __name__ == "__main__":
    solve_in_process(json.loads(Path(sys.argv[1]).read_text()))
