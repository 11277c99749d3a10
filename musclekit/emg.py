"""Surface EMG processing shared by every stage: raw sEMG -> linear envelope -> a time grid.

One chain, used by `align` (raw recordings onto the video grid) and by anything that compares
activations with EMG, so both see the same envelope:

1. offset removal (mean per channel: amplifier and ADC offsets carry no muscle information);
2. band-pass (default 20-450 Hz, Butterworth): below ~20 Hz lie movement artefacts and
   electrode drift, above ~450 Hz almost no sEMG power, only noise;
3. optional notch at the mains frequency (50 or 60 Hz) and its harmonics below the band edge;
4. full-wave rectification;
5. low-pass (default 6 Hz, Butterworth): the linear envelope;
6. anti-aliased resampling onto a time grid.

Every filter runs forward and backward (`scipy.signal.sosfiltfilt`): zero lag, so envelope
timing can be compared with motion; the attenuation (in dB) doubles, so the -3 dB point of
the design becomes about -6 dB. Arrays are (T,) or (T, C), time along axis 0, rates in Hz,
values in whatever unit they came in (V inside musclekit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy import signal

from musclekit.errors import InputError

Kind = Literal["raw", "envelope"]

# Below this rate a signal cannot hold raw sEMG content in any useful part of 20-450 Hz
# (a Myo armband, the slowest raw device in use, samples at 200 Hz).
MIN_RAW_RATE_HZ = 150.0
# Share of a channel's variance above 20 Hz: raw sEMG puts most of its power there
# (spectral peak ~50-150 Hz), an envelope almost none (it is low-passed at a few Hz).
RAW_HF_SHARE = 0.5
# The envelope is computed at an intermediate rate of at least this many times its cut-off,
# so the decimation's anti-alias filter (near the intermediate Nyquist) leaves it untouched.
_INTERMEDIATE_FACTOR = 25.0


@dataclass(frozen=True)
class EmgProcessing:
    """Parameters of the raw sEMG chain (see the module docstring).

    band_hz: band-pass edges (Hz). notch_hz: mains frequency to remove (50 or 60 Hz, with
    harmonics below the upper band edge), None for no notch. notch_q: quality factor of
    each notch (bandwidth = f / Q). envelope_hz: low-pass cut-off of the envelope (Hz).
    order: Butterworth design order of band-pass and low-pass (applied forward and backward).
    band_auto: the band is the default one, not chosen: on a device too slow for its upper
    edge (OpenBCI at 250 Hz, a Myo at 200 Hz) `for_rate` lowers that edge to 0.95 x Nyquist
    instead of refusing the rate. False (a band the user gave) refuses it.
    """

    band_hz: tuple[float, float] = (20.0, 450.0)
    notch_hz: float | None = None
    notch_q: float = 30.0
    envelope_hz: float = 6.0
    order: int = 4
    band_auto: bool = False

    def __post_init__(self) -> None:
        low, high = (float(v) for v in self.band_hz)
        object.__setattr__(self, "band_hz", (low, high))
        if not 0 < low < high:
            raise InputError(
                f"--emg-band {low:g},{high:g}: the band-pass needs 0 < low < high (Hz), e.g. "
                "--emg-band 20,450"
            )
        if not self.envelope_hz > 0:
            raise InputError(f"--emg-envelope-hz {self.envelope_hz:g}: the envelope cut-off must be positive")
        if self.notch_hz is not None and not self.notch_hz > 0:
            raise InputError(f"--emg-notch {self.notch_hz:g}: the mains frequency must be positive (50 or 60)")
        if not 1 <= int(self.order) <= 8:
            raise InputError(f"filter order {self.order}: use 1..8 (4 is the field's usual choice)")

    def for_rate(self, rate_hz: float) -> tuple[EmgProcessing, str | None]:
        """The chain to run at `rate_hz`, and a note when it differs from this one: with
        `band_auto`, an upper band edge at or above Nyquist becomes 0.95 x Nyquist (if the band
        keeps at least 1.5 x its lower edge; otherwise `check_rate` refuses the rate)."""
        nyquist = 0.5 * rate_hz
        usable = 0.95 * nyquist
        if not self.band_auto or self.band_hz[1] < nyquist or usable <= 1.5 * self.band_hz[0]:
            return self, None
        note = (f"band-pass {self.band_hz[0]:g}-{usable:.4g} Hz instead of the default "
                f"{self.band_hz[0]:g}-{self.band_hz[1]:g} Hz: sampled at {rate_hz:.4g} Hz, the upper "
                f"edge must lie below Nyquist ({nyquist:.4g} Hz); sEMG power above it is not recorded")
        return replace(self, band_hz=(self.band_hz[0], round(usable, 3))), note

    def check_rate(self, rate_hz: float, where: str = "the sEMG") -> None:
        """Refuse a rate whose Nyquist frequency does not lie above the band-pass."""
        nyquist = 0.5 * rate_hz
        if self.band_hz[1] >= nyquist:
            usable = 0.95 * nyquist
            hint = (f"lower the upper band edge below the Nyquist frequency, e.g. --emg-band "
                    f"{self.band_hz[0]:g},{usable:.0f}" if usable > self.band_hz[0] * 1.5 else
                    "the rate is too low for raw sEMG at all: if the file holds an envelope, "
                    "pass --emg-kind envelope")
            raise InputError(
                f"{where} is sampled at {rate_hz:.4g} Hz: its Nyquist frequency ({nyquist:.4g} Hz) is "
                f"not above the band-pass's upper edge ({self.band_hz[1]:g} Hz), so the 20-450 Hz "
                f"chain for raw sEMG cannot run; {hint}"
            )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["band_hz"] = list(self.band_hz)
        out["filter"] = "Butterworth, second-order sections, forward-backward (zero lag)"
        return out


@dataclass(frozen=True)
class KindDecision:
    """Raw or envelope, and the measured reason (rate, high-frequency share, negative share)."""

    kind: Kind
    reason: str
    hf_share: float = float("nan")
    negative_share: float = float("nan")


def _as_2d(x: np.ndarray) -> tuple[np.ndarray, bool]:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim != 2:
        raise ValueError(f"expected a (T,) or (T, C) array, got shape {arr.shape}")
    return arr, False


def _out(arr: np.ndarray, was_1d: bool) -> np.ndarray:
    return arr[:, 0] if was_1d else arr


def remove_offset(x: np.ndarray) -> np.ndarray:
    """Subtract each channel's mean. x: (T,) or (T, C)."""
    arr, one = _as_2d(x)
    return _out(arr - arr.mean(axis=0, keepdims=True), one)


