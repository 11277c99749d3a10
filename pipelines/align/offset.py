"""Offset refinement and drift: cross-correlate video motion with the summed sEMG envelope.

Both signals go onto one analysis grid on the video clock (20 ms), are high-passed (a 4 s
moving mean is removed: slow posture changes and electrode drift say nothing about timing) and
standardised. The correlation over lags within +-`max_lag_s` of the timestamp offset gives the
refinement. "Clearly better than chance" is measured, not assumed: the same correlation at
unrelated lags (circular shifts far outside the search window) gives the chance distribution;
the refinement is applied only when the peak correlation is at least `min_corr`, lies `min_z`
standard deviations above that distribution, is not at the edge of the window and has no rival
peak of nearly the same height (periodic exercises can be ambiguous).

Physiology note: muscle activity precedes the movement it causes by tens of milliseconds
(electromechanical delay); on real data the refined offset includes that lead. The synthetic
captures have none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musclekit.pipelines.align.emg_csv import EmgRecording
from musclekit.pipelines.align.grid import ClockMap
from musclekit.pipelines.align.video import MotionEnergy

ANALYSIS_DT_S = 0.02


@dataclass
class RefineConfig:
    """Options of the cross-correlation refinement (seconds; correlations are Pearson r)."""

    enabled: bool = True
    max_lag_s: float = 2.0
    min_corr: float = 0.3
    min_z: float = 4.0
    rival_margin: float = 0.05
    min_duration_s: float = 8.0
    highpass_s: float = 4.0


@dataclass
class Refinement:
    """Result of the refinement. `lag_s`: how much later the sEMG is than the timestamps say
    (added to the offset when applied). `score`: peak correlation; `z`: its distance from the
    chance distribution in standard deviations; `lags_s`, `corr`: the curve, for the QC plot."""

    applied: bool
    reason: str
    lag_s: float = float("nan")
    score: float = float("nan")
    z: float = float("nan")
    chance_mean: float = float("nan")
    chance_std: float = float("nan")
    chance_max: float = float("nan")
    lags_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    corr: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass
class Drift:
    """Clock drift of the sensors against the video: `drift_s_per_s` (sensor seconds gained per
    video second), its standard error, the per-window lags used, and whether it was applied."""

    estimated: bool
    applied: bool
    reason: str
    drift_s_per_s: float = float("nan")
    stderr: float = float("nan")
    intercept_s: float = float("nan")
    window_centres_s: list[float] = field(default_factory=list)
    window_lags_s: list[float] = field(default_factory=list)


def analysis_grid(duration_s: float) -> np.ndarray:
    return np.arange(0.0, duration_s + 1e-9, ANALYSIS_DT_S)


def motion_signal(motion: MotionEnergy, t_s: np.ndarray) -> np.ndarray:
    """Motion energy on the analysis grid, lightly smoothed (0.1 s) like an envelope."""
    mt = motion.time_ns / 1e9
    out = np.interp(t_s, mt, motion.energy, left=np.nan, right=np.nan)
    return _moving_mean(out, max(1, int(round(0.1 / ANALYSIS_DT_S))))


def emg_signal(emg: EmgRecording, clock: ClockMap, t_s: np.ndarray) -> np.ndarray:
    """Summed sEMG envelope on the analysis grid: each channel standardised, interpolated only
    between neighbouring samples (never across a dropout), then averaged over channels."""
    stack = []
    for ch in emg.channels:
        t = clock.to_video_s(ch.time_ns)
        v = ch.values.astype(np.float64)
        scale = np.nanstd(v)
        if not np.isfinite(scale) or scale == 0:
            continue
        v = (v - np.nanmean(v)) / scale
        out = np.interp(t_s, t, v, left=np.nan, right=np.nan)
        pos = np.clip(np.searchsorted(t, t_s), 1, max(t.size - 1, 1))
        gap = t[pos] - t[pos - 1] if t.size > 1 else np.full(t_s.shape, np.inf)
        period = ch.sample_period_s if np.isfinite(ch.sample_period_s) else 0.1
        out[gap > 2.5 * period] = np.nan
        stack.append(out)
    if not stack:
        return np.full(t_s.shape, np.nan)
    with np.errstate(invalid="ignore"):
        arr = np.vstack(stack)
        count = np.isfinite(arr).sum(0)
        total = np.nansum(arr, 0)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    """NaN-aware centred moving mean over n samples."""
    if n <= 1:
        return x.copy()
    valid = np.isfinite(x)
    filled = np.where(valid, x, 0.0)
    kernel = np.ones(n)
    num = np.convolve(filled, kernel, mode="same")
    den = np.convolve(valid.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~valid] = np.nan
    return out


def _prepare(x: np.ndarray, highpass_s: float) -> np.ndarray:
    hp = x - _moving_mean(x, max(3, int(round(highpass_s / ANALYSIS_DT_S))))
    sd = np.nanstd(hp)
    if not np.isfinite(sd) or sd == 0:
        return np.full(x.shape, np.nan)
    return (hp - np.nanmean(hp)) / sd


def _corr_at_lags(x: np.ndarray, y: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Pearson r of x(t) and y(t + lag) over the pairs where both are valid, per lag."""
    out = np.full(lags.size, np.nan)
    n = x.size
    for i, lag in enumerate(lags):
        if lag >= 0:
            a, b = x[: n - lag], y[lag:]
        else:
            a, b = x[-lag:], y[: n + lag]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 20:
            continue
        aa, bb = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
        den = np.sqrt((aa * aa).sum() * (bb * bb).sum())
        out[i] = (aa * bb).sum() / den if den > 0 else np.nan
    return out


