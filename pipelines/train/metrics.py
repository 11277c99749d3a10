"""Evaluation metrics exactly as MIA and MinT define them, on arrays of windows.

All functions take `pred` and `true` shaped (S, L, C): S windows (samples), L frames,
C channels, in the target's own units (not normalised).
"""

from __future__ import annotations

import numpy as np

SMAPE_EPS = 1e-8

# MinT's lower-body muscle subsets (Lai-Arnold model names, left and right sides).
LAI_ARNOLD_LOWER_BODY_8 = tuple(
    f"{m}_{side}" for m in ("glmed1", "glmax2", "recfem", "bflh") for side in ("l", "r")
)
LAI_ARNOLD_LOWER_BODY_16 = LAI_ARNOLD_LOWER_BODY_8 + tuple(
    f"{m}_{side}" for m in ("addmagIsch", "iliacus", "gasmed", "tibant") for side in ("l", "r")
)
MUSCLE_SUBSETS: dict[str, tuple[str, ...]] = {
    "LAI_ARNOLD_LOWER_BODY_8": LAI_ARNOLD_LOWER_BODY_8,
    "LAI_ARNOLD_LOWER_BODY_16": LAI_ARNOLD_LOWER_BODY_16,
}


def _check(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 3:
        raise ValueError(f"pred and true must both be (S, L, C); got {p.shape} and {t.shape}")
    return p, t


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """Root mean squared error over every sample, frame and channel."""
    p, t = _check(pred, true)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def pcc_per_sample_channel(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pearson correlation over time for each sample and channel: (S, C).

    NaN where either curve is constant over the window (the correlation is undefined there).
    """
    p, t = _check(pred, true)
    dp = p - p.mean(axis=1, keepdims=True)
    dt = t - t.mean(axis=1, keepdims=True)
    num = (dp * dt).sum(axis=1)
    den = np.sqrt((dp**2).sum(axis=1) * (dt**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    r[den <= 1e-12 * max(1.0, float(np.max(den, initial=0.0)))] = np.nan
    return r


def pcc(pred: np.ndarray, true: np.ndarray) -> float:
    """PCC per sample and channel over time, then averaged over the defined ones."""
    r = pcc_per_sample_channel(pred, true)
    return float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")


def smape_per_channel(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """SMAPE in percent per channel: mean over samples and frames of
    |x - y| / ((|x| + |y|) / 2 + 1e-8) * 100. Returns (C,)."""
    p, t = _check(pred, true)
    ratio = np.abs(p - t) / ((np.abs(p) + np.abs(t)) / 2.0 + SMAPE_EPS)
    return ratio.mean(axis=(0, 1)) * 100.0


def smape(pred: np.ndarray, true: np.ndarray) -> float:
    """SMAPE in percent averaged over channels."""
    return float(smape_per_channel(pred, true).mean())


def summary(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """{"rmse", "pcc", "smape", "n_windows"} for one set of windows."""
    return {
        "rmse": rmse(pred, true),
        "pcc": pcc(pred, true),
        "smape": smape(pred, true),
        "n_windows": int(np.asarray(pred).shape[0]),
    }


def subset_channels(channels: list[str], subset: tuple[str, ...]) -> list[int] | None:
    """Indices of `subset` muscles within `channels`, or None if any is absent.

    Channel names may carry the MinT model prefix (`LU_glmed1_l`); it is ignored here.
    """
    bare = [c[3:] if c.startswith("LU_") else c for c in channels]
    try:
        return [bare.index(name) for name in subset]
    except ValueError:
        return None