def _sosfiltfilt(sos: np.ndarray, arr: np.ndarray, padlen: int | None = None) -> np.ndarray:
    try:
        return signal.sosfiltfilt(sos, arr, axis=0, padlen=padlen)
    except ValueError as err:  # scipy refuses a signal shorter than the edge padding
        raise InputError(
            f"only {arr.shape[0]} samples: too short for a zero-lag filter of order "
            f"{2 * sos.shape[0]} ({err})"
        ) from err


def bandpass(x: np.ndarray, rate_hz: float, cfg: EmgProcessing) -> np.ndarray:
    """Zero-lag Butterworth band-pass `cfg.band_hz`. x: (T,) or (T, C) at `rate_hz`."""
    cfg.check_rate(rate_hz)
    arr, one = _as_2d(x)
    sos = signal.butter(cfg.order, cfg.band_hz, btype="bandpass", fs=rate_hz, output="sos")
    return _out(_sosfiltfilt(sos, arr), one)


def notch(x: np.ndarray, rate_hz: float, cfg: EmgProcessing) -> np.ndarray:
    """Zero-lag IIR notches at `cfg.notch_hz` and its harmonics inside the band (no-op without)."""
    if cfg.notch_hz is None:
        return np.asarray(x, dtype=np.float64)
    arr, one = _as_2d(x)
    f = cfg.notch_hz
    while f < min(cfg.band_hz[1], 0.5 * rate_hz):
        b, a = signal.iirnotch(f, cfg.notch_q, fs=rate_hz)
        arr = signal.filtfilt(b, a, arr, axis=0)
        f += cfg.notch_hz
    return _out(arr, one)