def _circular_corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Approximate r of x(t) and y(t + s) for every circular shift s (via FFT)."""
    mx, my = np.isfinite(x), np.isfinite(y)
    xf, yf = np.where(mx, x, 0.0), np.where(my, y, 0.0)
    n = x.size

    def cc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.fft.irfft(np.conj(np.fft.rfft(a)) * np.fft.rfft(b), n)

    pairs = np.round(cc(mx.astype(float), my.astype(float)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs >= 20, cc(xf, yf) / np.maximum(pairs, 1), np.nan)


def _parabolic(c: np.ndarray, i: int) -> float:
    if i <= 0 or i >= c.size - 1 or not np.all(np.isfinite(c[i - 1 : i + 2])):
        return 0.0
    den = c[i - 1] - 2 * c[i] + c[i + 1]
    return 0.0 if den == 0 else float(0.5 * (c[i - 1] - c[i + 1]) / den)


def refine_offset(motion: np.ndarray, emg: np.ndarray, cfg: RefineConfig) -> Refinement:
    """Refine the offset from motion and summed sEMG on the analysis grid (same length, NaN
    where absent; see `motion_signal`, `emg_signal`)."""
    if not cfg.enabled:
        return Refinement(applied=False, reason="refinement disabled (--no-refine)")
    both = np.isfinite(motion) & np.isfinite(emg)
    overlap_s = both.sum() * ANALYSIS_DT_S
    if overlap_s < cfg.min_duration_s:
        return Refinement(
            applied=False,
            reason=f"not applied: only {overlap_s:.1f} s of overlapping signal (needs {cfg.min_duration_s:.0f} s)",
        )
    x, y = _prepare(motion, cfg.highpass_s), _prepare(emg, cfg.highpass_s)
    if not (np.isfinite(x).any() and np.isfinite(y).any()):
        return Refinement(applied=False, reason="not applied: no motion or no sEMG variation")
    w = int(round(cfg.max_lag_s / ANALYSIS_DT_S))
    lags = np.arange(-w, w + 1)
    corr = _corr_at_lags(x, y, lags)
    lags_s = lags * ANALYSIS_DT_S
    if not np.isfinite(corr).any():
        return Refinement(applied=False, reason="not applied: signals do not overlap", lags_s=lags_s, corr=corr)
    i = int(np.nanargmax(corr))
    peak = float(corr[i])
    lag_s = float((lags[i] + _parabolic(corr, i)) * ANALYSIS_DT_S)
    circ = _circular_corr(x, y)
    guard = w + int(round(1.0 / ANALYSIS_DT_S))
    far = circ[guard : x.size - guard] if x.size > 2 * guard else np.empty(0)
    far = far[np.isfinite(far)]
    result = Refinement(applied=False, reason="", lag_s=lag_s, score=peak, lags_s=lags_s, corr=corr)
    if far.size < 50:
        result.reason = "not applied: recording too short to measure the chance level"
        return result
    result.chance_mean, result.chance_std = float(far.mean()), float(far.std())
    result.chance_max = float(far.max())
    result.z = (peak - result.chance_mean) / result.chance_std if result.chance_std > 0 else float("inf")
    rival = _rival_peak(corr, i, int(round(0.5 / ANALYSIS_DT_S)))
    if peak < cfg.min_corr:
        result.reason = f"not applied: peak correlation {peak:.2f} < {cfg.min_corr:.2f}"
    elif result.z < cfg.min_z:
        result.reason = f"not applied: peak is only {result.z:.1f} sd above chance (needs {cfg.min_z:.0f})"
    elif peak < result.chance_max + cfg.rival_margin:
        result.reason = (
            f"not applied: an unrelated lag correlates nearly as well (r={result.chance_max:.2f})"
        )
    elif i in (0, corr.size - 1):
        result.reason = (
            f"not applied: best lag at the edge of the +-{cfg.max_lag_s:.1f} s window; the "
            "timestamps may be off by more (raise --max-lag or give --offset)"
        )
    elif rival > peak - cfg.rival_margin:
        result.reason = f"not applied: ambiguous, a second peak reaches r={rival:.2f} (periodic motion?)"
    else:
        result.applied = True
        result.reason = f"applied: r={peak:.2f}, {result.z:.1f} sd above chance"
    return result


def _rival_peak(corr: np.ndarray, i: int, min_sep: int) -> float:
    """Height of the highest local maximum at least `min_sep` lags away from index i."""
    c = np.where(np.isfinite(corr), corr, -np.inf)
    is_max = np.zeros(c.size, bool)
    is_max[1:-1] = (c[1:-1] >= c[:-2]) & (c[1:-1] >= c[2:])
    far = np.abs(np.arange(c.size) - i) >= min_sep
    cand = c[is_max & far]
    return float(cand.max()) if cand.size else -np.inf


@dataclass
class DriftConfig:
    """Drift is estimated from lags in `window_s` windows (step `window_s/2`) when the overlap
    lasts `min_duration_s`; applied only when the slope is `min_t` standard errors from zero
    and adds up to at least `min_total_s` over the recording."""

    enabled: bool = True
    min_duration_s: float = 120.0
    window_s: float = 40.0
    search_s: float = 0.5
    min_windows: int = 4
    min_corr: float = 0.3
    min_t: float = 5.0
    min_total_s: float = 0.02


def estimate_drift(motion: np.ndarray, emg: np.ndarray, lag_s: float, cfg: DriftConfig) -> Drift:
    """Per-window lags around `lag_s` and a weighted line through them (video-clock time)."""
    if not cfg.enabled:
        return Drift(estimated=False, applied=False, reason="drift estimation disabled")
    both = np.isfinite(motion) & np.isfinite(emg)
    idx = np.flatnonzero(both)
    if idx.size == 0:
        return Drift(estimated=False, applied=False, reason="no overlap")
    span_s = (idx[-1] - idx[0]) * ANALYSIS_DT_S
    if span_s < cfg.min_duration_s:
        return Drift(
            estimated=False, applied=False,
            reason=f"not estimated: {span_s:.0f} s of overlap, needs {cfg.min_duration_s:.0f} s",
        )
    x, y = _prepare(motion, 4.0), _prepare(emg, 4.0)
    base = int(round((lag_s if np.isfinite(lag_s) else 0.0) / ANALYSIS_DT_S))
    half = int(round(cfg.search_s / ANALYSIS_DT_S))
    lags = np.arange(base - half, base + half + 1)
    win = int(round(cfg.window_s / ANALYSIS_DT_S))
    centres, found, weights = [], [], []
    for start in range(int(idx[0]), int(idx[-1]) - win + 1, win // 2):
        seg = slice(start, start + win)
        xs = np.full(x.shape, np.nan)
        xs[seg] = x[seg]
        c = _corr_at_lags(xs, y, lags)
        if not np.isfinite(c).any():
            continue
        i = int(np.nanargmax(c))
        if c[i] < cfg.min_corr or i in (0, c.size - 1):
            continue
        centres.append((start + win / 2) * ANALYSIS_DT_S)
        found.append((lags[i] + _parabolic(c, i)) * ANALYSIS_DT_S)
        weights.append(float(c[i]))
    drift = Drift(estimated=False, applied=False, reason="", window_centres_s=centres, window_lags_s=found)
    if len(found) < cfg.min_windows:
        drift.reason = f"not estimated: only {len(found)} windows correlate clearly (needs {cfg.min_windows})"
        return drift
    t, lag, wts = np.asarray(centres), np.asarray(found), np.asarray(weights)
    design = np.column_stack([np.ones_like(t), t])
    sw = np.sqrt(wts)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], lag * sw, rcond=None)
    resid = lag - design @ coef
    dof = max(1, t.size - 2)
    sigma2 = float((wts * resid**2).sum() / dof)
    cov = sigma2 * np.linalg.inv((design * wts[:, None]).T @ design)
    slope, se = float(coef[1]), float(np.sqrt(max(cov[1, 1], 0.0)))
    # A floor on the error: lags are quantised to the analysis step, residuals can be ~0.
    se = max(se, ANALYSIS_DT_S / 10 / max(span_s, 1e-9))
    drift.estimated, drift.drift_s_per_s, drift.stderr, drift.intercept_s = True, slope, se, float(coef[0])
    total = abs(slope) * span_s
    if abs(slope) / se >= cfg.min_t and total >= cfg.min_total_s:
        drift.applied = True
        drift.reason = f"applied: {slope * 1e6:.0f} ppm ({total * 1e3:.0f} ms over the recording)"
    else:
        drift.reason = (
            f"estimated {slope * 1e6:.0f} +- {se * 1e6:.0f} ppm ({total * 1e3:.0f} ms over the "
            "recording): not clearly measured, not applied"
        )
    return drift
