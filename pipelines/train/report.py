"""Metric tables (CSV + markdown) and plots of predicted vs true curves."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from musclekit.pipelines.train import metrics

FIELDS = ["model", "scope", "key", "rmse", "pcc", "smape", "n_windows"]


def metric_rows(model: str, pred: np.ndarray, true: np.ndarray, labels: np.ndarray,
                channels: list[str]) -> list[dict]:
    """Rows for one predictor: overall, per label, per channel and per muscle subset.

    pred/true (S, L, C) in target units; labels (S,) the action/exercise of each window.
    """
    rows = [{"model": model, "scope": "overall", "key": "all", **metrics.summary(pred, true)}]
    for label in sorted(set(labels.tolist())):
        sel = labels == label
        rows.append({"model": model, "scope": "label", "key": label,
                     **metrics.summary(pred[sel], true[sel])})
    pcc_sc = metrics.pcc_per_sample_channel(pred, true)
    smape_c = metrics.smape_per_channel(pred, true)
    for c, name in enumerate(channels):
        col = pcc_sc[:, c]
        rows.append({"model": model, "scope": "channel", "key": name,
                     "rmse": metrics.rmse(pred[..., c:c + 1], true[..., c:c + 1]),
                     "pcc": float(np.nanmean(col)) if np.isfinite(col).any() else math.nan,
                     "smape": float(smape_c[c]), "n_windows": int(pred.shape[0])})
    for subset, names in metrics.MUSCLE_SUBSETS.items():
        idx = metrics.subset_channels(channels, names)
        if idx is not None:
            rows.append({"model": model, "scope": "subset", "key": subset,
                         **metrics.summary(pred[..., idx], true[..., idx])})
    return rows


def source_rows(model: str, pred: np.ndarray, true: np.ndarray,
                sources: np.ndarray) -> list[dict]:
    """Rows per source dataset (scope `source`), when the windows come from several."""
    keys = sorted(set(sources.tolist()))
    if len(keys) < 2:
        return []
    return [{"model": model, "scope": "source", "key": key,
             **metrics.summary(pred[sources == key], true[sources == key])} for key in keys]


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.6g}" if isinstance(r[k], float) else r[k]) for k in FIELDS})


def _fmt(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4g}"


def write_markdown(path: Path, title: str, facts: dict[str, str], rows: list[dict],
                   plots: list[Path]) -> None:
    """A readable report: overall comparison, then per label/channel/subset for the model."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    lines = [f"# {title}", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items()] + [""]
    lines += ["## Overall", "", "| model | RMSE | PCC | SMAPE (%) | windows |",
              "|---|---|---|---|---|"]
    for r in rows:
        if r["scope"] == "overall":
            lines.append(f"| {r['model']} | {_fmt(r['rmse'])} | {_fmt(r['pcc'])} | "
                         f"{_fmt(r['smape'])} | {r['n_windows']} |")
    for scope, heading in (("source", "Per source dataset"), ("subset", "Muscle subsets"),
                           ("label", "Per exercise / action"),
                           ("channel", "Per channel")):
        keys = list(dict.fromkeys(r["key"] for r in rows if r["scope"] == scope))
        if not keys:
            continue
        lines += ["", f"## {heading} (RMSE / PCC)", "",
                  "| " + " | ".join([scope, *models]) + " |",
                  "|" + "---|" * (len(models) + 1)]
        table = {(r["model"], r["key"]): r for r in rows if r["scope"] == scope}
        for key in keys:
            cells = [f"{_fmt(table[(m, key)]['rmse'])} / {_fmt(table[(m, key)]['pcc'])}"
                     if (m, key) in table else "" for m in models]
            lines.append("| " + " | ".join([key, *cells]) + " |")
    if plots:
        lines += ["", "## Predicted vs true", ""]
        lines += [f"![{p.stem}]({p.parent.name}/{p.name})" for p in plots]
    path.write_text("\n".join(lines) + "\n")


def plot_windows(folder: Path, pred: np.ndarray, true: np.ndarray, channels: list[str],
                 rate_hz: float, titles: list[str], n_windows: int = 3,
                 n_channels: int = 4, baseline: np.ndarray | None = None) -> list[Path]:
    """One figure per window: predicted vs true curves of the first few channels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    n_windows = min(n_windows, pred.shape[0])
    picks = np.linspace(0, pred.shape[0] - 1, n_windows).astype(int) if n_windows else []
    t = np.arange(pred.shape[1]) / rate_hz
    chans = list(range(min(n_channels, len(channels))))
    for i in picks:
        fig, axes = plt.subplots(len(chans), 1, figsize=(6, 1.6 * len(chans)), sharex=True,
                                 squeeze=False)
        for ax, c in zip(axes[:, 0], chans, strict=True):
            ax.plot(t, true[i, :, c], color="black", label="true")
            ax.plot(t, pred[i, :, c], color="tab:red", label="predicted")
            if baseline is not None:
                ax.plot(t, baseline[i, :, c], color="tab:blue", alpha=0.5, lw=1,
                        label="retrieval")
            ax.set_ylabel(channels[c], fontsize=8)
        axes[0, 0].set_title(titles[i], fontsize=9)
        axes[0, 0].legend(fontsize=7, loc="upper right")
        axes[-1, 0].set_xlabel("time in window (s)")
        fig.tight_layout()
        file = folder / f"window_{i:04d}.png"
        fig.savefig(file, dpi=80)
        plt.close(fig)
        out.append(file)
    return out