def lowpass(x: np.ndarray, rate_hz: float, cutoff_hz: float, order: int) -> np.ndarray:
    """Zero-lag Butterworth low-pass. x: (T,) or (T, C) at `rate_hz`."""
    if cutoff_hz >= 0.5 * rate_hz:
        raise InputError(f"low-pass at {cutoff_hz:g} Hz needs a rate above {2 * cutoff_hz:g} Hz, got {rate_hz:g} Hz")
    arr, one = _as_2d(x)
    sos = signal.butter(order, cutoff_hz, btype="lowpass", fs=rate_hz, output="sos")
    # Edge padding of one cut-off period, the same span in seconds at any rate: scipy's
    # default (a few samples) lets the start-up transient depend on the sampling rate.
    padlen = min(arr.shape[0] - 1, max(3 * (2 * sos.shape[0] + 1), int(round(rate_hz / cutoff_hz))))
    return _out(_sosfiltfilt(sos, arr, padlen), one)


def conditioned(x: np.ndarray, rate_hz: float, cfg: EmgProcessing) -> np.ndarray:
    """Steps 1-3: offset removed, band-passed, notched; the signal before rectification."""
    return notch(bandpass(remove_offset(x), rate_hz, cfg), rate_hz, cfg)


def envelope(x: np.ndarray, rate_hz: float, cfg: EmgProcessing | None = None) -> np.ndarray:
    """Linear envelope of raw sEMG at its own rate (steps 1-5).

    x: (T,) or (T, C) raw sEMG sampled uniformly at `rate_hz`; returns the same shape, same
    units. Raises InputError when the rate is too low for the band-pass.
    """
    cfg = cfg or EmgProcessing()
    rectified = np.abs(conditioned(x, rate_hz, cfg))
    return lowpass(rectified, rate_hz, cfg.envelope_hz, cfg.order)


