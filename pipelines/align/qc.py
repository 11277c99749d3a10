"""Quality-control report per clip: one PNG for the eye and one JSON for scripts.

The PNG shows what a reviewer needs to trust an alignment: the sEMG channels on the grid with
the motion energy over them and the gaps shaded, the correlation curve with the chosen offset,
the histogram of sEMG timestamp intervals (jitter, batching, drops) and the drift windows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, json.dumps(report, indent=2, default=_plain).encode())


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to the QC report")


def write_png(
    path: Path,
    *,
    title: str,
    grid_s: np.ndarray,
    emg: np.ndarray,
    channels: list[str],
    frame_missing: np.ndarray,
    motion_t_s: np.ndarray,
    motion: np.ndarray,
    lags_s: np.ndarray,
    corr: np.ndarray,
    offset_ts_s: float,
    chosen_lag_s: float,
    applied: bool,
    intervals_s: np.ndarray,
    drift_t_s: list[float],
    drift_lag_s: list[float],
    drift_line: tuple[float, float] | None,
) -> None:
    """Draw the four-panel QC figure (matplotlib, Agg backend, no display needed).

    grid_s (T,), emg (T, C) with NaN gaps, frame_missing (T,) bool, motion on its own time
    axis, correlation curve over lags relative to the timestamp offset `offset_ts_s`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 7), dpi=90)
    grid = fig.add_gridspec(2, 3, height_ratios=[1.3, 1])
    ax = fig.add_subplot(grid[0, :])
    for j, name in enumerate(channels):
        ax.plot(grid_s, emg[:, j], lw=0.8, label=name)
    gap = np.isnan(emg).all(axis=1)
    _shade(ax, grid_s, gap, "tab:red", "sEMG gap")
    _shade(ax, grid_s, frame_missing, "tab:gray", "no video frame")
    ax.set_xlabel("time on the grid (s)")
    ax.set_ylabel("sEMG")
    ax.set_title(title, fontsize=10)
    if motion.size and np.isfinite(motion).any():
        twin = ax.twinx()
        twin.plot(motion_t_s, motion, color="k", lw=0.6, alpha=0.5, label="motion energy")
        twin.set_ylabel("motion energy")
    ax.legend(loc="upper left", fontsize=7, ncol=min(len(channels) + 2, 6))

    ax = fig.add_subplot(grid[1, 0])
    if corr.size:
        ax.plot(offset_ts_s + lags_s, corr, color="tab:blue")
        ax.axvline(offset_ts_s, color="gray", ls=":", label="timestamps")
        if np.isfinite(chosen_lag_s):
            ax.axvline(offset_ts_s + chosen_lag_s, color="tab:green" if applied else "tab:orange",
                       ls="--", label="peak (applied)" if applied else "peak (not applied)")
        ax.legend(fontsize=7)
    ax.set_xlabel("offset (s)")
    ax.set_ylabel("correlation r")
    ax.set_title("motion vs summed sEMG", fontsize=9)

    ax = fig.add_subplot(grid[1, 1])
    if intervals_s.size:
        ax.hist(np.clip(intervals_s * 1e3, 0, 400), bins=80, color="tab:purple")
    ax.set_xlabel("sEMG timestamp interval (ms, clipped at 400)")
    ax.set_ylabel("count")
    ax.set_title("timestamp jitter", fontsize=9)

    ax = fig.add_subplot(grid[1, 2])
    if drift_t_s:
        ax.plot(drift_t_s, np.asarray(drift_lag_s) * 1e3, "o", ms=3)
        if drift_line is not None:
            t = np.asarray([min(drift_t_s), max(drift_t_s)])
            ax.plot(t, (drift_line[0] + drift_line[1] * t) * 1e3, "-")
    else:
        ax.text(0.5, 0.5, "recording too short\nfor a drift estimate", ha="center", va="center",
                transform=ax.transAxes, fontsize=9)
    ax.set_xlabel("video time (s)")
    ax.set_ylabel("window lag (ms)")
    ax.set_title("drift", fontsize=9)
    # Fixed margins: tight_layout costs about a second per figure.
    fig.subplots_adjust(left=0.06, right=0.94, bottom=0.08, top=0.95, hspace=0.35, wspace=0.28)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def _shade(ax: Any, t: np.ndarray, mask: np.ndarray, color: str, label: str) -> None:
    if not mask.any():
        return
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    step = float(np.median(np.diff(t))) if t.size > 1 else 0.1
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        ax.axvspan(t[s] - step / 2, t[e] + step / 2, color=color, alpha=0.2, label=label if i == 0 else None)
