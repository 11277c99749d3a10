"""One chunk's solution on disk: `<name>.npz` arrays + `<name>.json` report, written
atomically (temporary name, then rename) so a crash never leaves a half result."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

STREAMS = ("activations", "muscle_forces", "grf", "joint_angles_solved", "residuals")
# Streams only some methods give: `inverse` states the generalized forces the motion needs
# (inverse dynamics with the ground forces): the joint moments.
OPTIONAL_STREAMS = ("joint_moments",)


@dataclass
class ChunkDiagnostics:
    """What a method measured beyond the shared columns (None: not measured by this method).
    Stored in the `chunks` table's `extra` column as JSON, in this field order."""

    grf_source: str | None = None  # inverse: "measured" (plates) or "estimated"
    solver: str | None = None  # "casadi" or "moco"
    warm_start: str | None = None  # track: "inverse" when started from inverse's solution
    # inverse, the estimated ground forces of the chunk: share of frames each foot (right,
    # left) is in contact, the moment the clamped COPs could not carry, loaded frames no
    # foot claimed, the floor height
    contact_share: list[float] | None = None
    max_cop_clamped_moment_nm: float | None = None
    orphan_load_frames: int | None = None
    floor_m: float | None = None
    # track: the sequential linearisation's rounds, its final equations-of-motion defect, the
    # vertical offset found, the RMS tracking error over translations
    rounds: list | None = None
    max_dynamics_defect: float | None = None
    vertical_offset_m: float | None = None
    tracking_error_m: float | None = None
    # track: the ground forces tracked ("none", "measured", "estimated"); the contact forces'
    # agreement with `inverse`'s per-foot estimate of the same chunk over its core, vertical:
    # {"right_rmse_bw_pct", "right_pcc", "left_rmse_bw_pct", "left_pcc"} (PCC None where a
    # foot's force is constant); CPU seconds of the chunk with its solver child processes;
    # IPOPT iterations per round
    grf_tracked: str | None = None
    grf_vs_estimate: dict | None = None
    cpu_s: float | None = None
    round_iterations: list | None = None
    foot_lift_m: dict | None = None  # track: each foot's spheres raised by (m), levelling
    treadmill_m_s: list | None = None  # track: the belt velocity (m/s) it solved relative to
    traceback: str | None = None  # a chunk failed by an exception: where

    def present(self) -> dict:
        """The measured values only, in field order (the `extra` column's JSON)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class ChunkReport:
    """The per-chunk row of the `chunks` table."""

    sequence_id: str
    chunk: int
    method: str
    status: str  # "converged" | "failed"
    reason: str = ""
    iterations: int = -1
    objective: float = float("nan")
    solve_time_s: float = float("nan")
    tracking_error_rad: float = float("nan")  # RMS over rotational coordinates (track only)
    max_residual_force_n: float = float("nan")
    max_residual_moment_nm: float = float("nan")
    max_residual_force_bw: float = float("nan")  # as a share of body weight
    # What can fail (kernel/solution.py `assess`): for `inverse` the root's residual forces
    # are ~0 by construction (its ground forces come from the same equations of motion), so
    # its quality shows in the residual moments, the reserves, saturated muscles and the
    # moment its clamped centres of pressure could not carry (diagnostics).
    max_reserve_nm: float = float("nan")
    max_reserve_n: float = float("nan")
    saturated_muscles: list = field(default_factory=list)
    activation_out_of_range: float = float("nan")  # largest excursion beyond [0, 1]
    core_start_s: float = float("nan")
    core_end_s: float = float("nan")
    solve_start_s: float = float("nan")
    solve_end_s: float = float("nan")
    diagnostics: ChunkDiagnostics = field(default_factory=ChunkDiagnostics)

    @classmethod
    def from_dict(cls, d: dict) -> ChunkReport:
        d = dict(d)
        d["diagnostics"] = ChunkDiagnostics(**(d.get("diagnostics") or {}))
        return cls(**d)


@dataclass
class ChunkOutput:
    """Solution arrays: time_s (N,), per stream values (N, C) and channel names."""

    time_s: np.ndarray
    values: dict[str, np.ndarray]
    channels: dict[str, list[str]]
    units: dict[str, list[str]]


def save_chunk(folder: Path, name: str, report: ChunkReport, output: ChunkOutput | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if output is not None:
        tmp = folder / f".{name}.{os.getpid()}.npz"
        arrays = {"time_s": output.time_s}
        arrays.update({f"values__{k}": v for k, v in output.values.items()})
        np.savez(tmp, **arrays)
        meta = {"channels": output.channels, "units": output.units}
        tmpj = folder / f".{name}.{os.getpid()}.meta.json"
        tmpj.write_text(json.dumps(meta))
        os.replace(tmp, folder / f"{name}.npz")
        os.replace(tmpj, folder / f"{name}.meta.json")
    tmpr = folder / f".{name}.{os.getpid()}.json"
    tmpr.write_text(json.dumps(asdict(report), default=float))
    os.replace(tmpr, folder / f"{name}.json")  # written last: the chunk's completion record


def load_report(folder: Path, name: str) -> ChunkReport | None:
    p = folder / f"{name}.json"
    if not p.is_file():
        return None
    return ChunkReport.from_dict(json.loads(p.read_text()))


def load_output(folder: Path, name: str) -> ChunkOutput | None:
    p = folder / f"{name}.npz"
    if not p.is_file():
        return None
    meta = json.loads((folder / f"{name}.meta.json").read_text())
    with np.load(p) as z:
        values = {k.split("__", 1)[1]: z[k] for k in z.files if k.startswith("values__")}
        time_s = z["time_s"]
    return ChunkOutput(time_s, values, meta["channels"], meta["units"])