def _intermediate_down(rate_hz: float, cfg: EmgProcessing) -> int:
    """Integer decimation factor that keeps the rate >= 25x the envelope cut-off."""
    return max(1, int(rate_hz // (_INTERMEDIATE_FACTOR * cfg.envelope_hz)))


def decimated_envelope(x: np.ndarray, rate_hz: float,
                       cfg: EmgProcessing | None = None) -> tuple[np.ndarray, float, float]:
    """Linear envelope of raw sEMG at a reduced rate: (envelope, its rate in Hz, the time of
    its first sample in s after x's first sample).

    x: (T,) or (T, C) raw sEMG at `rate_hz`. The rectified signal is decimated by an integer
    factor D to >= 25x the envelope cut-off before the low-pass, by block means of D samples
    (integrate and dump): their frequency response is zero at every multiple of rate / D,
    exactly the frequencies that would alias onto 0 Hz, and small (< -25 dB) within an
    envelope bandwidth of them; the envelope low-pass that follows removes the rest. The
    low-pass and the later resampling then run on D times fewer samples, and the block mean
    costs one pass where a polyphase FIR costs about as much as the band-pass.
    """
    cfg = cfg or EmgProcessing()
    cfg.check_rate(rate_hz)
    arr, one = _as_2d(x)
    down = _intermediate_down(rate_hz, cfg)
    mid_rate = rate_hz / down
    band = signal.butter(cfg.order, cfg.band_hz, btype="bandpass", fs=rate_hz, output="sos")
    columns = []
    # One contiguous channel at a time: scipy's filters run several times faster along a
    # contiguous axis than across a (T, C) array's rows, and memory stays at one channel.
    for j in range(arr.shape[1]):
        col = np.ascontiguousarray(arr[:, j])
        col = _sosfiltfilt(band, col - col.mean())
        col = np.abs(notch(col, rate_hz, cfg))
        if down > 1:
            usable = (col.size // down) * down  # a last partial block is left out
            col = col[:usable].reshape(-1, down).mean(axis=1)
        columns.append(lowpass(col, mid_rate, cfg.envelope_hz, cfg.order))
    env = np.column_stack(columns)
    return _out(env, one), mid_rate, (down - 1) / 2.0 / rate_hz


def envelope_on_grid(x: np.ndarray, rate_hz: float, t0_s: float, grid_s: np.ndarray,
                     cfg: EmgProcessing | None = None) -> np.ndarray:
    """Envelope of raw sEMG, resampled onto a uniform time grid (steps 1-6).

    x: (T,) or (T, C) raw sEMG, sample k at time `t0_s + k / rate_hz`; grid_s: (G,) uniform
    grid times (s, same clock). Returns (G,) or (G, C); NaN at grid times outside the record.
    Agrees with `resample_to_grid(envelope(x, rate_hz, cfg), ...)` to well under 1 % away from
    the first and last ~1/envelope_hz seconds (see `decimated_envelope` for the speed-up).
    """
    env, mid_rate, first_s = decimated_envelope(x, rate_hz, cfg)
    return resample_to_grid(env, mid_rate, t0_s + first_s, grid_s)


def resample_to_grid(x: np.ndarray, rate_hz: float, t0_s: float, grid_s: np.ndarray) -> np.ndarray:
    """Anti-aliased resampling of a smooth signal (an envelope) onto a uniform grid.

    x: (T,) or (T, C), sample k at `t0_s + k / rate_hz`; grid_s: (G,) uniform times (s).
    Returns (G,) or (G, C), NaN at grid times outside [first, last sample].

    The signal is first interpolated (linearly: exact enough for content far below its own
    Nyquist frequency) onto an M-times finer copy of the grid, with M about rate / grid rate,
    then decimated by M with scipy's polyphase FIR (`resample_poly`), whose low-pass at the grid's
    Nyquist frequency is the anti-aliasing. Where the grid is as fast as the signal, M = 1
    and this is plain interpolation.
    """
    arr, one = _as_2d(x)
    grid_s = np.asarray(grid_s, dtype=np.float64)
    out = np.full((grid_s.size, arr.shape[1]), np.nan)
    if grid_s.size == 0 or arr.shape[0] < 2:
        return _out(out, one)
    t_end = t0_s + (arr.shape[0] - 1) / rate_hz
    inside = np.flatnonzero((grid_s >= t0_s - 1e-9) & (grid_s <= t_end + 1e-9))
    if inside.size == 0:
        return _out(out, one)
    step = float(np.median(np.diff(grid_s))) if grid_s.size > 1 else 1.0 / rate_hz
    m = max(1, int(round(step * rate_hz)))
    g0, g1 = int(inside[0]), int(inside[-1])
    fine_t = grid_s[g0] + np.arange((g1 - g0) * m + 1) * (step / m)
    fine_t = np.clip(fine_t, t0_s, t_end)  # round-off at the ends
    pos = (fine_t - t0_s) * rate_hz
    lo = np.clip(np.floor(pos).astype(np.int64), 0, arr.shape[0] - 2)
    frac = (pos - lo)[:, None]
    fine = arr[lo] * (1.0 - frac) + arr[lo + 1] * frac
    if m > 1:
        # 'line' padding: the ends extend the local trend instead of falling to zero.
        res = signal.resample_poly(fine, 1, m, axis=0, padtype="line")
    else:
        res = fine
    n = g1 - g0 + 1
    out[g0 : g1 + 1] = res[:n]
    return _out(out, one)


def classify_kind(x: np.ndarray, rate_hz: float) -> KindDecision:
    """Raw sEMG or an envelope, decided by the rate and the content of one channel (T,).

    Raw: sampled at >= 150 Hz and most of the variance (after offset removal) above 20 Hz.
    Envelope: slower than that, or its variance sits below 20 Hz (a smooth, non-negative curve).
    """
    v = np.asarray(x, dtype=np.float64)
    v = v[np.isfinite(v)]
    if rate_hz < MIN_RAW_RATE_HZ:
        return KindDecision("envelope", f"sampled at {rate_hz:.3g} Hz, too slow for raw sEMG "
                            f"(needs >= {MIN_RAW_RATE_HZ:g} Hz): an envelope")
    if v.size < 64:
        return KindDecision("envelope", f"only {v.size} samples: too few to measure the content; "
                            "treated as an envelope")
    centred = v - np.median(v)
    negative = float(np.mean(centred < 0))
    freqs, psd = signal.welch(v - v.mean(), fs=rate_hz, nperseg=min(v.size, 1024))
    total = float(psd[freqs > 0].sum())
    hf = float(psd[freqs >= 20.0].sum() / total) if total > 0 else 0.0
    if hf >= RAW_HF_SHARE:
        return KindDecision("raw", f"sampled at {rate_hz:.4g} Hz with {100 * hf:.0f} % of its "
                            "variance above 20 Hz: raw sEMG", hf_share=hf, negative_share=negative)
    return KindDecision("envelope", f"sampled at {rate_hz:.4g} Hz but only {100 * hf:.0f} % of its "
                        "variance above 20 Hz: a smooth curve, i.e. an envelope",
                        hf_share=hf, negative_share=negative)


@dataclass(frozen=True)
class ChannelQuality:
    """What one raw sEMG channel holds, measured after the chain's conditioning (steps 1-3).

    median_frequency_hz: the frequency that halves the conditioned signal's power (Welch).
    Surface EMG of a limb muscle sits at about 50-150 Hz (De Luca 1997, J Appl Biomech
    13:135); a channel far below that holds mostly low-frequency content: movement artefact
    (0-20 Hz and its band-passed tail, De Luca et al. 2010, J Biomech 43:1573) or a signal
    low-passed by a thick layer of tissue. low_share: share of that power below 40 Hz, the
    same question asked directly. floor_to_peak: the envelope's 5th percentile over its
    maximum, the baseline (noise) level a curve normalised to its peak cannot go below; near
    1 the envelope hardly rises above its noise. mains_hz, mains_share: the mains frequency
    (50 or 60 Hz) whose lines (within 1 Hz of it and its harmonics in the band) hold the
    larger share of that power, and the share: sEMG spreads over tens of Hz, so lines that
    hold more than a few % are hum, for the chain's notch (EmgProcessing.notch_hz)."""

    median_frequency_hz: float
    low_share: float
    floor_to_peak: float
    mains_hz: float = float("nan")
    mains_share: float = float("nan")


def channel_quality(x: np.ndarray, rate_hz: float,
                    cfg: EmgProcessing | None = None) -> list[ChannelQuality]:
    """`ChannelQuality` of each channel of raw sEMG x, (T,) or (T, C) at `rate_hz`. Without
    `cfg` the default chain with its band adapted to a slow device (`for_rate`, as align does
    when no band is given: an OpenBCI at 250 Hz, a Myo at 200 Hz); a `cfg` whose band the
    rate cannot carry is refused (InputError)."""
    if cfg is None:
        cfg, _ = EmgProcessing(band_auto=True).for_rate(rate_hz)
    arr, _ = _as_2d(x)
    cond = _as_2d(conditioned(arr, rate_hz, cfg))[0]
    env = _as_2d(lowpass(np.abs(cond), rate_hz, cfg.envelope_hz, cfg.order))[0]
    out = []
    # segments of 2 s: 0.5 Hz bins, fine enough to tell a mains line from the sEMG around it
    nperseg = min(cond.shape[0], int(2 * rate_hz))
    for j in range(arr.shape[1]):
        freqs, psd = signal.welch(cond[:, j], fs=rate_hz, nperseg=nperseg)
        total = float(psd.sum())
        peak = float(np.max(env[:, j]))
        if not total > 0 or not peak > 0:
            out.append(ChannelQuality(float("nan"), float("nan"), float("nan")))
            continue
        cum = np.cumsum(psd) / total
        mains = {}
        for f0 in (50.0, 60.0):
            lines = np.arange(f0, min(cfg.band_hz[1], 0.5 * rate_hz), f0)
            near = np.zeros(freqs.shape, bool)
            for f in lines:
                near |= np.abs(freqs - f) <= 1.0
            mains[f0] = float(psd[near].sum() / total)
        f_mains = max(mains, key=mains.get)
        out.append(ChannelQuality(float(freqs[np.searchsorted(cum, 0.5)]),
                                  float(psd[freqs < 40.0].sum() / total),
                                  float(np.percentile(env[:, j], 5) / peak),
                                  f_mains, mains[f_mains]))
    return out


def normalise_peak(env: np.ndarray) -> np.ndarray:
    """Envelope divided by each channel's peak (NaN-aware): 1 = the trial's maximum.

    Without a maximum voluntary contraction this is the field's usual scaling; amplitudes
    are then comparable in time course only, not across trials.
    """
    arr, one = _as_2d(env)
    peak = np.nanmax(arr, axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(np.where(peak > 0, arr / peak, np.nan), one)


def normalise_to(env: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Envelope divided per channel by a reference amplitude (e.g. from an MVC trial), (C,)."""
    arr, one = _as_2d(env)
    ref = np.asarray(reference, dtype=np.float64).reshape(1, -1)
    if ref.shape[1] != arr.shape[1] or not np.all(ref > 0):
        raise InputError(f"normalisation needs one positive reference per channel ({arr.shape[1]}), "
                         f"got {ref.ravel().tolist()}")
    return _out(arr / ref, one)


@dataclass(frozen=True)
class ActivationDynamics:
    """First-order excitation -> activation dynamics of De Groote et al. 2016 (J Biomech
    49:3200; OpenSim's DeGrooteFregly2016Muscle, and the `inverse` and `track` solves):

        da/dt = [ (f + 1/2) / (tau_a (1/2 + 3a/2)) + (1/2 + 3a/2) (1/2 - f) / tau_d ] (e - a),
        f = tanh(b (e - a)) / 2

    activation_time_constant_s (tau_a), deactivation_time_constant_s (tau_d): 15 and 60 ms,
    the values of De Groote et al. and the defaults of OpenSim's DeGrooteFregly2016Muscle (a
    model's converted Millard muscles keep their own: 10 and 40 ms on Rajagopal2016);
    smoothing (b): the tanh steepness, 10 here, the value OpenSim recommends for the time
    constants to take effect (its default, 0.1, is the published one, with which activation
    and deactivation both run at a blend of the two). Surface EMG records the neural
    excitation e; activation a follows it through these dynamics (Zajac 1989, Crit Rev Biomed
    Eng 17:359; the first stage of an EMG-driven model, Buchanan et al. 2004, J Appl Biomech
    20:367)."""

    activation_time_constant_s: float = 0.015
    deactivation_time_constant_s: float = 0.060
    smoothing: float = 10.0

    def __post_init__(self) -> None:
        if not (self.activation_time_constant_s > 0 and self.deactivation_time_constant_s > 0):
            raise InputError(
                f"activation time constants {self.activation_time_constant_s:g} s / "
                f"{self.deactivation_time_constant_s:g} s: both must be positive (De Groote "
                "et al. 2016: 0.015 s and 0.060 s)")
        if not self.smoothing > 0:
            raise InputError(f"activation dynamics smoothing {self.smoothing:g}: must be positive (10)")


def activation_from_excitation(excitation: np.ndarray, time_s: np.ndarray,
                               dynamics: ActivationDynamics | None = None) -> np.ndarray:
    """Activations (same shape) driven by `excitation` (T,) or (T, C), each value in 0..1 (an
    envelope normalised to its peak; values outside are clipped), on increasing `time_s`
    (T,), starting in equilibrium (a = e at the first sample). Each step is exponential with
    the rate frozen at its start: stable at any sampling rate, exact for a constant rate."""
    dyn = dynamics or ActivationDynamics()
    e, was_1d = _as_2d(np.clip(np.asarray(excitation, dtype=float), 0.0, 1.0))
    t = np.asarray(time_s, dtype=float)
    if t.shape != (e.shape[0],) or (len(t) > 1 and not np.all(np.diff(t) > 0)):
        raise InputError(f"excitation times: {t.shape[0] if t.ndim else 0} increasing times "
                         f"expected, one per sample ({e.shape[0]} samples)")
    a = np.empty_like(e)
    a[0] = e[0]
    for k in range(1, len(t)):
        ak, ek = a[k - 1], e[k - 1]
        f = 0.5 * np.tanh(dyn.smoothing * (ek - ak))
        factor = 0.5 + 1.5 * ak
        rate = ((f + 0.5) / (dyn.activation_time_constant_s * factor)
                + factor * (0.5 - f) / dyn.deactivation_time_constant_s)
        a[k] = ek + (ak - ek) * np.exp(-rate * (t[k] - t[k - 1]))
    return _out(a, was_1d)


def to_mne_raw(x: np.ndarray, rate_hz: float, names: list[str]) -> Any:
    """Raw sEMG in V, (T, C), as an `mne.io.RawArray` with channel type 'emg' (needs mne)."""
    try:
        import mne
    except ImportError as err:
        raise InputError("exporting to MNE needs the mne package: pip install 'musclekit[emg]'") from err
    arr, _ = _as_2d(x)
    info = mne.create_info(list(names), float(rate_hz), ch_types="emg")
    return mne.io.RawArray(arr.T, info, verbose="error")
