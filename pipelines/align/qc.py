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
    from musclekit.dataset.atomic import temp_sibling

    tmp = temp_sibling(path)
    try:
        tmp.write_bytes(data)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _write_failed(path, err) from err
    os.replace(tmp, path)


def _write_failed(path: Path, err: OSError) -> Exception:
    """A failed QC write as a user error: PIL reports a full disk as "encoder error -2"
    without an errno, so the message names the file, the disk's free space and the fixes."""
    import shutil

    from musclekit.errors import InputError

    try:
        free = f"; {shutil.disk_usage(path.parent).free / 1e6:.0f} MB free there"
    except OSError:
        free = ""
    return InputError(f"cannot write the QC file {path} ({err.strerror or err}{free}): free "
                      "space on that disk or give another --out folder, or skip the QC "
                      "figure with --no-qc; then rerun the same command")


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


# Above this many channels the sEMG panel becomes small multiples (one panel per channel):
# more lines in one axis, and a legend with one entry each, hide the signals.
MAX_OVERLAID_CHANNELS = 4


def write_png(path: Path, **kwargs: Any) -> None:
    """Draw the QC figure (see `figure`) and write it atomically to `path`."""
    import matplotlib.pyplot as plt

    fig = figure(**kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    from musclekit.dataset.atomic import temp_sibling

    # The temporary name is the dataset writer's, so a killed run's leftover is recognised
    # (and removed by the next writer, reported by `musclekit validate`).
    tmp = temp_sibling(path)
    try:
        fig.savefig(tmp, format="png")
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _write_failed(path, err) from err
    finally:
        plt.close(fig)
    os.replace(tmp, path)


def figure(
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
    refine_reason: str = "",
    drift_reason: str = "",
    emd_s: float = 0.0,
    emg_label: str = "sEMG",
) -> Any:
    """The QC figure (matplotlib, Agg backend, no display needed); the caller closes it.

    grid_s (T,), emg (T, C) with NaN gaps, frame_missing (T,) bool, motion on its own time
    axis, correlation curve over lags relative to the timestamp offset `offset_ts_s`.
    Up to four channels share one panel; more get one small panel each. A panel without
    anything to show says why (`refine_reason`, `drift_reason`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n_ch = len(channels)
    multiples = n_ch > MAX_OVERLAID_CHANNELS
    ncols = 4 if n_ch > 8 else 2
    nrows = int(np.ceil(n_ch / ncols)) if multiples else 1
    fig = plt.figure(figsize=(12, 4.0 + (1.2 * nrows if multiples else 3.2)), dpi=90)
    outer = fig.add_gridspec(2, 1, height_ratios=[1.2 * nrows if multiples else 1.6, 1.3], hspace=0.28)
    gap = np.isnan(emg).all(axis=1) if emg.size else np.zeros(grid_s.size, bool)
    has_motion = bool(motion.size and np.isfinite(motion).any())
    handles: list = []
    if multiples:
        top = outer[0].subgridspec(nrows, ncols, hspace=0.55, wspace=0.15)
        for j, name in enumerate(channels):
            ax = fig.add_subplot(top[j // ncols, j % ncols])
            ax.plot(grid_s, emg[:, j], lw=0.7, color="tab:blue")
            if has_motion:
                # Scaled into the panel's own range: one y-axis per panel stays readable.
                finite = emg[:, j][np.isfinite(emg[:, j])]
                hi = float(finite.max()) if finite.size else 1.0
                scaled = motion / np.nanmax(motion) * hi if np.nanmax(motion) > 0 else motion
                ax.plot(motion_t_s, scaled, color="k", lw=0.5, alpha=0.4)
            _shade(ax, grid_s, gap, "tab:red", None)
            _shade(ax, grid_s, frame_missing, "tab:gray", None)
            ax.set_title(name, fontsize=8, pad=2)
            ax.tick_params(labelsize=6)
            if j // ncols < nrows - 1:
                ax.set_xticklabels([])
        handles = [Line2D([], [], color="tab:blue", label=f"{emg_label} (channel in each title)")]
        if has_motion:
            handles.append(Line2D([], [], color="k", alpha=0.4, label="motion energy (scaled per panel)"))
        ax.set_xlabel("time on the grid (s)", fontsize=7)
    else:
        ax = fig.add_subplot(outer[0])
        for j, name in enumerate(channels):
            line, = ax.plot(grid_s, emg[:, j], lw=0.8, label=name)
            handles.append(line)
        _shade(ax, grid_s, gap, "tab:red", None)
        _shade(ax, grid_s, frame_missing, "tab:gray", None)
        ax.set_xlabel("time on the grid (s)")
        ax.set_ylabel(emg_label)
        if has_motion:
            twin = ax.twinx()
            line, = twin.plot(motion_t_s, motion, color="k", lw=0.6, alpha=0.5, label="motion energy")
            twin.set_ylabel("motion energy")
            handles.append(line)
    if gap.any():
        handles.append(Patch(color="tab:red", alpha=0.2, label=f"{emg_label} gap"))
    if frame_missing.any():
        handles.append(Patch(color="tab:gray", alpha=0.2, label="no video frame"))
    fig.suptitle(title, fontsize=10, y=0.995)
    # One legend for every line of the top panel(s), under the title, outside the data.
    fig.legend(handles=handles, loc="upper center", fontsize=7, ncol=min(len(handles), 8),
               bbox_to_anchor=(0.5, 0.97), frameon=False)

    bottom = outer[1].subgridspec(1, 3, wspace=0.28)
    ax = fig.add_subplot(bottom[0])
    if corr.size and np.isfinite(corr).any():
        ax.plot(offset_ts_s + lags_s, corr, color="tab:blue", label="correlation")
        ax.axvline(offset_ts_s, color="gray", ls=":", label="timestamps")
        if np.isfinite(chosen_lag_s):
            ax.axvline(offset_ts_s + chosen_lag_s, color="tab:green" if applied else "tab:orange",
                       ls="--", label="peak (applied)" if applied else "peak (not applied)")
            if applied and emd_s:
                ax.axvline(offset_ts_s + chosen_lag_s + emd_s, color="tab:purple", ls="-", lw=0.8,
                           label=f"offset = peak + {emd_s * 1e3:.0f} ms EMD")
        ax.legend(fontsize=6)
        if not applied and refine_reason:
            ax.text(0.02, 0.02, _wrap(refine_reason), transform=ax.transAxes, fontsize=6, va="bottom")
    else:
        ax.text(0.5, 0.5, _wrap(f"offset refinement skipped: {refine_reason or 'no correlation'}"),
                ha="center", va="center", transform=ax.transAxes, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_xlabel("offset (s)")
    ax.set_ylabel("correlation r")
    ax.set_title(f"motion vs summed {emg_label}", fontsize=9)

    ax = fig.add_subplot(bottom[1])
    if intervals_s.size:
        ms = intervals_s * 1e3
        upper = float(min(400.0, max(4.0 * np.median(ms), 1e-3)))
        ax.hist(np.clip(ms, 0, upper), bins=80, color="tab:purple")
        ax.set_xlabel(f"interval between sEMG timestamps (ms, clipped at {upper:.3g})")
    else:
        ax.text(0.5, 0.5, "no timestamp intervals", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("count")
    ax.set_title("timestamp jitter", fontsize=9)

    ax = fig.add_subplot(bottom[2])
    if drift_t_s:
        ax.plot(drift_t_s, np.asarray(drift_lag_s) * 1e3, "o", ms=3, label="window lags")
        if drift_line is not None:
            t = np.asarray([min(drift_t_s), max(drift_t_s)])
            ax.plot(t, (drift_line[0] + drift_line[1] * t) * 1e3, "-", label="fitted drift")
        ax.legend(fontsize=6)
    else:
        ax.text(0.5, 0.5, _wrap(f"drift: {drift_reason or 'recording too short for a drift estimate'}"),
                ha="center", va="center", transform=ax.transAxes, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_xlabel("video time (s)")
    ax.set_ylabel("window lag (ms)")
    ax.set_title("drift", fontsize=9)
    # Fixed margins: tight_layout costs about a second per figure.
    fig.subplots_adjust(left=0.06, right=0.94, bottom=0.07, top=0.93 if multiples else 0.91)
    return fig


def _wrap(text: str, width: int = 48) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _shade(ax: Any, t: np.ndarray, mask: np.ndarray, color: str, label: str | None) -> None:
    if not mask.any():
        return
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    step = float(np.median(np.diff(t))) if t.size > 1 else 0.1
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        ax.axvspan(t[s] - step / 2, t[e] + step / 2, color=color, alpha=0.2, label=label if i == 0 else None)
