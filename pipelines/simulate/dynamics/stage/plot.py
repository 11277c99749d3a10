"""Plots of a simulated sequence: activation curves per muscle group with seams and gaps
marked, and the vertical ground reaction forces."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

# Functional groups by muscle name stem (Lai-Uhlrich / Rajagopal names).
MUSCLE_GROUPS: dict[str, tuple[str, ...]] = {
    "hip extensors": ("glmax", "bflh", "semimem", "semiten", "addmagIsch"),
    "hip flexors": ("iliacus", "psoas", "recfem", "sart", "tfl"),
    "hip abductors": ("glmed", "glmin", "piri"),
    "hip adductors": ("addbrev", "addlong", "addmag", "grac"),
    "knee extensors": ("vasint", "vaslat", "vasmed", "recfem"),
    "knee flexors": ("bflh", "bfsh", "semimem", "semiten", "gaslat", "gasmed"),
    "plantarflexors": ("soleus", "gaslat", "gasmed", "perlong", "perbrev", "tibpost", "fdl", "fhl"),
    "dorsiflexors": ("tibant", "edl", "ehl"),
}


# OpenSim's Gait2392 / Gait2354 / Arnold / Hamner names (e.g. glut_med1_r, bifemlh_r,
# med_gas_r, rect_fem_r), underscores removed, -> the stems above.
GAIT2392_STEMS: dict[str, str] = {
    "glutmax": "glmax", "glutmed": "glmed", "glutmin": "glmin", "bifemlh": "bflh",
    "bifemsh": "bfsh", "sar": "sart", "rectfem": "recfem", "medgas": "gasmed",
    "latgas": "gaslat", "flexdig": "fdl", "flexhal": "fhl", "extdig": "edl", "exthal": "ehl",
    "peri": "piri", "pertert": "edl", "pect": "addlong",
}


def _stem(muscle: str) -> str:
    """'glmax1_r' -> 'glmax'; 'glut_med1_r' -> 'glmed'; 'med_gas_l' -> 'gasmed'."""
    stem = re.sub(r"\d*_[rl]$", "", muscle)
    stem = re.sub(r"\d+$", "", stem.replace("_", ""))
    return GAIT2392_STEMS.get(stem, stem)


def muscle_groups(muscles: list[str]) -> dict[str, list[str]]:
    """Group names of `muscles` (e.g. 'glmax1_r', or Gait2392's 'glut_max1_r') by function;
    unknown stems go to 'other'."""
    out: dict[str, list[str]] = {}
    placed = set()
    for group, stems in MUSCLE_GROUPS.items():
        for m in muscles:
            stem = _stem(m)
            if stem in stems or any(stem.startswith(s) for s in stems if len(s) > 5):
                out.setdefault(group, []).append(m)
                placed.add(m)
    rest = [m for m in muscles if m not in placed]
    if rest:
        out["other"] = rest
    return out


FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def check_figure_path(path: str | Path, flag: str = "--out") -> Path:
    """Refuse, before any work, a figure path matplotlib cannot write: an unknown suffix, a
    folder, a missing parent folder."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise InputError(f"{flag} {path}: a figure is written as {', '.join(FIGURE_SUFFIXES)}; "
                         f"give e.g. {flag} {path.with_suffix('.png')}")
    if path.is_dir():
        raise InputError(f"{flag} {path} is a folder; give a file name, e.g. "
                         f"{flag} {path / 'figure.png'}")
    if not path.parent.is_dir():
        raise InputError(f"{flag} {path}: the folder {path.parent} does not exist; create it "
                         "or choose another path")
    return path


def plot_sequence(dataset_path: str | Path, sequence_id: str, out_path: str | Path) -> Path:
    """Write a PNG of the sequence's activations (per group, right solid / left dashed, group
    mean) and vertical ground forces; seams are dotted lines, gaps grey bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musclekit.dataset import open_dataset

    check_figure_path(out_path)
    ds = open_dataset(dataset_path)
    for stream in ("activations", "grf"):
        if stream not in ds.info.streams:
            raise InputError(f"dataset {dataset_path} has no {stream} stream: run the dynamics "
                             f"stage on it first (`musclekit simulate ... --out {dataset_path}` "
                             "without --until ik)")
    if sequence_id not in ds.sequence_ids("activations"):
        known = ", ".join(ds.sequence_ids("activations")[:10])
        raise InputError(f"sequence {sequence_id!r} has no activations; sequences with: {known}")
    act = ds.sequence_array("activations", sequence_id)
    grf = ds.sequence_array("grf", sequence_id)
    info = ds.sequences[sequence_id].extra.get("dynamics", {})
    groups = muscle_groups(list(act.channels))
    fig, axes = plt.subplots(len(groups) + 1, 1, figsize=(10, 1.8 * (len(groups) + 1)), sharex=True)
    for ax, (group, names) in zip(axes[:-1], groups.items(), strict=False):
        for side, style in (("_r", "-"), ("_l", "--")):
            cols = [act.channels.index(n) for n in names if n.endswith(side)]
            if cols:
                with warnings.catch_warnings():  # all-NaN rows in gaps are expected
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = np.nanmean(act.values[:, cols], axis=1)
                ax.plot(act.time_s, mean, style,
                        label=f"{'right' if side == '_r' else 'left'} (mean of {len(cols)})")
        ax.set_ylabel(group, fontsize=8)
        ax.set_ylim(0, None)
        ax.legend(fontsize=7, loc="upper right")
    ax = axes[-1]
    for side, style in (("right", "-"), ("left", "--")):
        ax.plot(grf.time_s, grf.values[:, grf.channels.index(f"ground_force_{side}_vy")], style,
                label=f"{side} vertical GRF")
    ax.set_ylabel("GRF (N)", fontsize=8)
    ax.set_xlabel("time (s)")
    ax.legend(fontsize=7, loc="upper right")
    for a in axes:
        for s in info.get("seams_s", []):
            a.axvline(s, color="k", linestyle=":", linewidth=0.8)
        for g0, g1 in info.get("gaps_s", []):
            a.axvspan(g0, g1, color="0.85")
    fig.suptitle(f"{sequence_id}: {info.get('method', '?')} (seams dotted, gaps grey)")
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
